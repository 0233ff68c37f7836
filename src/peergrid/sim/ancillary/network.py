"""The AC check of a market outcome on ``cigre-mv-vdma`` and the indices of §3.4 (004_vdma.md).

A run's network state is Table 1's base case (loads draw their P and Q, generators inject
their P) plus its matches turned into nodal power by the one rule of
:func:`peergrid.grid.service.service_draws_kw` (OCDA's optimal power flow uses the same rule).
Many outcomes are solved in one batch by the grid layer's fast AC model
(:class:`peergrid.grid.powerflow.PowerFlowCheck`), and each is checked against
:class:`~peergrid.grid.feeder_types.GridLimits` (the paper gives no limits; ours are stated in
the summary).

The indices (§3.4, Fig. 7a–d), per outcome:

- ``mean_line_loading_pct``: the mean loading of the energised lines, i.e. every line but the
  three tie lines that the open switches S1–S3 leave idle (their loading is their charging
  current, near 0 %, whatever the market does);
- ``losses_share``: active losses (the power the external grid supplies minus the power every
  bus draws) over the total load, the active power every Table 1 load draws after the service;
- ``mean_v_pu`` and ``std_v_pu``: over the 14 buses at 20 kV, leaving out the 110 kV slack bus
  whose voltage is fixed (the paper does not say which buses it counts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from peergrid.core.trades import Clearing
from peergrid.grid.feeder_types import Feeder, GridLimits
from peergrid.grid.feeders import load_feeder
from peergrid.grid.powerflow import PowerFlowCheck, slot_checks
from peergrid.grid.service import ServiceDelivery, check_pool, service_draws_kw
from peergrid.sim.ancillary.shouts import SESSION_HOURS, Device, table_1_devices

FEEDER = "cigre-mv-vdma"

LIMIT_TOLERANCE = GridLimits(
    v_min_pu=-0.001, v_max_pu=0.001, max_line_loading_pct=0.5, max_trafo_loading_pct=0.5
)
"""How far past a limit a solution may go and still count as ``feasible_within_tolerance``
(0.001 p.u., 0.5 percentage points of loading): the precision at which an optimal power flow's
network model and the AC check can be expected to agree on a limit that binds. The headline
share is the strict one (``feasible``)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """One cleared session: its matches as deliveries and how much the loads' draw moved."""

    deliveries: tuple[ServiceDelivery, ...]
    load_change_kw: float  # added to the Table 1 loads' total by the service


@dataclass(frozen=True, slots=True)
class NetworkIndices:
    """The AC check of one outcome."""

    converged: bool
    feasible: bool  # converged and within every limit
    feasible_within_tolerance: bool  # within every limit widened by LIMIT_TOLERANCE
    violations: str  # "line_overload line 2; ..." (empty when feasible)
    mean_line_loading_pct: float
    max_line_loading_pct: float
    losses_share: float
    mean_v_pu: float
    std_v_pu: float
    v_min_pu: float
    v_max_pu: float


def outcome_of(
    clearing: Clearing,
    devices: Mapping[str, Device],
    pool: str,
    session_hours: float = SESSION_HOURS,
) -> Outcome:
    """A clearing's trades as deliveries between the devices' buses.

    ``devices`` maps each order id to its device; a trade names its orders by ``buy_order`` and
    ``sell_order`` (or, from a mechanism that leaves those empty, ``buyer`` and ``seller``).
    """
    check_pool(pool)
    sign = 1.0 if pool == "up" else -1.0
    deliveries = []
    load_change = 0.0
    for trade in clearing.trades:
        ask = devices[trade.buy_order or trade.buyer]
        offer = devices[trade.sell_order or trade.seller]
        deliveries.append(ServiceDelivery(ask.bus, offer.bus, trade.quantity_kwh))
        kw = sign * trade.quantity_kwh / session_hours
        # the asker draws more in the upward pool, the offeror less (service_draws_kw)
        load_change += kw * (ask.kind == "load") - kw * (offer.kind == "load")
    return Outcome(tuple(deliveries), load_change)


