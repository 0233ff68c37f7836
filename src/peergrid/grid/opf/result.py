"""What an OPF solve returns: the dispatch, the network state and the relaxation gap.

:class:`OPFResult` holds the optimal dispatch of every asset (kW, kvar, kWh per period), the
bus injections in the generation convention, the bus voltages and the branch flows, currents,
losses and loadings; :class:`RelaxationGap` measures how far the SOC relaxation (11) is from
the exact branch-flow model at the solution; :class:`SolveInfo` what the solve cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from peergrid.core.errors import GridError
from peergrid.grid.opf.case import OPFCase
from peergrid.grid.opf.network import FloatArray, RadialNetwork

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
    """What the solve cost: times (s), iterations and the size of the problem; its settings."""

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
    current_penalty: float = 0.0  # weight of Σψ in the objective (solve_opf's current_penalty)


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
        """The case's network."""
        return self.case.network

    @property
    def losses_kwh(self) -> float:
        """The energy lost in all branches over the horizon, ``Σ r ψ Δt`` (kWh)."""
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
