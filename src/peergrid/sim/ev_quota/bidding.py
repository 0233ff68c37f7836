"""What each EV asks for and how it trades its quota in a period (our rule; the chapter leaves
it open, saying only that inelastic stations buy and elastic ones sell, §9.1).

- **Demand** for the next period, on the chapter's one-hour basis (kW, compared one to one with
  the margin): ``min(charger rating, still needed / 0.5 h)`` while the EV is plugged in for the
  period, else nothing (:func:`demand_kw`).
- **Orders**, only when the demands exceed the margin (the auction is held). With its initial
  quota ``q0`` an EV would still need ``R' = R − q0 · 0.5 h`` after the period and can draw at
  most ``C = n · rating · 0.5 h`` in the ``n`` periods it stays plugged in afterwards.

  - ``R' > C`` (it cannot finish by departure at its quota: inelastic): it **bids** for the
    shortfall, ``min(demand − q0, (R' − C) / 0.5 h)`` kW, at a price rising with its urgency
    ``u = (R' − C) / R`` (the share of what it needs that it would miss), from the least to the
    most urgent price of ``bid_price_per_kwh``.
  - otherwise (elastic): it **offers** the quota it can make up later,
    ``min(q0, (C − R') / 0.5 h)`` kW, at ``offer_price_per_kwh`` times the ratio of the cheapest
    tariff among its later periods to this period's: an EV that can shift to the night's
    32 tokens/kWh from the evening's 112 sells cheaply.

  Every price is multiplied by ``1 + price_spread · N(0, 1)`` (seeded; at least one
  micro-token per kWh, the least the mechanism takes). Quantities
  are floored to the mechanism's micro-kW; an order below 1 W is not placed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from peergrid.core.orders import MAX_PRICE_PER_KWH, Order, Side
from peergrid.mechanisms.ev_quota import PRICE_UNITS, QUOTA_UNITS_PER_KW
from peergrid.sim.scenario import EvQuotaSection

MIN_ORDER_KW = 1e-3
"""A quota order below 1 W is not worth placing."""
MIN_PRICE_PER_KWH = 1.0 / PRICE_UNITS
"""The lowest quota price the mechanism takes (one micro-token per kWh)."""


def floor_units(value_kw: float) -> float:
    """``value_kw`` floored to the mechanism's micro-kW grid (never above the value)."""
    return math.floor(round(value_kw * QUOTA_UNITS_PER_KW, 3)) / QUOTA_UNITS_PER_KW


def demand_kw(remaining_kwh: float, charger_kw: float, plugged: bool, period_hours: float) -> float:
    """An EV's demand for the next period on the one-hour basis (kW)."""
    if not plugged or remaining_kwh <= 0:
        return 0.0
    return floor_units(min(charger_kw, remaining_kwh / period_hours))


@dataclass(frozen=True)
class EvPosition:
    """An EV as it forms its order: what it still needs, its demand and initial quota for the
    period, its rating, and the periods it stays plugged in after it with their cheapest tariff."""

    id: str
    remaining_kwh: float
    demand_kw: float
    initial_kw: float
    charger_kw: float
    later_periods: int
    later_min_tariff: float


@dataclass(frozen=True)
class QuotaBidding:
    """The order rule with the scenario's prices (tokens/kWh)."""

    bid_least: float
    bid_most: float
    offer: float
    spread: float
    period_hours: float

    @classmethod
    def of(cls, section: EvQuotaSection, period_hours: float) -> QuotaBidding:
        least, most = section.bid_price_per_kwh
        return cls(least, most, section.offer_price_per_kwh, section.price_spread, period_hours)

    def order(
        self, period: int, ev: EvPosition, tariff: float, rng: np.random.Generator, at: int
    ) -> Order | None:
        """The EV's quota order for ``period`` (None: it places none)."""
        if ev.initial_kw <= 0:
            return None  # the mechanism takes orders only from stations holding quota
        dt = self.period_hours
        after = ev.remaining_kwh - ev.initial_kw * dt
        later = ev.later_periods * ev.charger_kw * dt
        if after > later:
            shortfall = after - later
            quantity = min(ev.demand_kw - ev.initial_kw, shortfall / dt)
            urgency = min(1.0, shortfall / ev.remaining_kwh)
            price = self.bid_least + (self.bid_most - self.bid_least) * urgency
            side = Side.BUY
        else:
            quantity = min(ev.initial_kw, (later - after) / dt)
            ratio = ev.later_min_tariff / tariff if tariff > 0 else 1.0
            price = self.offer * ratio
            side = Side.SELL
        quantity = floor_units(quantity)
        if quantity < MIN_ORDER_KW:
            return None
        price *= max(0.0, 1.0 + self.spread * float(rng.standard_normal()))
        # The mechanism (and the contract) take no quota order at price 0: one micro-token.
        price = min(max(price, MIN_PRICE_PER_KWH), MAX_PRICE_PER_KWH)
        return Order(
            id=f"{period}-{ev.id}",
            agent=ev.id,
            side=side,
            quantity_kwh=quantity,
            price=round(price * PRICE_UNITS) / PRICE_UNITS,
            slot=period,
            submitted_at=at,
        )
