"""A day of the two-stage DR market: prosumers' bids in, both settlements and profits out.

The glue between the prosumers' model (:mod:`~peergrid.mechanisms.dr.scheduling`, floats in kWh
and currency) and the integer settlement (:mod:`~peergrid.mechanisms.dr.two_stage`, Wh and
micro-currency): bids are rounded to the nearest Wh and micro-currency per kWh, as the contract
takes them. A prosumer's profit (the learner's reward, G5, ours) is the value of what it consumed
plus its money change in the final settlement: ``U(d) + sold·π − local·π − import·π_market +
DR·π_DR − penalty`` (currency).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from peergrid.mechanisms.dr.scheduling import FloatArray, Prosumers
from peergrid.mechanisms.dr.two_stage import (
    ALPHA_ONE,
    Bids,
    DemandResponseError,
    FinalSettlement,
    FirstSettlement,
    IntArray,
    final_settlement,
    first_settlement,
)

MICRO = 10**6
WH = 1000

BoolArray = npt.NDArray[np.bool_]


def to_wh(kwh: FloatArray) -> IntArray:
    return np.rint(np.asarray(kwh) * WH).astype(np.int64)


def to_micro(price: FloatArray) -> IntArray:
    return np.rint(np.asarray(price) * MICRO).astype(np.int64)


@dataclass(frozen=True)
class DayMarket:
    """The operator's settings and who takes part in stage 2: ``upstream_price`` (currency/kWh),
    ``alpha`` (≥ 1) and ``penalty_rate`` (currency/kWh) per slot; ``participants`` per prosumer."""

    upstream_price: FloatArray
    alpha: FloatArray
    penalty_rate: FloatArray
    participants: BoolArray

    def __post_init__(self) -> None:
        slots = np.shape(self.upstream_price)
        for name in ("upstream_price", "alpha", "penalty_rate"):
            value = np.asarray(getattr(self, name), dtype=float)
            if value.shape != slots or value.ndim != 1 or not np.isfinite(value).all():
                raise DemandResponseError(f"market: field {name!r} needs one finite value per slot")
        if (np.asarray(self.upstream_price) <= 0).any():
            raise DemandResponseError("market: field 'upstream_price' must be > 0 in every slot")
        if (np.asarray(self.alpha) < 1).any():
            raise DemandResponseError("market: field 'alpha' must be at least 1 (Eq. 2)")
        if (np.asarray(self.penalty_rate) < 0).any():
            raise DemandResponseError("market: field 'penalty_rate' must be >= 0")

    @property
    def upstream_micro(self) -> IntArray:
        return to_micro(self.upstream_price)

    @property
    def alpha_ppm(self) -> IntArray:
        return np.rint(np.asarray(self.alpha) * ALPHA_ONE).astype(np.int64)

    @property
    def penalty_micro(self) -> IntArray:
        return to_micro(self.penalty_rate)


@dataclass(frozen=True)
class DayOutcome:
    """Both stages of a day: the bids, the settlements, what each prosumer consumed in stage 1
    (its offer) and after stage 2 (kWh), and its profit (currency), all ``(slots, prosumers)``."""

    bids: Bids
    first: FirstSettlement
    final: FinalSettlement
    offered_kwh: FloatArray
    consumed_kwh: FloatArray
    profit: FloatArray

    @property
    def price(self) -> FloatArray:
        return self.first.price / MICRO

    @property
    def dr_price(self) -> FloatArray:
        return self.first.dr_price / MICRO


def bids_for(prosumers: Prosumers, bid_price: FloatArray, upstream_price: FloatArray) -> Bids:
    """Bids at ``bid_price`` (capped by the upstream price): Eq. (1) at the bid price, and the
    PV forecast."""
    price = to_micro(np.minimum(bid_price, np.asarray(upstream_price)[:, None]))
    return Bids(
        demand_wh=to_wh(prosumers.demand(price / MICRO)),
        supply_wh=to_wh(prosumers.pv_kwh),
        price=price,
    )


def play_day(
    prosumers: Prosumers,
    bid_price: FloatArray,
    market: DayMarket,
    *,
    actual_pv_kwh: FloatArray | None = None,
) -> DayOutcome:
    """Stage 1 on the bids at ``bid_price``, stage 2 with the participants rescheduling by Eq. (1)
    and sellers delivering what their actual PV allows (default: the forecast)."""
    up = market.upstream_micro
    bids = bids_for(prosumers, bid_price, market.upstream_price)
    first = first_settlement(bids, up, market.alpha_ppm)
    offered = bids.demand_wh / WH
    rescheduled = prosumers.reschedule(
        offered, (first.price / MICRO)[:, None], (first.dr_price / MICRO)[:, None]
    )
    # Only net buyers reschedule: a seller's lower demand would change nothing it trades.
    takes_part = market.participants[None, :] & (bids.buy_wh > 0)
    new_demand_wh = np.where(
        takes_part, np.minimum(to_wh(rescheduled), bids.demand_wh), bids.demand_wh
    )
    delivered = None
    if actual_pv_kwh is not None:
        delivered = np.maximum(to_wh(actual_pv_kwh) - bids.demand_wh, 0)
    final = final_settlement(
        bids, first, up, market.penalty_micro, new_demand_wh=new_demand_wh, delivered_wh=delivered
    )
    consumed = new_demand_wh / WH
    profit = prosumers.utility(consumed) + final.money / MICRO
    return DayOutcome(bids, first, final, offered, consumed, profit)
