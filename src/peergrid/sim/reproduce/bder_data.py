"""The substitute for the B-DER consortium's data: a community, its feeder, its weeks, its prices.

The report's data (the Amsterdam East Harbour Prosumer Community, EPEX day-ahead prices, measured
EV charging) are not public and its test case is lost with the missing text (000_bder.md §0,
§3). This module builds a documented stand-in that every run of ``peergrid reproduce bder``
shares:

- **feeder**: simbench ``1-LV-semiurb4--0-sw`` (44 buses, 39 customer buses at 0.4 kV), a
  semi-urban LV feeder; the households are spread evenly over its customer buses. Its
  transformer's no-load losses are left out (the report's Eqs. 10a–c have no shunt).
- **weeks**: 21–27 June and 21–27 December of simbench's profile year 2016, the report's
  calendar days (its weeks are 21–28 June and 21–28 December 2018, §2.10; simbench ships only
  2016, and "21–28" is read as the seven days starting on the 21st).
- **loads**: simbench's household profiles ``H0-*`` (drawn per household), each scaled to a
  yearly consumption drawn from :data:`ANNUAL_KWH`, hourly means of the 15-minute profile,
  power factor 0.95.
- **prosumers**: every other household (the report's prosumer and consumer groups are of
  similar size, Table 4's baseline: 90 against 92 €) has PV on simbench's ``PV2`` profile
  (the sunniest of its eight in the summer week: 17.6 kWh per kWp), 3–5 kWp, with reactive
  support up to 30 % of its peak (seed L407).
- **batteries**: every second prosumer: 5 kWh, 2.5 kW each way, 95 % each way, between 10 %
  and 100 %, starting every day at 50 % and ending at least there (the designs' end-of-day
  rule); every day is its own day-ahead run, so days do not chain.
- **EVs**: every third household: the same need and hours every day (seed L730), 8 kWh
  delivered between 18:00 and 07:00 with a 3.7 kW charger at 90 %.
- **prices**: not EPEX (no offline source of 2018's hourly prices): the grid layer's stylised
  retail day (:func:`peergrid.grid.opf.example.price_shape`, 0.15–0.31 per kWh, peaks at
  08:00 and 19:00, a midday dip), the same every day; feed-in at half of it (seed L621).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from peergrid.assets.fields import FloatArray
from peergrid.assets.profiles import STEPS_PER_DAY, ProfileLibrary, load_profile_library
from peergrid.core.errors import ScenarioError
from peergrid.grid.feeders import load_feeder
from peergrid.grid.opf.case import Prices
from peergrid.grid.opf.example import price_shape, suggest_base_mva
from peergrid.grid.opf.network import RadialNetwork
from peergrid.mechanisms.admm import BDER_LIMITS, BderCase, BderHousehold, household

FEEDER = "simbench:1-LV-semiurb4--0-sw"
WEEKS = {"summer": dt.date(2016, 6, 21), "winter": dt.date(2016, 12, 21)}
DAYS_PER_WEEK = 7
PERIODS = 24  # the report's hourly day-ahead horizon
ANNUAL_KWH = (2500.0, 4000.0)
PV_PROFILE = "PV2"
PV_KWP = (3.0, 5.0)
LOAD_TAN_PHI = float(np.tan(np.arccos(0.95)))
BATTERY = {
    "e_max_kwh": 5.0,
    "p_charge_max_kw": 2.5,
    "p_discharge_max_kw": 2.5,
    "e_min_kwh": 0.5,
    "e_initial_kwh": 2.5,
}
EV = {"energy_kwh": 8.0, "arrival_period": 18, "departure_period": 7, "p_max_kw": 3.7}
FEED_IN_SHARE = 0.5


@dataclass(frozen=True)
class Member:
    """One household of the community: where it is, which profiles it follows, what it owns."""

    id: str
    bus: int
    load_profile: str
    annual_kwh: float
    pv_kwp: float  # 0 for a consumer
    battery: bool
    ev: bool

    @property
    def is_prosumer(self) -> bool:
        return self.pv_kwp > 0


@dataclass(frozen=True, eq=False)
class Community:
    """The households on the feeder, its branch-flow network, and the profile year."""

    members: tuple[Member, ...]
    network: RadialNetwork
    library: ProfileLibrary

    def day_case(self, season: str, day: int) -> BderCase:
        """Day ``day`` (0-based) of the season's week as one day-ahead case of 24 hours."""
        start = WEEKS[season] + dt.timedelta(days=day)
        window = self.library.window(start, 1)
        hours = np.arange(PERIODS) + 0.5
        prices = Prices.with_feed_in_share(price_shape(hours), FEED_IN_SHARE)
        households = tuple(self._household(m, window) for m in self.members)
        return BderCase(households, prices, 1.0, self.network, BDER_LIMITS)

    def _household(self, m: Member, window: slice) -> BderHousehold:
        load = hourly(self.library.load_p[m.load_profile][window]) * _peak_kw(
            self.library.load_p[m.load_profile], m.annual_kwh
        )
        kwargs: dict[str, object] = {"load_kvar": load * LOAD_TAN_PHI}
        if m.is_prosumer:
            kwargs["pv_kw"] = hourly(self.library.pv[PV_PROFILE][window]) * m.pv_kwp
            kwargs["pv_q_max_kvar"] = 0.3 * m.pv_kwp
        if m.battery:
            kwargs["battery"] = BATTERY
        if m.ev:
            kwargs["ev"] = EV
        return household(m.id, m.bus, load, **kwargs)  # type: ignore[arg-type]


