"""Placing a scenario's households on the feeder."""

from __future__ import annotations

import numpy as np

from peergrid.assets.household import Household
from peergrid.grid.feeders import Feeder
from peergrid.sim.scenario import HouseholdsSection


def place_households(
    section: HouseholdsSection, feeder: Feeder, rng: np.random.Generator
) -> list[Household]:
    """Households on the feeder's customer buses, in feeder order (round robin past the end).

    Each draws a load profile and yearly consumption; exactly ``round(pv_share * count)`` of them,
    chosen at random, have PV with a drawn profile and size.
    """
    n = section.count
    n_pv = round(section.pv_share * n)
    with_pv = set(rng.choice(n, size=n_pv, replace=False).tolist()) if n_pv else set()
    width = len(str(n))
    households = []
    for i in range(n):
        bus = feeder.household_buses[i % len(feeder.household_buses)]
        load_profile = str(rng.choice(section.load_profiles))
        consumption = float(rng.uniform(*section.annual_consumption_kwh))
        pv_profile = str(rng.choice(section.pv_profiles)) if i in with_pv else None
        pv_kwp = round(float(rng.uniform(*section.pv_kwp)), 2) if i in with_pv else 0.0
        households.append(
            Household(
                id=f"H{i + 1:0{width}d}",
                bus=bus,
                load_profile=load_profile,
                annual_consumption_kwh=round(consumption, 1),
                pv_profile=pv_profile,
                pv_kwp=pv_kwp,
            )
        )
    return households
