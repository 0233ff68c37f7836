"""Households: a load with an optional rooftop PV system, behind one meter at one bus.

A household's load follows one of simbench's normalised household profiles, scaled so that its
yearly consumption equals ``annual_consumption_kwh``; its PV follows one of simbench's PV
profiles scaled by the installed power ``pv_kwp``. Reactive power is taken at a fixed power
factor of the load (PV runs at unity power factor).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from peergrid.assets.profiles import STEP_MINUTES, ProfileLibrary

FloatArray = npt.NDArray[np.float64]
LOAD_POWER_FACTOR = 0.95
_Q_PER_P = math.tan(math.acos(LOAD_POWER_FACTOR))


@dataclass(frozen=True)
class Household:
    id: str
    bus: int
    load_profile: str
    annual_consumption_kwh: float
    pv_profile: str | None = None
    pv_kwp: float = 0.0


@dataclass(frozen=True)
class EnergySeries:
    """Per household and slot: energy consumed and produced (kWh), and mean reactive load."""

    load_kwh: FloatArray  # shape (households, slots)
    pv_kwh: FloatArray
    q_kvar: FloatArray  # mean reactive power drawn in the slot (load convention)
    slot_minutes: int

    @property
    def net_kwh(self) -> FloatArray:
        """Net position: positive is a surplus to sell, negative a deficit to buy."""
        return self.pv_kwh - self.load_kwh

    @property
    def n_slots(self) -> int:
        return int(self.load_kwh.shape[1])


def household_energy(
    households: Sequence[Household],
    library: ProfileLibrary,
    window: slice,
    slot_minutes: int,
) -> EnergySeries:
    """Slot energies of every household over ``window`` (a slice of the profile year)."""
    steps_per_slot = slot_minutes // STEP_MINUTES
    step_hours = STEP_MINUTES / 60.0
    n_steps = window.stop - window.start
    load_kw = np.empty((len(households), n_steps))
    pv_kw = np.zeros((len(households), n_steps))
    for i, house in enumerate(households):
        profile = library.load_p[house.load_profile]
        peak_kw = house.annual_consumption_kwh / (profile.sum() * step_hours)
        load_kw[i] = profile[window] * peak_kw
        if house.pv_profile is not None and house.pv_kwp > 0:
            pv_kw[i] = library.pv[house.pv_profile][window] * house.pv_kwp

    def per_slot(power_kw: FloatArray) -> FloatArray:
        energy = power_kw * step_hours
        result: FloatArray = energy.reshape(len(households), -1, steps_per_slot).sum(axis=2)
        return result

    load_kwh = per_slot(load_kw)
    slot_hours = slot_minutes / 60.0
    return EnergySeries(
        load_kwh=load_kwh,
        pv_kwh=per_slot(pv_kw),
        q_kvar=load_kwh / slot_hours * _Q_PER_P,
        slot_minutes=slot_minutes,
    )