def hourly(quarter_hours: FloatArray) -> FloatArray:
    """Hourly mean power of a day of 15-minute values."""
    if len(quarter_hours) != STEPS_PER_DAY:
        raise ValueError(f"expected {STEPS_PER_DAY} quarter hours, got {len(quarter_hours)}")
    out: FloatArray = quarter_hours.reshape(PERIODS, -1).mean(axis=1)
    return out


def _peak_kw(profile: FloatArray, annual_kwh: float) -> float:
    """The scale that makes a normalised profile's year sum to ``annual_kwh``."""
    return annual_kwh / (float(profile.sum()) * 0.25)


def customer_buses(feeder: str = FEEDER) -> list[int]:
    return list(dict.fromkeys(int(b) for b in load_feeder(feeder).household_buses))


def check_households(households: int, feeder: str = FEEDER) -> list[int]:
    """The feeder's customer buses, once ``households`` is known to fit on them."""
    buses = customer_buses(feeder)
    if not 2 <= households <= len(buses):
        raise ScenarioError(
            f"--households: expected 2..{len(buses)} (one per customer bus of {feeder}), "
            f"got {households}"
        )
    return buses


def community(households: int, seed: int, feeder: str = FEEDER) -> Community:
    """``households`` members spread evenly over the feeder's customer buses (module doc)."""
    buses = check_households(households, feeder)
    rng = np.random.default_rng(seed)
    library = load_profile_library()
    names = sorted(library.load_p)
    members = []
    for k in range(households):
        prosumer = k % 2 == 0
        members.append(
            Member(
                id=f"h{k:02d}",
                bus=buses[k * len(buses) // households],
                load_profile=str(rng.choice(names)),
                annual_kwh=round(float(rng.uniform(*ANNUAL_KWH)), 1),
                pv_kwp=round(float(rng.uniform(*PV_KWP)), 2) if prosumer else 0.0,
                battery=k % 4 == 0,
                ev=k % 3 == 1,
            )
        )
    net = load_feeder(feeder).net
    # The report's branch-flow model (Eqs. 10a–c) has no shunt: the transformer's no-load
    # losses (1.2 kW on this feeder, 29 kWh a day) would be charged to the grid designs only,
    # a constant the households cannot influence, so they are left out.
    net.trafo["pfe_kw"] = 0.0
    net.trafo["i0_percent"] = 0.0
    peak = sum(_peak_kw(library.load_p[m.load_profile], m.annual_kwh) for m in members)
    network = RadialNetwork.from_net(net, s_base_mva=suggest_base_mva(peak))
    return Community(tuple(members), network, library)
