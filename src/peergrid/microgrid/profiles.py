"""Minute profiles of the island's entities: PV, wind, diesel-free production and household loads.

Synthetic and seeded (the chapter has no data): a day ``day`` of an entity is the same for the
same seed, so the forecast agent learns from days ``-history_days .. -1`` and the run is day 0.

* PV: a clear-sky half sine from 06:00 to 18:00, scaled by a cloud factor that drifts minute by
  minute (an AR(1) process).
* Wind: an AR(1) wind speed around 7 m/s through a cubic power curve (cut-in 3, rated 12 m/s).
* Household load: a base, a morning and an evening peak, AR(1) noise, and a few short appliance
  spikes (what the consumption agent's peak events are about).
* The wholesale price outside the island (what the market crawler watches): a daily curve with a
  morning and an evening peak, and noise.

A diesel station's output is not a profile: it is dispatched by its battery (``agents``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.signal import lfilter

from peergrid.microgrid.config import EntitySpec, Kind

MINUTES_PER_DAY = 1440
HOURS = np.arange(MINUTES_PER_DAY) / 60.0


def _rng(seed: int, day: int, index: int, what: int) -> np.random.Generator:
    return np.random.default_rng([seed, day + 1_000, index, what])


def _ar1(rng: np.random.Generator, n: int, phi: float, sigma: float) -> NDArray[np.float64]:
    # x[i] = phi * x[i-1] + e[i], as a recursive filter
    return np.asarray(lfilter([1.0], [1.0, -phi], rng.normal(0.0, sigma, n)), dtype=np.float64)


def _tile(day_values: NDArray[np.float64], minutes: int) -> NDArray[np.float64]:
    reps = -(-minutes // MINUTES_PER_DAY)
    return np.tile(day_values, reps)[:minutes]


def production_kw(
    entity: EntitySpec, index: int, seed: int, day: int, minutes: int
) -> NDArray[np.float64]:
    """The entity's available production (kW) minute by minute; zeros for a consumer or a diesel."""
    if entity.kind is Kind.PV or entity.kind is Kind.PROSUMER:
        shape = np.clip(np.sin(np.pi * (HOURS - 6.0) / 12.0), 0.0, None)
        rng = _rng(seed, day, index, 1)
        clouds = np.clip(0.85 + _ar1(rng, MINUTES_PER_DAY, 0.98, 0.03), 0.1, 1.0)
        return _tile(entity.generation_kw * shape * clouds, minutes)
    if entity.kind is Kind.WIND:
        rng = _rng(seed, day, index, 2)
        speed = np.clip(7.0 + _ar1(rng, MINUTES_PER_DAY, 0.995, 0.25), 0.0, None)
        curve = np.clip((speed**3 - 27.0) / (12.0**3 - 27.0), 0.0, 1.0)
        return _tile(entity.generation_kw * curve, minutes)
    return np.zeros(minutes)


def load_kw(
    entity: EntitySpec, index: int, seed: int, day: int, minutes: int
) -> NDArray[np.float64]:
    """The entity's consumption (kW) minute by minute."""
    if entity.load_kw == 0:
        return np.zeros(minutes)
    rng = _rng(seed, day, index, 3)
    shape = (
        0.6
        + 0.8 * np.exp(-0.5 * ((HOURS - 7.5) / 1.0) ** 2)
        + 1.2 * np.exp(-0.5 * ((HOURS - 19.5) / 1.5) ** 2)
    )
    shape = shape / shape.mean()
    noise = np.clip(1.0 + _ar1(rng, MINUTES_PER_DAY, 0.95, 0.05), 0.5, 1.5)
    values = entity.load_kw * shape * noise
    for start in rng.integers(0, MINUTES_PER_DAY - 5, size=3):
        values[start : start + 3] += 2.0 + 2.0 * rng.random()  # a kettle, an oven
    return _tile(values, minutes)


def wholesale_price(seed: int, day: int, minutes: int) -> NDArray[np.float64]:
    """The upstream grid's price (tokens per kWh), minute by minute."""
    rng = _rng(seed, day, 0, 4)
    curve = (
        0.12
        + 0.06 * np.exp(-0.5 * ((HOURS - 8.0) / 1.5) ** 2)
        + 0.10 * np.exp(-0.5 * ((HOURS - 19.0) / 2.0) ** 2)
    )
    return _tile(np.clip(curve + _ar1(rng, MINUTES_PER_DAY, 0.99, 0.002), 0.01, None), minutes)
