"""A ready day-ahead case: ``n`` households on a feeder, one day in hourly periods.

Deterministic daily shapes (those of :mod:`peergrid.grid.opf.example`) with per-household
variety drawn from ``seed``. Households sit at the feeder's household buses in order, wrapping
round when there are more households than buses (several households then share a bus, and a
node of the grid designs is a bus with everything behind it).

- **load**: peak 1.5–3 kW (morning and larger evening peaks, shifted by up to ±1 h), power
  factor 0.95;
- **PV** on every other household (half are prosumers): 3–5 kWp on a summer day, reactive
  support up to 30 % of its peak (seed L407);
- **batteries** on every second prosumer: 5 kWh, 2.5 kW each way, 95 % each way, between 10 %
  and 100 %, starting and ending at least at 50 %;
- **EVs** on every fourth household: home from 18:00 until 07:00 (the same hours every day,
  seed L730), a 3.7 kW charger, 8–12 kWh to deliver, efficiency 0.9;
- **prices**: the import price of the grid layer's example day (0.15–0.31 per kWh), feed-in
  at half of it (seed L621).
"""

from __future__ import annotations

import numpy as np

from peergrid.grid.feeders import Feeder
from peergrid.grid.opf.case import Prices
from peergrid.grid.opf.example import load_shape, price_shape, pv_shape, suggest_base_mva
from peergrid.grid.opf.network import RadialNetwork
from peergrid.mechanisms.admm.case import (
    BDER_LIMITS,
    BderCase,
    BderHousehold,
    BderInputError,
    household,
)

TAN_PHI = float(np.tan(np.arccos(0.95)))


def example_households(
    buses: list[int], n_households: int, periods: int = 24, seed: int = 0
) -> list[BderHousehold]:
    """``n_households`` households placed on ``buses`` in order (see the module docstring)."""
    if n_households < 1:
        raise BderInputError(f"example: field 'households' must be at least 1, got {n_households}")
    if not buses:
        raise BderInputError("example: the feeder has no household buses")
    if periods < 1 or (24 % periods and periods % 24):
        raise BderInputError(
            f"example: field 'periods' must divide or be a multiple of 24, got {periods}"
        )
    rng = np.random.default_rng(seed)
    dt = 24.0 / periods
    hours = (np.arange(periods) + 0.5) * dt
    out = []
    for k in range(n_households):
        peak = rng.uniform(1.5, 3.0)
        p = peak * load_shape(hours - rng.uniform(-1.0, 1.0))
        kwargs: dict[str, object] = {"load_kvar": p * TAN_PHI}
        if k % 2 == 0:
            kwp = rng.uniform(3.0, 5.0)
            kwargs["pv_kw"] = kwp * pv_shape(hours) * rng.uniform(0.85, 1.0)
            kwargs["pv_q_max_kvar"] = 0.3 * kwp
            if k % 4 == 0:
                kwargs["battery"] = {
                    "e_max_kwh": 5.0,
                    "p_charge_max_kw": 2.5,
                    "p_discharge_max_kw": 2.5,
                    "e_min_kwh": 0.5,
                    "e_initial_kwh": 2.5,
                }
        if k % 4 == 1:
            arrival, departure = round(18 / dt) % periods, round(7 / dt) % periods
            kwargs["ev"] = {
                "energy_kwh": rng.uniform(8.0, 12.0),
                "arrival_period": arrival,
                "departure_period": departure,
                "p_max_kw": 3.7,
            }
        out.append(household(f"h{k:03d}", buses[k % len(buses)], p, **kwargs))  # type: ignore[arg-type]
    return out


def example_case(feeder: Feeder, n_households: int, periods: int = 24, seed: int = 0) -> BderCase:
    """``n_households`` on ``feeder`` over one day (module docstring), voltage band ±5 %."""
    buses = list(dict.fromkeys(int(b) for b in feeder.household_buses))
    hs = example_households(buses, n_households, periods, seed)
    peak = sum(float(h.load.p_kw.max()) for h in hs)
    network = RadialNetwork.from_net(feeder.net, s_base_mva=suggest_base_mva(peak))
    dt = 24.0 / periods
    prices = Prices.with_feed_in_share(price_shape((np.arange(periods) + 0.5) * dt), 0.5)
    return BderCase(tuple(hs), prices, dt, network, BDER_LIMITS)
