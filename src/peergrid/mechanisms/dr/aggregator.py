"""The centralised baseline of §6.1 (001a_book.md L2121–2125, G15): a non-profit aggregator
running an incentive-based DR program with every prosumer's private data.

Our model: the aggregator knows each prosumer's utility ``U(d) = β d − γ d²/2``, comfort bounds
and PV, and schedules every demand to maximise the prosumers' total profit: the value of what
they consume less the cost of what the community imports at the upstream price. Local PV is
shared at no charge inside the community (the aggregator makes no profit and settles the
internal energy at cost); PV beyond the community's demand is spilled, as in the decentralised
market, where unsold PV earns nothing. Solved as one convex QP with cvxpy.

The import cost is billed to prosumers in proportion to their net demand in each slot (their
share of the deficit), so each prosumer's profit is ``U(d) − bill``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from peergrid.mechanisms.dr.scheduling import FloatArray, Prosumers
from peergrid.mechanisms.dr.two_stage import DemandResponseError


@dataclass(frozen=True)
class AggregatorSchedule:
    """Demands ``(slots, prosumers)`` kWh, community import per slot (kWh), each prosumer's
    bill and profit over the horizon (currency)."""

    demand_kwh: FloatArray
    import_kwh: FloatArray
    bill: FloatArray
    profit: FloatArray

    @property
    def total_profit(self) -> float:
        return float(self.profit.sum())


def aggregator_schedule(prosumers: Prosumers, upstream_price: FloatArray) -> AggregatorSchedule:
    """The profit-maximising schedule of a non-profit aggregator with full information."""
    slots, n = prosumers.shape
    price = np.asarray(upstream_price, dtype=float)
    if price.shape != (slots,):
        raise DemandResponseError(f"upstream_price: {price.shape} for {slots} slots")
    d = cp.Variable((slots, n))
    imports = cp.Variable(slots, nonneg=True)
    utility = cp.sum(cp.multiply(prosumers.beta, d) - 0.5 * cp.multiply(prosumers.gamma, d**2))
    problem = cp.Problem(
        cp.Maximize(utility - price @ imports),
        [
            d >= prosumers.d_min_kwh,
            d <= prosumers.d_max_kwh,
            imports >= cp.sum(d - prosumers.pv_kwh, axis=1),
        ],
    )
    problem.solve(solver=cp.CLARABEL)
    if problem.status != cp.OPTIMAL or d.value is None:
        raise DemandResponseError(f"aggregator: the schedule is {problem.status}")
    demand = np.clip(np.asarray(d.value), prosumers.d_min_kwh, prosumers.d_max_kwh)
    net = demand - prosumers.pv_kwh
    deficit = np.maximum(net.sum(axis=1), 0.0)
    positive = np.maximum(net, 0.0)
    share = positive / np.maximum(positive.sum(axis=1, keepdims=True), 1e-12)
    bill = (share * (price * deficit)[:, None]).sum(axis=0)
    profit = prosumers.utility(demand).sum(axis=0) - bill
    return AggregatorSchedule(demand_kwh=demand, import_kwh=deficit, bill=bill, profit=profit)
