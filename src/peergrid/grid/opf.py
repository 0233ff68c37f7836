"""Multi-period branch-flow OPF with SOC relaxation (000_bder.md §2.2–2.3), solved by CLARABEL.

The model is the B-DER report's household and network model (seed L399–L455), centralised:
one convex problem over all buses and all ``T`` periods of length ``Δt`` hours.

Sign conventions (written once, here):

- **Bus injections** ``p_i, q_i`` are positive into the network (generation convention,
  Eq. 8–9, seed L429). Results give them as ``bus_p_kw`` / ``bus_q_kvar``. The AC check and
  :mod:`peergrid.grid.powerflow` use the *load* convention (kW drawn), i.e. ``−bus_p_kw``.
- **Branch flows** ``P_b, Q_b`` on the branch of child bus ``i`` are positive from the child
  towards its parent (upstream), measured at the child end: the convention of seed L437.
  ``ψ_b`` is the squared current magnitude of the branch, ``v_i`` the squared voltage
  magnitude, all per unit on the :class:`~peergrid.grid.opf_network.RadialNetwork` base.
- **Grid exchange** at the root (the external grid's bus): ``p_import ≥ 0`` bought at the
  import price κ_t, ``p_export ≥ 0`` sold at the feed-in price κ^fi_t ≤ κ_t (kW).
- Battery charging and EV charging draw power (kW ≥ 0); battery discharge and PV inject it.
  Energies in kWh, prices in currency per kWh, costs in currency.

Equations (numbers of the digest, 000_bder.md §2.2–2.3):

- (1) with feed-in: ``C_t = κ_t p^{imp}_t − κ^{fi}_t p^{exp}_t``, ``p^g_t = p^{imp}_t −
  p^{exp}_t`` at the root (seed L403: "imported from the utility grid at the root"). The
  feed-in price is below the import price (seed L621: 50 %), so importing and exporting in
  the same period never pays: lowering both by their minimum keeps the physics and lowers the
  cost by ``(κ − κ^{fi})·min``. The reported import and export are the positive and negative
  parts of the net exchange. A feed-in price above the import price is rejected.
- (2)–(3) optional bounds on the root exchange (:class:`GridConnection`).
- (4)–(5) EV energy delivered within the availability window ω, power between the window's
  bounds; V2G out of scope (seed L413–L417).
- (6)–(7) battery net power and state of charge, charge / discharge efficiencies; the limits
  "not given" by the report (seed L427) are the :class:`Battery` fields; the initial state and
  an end-of-horizon floor (``e_T ≥ e_final``) are ours (the digest lists them as unstated).
- (8)–(9) nodal balance of the assets at each bus; PV may be curtailed (``0 ≤ p^pv ≤`` its
  availability) and may provide reactive power within ``q_max`` and an apparent-power
  limit (seed L407 gives reactive power to PV households).
- (10a)–(10b) power balance at each bus, **with the losses of the children's branches**:
  ``p_i = P_i − Σ_{k∈δ(i)} (P_k − r_k ψ_k) + g_i v_i`` and
  ``q_i = Q_i − Σ_{k∈δ(i)} (Q_k − x_k ψ_k) − b_i v_i`` (``g, b``: nodal shunts). The report's
  ``−r_i ψ_i`` on the bus's own branch is not consistent with its own (10c) and L437; see
  ``docs/decisions.md``.
- (10c) ``v_i = v_{π(i)}/τ_i² + 2(r_i P_i + x_i Q_i) − (r_i² + x_i²) ψ_i`` (``τ_i = 1`` for
  lines; an ideal transformer at the parent end for transformers).
- (11) the SOC relaxation of (10d): ``P_i² + Q_i² ≤ ψ_i v_i``.
- voltage limits ``v_min² ≤ v_i ≤ v_max²`` on every bus but the root, whose ``v`` is fixed
  (seed L451, read as bounds on the voltage *magnitude*); thermal limits ``ψ_i ≤ ψ_max``.
- (12) minimise ``Σ_t Δt · C_t``.

The relaxation gap ``ψ v − (P² + Q²) ≥ 0`` is reported at the solution
(:class:`RelaxationGap`); a zero gap means the dispatch satisfies the exact branch-flow model.
It is zero when every extra ampere costs money: prices positive (losses must be bought or
forgo feed-in revenue) and no upper voltage limit binding against reverse flow on a branch
with ``x > r``. There, a fictitious current lowers the downstream voltage by more than it loses
(``|z|²/2r > r``) and lets more PV out, so the optimum leaves the cone's surface; the gap and
the AC check (:mod:`peergrid.grid.opf_check`) show it. LV cables (``r > x``) are safe; negative
prices are allowed but make losses welcome, and the gap will say so.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import cvxpy as cp
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from peergrid.core.errors import GridError
from peergrid.grid.feeders import GridLimits
from peergrid.grid.opf_network import FloatArray, RadialNetwork

log = logging.getLogger(__name__)

BoolArray = npt.NDArray[np.bool_]

__all__ = [
    "Battery",
    "ElectricVehicle",
    "FixedLoad",
    "GridConnection",
    "OPFCase",
    "OPFError",
    "OPFInfeasible",
    "OPFResult",
    "PVSystem",
    "Prices",
    "RadialNetwork",
    "RelaxationGap",
    "SolveInfo",
    "solve_opf",
]


class OPFError(GridError):
    """The OPF could not produce a dispatch (solver failure); ``status`` is the solver's."""

    def __init__(self, message: str, status: str | None = None):
        self.status = status
        super().__init__(message)


