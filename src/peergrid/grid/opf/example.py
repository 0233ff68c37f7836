"""A ready OPF case on any feeder: one day of loads, PV, batteries, EVs and prices.

The shapes are simple deterministic daily curves (the grid layer does not read the asset
layer's simbench profiles), with a little per-bus variety drawn from ``seed``:

- **load** at every household bus: a base of 35 % with a morning (07:30) and a larger evening
  (19:00) peak, normalised to 1 and scaled to the bus's peak. The peak is the net's own load at
  that bus when it has one above ``default_peak_kw`` (``case33bw``: its nominal MATPOWER
  loads), else ``default_peak_kw`` (4 kW, a household). Each bus's curve is shifted by up to
  ±1 h and scaled by 0.8–1.0. Reactive load follows the net's own q/p ratio, else power factor 0.95.
- **PV** on ``round(pv_share · n)`` buses: a half sine from 06:00 to 20:00 (a summer day),
  peak ``1.5 ×`` the bus's peak load, scaled by 0.85–1.0; curtailable; inverter rating
  ``1.1 ×`` the peak with up to ``0.45 ×`` the peak of reactive power.
- **batteries** on ``round(battery_share · n)`` buses, PV buses first: two hours of the bus's
  peak load (kWh), charge and discharge at the peak load (kW), 95 % each way, between 10 % and
  100 %, starting at 50 % and ending at least there.
- **EVs** (``n_evs``): the first home from 17:00 to 07:00, the second from 19:00 to 06:30
  (the same hours every day, seed L730), ``max(11 kW, ½ peak)``, needing 15 kWh per 11 kW
  of charger (at most half of what the window allows), efficiency 0.9.
- **prices**: an import price between about 0.15 and 0.31 per kWh, dear at the evening peak,
  cheaper at night and at midday; feed-in at half of it (seed L621).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from peergrid.assets.battery import Battery
from peergrid.assets.ev import ElectricVehicle
from peergrid.assets.load import FixedLoad
from peergrid.assets.pv import PVSystem
from peergrid.core.errors import GridError
from peergrid.grid.feeders import Feeder, GridLimits
from peergrid.grid.opf.case import OPFCase, Prices
from peergrid.grid.opf.network import FloatArray, RadialNetwork


def _bump(h: FloatArray, centre: float, width: float) -> FloatArray:
    d = (
        np.asarray(h, dtype=np.float64) - centre + 12.0
    ) % 24.0 - 12.0  # the shortest way round the clock
    return np.exp(-0.5 * (d / width) ** 2)


def load_shape(hours: npt.ArrayLike) -> FloatArray:
    """Household load per unit of its daily peak at the given hours of the day."""
    return _raw_load(hours) / _LOAD_PEAK


def _raw_load(hours: npt.ArrayLike) -> FloatArray:
    hours = np.asarray(hours, dtype=np.float64)
    return (
        0.35
        + 0.25 * _bump(hours, 7.5, 1.2)
        + 0.65 * _bump(hours, 19.0, 2.0)
        + 0.08 * _bump(hours, 13.0, 2.0)
    )


_LOAD_PEAK = float(_raw_load(np.linspace(0.0, 24.0, 24 * 60 + 1)).max())


def pv_shape(hours: npt.ArrayLike) -> FloatArray:
    """PV output per unit of its peak (a summer day, 06:00–20:00)."""
    x = (np.asarray(hours, dtype=np.float64) - 6.0) / 14.0
    return np.where((x > 0) & (x < 1), np.sin(np.pi * np.clip(x, 0, 1)), 0.0)


def price_shape(hours: npt.ArrayLike) -> FloatArray:
    """Import price (currency per kWh) over the day."""
    hours = np.asarray(hours, dtype=np.float64)
    return (
        0.21
        + 0.10 * _bump(hours, 19.0, 1.5)
        + 0.05 * _bump(hours, 8.0, 1.2)
        - 0.06 * _bump(hours, 13.0, 2.5)
        - 0.05 * _bump(hours, 3.0, 2.5)
    )


def suggest_base_mva(peak_kw: float) -> float:
    """A power base near the feeder's scale: the power of ten at or below its peak load."""
    if not (math.isfinite(peak_kw) and peak_kw > 0):
        return 1.0
    return float(10.0 ** math.floor(math.log10(peak_kw / 1000.0)))


