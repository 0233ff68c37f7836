"""Devices behind the meter and their profiles: households, loads, PV, batteries and EVs.

The device models (:mod:`~peergrid.assets.load`, :mod:`~peergrid.assets.pv`,
:mod:`~peergrid.assets.battery`, :mod:`~peergrid.assets.ev`) hold a device's parameters and
physics, checked when built; they depend on numpy only, so that any scheduler (the grid's OPF,
a market, a coordinator) can use them.
"""

from peergrid.assets.battery import Battery
from peergrid.assets.ev import ElectricVehicle
from peergrid.assets.household import EnergySeries, Household, household_energy
from peergrid.assets.load import FixedLoad
from peergrid.assets.profiles import (
    HOUSEHOLD_LOAD_PROFILES,
    PV_PROFILES,
    ProfileLibrary,
    load_profile_library,
)
from peergrid.assets.pv import PVSystem

__all__ = [
    "HOUSEHOLD_LOAD_PROFILES",
    "PV_PROFILES",
    "Battery",
    "ElectricVehicle",
    "EnergySeries",
    "FixedLoad",
    "Household",
    "PVSystem",
    "ProfileLibrary",
    "household_energy",
    "load_profile_library",
]