class OPFInfeasible(OPFError):
    """No dispatch meets the constraints of the case."""


# ---------------------------------------------------------------------------------------------
# Inputs


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


# ---------------------------------------------------------------------------------------------
# Results


#: Branch-periods with ψ v below this share of the largest are left out of the relative gap.
REL_GAP_FLOOR = 1e-3


@dataclass(frozen=True, eq=False)
class RelaxationGap:
    """The gap of the SOC constraint (11), ``ψ v − (P² + Q²)``, per branch and period (p.u.²).

    ``max_rel`` is the largest ``gap / (ψ v)`` over the branch-periods whose ``ψ v`` is at
    least ``REL_GAP_FLOOR`` (1e-3) of the largest one, i.e. whose current is at least about
    3 % of the largest current: on branches carrying next to nothing (dead ends, tiny
    impedances) ψ barely enters the cost or the voltages and interior-point solvers leave it
    anywhere in a sliver of the cone, which says nothing about the physics.
    ``fictitious_loss_kwh`` is the energy the relaxed ψ loses beyond the exact
    ``(P² + Q²)/v``: ``Σ r (ψ − ψ_exact) Δt``. A tight relaxation has all of them ≈ 0.
    """

    gap_pu2: FloatArray  # (N-1, T)
    max_abs_pu2: float
    mean_abs_pu2: float
    max_rel: float
    fictitious_loss_kwh: float

    @classmethod
    def compute(
        cls,
        network: RadialNetwork,
        p_pu: FloatArray,
        q_pu: FloatArray,
        psi_pu: FloatArray,
        v_child_pu2: FloatArray,
        period_hours: float,
    ) -> RelaxationGap:
        """The gap from per-unit branch values (``v_child_pu2``: squared child voltages)."""
        s2 = p_pu**2 + q_pu**2
        psi_v = psi_pu * v_child_pu2
        gap = psi_v - s2
        big = psi_v >= REL_GAP_FLOOR * max(float(psi_v.max(initial=0.0)), 1e-300)
        rel = np.where(big, np.abs(gap) / np.where(big, psi_v, 1.0), 0.0)
        psi_exact = s2 / np.maximum(v_child_pu2, 1e-12)
        extra_kw = network.r_pu[:, None] * (psi_pu - psi_exact) * network.kw_per_pu
        return cls(
            gap_pu2=gap,
            max_abs_pu2=float(np.abs(gap).max(initial=0.0)),
            mean_abs_pu2=float(np.abs(gap).mean()) if gap.size else 0.0,
            max_rel=float(rel.max(initial=0.0)),
            fictitious_loss_kwh=float(extra_kw.sum() * period_hours),
        )


