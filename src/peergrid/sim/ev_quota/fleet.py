"""The EVs of an EV quota day: drawn for a share of the households, or listed in the scenario.

Each EV is its own charging station (it submits its demand, receives a quota and trades it) and
sits at its household's bus. It is an :class:`~peergrid.assets.ev.ElectricVehicle` whose window
is the periods it charges in (:func:`~peergrid.sim.scenario.ev_window_hours`: periods from noon,
the first after the clearing it is plugged in for, the last ending by its departure) and whose
``energy_kwh`` is what it needs from the grid (efficiency 1: the need is metered at the
charger).

Draws (seeded, in this order for the chosen households in feeder order): arrival ~ N(mean, sd)
clock hours clipped to 12:30..23:59, departure ~ N(mean, sd) clipped to 04:00..12:00 the next
morning, need ~ N(mean, sd) kWh clipped to 1..80 kWh; then ``short_stay_share`` of them (each
with that probability) stay only ~ N(mean, sd) hours clipped to 1.5..6 h from their arrival
instead; times to the minute, needs to 0.1 kWh.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from peergrid.assets.ev import ElectricVehicle
from peergrid.assets.household import Household
from peergrid.sim.scenario import EV_QUOTA_PERIOD_MINUTES, EvQuotaSection, ev_window_hours

PERIODS = 24 * 60 // EV_QUOTA_PERIOD_MINUTES
"""48 half-hour periods, from noon to noon."""
PERIOD_HOURS = EV_QUOTA_PERIOD_MINUTES / 60.0
FIRST_HOUR = 12
"""The day's first period starts at noon, so that every evening-to-morning stay lies within it."""
ARRIVAL_CLIP_H = (12.5, 23.0 + 59.0 / 60.0)
DEPARTURE_CLIP_H = (4.0, 12.0)
ENERGY_CLIP_KWH = (1.0, 80.0)
SHORT_STAY_CLIP_H = (1.5, 6.0)  # 1.5 h: at least one whole period after the clearing


@dataclass(frozen=True)
class FleetEv:
    """An EV of the day: the asset (window in periods from noon) and where and when it is."""

    vehicle: ElectricVehicle
    household: str
    arrival_h: float  # clock hours
    departure_h: float

    @property
    def id(self) -> str:
        return self.vehicle.name


def fleet(
    section: EvQuotaSection, households: list[Household], rng: np.random.Generator
) -> list[FleetEv]:
    """The day's EVs: the section's explicit list, else drawn for ``count`` (or ``share``) of
    the households."""
    if section.evs:
        return [
            _ev(
                ev.id,
                households[ev.household - 1],
                ev.arrival_h,
                ev.departure_h,
                ev.energy_kwh,
                ev.charger_kw if ev.charger_kw is not None else section.charger_kw,
            )
            for ev in section.evs
        ]
    n = section.count if section.count is not None else round(section.share * len(households))
    chosen = sorted(rng.choice(len(households), size=n, replace=False).tolist()) if n else []
    arrivals = np.clip(rng.normal(*section.arrival_h, size=n), *ARRIVAL_CLIP_H)
    departures = np.clip(rng.normal(*section.departure_h, size=n), *DEPARTURE_CLIP_H)
    needs = np.clip(rng.normal(*section.energy_kwh, size=n), *ENERGY_CLIP_KWH)
    # A short stay leaves the same evening (or just after midnight): its demand is inelastic.
    short = rng.random(size=n) < section.short_stay_share
    stays = np.clip(rng.normal(*section.short_stay_h, size=n), *SHORT_STAY_CLIP_H)
    departures = np.where(short, (arrivals + stays) % 24.0, departures)
    evs = []
    for k, i in enumerate(chosen):
        house = households[i]
        evs.append(
            _ev(
                f"EV-{house.id}",
                house,
                round(float(arrivals[k]) * 60) / 60,
                round(float(departures[k]) * 60) / 60,
                round(float(needs[k]), 1),
                section.charger_kw,
            )
        )
    return evs


def _ev(
    name: str, house: Household, arrival_h: float, departure_h: float, need: float, kw: float
) -> FleetEv:
    first, stop, _ = ev_window_hours(arrival_h, departure_h)
    vehicle = ElectricVehicle(name, house.bus, need, first, stop, p_max_kw=kw, efficiency=1.0)
    return FleetEv(vehicle, house.id, arrival_h, departure_h)


def tariff_of_periods(hourly: tuple[float, ...]) -> np.ndarray:
    """The tariff of each period from noon (tokens/kWh), from the clock hour it starts in."""
    hours = (FIRST_HOUR + np.arange(PERIODS) * PERIOD_HOURS).astype(int) % 24
    return np.asarray(hourly, dtype=float)[hours]