def example_case(
    feeder: Feeder,
    periods: int = 96,
    seed: int = 0,
    *,
    pv_share: float = 0.4,
    battery_share: float = 0.2,
    n_evs: int = 2,
    limits: GridLimits | None = None,
    s_base_mva: float | None = None,
    feed_in_share: float = 0.5,
    default_peak_kw: float = 4.0,
) -> OPFCase:
    """One day in ``periods`` equal periods on ``feeder`` (see the module docstring)."""
    if periods < 1:
        raise GridError(f"example case: periods must be at least 1, got {periods}")
    for name, share in (("pv_share", pv_share), ("battery_share", battery_share)):
        if not 0 <= share <= 1:
            raise GridError(f"example case: {name} must lie in [0, 1], got {share}")
    buses = list(dict.fromkeys(int(b) for b in feeder.household_buses))
    if not buses:
        raise GridError(f"example case: feeder {feeder.name!r} has no household buses")
    if not 0 <= n_evs <= len(buses):
        raise GridError(f"example case: n_evs must lie in [0, {len(buses)}], got {n_evs}")
    rng = np.random.default_rng(seed)
    dt = 24.0 / periods
    hours = (np.arange(periods) + 0.5) * dt

    net = feeder.net
    peak_kw: dict[int, float] = {}
    q_ratio: dict[int, float] = {}
    tan_phi = math.tan(math.acos(0.95))
    if len(net.load):
        in_service = net.load[net.load.in_service.astype(bool)]
        by_bus = in_service.groupby("bus")[["p_mw", "q_mvar"]].sum()
        for bus, row in by_bus.iterrows():
            if float(row.p_mw) > 0:
                peak_kw[int(bus)] = float(row.p_mw) * 1000.0
                q_ratio[int(bus)] = float(row.q_mvar) / float(row.p_mw)
    # A net's own load below a household's peak (the IEEE feeder keeps its off-peak snapshot)
    # is not a peak: such buses take ``default_peak_kw``.
    peaks = np.array([max(peak_kw.get(b, default_peak_kw), default_peak_kw) for b in buses])

    if s_base_mva is None:
        s_base_mva = suggest_base_mva(float(peaks.sum()))
    network = RadialNetwork.from_net(net, s_base_mva=s_base_mva)

    loads = []
    for k, bus in enumerate(buses):
        shift = rng.uniform(-1.0, 1.0)
        scale = rng.uniform(0.8, 1.0)
        p = peaks[k] * scale * load_shape(hours - shift)
        loads.append(FixedLoad(f"load-{bus}", bus, p, p * q_ratio.get(bus, tan_phi)))

    n_pv = round(pv_share * len(buses))
    pv_idx = sorted(rng.choice(len(buses), size=n_pv, replace=False).tolist())
    pv = []
    for k in pv_idx:
        kwp = 1.5 * peaks[k]
        pv.append(
            PVSystem(
                f"pv-{buses[k]}",
                buses[k],
                kwp * rng.uniform(0.85, 1.0) * pv_shape(hours),
                q_max_kvar=0.45 * kwp,
                s_max_kva=1.1 * kwp,
            )
        )

    n_bat = round(battery_share * len(buses))
    others = [k for k in rng.permutation(len(buses)).tolist() if k not in pv_idx]
    bat_idx = sorted(([*pv_idx, *others])[:n_bat])
    batteries = [
        Battery(
            f"battery-{buses[k]}",
            buses[k],
            e_max_kwh=2.0 * peaks[k],
            p_charge_max_kw=peaks[k],
            p_discharge_max_kw=peaks[k],
            e_min_kwh=0.2 * peaks[k],
            e_initial_kwh=1.0 * peaks[k],
        )
        for k in bat_idx
    ]

    ev_idx = rng.choice(len(buses), size=n_evs, replace=False).tolist()
    windows = [(17.0, 7.0), (19.0, 6.5)]
    evs = []
    for j, k in enumerate(ev_idx):
        arrive_h, leave_h = windows[j % len(windows)]
        arrival = round(arrive_h / dt) % periods
        departure = round(leave_h / dt) % periods
        if arrival == departure:
            arrival, departure = 0, periods
        p_max = max(11.0, 0.5 * peaks[k])
        car = ElectricVehicle(f"ev-{buses[k]}", buses[k], 0.0, arrival, departure, p_max)
        window_h = float(car.availability(periods).sum()) * dt
        need = min(15.0 * p_max / 11.0, 0.5 * car.efficiency * p_max * window_h)
        evs.append(ElectricVehicle(f"ev-{buses[k]}", buses[k], need, arrival, departure, p_max))

    return OPFCase(
        network=network,
        period_hours=dt,
        prices=Prices.with_feed_in_share(price_shape(hours), feed_in_share),
        loads=tuple(loads),
        pv=tuple(pv),
        batteries=tuple(batteries),
        evs=tuple(evs),
        limits=limits or feeder.limits,
    )
