"""The inputs of an OPF case: the horizon of periods, the prices, the assets at their buses.

An :class:`OPFCase` ties a :class:`~peergrid.grid.opf.network.RadialNetwork` to ``T`` periods
of ``period_hours`` each (``T`` is the length of the price series), the import and feed-in
:class:`Prices` per period, the assets attached to buses of the network (fixed loads, PV,
batteries, EVs), the bounds of the :class:`GridConnection` at the root and the operating
limits. Every series and every asset is checked when the case is built, so that an error names
the asset and the field rather than surfacing as an infeasible solve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from peergrid.core.errors import GridError
from peergrid.grid.feeders import GridLimits
from peergrid.grid.opf.network import FloatArray, RadialNetwork

BoolArray = npt.NDArray[np.bool_]


def _series(owner: str, name: str, value: npt.ArrayLike, *, nonneg: bool = True) -> FloatArray:
    arr = np.asarray(value, dtype=float)
    if arr.ndim != 1:
        raise GridError(f"{owner}: field {name!r} must be a 1-D series, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise GridError(f"{owner}: field {name!r} contains NaN or infinite values")
    if nonneg and (arr < 0).any():
        t = int(np.argmax(arr < 0))
        raise GridError(f"{owner}: field {name!r} is negative ({arr[t]:g}) in period {t}")
    return arr


def _positive(owner: str, name: str, value: float, *, allow_zero: bool = False) -> None:
    ok = math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = "non-negative" if allow_zero else "positive"
        raise GridError(f"{owner}: field {name!r} must be {bound}, got {value}")


def _efficiency(owner: str, name: str, value: float) -> None:
    if not (math.isfinite(value) and 0 < value <= 1):
        raise GridError(f"{owner}: field {name!r} must lie in (0, 1], got {value}")


@dataclass(frozen=True, eq=False)
class Prices:
    """Prices per period (currency per kWh): import κ_t and feed-in κ^fi_t ≤ κ_t (seed L621)."""

    import_per_kwh: FloatArray
    feed_in_per_kwh: FloatArray

    def __post_init__(self) -> None:
        imp = _series("prices", "import_per_kwh", self.import_per_kwh, nonneg=False)
        fin = _series("prices", "feed_in_per_kwh", self.feed_in_per_kwh, nonneg=False)
        if imp.shape != fin.shape:
            raise GridError(
                f"prices: import_per_kwh has {len(imp)} periods, feed_in_per_kwh {len(fin)}"
            )
        if len(imp) == 0:
            raise GridError("prices: at least one period is needed")
        above = fin > imp
        if above.any():
            t = int(np.argmax(above))
            raise GridError(
                f"prices: field 'feed_in_per_kwh' ({fin[t]:g}) exceeds the import price "
                f"({imp[t]:g}) in period {t}; importing to export again would pay without limit"
            )
        object.__setattr__(self, "import_per_kwh", imp)
        object.__setattr__(self, "feed_in_per_kwh", fin)

    @classmethod
    def with_feed_in_share(cls, import_per_kwh: npt.ArrayLike, share: float = 0.5) -> Prices:
        """Feed-in paid at ``share`` of the import price (the report's 50 %, seed L621)."""
        if not (math.isfinite(share) and 0 <= share <= 1):
            raise GridError(f"prices: feed-in share must lie in [0, 1], got {share}")
        imp = np.asarray(import_per_kwh, dtype=float)
        return cls(imp, share * imp)

    def __len__(self) -> int:
        return len(self.import_per_kwh)


@dataclass(frozen=True, eq=False)
class FixedLoad:
    """An uncontrollable load ``p^l, q^l`` at a bus (kW and kvar drawn, per period)."""

    name: str
    bus: int
    p_kw: FloatArray
    q_kvar: FloatArray | None = None  # None: zero

    def __post_init__(self) -> None:
        owner = f"load {self.name!r}"
        p = _series(owner, "p_kw", self.p_kw, nonneg=False)
        q = (
            np.zeros_like(p)
            if self.q_kvar is None
            else _series(owner, "q_kvar", self.q_kvar, nonneg=False)
        )
        if q.shape != p.shape:
            raise GridError(f"{owner}: 'q_kvar' has {len(q)} periods, 'p_kw' {len(p)}")
        object.__setattr__(self, "p_kw", p)
        object.__setattr__(self, "q_kvar", q)


@dataclass(frozen=True, eq=False)
class PVSystem:
    """PV with availability ``available_kw`` per period; dispatch ``0 ≤ p ≤ available``.

    ``curtailable=False`` fixes the output to the availability (the report's uncontrollable
    PV, seed L413). Reactive power ``|q| ≤ q_max_kvar``, and ``p² + q² ≤ s_max_kva²`` when
    ``s_max_kva`` is given (the inverter rating).
    """

    name: str
    bus: int
    available_kw: FloatArray
    curtailable: bool = True
    q_max_kvar: float = 0.0
    s_max_kva: float | None = None

    def __post_init__(self) -> None:
        owner = f"pv {self.name!r}"
        object.__setattr__(self, "available_kw", _series(owner, "available_kw", self.available_kw))
        _positive(owner, "q_max_kvar", self.q_max_kvar, allow_zero=True)
        if self.s_max_kva is not None:
            _positive(owner, "s_max_kva", self.s_max_kva)
            if not self.curtailable and float(np.max(self.available_kw)) > self.s_max_kva:
                raise GridError(f"{owner}: fixed output exceeds 's_max_kva' {self.s_max_kva}")


@dataclass(frozen=True, eq=False)
class Battery:
    """A battery (Eqs. 6–7): charge/discharge power limits (kW), energy limits (kWh).

    ``e_initial_kwh`` is the state of charge before the first period (default: half way
    between the limits); the state after the last period is at least ``e_final_kwh``
    (default: the initial state, so that a day does not borrow from the next).
    """

    name: str
    bus: int
    e_max_kwh: float
    p_charge_max_kw: float
    p_discharge_max_kw: float
    eta_charge: float = 0.95
    eta_discharge: float = 0.95
    e_min_kwh: float = 0.0
    e_initial_kwh: float | None = None
    e_final_kwh: float | None = None

    def __post_init__(self) -> None:
        owner = f"battery {self.name!r}"
        _positive(owner, "e_max_kwh", self.e_max_kwh)
        _positive(owner, "p_charge_max_kw", self.p_charge_max_kw, allow_zero=True)
        _positive(owner, "p_discharge_max_kw", self.p_discharge_max_kw, allow_zero=True)
        _efficiency(owner, "eta_charge", self.eta_charge)
        _efficiency(owner, "eta_discharge", self.eta_discharge)
        _positive(owner, "e_min_kwh", self.e_min_kwh, allow_zero=True)
        if self.e_min_kwh > self.e_max_kwh:
            raise GridError(f"{owner}: 'e_min_kwh' {self.e_min_kwh} exceeds 'e_max_kwh'")
        if self.e_initial_kwh is None:
            object.__setattr__(self, "e_initial_kwh", 0.5 * (self.e_min_kwh + self.e_max_kwh))
        if self.e_final_kwh is None:
            object.__setattr__(self, "e_final_kwh", self.e_initial_kwh)
        for name in ("e_initial_kwh", "e_final_kwh"):
            value = float(getattr(self, name))
            if not (self.e_min_kwh <= value <= self.e_max_kwh):
                raise GridError(
                    f"{owner}: field {name!r} = {value} lies outside "
                    f"[{self.e_min_kwh}, {self.e_max_kwh}] kWh"
                )

    @property
    def e_start(self) -> float:
        assert self.e_initial_kwh is not None
        return float(self.e_initial_kwh)

    @property
    def e_end(self) -> float:
        assert self.e_final_kwh is not None
        return float(self.e_final_kwh)


@dataclass(frozen=True, eq=False)
class ElectricVehicle:
    """An EV as a shiftable load (Eqs. 4–5): ``Σ_t η p_t Δt = energy_kwh`` within its window.

    The EV is available from ``arrival_period`` up to (not including) ``departure_period``.
    When ``arrival_period > departure_period`` the window wraps over the end of the horizon:
    the car is home from the evening until the next morning, with the same hours every day
    (seed L730), i.e. in periods ``t ≥ arrival`` and ``t < departure``. ``energy_kwh`` is the
    energy delivered to the car's battery; the grid supplies ``energy_kwh / efficiency``.
    """

    name: str
    bus: int
    energy_kwh: float
    arrival_period: int
    departure_period: int
    p_max_kw: float
    p_min_kw: float = 0.0
    efficiency: float = 0.9

    def __post_init__(self) -> None:
        owner = f"ev {self.name!r}"
        _positive(owner, "energy_kwh", self.energy_kwh, allow_zero=True)
        _positive(owner, "p_max_kw", self.p_max_kw)
        _positive(owner, "p_min_kw", self.p_min_kw, allow_zero=True)
        _efficiency(owner, "efficiency", self.efficiency)
        if self.p_min_kw > self.p_max_kw:
            raise GridError(f"{owner}: 'p_min_kw' {self.p_min_kw} exceeds 'p_max_kw'")
        if (
            self.arrival_period == self.departure_period
            or min(self.arrival_period, self.departure_period) < 0
        ):
            raise GridError(
                f"{owner}: arrival_period {self.arrival_period} and departure_period "
                f"{self.departure_period} must be distinct non-negative periods"
            )

    def availability(self, periods: int) -> BoolArray:
        """ω_t of Eq. (5): True in the periods the EV may charge."""
        if max(self.arrival_period, self.departure_period) > periods:
            raise GridError(
                f"ev {self.name!r}: window {self.arrival_period}..{self.departure_period} lies "
                f"outside the horizon of {periods} periods"
            )
        t = np.arange(periods)
        if self.arrival_period < self.departure_period:
            return (t >= self.arrival_period) & (t < self.departure_period)
        return (t >= self.arrival_period) | (t < self.departure_period)


@dataclass(frozen=True)
class GridConnection:
    """Bounds (2)–(3) on the exchange with the external grid at the root; None: unbounded."""

    import_max_kw: float | None = None
    export_max_kw: float | None = None
    q_min_kvar: float | None = None
    q_max_kvar: float | None = None

    def __post_init__(self) -> None:
        for name in ("import_max_kw", "export_max_kw"):
            value = getattr(self, name)
            if value is not None:
                _positive("grid connection", name, value, allow_zero=True)
        if (
            self.q_min_kvar is not None
            and self.q_max_kvar is not None
            and self.q_min_kvar > self.q_max_kvar
        ):
            raise GridError("grid connection: 'q_min_kvar' exceeds 'q_max_kvar'")


@dataclass(frozen=True, eq=False)
class OPFCase:
    """Everything the OPF needs: network, horizon, prices, assets and limits.

    The number of periods is the length of the price series; every other series must match
    it. Voltage limits bound the magnitude ``|V|`` of every bus except the root, whose voltage
    is the network's ``v_root_pu``; loading limits scale each branch's rating.
    """

    network: RadialNetwork
    period_hours: float
    prices: Prices
    loads: tuple[FixedLoad, ...] = ()
    pv: tuple[PVSystem, ...] = ()
    batteries: tuple[Battery, ...] = ()
    evs: tuple[ElectricVehicle, ...] = ()
    grid: GridConnection = field(default_factory=GridConnection)
    limits: GridLimits = field(default_factory=GridLimits)

    def __post_init__(self) -> None:
        for name in ("loads", "pv", "batteries", "evs"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        _positive("case", "period_hours", self.period_hours)
        if self.network.n_branches == 0:
            raise GridError("case: the network has no branch below its root")
        lim = self.limits
        if not (0 < lim.v_min_pu <= lim.v_max_pu):
            raise GridError(f"case: voltage limits {lim.v_min_pu}..{lim.v_max_pu} are not valid")
        if not (
            0 < lim.max_line_loading_pct < math.inf and 0 < lim.max_trafo_loading_pct < math.inf
        ):
            raise GridError("case: loading limits must be positive and finite")
        T = self.periods
        names: set[str] = set()
        assets: list[Any] = [*self.loads, *self.pv, *self.batteries, *self.evs]
        for asset in assets:
            kind = type(asset).__name__
            if asset.name in names:
                raise GridError(f"case: asset name {asset.name!r} is used twice")
            names.add(asset.name)
            if not self.network.has_bus(asset.bus):
                raise GridError(
                    f"{kind} {asset.name!r}: field 'bus' = {asset.bus} is not a bus connected "
                    f"to the root {self.network.root_bus}"
                )
        for load in self.loads:
            if len(load.p_kw) != T:
                raise GridError(f"load {load.name!r}: 'p_kw' has {len(load.p_kw)} periods, not {T}")
        for pv in self.pv:
            if len(pv.available_kw) != T:
                raise GridError(
                    f"pv {pv.name!r}: 'available_kw' has {len(pv.available_kw)} periods, not {T}"
                )
        dt = self.period_hours
        for b in self.batteries:
            reach_up = b.e_start + b.eta_charge * b.p_charge_max_kw * dt * T
            reach_down = b.e_start - b.p_discharge_max_kw / b.eta_discharge * dt * T
            if b.e_end > reach_up + 1e-9 or b.e_end < max(reach_down, b.e_min_kwh) - 1e-9:
                raise GridError(
                    f"battery {b.name!r}: field 'e_final_kwh' = {b.e_end} cannot be reached from "
                    f"{b.e_start} kWh in {T} periods of {dt} h"
                )
        for ev in self.evs:
            hours = float(ev.availability(T).sum()) * dt
            most = ev.efficiency * ev.p_max_kw * hours
            least = ev.efficiency * ev.p_min_kw * hours
            if ev.energy_kwh > most + 1e-9:
                raise GridError(
                    f"ev {ev.name!r}: field 'energy_kwh' = {ev.energy_kwh} exceeds the {most:.4g} "
                    f"kWh that {ev.p_max_kw} kW can deliver in its {hours:g} h window"
                )
            if ev.energy_kwh < least - 1e-9:
                raise GridError(
                    f"ev {ev.name!r}: field 'energy_kwh' = {ev.energy_kwh} is below the "
                    f"{least:.4g} kWh its minimum power {ev.p_min_kw} kW delivers in its window"
                )

    @property
    def periods(self) -> int:
        return len(self.prices)
