"""Score Matching: pairing the DPDA's winners by price, grid distance and welfare.

003_dpda.md §2.6-2.8 (Algorithms 3-4, eqs. 4.1-4.7). For every winning buyer j and seller i at
grid distance d (metres along the feeder):

* price preference (4.1): ``sp = P(B_j) − d·C_d`` when P(B_j) ≥ P(S_i), else 1.0 (Algorithm 3's
  "discard");
* with the mean welfare ``W̄ = (W_S_i + W_B_j) / 2`` and the distance preferences D (a trading
  radius in metres; none means no limit), Algorithm 4 averages additively:

  ===================  ===================  ==============================================
  d ≤ D(B_j)           d ≤ D(S_i)           score = sp · W̄
  d ≤ D(B_j)           d > D(S_i)           score = sp · (W̄ + D(S_i)/d) / 2
  d > D(B_j)           d ≤ D(S_i)           score = sp · (W̄ + D(B_j)/d) / 2
  d > D(B_j)           d > D(S_i)           score = sp · (W̄ + D(B_j)/d + D(S_i)/d) / 3
  ===================  ===================  ==============================================

  (the thesis prints the subscripts swapped; they are in natural form here);
* matching (4.5): all pairs ranked once by score, highest first, ties in buyer-then-seller order
  of the DPDA's sorted lists; each pair trades ``min`` of what both still have; scores are not
  recomputed, negative scores are matched too;
* the DSO charges ``C_d·d`` per matched pair, independent of energy (the trade's ``grid_fee``),
  half to each side; quotes (4.6, 4.7): a buyer's bill ``p0·E + Σ C_d·d/2``, a seller's income
  ``p0·E − Σ C_d·d/2``. Appendix B's Table B.3 adds the seller's charge instead of subtracting it;
  ``income_sign="table-b3"`` reproduces that.

C_d: the thesis states £0.002 per km, but its Appendix B reproduces only with d in metres, so
the default ``distance_charge_per_m = 0.002`` applies per metre (digest §1.3). The quotes use
the energy each side actually trades, which is E' for every seller whose reduced quantity is all
matched (every example of the thesis); a seller's clipping excess is not paid for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from peergrid.core.errors import OrderError
from peergrid.core.orders import Order, Side
from peergrid.core.trades import Clearing, Trade
from peergrid.mechanisms.dpda import clear_dpda
from peergrid.mechanisms.mcafee import clear_mcafee
from peergrid.mechanisms.welfare import (
    WelfareParameters,
    buyer_welfare,
    check_number,
    seller_welfare,
)

FloatArray = npt.NDArray[np.float64]
DUST_KWH = 1e-12


class DistanceTable(Protocol):
    """What Score Matching needs of the grid: distances in metres between buses."""

    def knows(self, bus: str) -> bool: ...

    def submatrix(self, rows: Sequence[str], cols: Sequence[str]) -> FloatArray: ...


MAX_SCORED_PAIRS = 1_000_000
"""Most buyer-seller pairs Score Matching scores (buyers x sellers of the book): its score and
distance matrices grow with the product, so a larger book is refused before it is cleared."""

MAX_DISTANCE_CHARGE_PER_M = 281_474.0
"""Largest C_d, currency per metre per matched pair: the batch market's largest rate, 2**48 - 1
micro-units per km, rounded down."""


@dataclass(frozen=True)
class ScoreParameters:
    distance_charge_per_m: float = 0.002  # C_d, currency per metre per matched pair
    welfare: WelfareParameters = field(default_factory=WelfareParameters)
    income_sign: Literal["eq4.7", "table-b3"] = "eq4.7"

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ScoreParameters:
        """From the flat ``params`` of an order file (``distance_charge_per_m``, ``a``, ...).

        Every value is checked here, by name: numbers finite and within their bounds
        (``distance_charge_per_m`` from 0 to :data:`MAX_DISTANCE_CHARGE_PER_M`, the welfare
        coefficients as :class:`WelfareParameters` says), the two choices by their names.
        """
        known_welfare = {"a", "b", "c", "omega", "alpha", "saturation"}
        known = known_welfare | {"distance_charge_per_m", "income_sign"}
        unknown = sorted(set(params) - known)
        if unknown:
            raise OrderError(
                f"unknown parameter(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})",
                field="params",
            )
        try:
            charge = check_number(
                "distance_charge_per_m",
                params.get("distance_charge_per_m", 0.002),
                0.0,
                MAX_DISTANCE_CHARGE_PER_M,
                "currency/m",
            )
            welfare = WelfareParameters(**{k: v for k, v in params.items() if k in known_welfare})
        except ValueError as exc:
            raise OrderError(str(exc), field="params") from None
        income_sign = params.get("income_sign", "eq4.7")
        if income_sign not in ("eq4.7", "table-b3"):
            raise OrderError(
                f"parameter 'income_sign' must be 'eq4.7' or 'table-b3', got {income_sign!r}",
                field="params",
            )
        return cls(distance_charge_per_m=charge, welfare=welfare, income_sign=income_sign)


def score_matrix(
    buy_price: FloatArray,
    sell_price: FloatArray,
    distance_m: FloatArray,
    buyer_radius_m: FloatArray,
    seller_radius_m: FloatArray,
    buyer_welfare_: FloatArray,
    seller_welfare_: FloatArray,
    charge_per_m: float,
) -> FloatArray:
    """Algorithm 4's score for every buyer (rows) and seller (columns); radii may be inf."""
    bp = buy_price[:, None]
    sp = np.where(bp >= sell_price[None, :], bp - distance_m * charge_per_m, 1.0)
    w_mean = (buyer_welfare_[:, None] + seller_welfare_[None, :]) / 2.0
    within_b = distance_m <= buyer_radius_m[:, None]
    within_s = distance_m <= seller_radius_m[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio_b = np.where(within_b, 0.0, buyer_radius_m[:, None] / distance_m)
        ratio_s = np.where(within_s, 0.0, seller_radius_m[None, :] / distance_m)
    terms = 1.0 + (~within_b) + (~within_s)
    result: FloatArray = sp * (w_mean + ratio_b + ratio_s) / terms
    return result


def greedy_match(
    scores: FloatArray, buyer_kwh: FloatArray, seller_kwh: FloatArray
) -> list[tuple[int, int, float]]:
    """Eq. 4.5: fill pairs from the highest score down; returns (buyer, seller, kWh)."""
    left_b = buyer_kwh.astype(float).copy()
    left_s = seller_kwh.astype(float).copy()
    n_s = scores.shape[1]
    pairs: list[tuple[int, int, float]] = []
    open_buyers = int((left_b > DUST_KWH).sum())
    for flat in np.argsort(-scores, axis=None, kind="stable"):
        if open_buyers == 0:
            break
        b, s = divmod(int(flat), n_s)
        if left_b[b] <= DUST_KWH or left_s[s] <= DUST_KWH:
            continue
        quantity = min(left_b[b], left_s[s])
        pairs.append((b, s, float(quantity)))
        left_b[b] -= quantity
        left_s[s] -= quantity
        if left_b[b] <= DUST_KWH:
            open_buyers -= 1
    return pairs


def clear_dpda_score(
    orders: Sequence[Order],
    distances: DistanceTable,
    params: ScoreParameters | None = None,
) -> Clearing:
    """DPDA for the winners and the price, Score Matching for the pairs, quotes per order."""
    check_buses(orders, distances)
    return score_match(orders, clear_dpda(orders), distances, params, name="dpda+score")


def clear_mcafee_score(
    orders: Sequence[Order],
    distances: DistanceTable,
    params: ScoreParameters | None = None,
) -> Clearing:
    """The standard auction's winners and price, paired by Score Matching (thesis ch. 4's DAM)."""
    check_buses(orders, distances)
    return score_match(orders, clear_mcafee(orders), distances, params, name="mcafee+score")


def check_buses(orders: Sequence[Order], distances: DistanceTable) -> None:
    """Every order names a bus of the feeder, and the book is small enough to score."""
    buyers = sum(o.side is Side.BUY for o in orders)
    sellers = len(orders) - buyers
    if buyers * sellers > MAX_SCORED_PAIRS:
        raise OrderError(
            f"Score Matching scores at most {MAX_SCORED_PAIRS:,} buyer-seller pairs; this book "
            f"has {buyers} buyers and {sellers} sellers",
            field="orders",
        )
    for order in orders:
        if order.bus is None:
            raise OrderError("is required by score matching", order_id=order.id, field="bus")
        if not distances.knows(order.bus):
            raise OrderError(
                f"bus {order.bus!r} is not a bus of the feeder", order_id=order.id, field="bus"
            )


def score_match(
    orders: Sequence[Order],
    base: Clearing,
    distances: DistanceTable,
    params: ScoreParameters | None = None,
    *,
    name: str = "score",
) -> Clearing:
    """Re-pair the winners of a uniform-price clearing ``base`` by Score Matching.

    The winners, their cleared quantities (``base.allocations``) and the price stay; the pairs,
    the DSO's charges and the quotes are Score Matching's.
    """
    params = params or ScoreParameters()
    info = dict(base.info)
    info["mechanism"] = name
    price = base.price
    by_id = {o.id: o for o in orders}
    buyers = [by_id[i] for i in info["winning_buyers"]]
    sellers = [by_id[i] for i in info["winning_sellers"]]
    if price is None or not buyers or not sellers:
        info.update(scores=[], welfare={}, quotes={}, dso_income=0.0)
        return Clearing((), None, dict(base.allocations), info)

    e_buy = np.array([base.allocations[o.id] for o in buyers])
    e_sell = np.array([base.allocations[o.id] for o in sellers])
    w_buy = buyer_welfare(price, np.array([o.quantity_kwh for o in buyers]), params.welfare)
    w_sell = seller_welfare(price, e_sell, params.welfare)
    d = distances.submatrix([o.bus for o in buyers], [o.bus for o in sellers])  # type: ignore[misc]
    scores = score_matrix(
        np.array([o.price for o in buyers]),
        np.array([o.price for o in sellers]),
        d,
        _radii(buyers),
        _radii(sellers),
        w_buy,
        w_sell,
        params.distance_charge_per_m,
    )
    pairs = greedy_match(scores, e_buy, e_sell)

    trades = []
    charges: dict[str, float] = {o.id: 0.0 for o in (*buyers, *sellers)}
    traded: dict[str, float] = dict.fromkeys(charges, 0.0)
    for b, s, quantity in pairs:
        buy, sell = buyers[b], sellers[s]
        fee = params.distance_charge_per_m * float(d[b, s])
        trades.append(
            Trade(
                buyer=buy.agent,
                seller=sell.agent,
                quantity_kwh=quantity,
                price=price,
                slot=buy.slot,
                grid_fee=fee,
                buy_order=buy.id,
                sell_order=sell.id,
            )
        )
        charges[buy.id] += fee / 2.0
        charges[sell.id] += fee / 2.0
        traded[buy.id] += quantity
        traded[sell.id] += quantity

    sign = 1.0 if params.income_sign == "table-b3" else -1.0
    quotes: dict[str, dict[str, float]] = {}
    for o in buyers:
        bill = price * traded[o.id] + charges[o.id]
        quotes[o.id] = {"energy_kwh": traded[o.id], "charge": charges[o.id], "bill": bill}
    for o in sellers:
        income = price * traded[o.id] + sign * charges[o.id]
        quotes[o.id] = {"energy_kwh": traded[o.id], "charge": charges[o.id], "income": income}
    info.update(
        welfare={
            **{o.id: float(w) for o, w in zip(buyers, w_buy, strict=True)},
            **{o.id: float(w) for o, w in zip(sellers, w_sell, strict=True)},
        },
        scores=[[float(v) for v in row] for row in scores],
        quotes=quotes,
        distances_m=[[float(v) for v in row] for row in d],
        dso_income=float(sum(t.grid_fee for t in trades)),
        unmatched_kwh={
            o.id: float(base.allocations[o.id] - traded[o.id])
            for o in (*buyers, *sellers)
            if base.allocations[o.id] - traded[o.id] > 1e-9
        },
    )
    allocations = dict(base.allocations)
    return Clearing(tuple(trades), price, allocations, info)


def _radii(orders: Sequence[Order]) -> FloatArray:
    return np.array([np.inf if o.max_distance_m is None else o.max_distance_m for o in orders])