class NetworkCheck:
    """Batched AC checks of outcomes of one pool on ``cigre-mv-vdma``'s Table 1 base case."""

    def __init__(
        self,
        limits: GridLimits | None = None,
        *,
        feeder: Feeder | None = None,
        devices: Sequence[Device] | None = None,
        session_hours: float = SESSION_HOURS,
    ) -> None:
        self.feeder = feeder if feeder is not None else load_feeder(FEEDER)
        self.limits = limits or self.feeder.limits
        self.session_hours = session_hours
        net = self.feeder.net
        self.buses = self.feeder.buses
        self._column = {b: i for i, b in enumerate(self.buses)}
        self.base_p_kw = np.zeros(len(self.buses))
        self.base_q_kvar = np.zeros(len(self.buses))
        self.base_load_kw = 0.0
        for d in table_1_devices() if devices is None else devices:
            sign = 1.0 if d.kind == "load" else -1.0
            self.base_p_kw[self._column[d.bus]] += sign * d.p_kw
            self.base_q_kvar[self._column[d.bus]] += sign * d.q_kvar
            self.base_load_kw += d.p_kw if d.kind == "load" else 0.0
        self._flow = PowerFlowCheck(self.feeder, self.buses, self.limits)
        self.tolerant_limits = GridLimits(
            self.limits.v_min_pu + LIMIT_TOLERANCE.v_min_pu,
            self.limits.v_max_pu + LIMIT_TOLERANCE.v_max_pu,
            self.limits.max_line_loading_pct + LIMIT_TOLERANCE.max_line_loading_pct,
            self.limits.max_trafo_loading_pct + LIMIT_TOLERANCE.max_trafo_loading_pct,
        )
        self._idle_lines = {
            int(i) for i in net.switch[(net.switch.et == "l") & ~net.switch.closed].element
        }
        self._slack_buses = {int(b) for b in net.ext_grid.bus}

    def check(
        self,
        outcomes: Sequence[Outcome],
        pool: str,
        background_kw: Mapping[int, float] | None = None,
    ) -> list[NetworkIndices]:
        """One :class:`NetworkIndices` per outcome (all solved in one batch). ``background_kw``
        is power drawn at buses beside the devices' (kW, load convention: a run's households),
        the same for every outcome."""
        if not outcomes:
            return []
        base = self.base_p_kw.copy()
        for bus, kw in (background_kw or {}).items():
            base[self._column[bus]] += kw
        p = np.tile(base, (len(outcomes), 1))
        q = np.tile(self.base_q_kvar, (len(outcomes), 1))
        for row, outcome in enumerate(outcomes):
            draws = service_draws_kw(pool, outcome.deliveries, self.session_hours)
            for bus, kw in draws.items():
                p[row, self._column[bus]] += kw
        result = self._flow.run(p, q)
        slots = list(range(len(outcomes)))
        checks = slot_checks(result, slots, self.limits)
        tolerant = slot_checks(result, slots, self.tolerant_limits)
        energised = [int(i) not in self._idle_lines for i in result.line_ids]
        lines = result.line_loading_pct[:, np.array(energised, dtype=bool)]
        mv_buses = [int(b) not in self._slack_buses for b in result.bus_ids]
        volts = result.vm_pu[:, np.array(mv_buses, dtype=bool)]
        losses = result.transformer_p_kw - p.sum(axis=1)
        indices = []
        for row, (outcome, check, loose) in enumerate(zip(outcomes, checks, tolerant, strict=True)):
            total_load = self.base_load_kw + outcome.load_change_kw
            indices.append(
                NetworkIndices(
                    converged=check.converged,
                    feasible=check.passed,
                    feasible_within_tolerance=loose.passed,
                    violations="; ".join(f"{v.kind} {v.element}" for v in check.violations),
                    mean_line_loading_pct=float(lines[row].mean()),
                    max_line_loading_pct=check.max_line_loading_pct,
                    losses_share=float(losses[row] / total_load),
                    mean_v_pu=float(volts[row].mean()),
                    std_v_pu=float(volts[row].std()),
                    v_min_pu=check.v_min_pu,
                    v_max_pu=check.v_max_pu,
                )
            )
        return indices