@dataclass(frozen=True)
class SolveInfo:
    """What the solve cost: times (s), iterations and the size of the problem."""

    solver: str
    status: str
    build_time_s: float  # building the cvxpy problem
    compile_time_s: float  # cvxpy's canonicalisation to the solver's form
    solve_time_s: float  # reported by the solver
    wall_time_s: float  # all of solve_opf
    iterations: int | None
    n_variables: int
    n_eq_constraints: int
    n_ineq_constraints: int
    n_soc_constraints: int


@dataclass(frozen=True, eq=False)
class OPFResult:
    """The optimal dispatch (kW, kvar, kWh per asset and period) and the network state.

    Rows of the asset arrays follow the order of the case's tuples (``case.pv`` etc.);
    rows of bus arrays follow ``case.network.buses``; rows of branch arrays follow the
    branches (branch ``b``'s child is bus position ``b + 1``).
    """

    case: OPFCase
    status: str
    cost: float  # Σ_t Δt (κ_t import − κ^fi_t export), currency
    import_cost: float
    feed_in_revenue: float
    grid_import_kw: FloatArray  # (T,) ≥ 0
    grid_export_kw: FloatArray  # (T,) ≥ 0, never both > 0 in one period
    grid_q_kvar: FloatArray  # (T,) reactive power from the external grid
    pv_kw: FloatArray  # (n_pv, T)
    pv_curtailed_kw: FloatArray  # (n_pv, T)
    pv_q_kvar: FloatArray  # (n_pv, T) injected
    battery_charge_kw: FloatArray  # (n_bat, T)
    battery_discharge_kw: FloatArray  # (n_bat, T)
    battery_energy_kwh: FloatArray  # (n_bat, T) state of charge at the end of each period
    ev_kw: FloatArray  # (n_ev, T) drawn from the grid
    bus_p_kw: FloatArray  # (N, T) net injection (generation convention)
    bus_q_kvar: FloatArray  # (N, T)
    v_pu: FloatArray  # (N, T) voltage magnitude
    branch_p_kw: FloatArray  # (N-1, T) upstream flow at the child end
    branch_q_kvar: FloatArray  # (N-1, T)
    branch_current_sq_pu: FloatArray  # (N-1, T) ψ
    branch_loss_kw: FloatArray  # (N-1, T) r ψ
    branch_loading_pct: FloatArray  # (N-1, T) √ψ / rating · 100; NaN without a rating
    gap: RelaxationGap
    info: SolveInfo
    # Largest min(import, export) the solver returned before netting (kW): ≈ 0 wherever the
    # feed-in price is below the import price; the reported import/export are netted.
    max_simultaneous_exchange_kw: float = 0.0

    @property
    def network(self) -> RadialNetwork:
        return self.case.network

    @property
    def losses_kwh(self) -> float:
        return float(self.branch_loss_kw.sum() * self.case.period_hours)

    @property
    def max_simultaneous_charge_discharge_kw(self) -> float:
        """Largest ``min(charge, discharge)`` of any battery and period (≈ 0 when optimal)."""
        both = np.minimum(self.battery_charge_kw, self.battery_discharge_kw)
        return float(both.max(initial=0.0))

    def dispatch_kw(self, name: str) -> FloatArray:
        """An asset's power per period: PV output, battery net discharge, EV draw, load draw."""
        case = self.case
        for i, pv in enumerate(case.pv):
            if pv.name == name:
                return self.pv_kw[i]
        for i, b in enumerate(case.batteries):
            if b.name == name:
                return self.battery_discharge_kw[i] - self.battery_charge_kw[i]
        for i, ev in enumerate(case.evs):
            if ev.name == name:
                return self.ev_kw[i]
        for load in case.loads:
            if load.name == name:
                return load.p_kw
        raise GridError(f"no asset called {name!r} in the case")

    def summary(self) -> dict[str, float | int | str]:
        """Headline figures (for logs, benchmarks, reports)."""
        return {
            "status": self.status,
            "periods": self.case.periods,
            "buses": self.network.n_buses,
            "cost": self.cost,
            "import_kwh": float(self.grid_import_kw.sum() * self.case.period_hours),
            "export_kwh": float(self.grid_export_kw.sum() * self.case.period_hours),
            "losses_kwh": self.losses_kwh,
            "v_min_pu": float(self.v_pu.min()),
            "v_max_pu": float(self.v_pu.max()),
            "gap_max_abs_pu2": self.gap.max_abs_pu2,
            "gap_mean_abs_pu2": self.gap.mean_abs_pu2,
            "gap_max_rel": self.gap.max_rel,
            "solve_time_s": self.info.solve_time_s,
            "wall_time_s": self.info.wall_time_s,
        }


