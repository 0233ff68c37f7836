"""Solving an OPF case with CLARABEL and reading the dispatch back in kW, kvar and kWh.

:func:`solve_opf` builds the case's cvxpy problem (:mod:`peergrid.grid.opf.model`), solves it,
turns the solver's status into :class:`OPFInfeasible` or :class:`OPFError` when there is no
dispatch, and converts the per-unit solution into an
:class:`~peergrid.grid.opf.result.OPFResult`: the assets' dispatch, the net bus injections
recomputed from it (Eqs. 8–9), the grid exchange netted into import and export, the branch
losses and loadings, and the relaxation gap.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Mapping
from typing import Any

import cvxpy as cp
import numpy as np

from peergrid.core.errors import GridError
from peergrid.grid.opf.case import OPFCase
from peergrid.grid.opf.model import build_model
from peergrid.grid.opf.network import FloatArray
from peergrid.grid.opf.result import OPFResult, RelaxationGap, SolveInfo

log = logging.getLogger(__name__)


class OPFError(GridError):
    """The OPF could not produce a dispatch (solver failure); ``status`` is the solver's."""

    def __init__(self, message: str, status: str | None = None) -> None:
        self.status = status
        super().__init__(message)


class OPFInfeasible(OPFError):
    """No dispatch meets the constraints of the case."""


_OK = {cp.OPTIMAL, cp.OPTIMAL_INACCURATE}
_INFEASIBLE = {cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE}


def _value(x: cp.Variable | None, shape: tuple[int, int]) -> FloatArray:
    """A variable's solution as an array of ``shape``; zeros for an absent variable."""
    if x is None or x.value is None:
        return np.zeros(shape)
    return np.asarray(x.value, dtype=float).reshape(shape)


def solve_opf(
    case: OPFCase,
    *,
    current_penalty: float = 0.0,
    verbose: bool = False,
    solver_options: Mapping[str, Any] | None = None,
) -> OPFResult:
    """Solve the case's multi-period branch-flow OPF with CLARABEL.

    ``current_penalty`` (default 0) weighs the sum of the squared branch currents ψ into the
    objective, priced at the mean import price per p.u. of fictitious resistance (see
    :func:`~peergrid.grid.opf.model.build_model`); a positive weight tightens a loose SOC
    relaxation at the price of a dearer dispatch. The result's ``cost`` is the exchange cost
    alone; ``info.current_penalty`` records the weight.

    Raises :class:`OPFInfeasible` when no dispatch meets the constraints, and
    :class:`OPFError` when the solver fails; both derive from ``GridError``. A solution the
    solver marks inaccurate is returned with ``status == "optimal_inaccurate"`` (and logged).
    """
    t0 = time.perf_counter()
    model = build_model(case, current_penalty)
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
        current_penalty=float(current_penalty),
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
