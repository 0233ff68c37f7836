"""Second-by-second household load and PV for the DVPP study: a documented substitute.

The paper's 1-s HTW Berlin profiles (Tjaden et al. 2015) are not bundled. Instead:

- **Weather.** The German test reference year TRY 2010, region 5 (station Essen, 51.4° N,
  7.0° E; hourly direct and diffuse horizontal irradiance, air temperature and wind), which
  richardsonpy ships. The week is the sunniest run of ``days`` consecutive days in May (the
  highest global horizontal irradiation), as the paper's "sunny week in May" (L205).
- **PV** (pvlib). Each hour's clear-sky index (TRY global / pvlib's Haurwitz clear sky) and
  diffuse fraction are interpolated to the minute and applied to the minute clear sky; the
  plane of array is the isotropic transposition onto each house's roof (tilt 20–40°, azimuth
  south ± 45°, drawn per house), the cell temperature Faiman's, PVWatts DC (−0.4 %/K) and a
  96 % inverter. Within the minute the PV is interpolated linearly: a sunny week is dominated
  by the smooth clear-sky course.
- **Load** (richardsonpy, the Richardson et al. 2010 occupancy and appliance model at 1 min):
  one single-family house per household, 1–5 occupants drawn with shares 10/35/25/20/10 %,
  without electric space or water heating; the week starts on a Monday.
- **Below the minute.** An appliance switches at a random second of its minute rather than at
  the minute's boundary: where the minute value changes, the previous level holds for a
  uniformly drawn 0–59 s into the new minute. This is the sub-minute variation that
  coordination intervals shorter than a minute meet.
- **PV sizes** (``pv_sizes``). ``"simbench"`` (the default): each house's plant size is drawn,
  independently of its load, from the sizes of the 44 PV plants of SimBench's six LV grids
  (``1-LV-rural1`` … ``1-LV-urban6``, scenario 0, :data:`SIMBENCH_LV_PV_KWP`), as the paper's
  feed-in differs between houses (L242) and a roof's plant is sized by its roof and its
  owner, not by the household's demand. ``"equal"``: one size for every house.
- **Calibration.** Every household's load is scaled by one common factor so that the mean is
  the paper's 65.3 kWh per week, and the PV sizes by one common factor so that the mean is
  80.4 kWh per week (L205; pro rata for fewer days): only the relative sizes are drawn. The
  households differ by their occupants, appliances, roofs and plant sizes.

Everything is drawn from one seed; richardsonpy's draws come from Python's :mod:`random`,
whose state is restored afterwards.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from peergrid.core.errors import PeergridError, ScenarioError

FloatArray = npt.NDArray[np.float64]

SECONDS_PER_DAY = 86_400
MINUTES_PER_DAY = 1_440
PAPER_LOAD_KWH_PER_WEEK = 65.3
PAPER_PV_KWH_PER_WEEK = 80.4
TRY_LATITUDE = 51.4
TRY_LONGITUDE = 6.97
TRY_ALTITUDE_M = 152.0
TRY_YEAR = 2010  # the TRY's calendar is a 365-day year; 2010 also started on a Friday
OCCUPANTS = (1, 2, 3, 4, 5)
OCCUPANT_SHARES = (0.10, 0.35, 0.25, 0.20, 0.10)
# fmt: off
SIMBENCH_LV_PV_KWP: tuple[float, ...] = (
    1.8, 3.45, 3.6, 4.2, 4.7, 5.2, 5.5, 6.48, 6.56, 6.65, 6.72, 6.86, 7.6, 7.6, 7.6, 7.8, 7.83,
    7.84, 8.25, 8.32, 9.1, 9.2, 9.8, 11.0, 11.27, 12.5, 14.0, 14.7, 16.96, 16.96, 18.0, 19.0,
    22.6, 23.0, 25.0, 25.2, 27.0, 27.6, 28.6, 28.6, 32.6, 40.0, 51.2, 78.4,
)
# fmt: on
"""The rated power (kWp) of every PV plant (``sgen`` of type PV) of SimBench 1.6's six LV grids
``1-LV-{rural1,rural2,rural3,semiurb4,semiurb5,urban6}--0-sw``, sorted: the spread of rooftop
plant sizes on real German LV feeders (coefficient of variation 0.90), to 0.1 kW where SimBench
gives more digits (51.24 and 78.381 kWp are written 51.2 and 78.4; a test compares them with
SimBench's). Only the relative sizes are used."""
PV_SIZES = ("simbench", "equal")


@dataclass(frozen=True)
class ProfileSettings:
    """How many households, how many days, the seed and the calibration targets."""

    households: int = 20
    days: int = 7
    seed: int = 2019
    load_kwh_per_week: float = PAPER_LOAD_KWH_PER_WEEK
    pv_kwh_per_week: float = PAPER_PV_KWH_PER_WEEK
    pv_sizes: str = "simbench"

    def __post_init__(self) -> None:
        if self.pv_sizes not in PV_SIZES:
            raise ScenarioError(
                f"pv_sizes: expected one of {', '.join(PV_SIZES)}, got {self.pv_sizes!r}"
            )
        if not 1 <= self.households <= 500:
            raise ScenarioError(f"households: expected 1..500, got {self.households}")
        if not 1 <= self.days <= 28:
            raise ScenarioError(f"days: expected 1..28 (within May), got {self.days}")
        for name in ("load_kwh_per_week", "pv_kwh_per_week"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ScenarioError(f"{name}: expected a positive energy, got {value}")


@dataclass(frozen=True)
class CommunityProfiles:
    """Load and PV per second (W), shape (seconds, households), and how they were made."""

    load_w: FloatArray
    pv_w: FloatArray
    start: dt.date
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> int:
        return int(self.load_w.shape[0])

    @property
    def households(self) -> int:
        return int(self.load_w.shape[1])


def community_profiles(settings: ProfileSettings) -> CommunityProfiles:
    """The substitute data of the module docstring for ``settings``."""
    weather = _try_weather()
    first_day = sunniest_days(weather["ghi"], settings.days)
    rng = np.random.default_rng(settings.seed)
    pv_min = _pv_minutes(weather, first_day, settings.days, settings.households, rng)
    load_min, occupants = _load_minutes(weather, first_day, settings, rng)
    pv_w = _seconds_linear(pv_min)
    load_w = _seconds_switched(load_min, rng)
    # Drawn last, so the loads and roofs are those of the equal sizes.
    relative = pv_relative_sizes(settings.pv_sizes, settings.households, rng)
    pv_w *= relative[None, :]
    week_share = settings.days / 7.0
    load_scale = settings.load_kwh_per_week * week_share / _mean_kwh(load_w)
    pv_scale = settings.pv_kwh_per_week * week_share / _mean_kwh(pv_w)
    load_w *= load_scale
    pv_w *= pv_scale
    kwp_per_house = pv_scale * relative
    start = dt.date(TRY_YEAR, 1, 1) + dt.timedelta(days=first_day)
    info = {
        "weather": "TRY 2010 region 5 (Essen), via richardsonpy",
        "first_day": start.isoformat(),
        "days": settings.days,
        "households": settings.households,
        "seed": settings.seed,
        "pv_sizes": settings.pv_sizes,
        "pv_kwp": float(kwp_per_house.mean()),
        "pv_kwp_per_house": [round(float(k), 3) for k in kwp_per_house],
        "load_scale": load_scale,
        "occupants": occupants,
        "load_kwh_mean": _mean_kwh(load_w),
        "pv_kwh_mean": _mean_kwh(pv_w),
    }
    return CommunityProfiles(load_w=load_w, pv_w=pv_w, start=start, info=info)


def pv_relative_sizes(kind: str, households: int, rng: np.random.Generator) -> FloatArray:
    """Each house's PV size relative to the mean of the draw (mean 1): ``"equal"`` all 1,
    ``"simbench"`` drawn with replacement from :data:`SIMBENCH_LV_PV_KWP`."""
    if kind == "equal":
        return np.ones(households)
    if kind != "simbench":
        raise ScenarioError(f"pv_sizes: expected one of {', '.join(PV_SIZES)}, got {kind!r}")
    sizes = rng.choice(np.asarray(SIMBENCH_LV_PV_KWP), size=households)
    relative: FloatArray = sizes / sizes.mean()
    return relative


def sunniest_days(ghi_hourly: FloatArray, days: int) -> int:
    """The first day (0-based day of the year) of the ``days`` consecutive days in May with the
    highest global horizontal irradiation."""
    may_first, may_last = 120, 150  # 1 and 31 May of a 365-day year
    daily = ghi_hourly.reshape(-1, 24).sum(axis=1)
    starts = range(may_first, may_last - days + 2)
    return max(starts, key=lambda d: (float(daily[d : d + days].sum()), -d))


def _mean_kwh(power_w: FloatArray) -> float:
    return float(power_w.sum(axis=0).mean() / 3.6e6)


def require_richardsonpy() -> None:
    """Refuse in one line, before any work, when the optional load model is not installed."""
    try:
        import richardsonpy  # noqa: F401
    except ImportError:
        raise PeergridError(
            "the DVPP study's household loads need richardsonpy (GPL-3.0, an optional "
            "dependency): pip install 'peergrid[studies]'"
        ) from None


def _try_weather() -> dict[str, FloatArray]:
    require_richardsonpy()
    from richardsonpy.functions.load_radiation import load_try_data

    data = load_try_data()[:8760]
    direct = data[:, 13].astype(float)
    diffuse = data[:, 14].astype(float)
    return {
        "ghi": direct + diffuse,
        "dhi": diffuse,
        "temp_air": data[:, 8].astype(float),
        "wind_speed": data[:, 7].astype(float),
    }


def _pv_minutes(
    weather: dict[str, FloatArray],
    first_day: int,
    days: int,
    households: int,
    rng: np.random.Generator,
) -> FloatArray:
    """PV AC output per minute of 1 kWp on each house's roof (W), shape (minutes, houses)."""
    import pandas as pd
    import pvlib

    # TRY hours are CET hour-ending means: hour h covers [h-1, h).
    start = pd.Timestamp(dt.datetime(TRY_YEAR, 1, 1)) + pd.Timedelta(days=first_day)
    times = pd.date_range(start, periods=days * MINUTES_PER_DAY, freq="1min", tz="Etc/GMT-1")
    location = pvlib.location.Location(TRY_LATITUDE, TRY_LONGITUDE, "Etc/GMT-1", TRY_ALTITUDE_M)
    solar = location.get_solarposition(times + pd.Timedelta(seconds=30))
    clear = location.get_clearsky(
        times + pd.Timedelta(seconds=30), model="haurwitz", solar_position=solar
    )
    ghi_clear = clear["ghi"].to_numpy()
    hours = slice(first_day * 24, (first_day + days) * 24)
    ghi_try = weather["ghi"][hours]
    clear_hourly = ghi_clear.reshape(-1, 60).mean(axis=1)
    index = np.where(clear_hourly > 1.0, ghi_try / np.maximum(clear_hourly, 1.0), 0.0)
    index = np.clip(index, 0.0, 1.5)
    diffuse_share = np.where(ghi_try > 0, weather["dhi"][hours] / np.maximum(ghi_try, 1e-9), 1.0)
    minute = np.arange(days * MINUTES_PER_DAY) + 0.5
    centre = np.arange(days * 24) * 60.0 + 30.0
    ghi = np.interp(minute, centre, index) * ghi_clear
    dhi = np.clip(np.interp(minute, centre, diffuse_share), 0.0, 1.0) * ghi
    zenith = solar["apparent_zenith"].to_numpy()
    cos_z = np.cos(np.radians(zenith))
    dni = np.where(zenith < 87.0, (ghi - dhi) / np.maximum(cos_z, 1e-3), 0.0)
    dni = np.clip(dni, 0.0, 1100.0)
    temp_air = np.interp(minute, centre, weather["temp_air"][hours])
    wind = np.interp(minute, centre, weather["wind_speed"][hours])
    tilts = rng.uniform(20.0, 40.0, households)
    azimuths = rng.uniform(135.0, 225.0, households)
    out = np.empty((len(times), households))
    for house in range(households):
        poa = pvlib.irradiance.get_total_irradiance(
            tilts[house],
            azimuths[house],
            zenith,
            solar["azimuth"].to_numpy(),
            dni,
            ghi,
            dhi,
            model="isotropic",
        )["poa_global"]
        poa = np.nan_to_num(np.asarray(poa, dtype=float))
        cell = pvlib.temperature.faiman(poa, temp_air, wind)
        dc = pvlib.pvsystem.pvwatts_dc(poa, cell, pdc0=1000.0, gamma_pdc=-0.004)
        ac = pvlib.inverter.pvwatts(dc, pdc0=1000.0 / 0.96, eta_inv_nom=0.96)
        out[:, house] = np.clip(np.nan_to_num(np.asarray(ac, dtype=float)), 0.0, None)
    return out


def _load_minutes(
    weather: dict[str, FloatArray],
    first_day: int,
    settings: ProfileSettings,
    rng: np.random.Generator,
) -> tuple[FloatArray, list[int]]:
    """richardsonpy's electric load per minute (W), shape (minutes, houses), and occupants.

    Day by day as richardsonpy's ``ElectricLoad`` runs a year (its class insists on a year of
    irradiance), with its own appliances, lighting and occupancy models: a single-family house
    with its standard consumption for the occupants, no electric space or water heating, the
    lighting driven by the TRY's global irradiance (W/m²) and the month of the day (May).
    """
    from pathlib import Path

    require_richardsonpy()
    import richardsonpy
    from richardsonpy.classes.appliance import Appliances
    from richardsonpy.classes.electric_load import ElectricLoad
    from richardsonpy.classes.lighting import load_lighting_profile
    from richardsonpy.classes.occupancy import Occupancy
    from richardsonpy.classes.stochastic_el_load_wrapper import ElectricityProfile

    inputs = Path(richardsonpy.__file__).parent / "inputs"
    days = settings.days
    hours = slice(first_day * 24, (first_day + days) * 24)
    minute = np.arange(days * MINUTES_PER_DAY) + 0.5
    centre = np.arange(days * 24) * 60.0 + 30.0
    irradiance = np.interp(minute, centre, weather["ghi"][hours])
    occupants = [int(o) for o in rng.choice(OCCUPANTS, size=settings.households, p=OCCUPANT_SHARES)]
    seeds = rng.integers(0, 2**31, size=settings.households)
    out = np.empty((days * MINUTES_PER_DAY, settings.households))
    saved = random.getstate()
    try:
        for house, (count, seed) in enumerate(zip(occupants, seeds, strict=True)):
            random.seed(int(seed))
            occupancy = Occupancy(number_occupants=count, initial_day=1, nb_days=days).occupancy
            # 9 % of the consumption is lighting, as richardsonpy's ElectricLoad assumes.
            appliances = Appliances(
                str(inputs / "Appliances.csv"),
                annual_consumption=0.91 * ElectricLoad.standard_consumption["SFH"][count],
                randomize_appliances=True,
                prev_heat_dev=True,
            )
            lights = load_lighting_profile(filename=str(inputs / "LightBulbs.csv"), index=0)
            model = ElectricityProfile(appliances, lights)
            for day in range(days):
                minutes = slice(day * MINUTES_PER_DAY, (day + 1) * MINUTES_PER_DAY)
                total, _, _ = model.power_sim(
                    irradiation=irradiance[minutes],
                    weekend=day % 7 in (5, 6),  # the week starts on a Monday
                    day=first_day + day + 1,  # richardsonpy counts days from 1
                    occupancy=occupancy[144 * day : 144 * (day + 1)],
                )
                out[minutes, house] = np.asarray(total, dtype=float)
    finally:
        random.setstate(saved)
    return out, occupants


def _seconds_linear(minutes: FloatArray) -> FloatArray:
    """Per-minute means to seconds, linear between minute centres (energy kept to rounding)."""
    n_min = minutes.shape[0]
    seconds = np.arange(n_min * 60) + 0.5
    centre = np.arange(n_min) * 60.0 + 30.0
    out = np.empty((n_min * 60, minutes.shape[1]))
    for house in range(minutes.shape[1]):
        out[:, house] = np.interp(seconds, centre, minutes[:, house])
    return out


def _seconds_switched(minutes: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Per-minute loads to seconds: a change of level happens at a random second of its minute."""
    n_min, houses = minutes.shape
    previous = np.vstack([minutes[:1], minutes[:-1]])
    switch = rng.integers(0, 60, size=(n_min, houses))
    switch[previous == minutes] = 0
    second = np.arange(60)[None, :, None]
    out = np.where(second < switch[:, None, :], previous[:, None, :], minutes[:, None, :])
    result: FloatArray = out.reshape(n_min * 60, houses).astype(np.float64)
    return result