# ---------------------------------------------------------------------------------------------
# Model


def _column(values: Iterable[float]) -> FloatArray:
    """A column vector (n, 1) of the values."""
    return np.array(list(values), dtype=float)[:, None]


def _incidence(rows: npt.ArrayLike, n_rows: int) -> sp.csr_matrix:
    """(n_rows, len(rows)) 0/1 matrix placing column k at row rows[k]."""
    r = np.asarray(rows, dtype=np.int64)
    return sp.csr_matrix((np.ones(len(r)), (r, np.arange(len(r)))), shape=(n_rows, len(r)))


@dataclass
class _Model:
    problem: cp.Problem
    v: cp.Variable
    p: cp.Variable
    q: cp.Variable
    psi: cp.Variable
    imp: cp.Variable
    exp: cp.Variable
    qg: cp.Variable
    pv_p: cp.Variable | None
    pv_q: cp.Variable | None
    bc: cp.Variable | None
    bd: cp.Variable | None
    e: cp.Variable | None
    ev: cp.Variable | None
    n_soc: int


def _build(case: OPFCase) -> _Model:
    net = case.network
    T, N, B = case.periods, net.n_buses, net.n_branches
    dt = case.period_hours
    to_pu = 1.0 / net.kw_per_pu
    lim = case.limits
    child, parent = net.branch_child, net.branch_parent

    v = cp.Variable((N, T), name="v")
    p = cp.Variable((B, T), name="P")
    q = cp.Variable((B, T), name="Q")
    psi = cp.Variable((B, T), name="psi")
    imp = cp.Variable(T, nonneg=True, name="p_import")
    exp = cp.Variable(T, nonneg=True, name="p_export")
    qg = cp.Variable(T, name="q_grid")
    cons: list[cp.Constraint] = []

    # Fixed loads (8)-(9), aggregated per bus.
    load_p = np.zeros((N, T))
    load_q = np.zeros((N, T))
    for load in case.loads:
        i = net.position(load.bus)
        load_p[i] += load.p_kw * to_pu
        assert load.q_kvar is not None
        load_q[i] += load.q_kvar * to_pu

    root = _incidence([0], N)
    inj_p: cp.Expression = root @ cp.reshape(imp - exp, (1, T), order="F") - load_p
    inj_q: cp.Expression = root @ cp.reshape(qg, (1, T), order="F") - load_q

    # Grid exchange bounds (2)-(3).
    g = case.grid
    if g.import_max_kw is not None:
        cons.append(imp <= g.import_max_kw * to_pu)
    if g.export_max_kw is not None:
        cons.append(exp <= g.export_max_kw * to_pu)
    if g.q_min_kvar is not None:
        cons.append(qg >= g.q_min_kvar * to_pu)
    if g.q_max_kvar is not None:
        cons.append(qg <= g.q_max_kvar * to_pu)

    n_soc = B * T

    # PV: curtailable availability, reactive power, inverter rating.
    pv_p = pv_q = None
    if case.pv:
        n = len(case.pv)
        avail = np.vstack([pv.available_kw for pv in case.pv]) * to_pu
        fixed = np.array([not pv.curtailable for pv in case.pv])
        pv_p = cp.Variable((n, T), name="p_pv")
        cons += [pv_p <= avail, pv_p >= np.where(fixed[:, None], avail, 0.0)]
        m = _incidence([net.position(pv.bus) for pv in case.pv], N)
        inj_p = inj_p + m @ pv_p
        q_max = np.array([pv.q_max_kvar for pv in case.pv]) * to_pu
        if (q_max > 0).any():
            pv_q = cp.Variable((n, T), name="q_pv")
            cons += [pv_q <= q_max[:, None], pv_q >= -q_max[:, None]]
            inj_q = inj_q + m @ pv_q
        rated = [k for k, pv in enumerate(case.pv) if pv.s_max_kva is not None]
        if rated:
            s_max = np.array([case.pv[k].s_max_kva for k in rated], dtype=float) * to_pu
            rows = [pv_p[rated, :]]
            if pv_q is not None:
                rows.append(pv_q[rated, :])
            x = cp.vstack([cp.vec(r, order="F") for r in rows])
            cons.append(cp.SOC(np.tile(s_max, T), x, axis=0))  # p² + q² ≤ s_max²
            n_soc += len(rated) * T

    # Batteries (6)-(7).
    bc = bd = e = None
    if case.batteries:
        bats = case.batteries
        n = len(bats)
        bc = cp.Variable((n, T), nonneg=True, name="p_charge")
        bd = cp.Variable((n, T), nonneg=True, name="p_discharge")
        e = cp.Variable((n, T), name="e_battery")
        shift = sp.eye(T, k=1, format="csr")  # (e @ shift)[:, t] = e[:, t-1]; 0 at t = 0
        first = np.zeros((1, T))
        first[0, 0] = 1.0
        e0 = _column(b.e_start for b in bats) * to_pu
        eta_c = _column(b.eta_charge for b in bats)
        eta_d = _column(b.eta_discharge for b in bats)
        cons += [
            bc <= _column(b.p_charge_max_kw for b in bats) * to_pu,
            bd <= _column(b.p_discharge_max_kw for b in bats) * to_pu,
            e
            == e @ shift + e0 @ first + dt * (cp.multiply(eta_c, bc) - cp.multiply(1 / eta_d, bd)),
            e >= _column(b.e_min_kwh for b in bats) * to_pu,
            e <= _column(b.e_max_kwh for b in bats) * to_pu,
            e[:, T - 1] >= _column(b.e_end for b in bats)[:, 0] * to_pu,
        ]  # (7) and the state-of-charge limits
        m = _incidence([net.position(b.bus) for b in bats], N)
        inj_p = inj_p + m @ (bd - bc)

    # EVs (4)-(5).
    ev = None
    if case.evs:
        evs = case.evs
        omega = np.vstack([x.availability(T) for x in evs]).astype(float)
        ev = cp.Variable((len(evs), T), name="p_ev")
        eta = np.array([x.efficiency for x in evs])
        cons += [
            ev <= omega * np.array([x.p_max_kw for x in evs])[:, None] * to_pu,
            ev >= omega * np.array([x.p_min_kw for x in evs])[:, None] * to_pu,
            cp.multiply(eta, cp.sum(ev, axis=1)) * dt
            == np.array([x.energy_kwh for x in evs]) * to_pu,
        ]
        inj_p = inj_p - _incidence([net.position(x.bus) for x in evs], N) @ ev

    # Network (10a)-(10c), (11).
    a_child = _incidence(child, N)
    a_parent = _incidence(parent, N)
    d = a_child - a_parent
    balance_p = d @ p + (a_parent @ sp.diags(net.r_pu)) @ psi
    balance_q = d @ q + (a_parent @ sp.diags(net.x_pu)) @ psi
    if np.any(net.g_shunt_pu):
        balance_p = balance_p + sp.diags(net.g_shunt_pu) @ v
    if np.any(net.b_shunt_pu):
        balance_q = balance_q - sp.diags(net.b_shunt_pu) @ v
    cons += [inj_p == balance_p, inj_q == balance_q]  # (10a), (10b)

    upstream = sp.csr_matrix(
        (1.0 / net.tap_ratio**2, (np.arange(B), parent)), shape=(B, N)
    )  # v_{π(i)} / τ_i²
    z2 = net.r_pu**2 + net.x_pu**2
    v_child = v[1:, :]
    cons.append(
        v_child
        == upstream @ v + 2 * (sp.diags(net.r_pu) @ p + sp.diags(net.x_pu) @ q) - sp.diags(z2) @ psi
    )  # (10c)
    cons.append(
        cp.SOC(
            cp.vec(psi + v_child, order="F"),
            cp.vstack(
                [
                    cp.vec(2 * p, order="F"),
                    cp.vec(2 * q, order="F"),
                    cp.vec(psi - v_child, order="F"),
                ]
            ),
            axis=0,
        )
    )  # (11): ‖(2P, 2Q, ψ − v)‖ ≤ ψ + v  ⇔  P² + Q² ≤ ψ v, ψ + v ≥ 0

    # Voltage and thermal limits.
    cons += [
        v[0, :] == net.v_root_pu**2,
        v_child >= lim.v_min_pu**2,
        v_child <= lim.v_max_pu**2,
    ]
    pct = np.array(
        [
            lim.max_trafo_loading_pct if k == "trafo" else lim.max_line_loading_pct
            for k in net.branch_kind
        ]
    )
    rated_b = np.flatnonzero(np.isfinite(net.i_max_pu))
    if len(rated_b):
        psi_max = (net.i_max_pu[rated_b] * pct[rated_b] / 100.0) ** 2
        cons.append(psi[rated_b, :] <= psi_max[:, None])

    # (12) with the feed-in price (1).
    kappa = case.prices.import_per_kwh * dt * net.kw_per_pu
    kappa_fi = case.prices.feed_in_per_kwh * dt * net.kw_per_pu
    import os

    w = float(os.environ.get("PSIW", "0"))
    objective = cp.Minimize(kappa @ imp - kappa_fi @ exp + w * float(np.mean(kappa)) * cp.sum(psi))
    return _Model(
        cp.Problem(objective, cons), v, p, q, psi, imp, exp, qg, pv_p, pv_q, bc, bd, e, ev, n_soc
    )


_OK = {cp.OPTIMAL, cp.OPTIMAL_INACCURATE}
_INFEASIBLE = {cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE}


def _value(x: cp.Variable | None, shape: tuple[int, int]) -> FloatArray:
    if x is None or x.value is None:
        return np.zeros(shape)
    return np.asarray(x.value, dtype=float).reshape(shape)


def solve_opf(
    case: OPFCase,
    *,
    verbose: bool = False,
    solver_options: Mapping[str, Any] | None = None,
) -> OPFResult:
    """Solve the case's multi-period branch-flow OPF with CLARABEL.

    Raises :class:`OPFInfeasible` when no dispatch meets the constraints, and
    :class:`OPFError` when the solver fails; both derive from ``GridError``. A solution the
    solver marks inaccurate is returned with ``status == "optimal_inaccurate"`` (and logged).
    """
    t0 = time.perf_counter()
    model = _build(case)
    t1 = time.perf_counter()
    problem = model.problem
    try:
        with warnings.catch_warnings():
            # cvxpy warns of an inaccurate solution; the status says it and the log repeats it.
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            problem.solve(solver=cp.CLARABEL, verbose=verbose, **dict(solver_options or {}))
    except cp.error.SolverError as err:
        raise OPFError(f"OPF: the solver CLARABEL failed ({err})", status="solver_error") from None
    wall = time.perf_counter() - t0
    status = str(problem.status)
    if status in _INFEASIBLE:
        lim = case.limits
        raise OPFInfeasible(
            f"OPF infeasible (solver status {status!r}): no dispatch over the {case.periods} "
            f"periods meets the voltage band {lim.v_min_pu}..{lim.v_max_pu} p.u., the loading "
            f"limits ({lim.max_line_loading_pct:g} % lines, {lim.max_trafo_loading_pct:g} % "
            "transformers), the grid connection's bounds and the assets' limits together",
            status=status,
        )
    if status not in _OK:
        raise OPFError(f"OPF: no solution (solver status {status!r})", status=status)
    if status == cp.OPTIMAL_INACCURATE:
        log.warning("OPF: CLARABEL reports an inaccurate solution")

    net = case.network
    T, N, B = case.periods, net.n_buses, net.n_branches
    kw = net.kw_per_pu
    dt = case.period_hours
    v2 = np.maximum(_value(model.v, (N, T)), 0.0)
    p = _value(model.p, (B, T))
    q = _value(model.q, (B, T))
    psi = np.maximum(_value(model.psi, (B, T)), 0.0)
    raw_imp = _value(model.imp, (1, T))[0] * kw
    raw_exp = _value(model.exp, (1, T))[0] * kw
    net_exchange = raw_imp - raw_exp
    grid_import = np.maximum(net_exchange, 0.0)
    grid_export = np.maximum(-net_exchange, 0.0)
    n_pv, n_b, n_ev = len(case.pv), len(case.batteries), len(case.evs)
    pv_kw = _value(model.pv_p, (n_pv, T)) * kw
    pv_avail = np.vstack([pv.available_kw for pv in case.pv]) if case.pv else np.zeros((0, T))
    bc = np.maximum(_value(model.bc, (n_b, T)) * kw, 0.0)
    bd = np.maximum(_value(model.bd, (n_b, T)) * kw, 0.0)
    ev = _value(model.ev, (n_ev, T)) * kw

    # Net injections (8)-(9) recomputed from the dispatch.
    bus_p = np.zeros((N, T))
    bus_q = np.zeros((N, T))
    pv_q = _value(model.pv_q, (n_pv, T)) * kw
    for load in case.loads:
        i = net.position(load.bus)
        bus_p[i] -= load.p_kw
        assert load.q_kvar is not None
        bus_q[i] -= load.q_kvar
    for k, pv in enumerate(case.pv):
        bus_p[net.position(pv.bus)] += pv_kw[k]
        bus_q[net.position(pv.bus)] += pv_q[k]
    for k, bat in enumerate(case.batteries):
        bus_p[net.position(bat.bus)] += bd[k] - bc[k]
    for k, car in enumerate(case.evs):
        bus_p[net.position(car.bus)] -= ev[k]
    bus_p[0] += net_exchange
    grid_q = _value(model.qg, (1, T))[0] * kw
    bus_q[0] += grid_q

    loading = np.full((B, T), np.nan)
    rated = np.isfinite(net.i_max_pu)
    loading[rated] = np.sqrt(psi[rated]) / net.i_max_pu[rated, None] * 100.0
    import_cost = float(case.prices.import_per_kwh @ grid_import * dt)
    feed_in = float(case.prices.feed_in_per_kwh @ grid_export * dt)
    metrics = problem.size_metrics
    stats = problem.solver_stats
    compile_time = float(getattr(problem, "compilation_time", None) or 0.0)
    info = SolveInfo(
        solver="CLARABEL",
        status=status,
        build_time_s=t1 - t0,
        compile_time_s=compile_time,
        solve_time_s=float(stats.solve_time or 0.0),
        wall_time_s=wall,
        iterations=None if stats.num_iters is None else int(stats.num_iters),
        n_variables=int(metrics.num_scalar_variables),
        n_eq_constraints=int(metrics.num_scalar_eq_constr),
        n_ineq_constraints=int(metrics.num_scalar_leq_constr),
        n_soc_constraints=model.n_soc,
    )
    return OPFResult(
        case=case,
        status=status,
        cost=import_cost - feed_in,
        import_cost=import_cost,
        feed_in_revenue=feed_in,
        grid_import_kw=grid_import,
        grid_export_kw=grid_export,
        grid_q_kvar=grid_q,
        pv_kw=pv_kw,
        pv_curtailed_kw=np.maximum(pv_avail - pv_kw, 0.0),
        pv_q_kvar=pv_q,
        battery_charge_kw=bc,
        battery_discharge_kw=bd,
        battery_energy_kwh=_value(model.e, (n_b, T)) * kw,
        ev_kw=ev,
        bus_p_kw=bus_p,
        bus_q_kvar=bus_q,
        v_pu=np.sqrt(v2),
        branch_p_kw=p * kw,
        branch_q_kvar=q * kw,
        branch_current_sq_pu=psi,
        branch_loss_kw=net.r_pu[:, None] * psi * kw,
        branch_loading_pct=loading,
        gap=RelaxationGap.compute(net, p, q, psi, v2[1:], dt),
        info=info,
        max_simultaneous_exchange_kw=float(np.minimum(raw_imp, raw_exp).max(initial=0.0)),
    )
