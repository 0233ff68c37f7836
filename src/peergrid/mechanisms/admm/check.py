"""A distributed result checked against the centralised optimum of the same problem.

:func:`check_against_central` measures, for any design:

- the **relative cost gap** ``(cost − cost*) / |cost*|`` to the centralised optimum;
- the **reciprocity residual** ``max |d_ij + d_ji|`` of the trades (kW), and the largest
  imbalance of a household's own balance (20b), ``|p^dev + p^g − Σ_j d_ij|``;
- in the grid designs, the **voltage band** (lowest and highest voltage against the case's
  limits), the **SOC relaxation's gap** ``ψ v − (P² + Q²)`` of the schedule
  (:class:`~peergrid.grid.opf.result.RelaxationGap`) and an **AC power flow** of the schedule
  (the grid layer's :func:`~peergrid.grid.opf.check.ac_check`): the households' injections at
  their buses, the root as the slack, and the largest difference between the schedule's
  voltages and the AC ones — zero when the relaxation is tight and the copies agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from peergrid.grid.opf.case import OPFCase
from peergrid.grid.opf.check import ACCheck, ac_check
from peergrid.grid.opf.result import OPFResult, RelaxationGap, SolveInfo
from peergrid.mechanisms.admm.case import BderCase
from peergrid.mechanisms.admm.devices import placement
from peergrid.mechanisms.admm.result import BderResult


@dataclass(frozen=True, eq=False)
class BderCheck:
    """The figures of :func:`check_against_central` (``nan`` where a figure does not apply)."""

    cost: float
    central_cost: float
    rel_gap: float
    reciprocity_kw: float
    balance_kw: float
    v_min_pu: float
    v_max_pu: float
    v_band_ok: bool
    relaxation: RelaxationGap | None
    ac: ACCheck | None

    def summary(self) -> dict[str, object]:
        out: dict[str, object] = {
            "cost": self.cost,
            "central_cost": self.central_cost,
            "rel_gap": self.rel_gap,
            "reciprocity_kw": self.reciprocity_kw,
            "balance_kw": self.balance_kw,
            "v_min_pu": self.v_min_pu,
            "v_max_pu": self.v_max_pu,
            "v_band_ok": self.v_band_ok,
        }
        if self.relaxation is not None:
            out["relaxation_max_rel"] = self.relaxation.max_rel
            out["relaxation_fictitious_loss_kwh"] = self.relaxation.fictitious_loss_kwh
        if self.ac is not None:
            out["ac_converged"] = self.ac.all_converged
            out["ac_max_v_diff_pu"] = self.ac.max_v_diff_pu
            out["ac_violations"] = len(self.ac.violations)
        return out


def rel_gap(cost: float, central_cost: float) -> float:
    """``(cost − cost*) / |cost*|`` (absolute when the optimum is 0)."""
    return (cost - central_cost) / (abs(central_cost) if central_cost else 1.0)


def first_iteration_within(
    costs: Sequence[float], central_cost: float, gap: float = 1e-3
) -> int | None:
    """The first iteration (1-based) from which every cost stays within ``gap`` (relative) of
    the optimum, or None: a cost that swings back out of the band does not count as reached."""
    last_out = max(
        (k for k, c in enumerate(costs) if abs(rel_gap(c, central_cost)) > gap), default=-1
    )
    return last_out + 2 if last_out + 1 < len(costs) else None


def check_against_central(
    case: BderCase, result: BderResult, central: BderResult, *, ac: bool = True
) -> BderCheck:
    """Cost gap, reciprocity, balance, voltage band, relaxation gap and (``ac``) an AC check."""
    s = result.schedules
    balance = s.net_kw + s.import_kw - s.export_kw
    if result.trades is not None:
        sold = np.zeros_like(balance)
        np.add.at(sold, result.trades.household, result.trades.quantity_kw)
        balance = balance - sold
        reciprocity = result.trades.reciprocity_residual_kw
    else:
        reciprocity = 0.0
    imbalance = float(np.abs(balance).max()) if result.design != "grid-only" else 0.0
    v_min = v_max = math.nan
    band_ok = True
    relaxation = None
    ac_result = None
    if result.network is not None and case.network is not None:
        net = result.network
        v_min, v_max = float(net.v_pu[1:].min()), float(net.v_pu[1:].max())
        lim = case.limits
        band_ok = v_min >= lim.v_min_pu - 1e-4 and v_max <= lim.v_max_pu + 1e-4
        relaxation = RelaxationGap.compute(
            case.network,
            net.branch_p_pu,
            net.branch_q_pu,
            net.branch_psi_pu,
            net.v_sq_pu[1:],
            case.period_hours,
        )
        if ac:
            ac_result = ac_check(opf_result(case, result))
    return BderCheck(
        cost=result.cost,
        central_cost=central.cost,
        rel_gap=rel_gap(result.cost, central.cost),
        reciprocity_kw=reciprocity,
        balance_kw=imbalance,
        v_min_pu=v_min,
        v_max_pu=v_max,
        v_band_ok=band_ok,
        relaxation=relaxation,
        ac=ac_result,
    )


def opf_case(case: BderCase) -> OPFCase:
    """The grid layer's OPF case of the same households (their assets at their buses)."""
    assert case.network is not None
    hs = case.households
    return OPFCase(
        network=case.network,
        period_hours=case.period_hours,
        prices=case.prices,
        loads=tuple(h.load for h in hs),
        pv=tuple(h.pv for h in hs if h.pv is not None),
        batteries=tuple(h.battery for h in hs if h.battery is not None),
        evs=tuple(h.ev for h in hs if h.ev is not None),
        limits=case.limits,
    )


def opf_result(case: BderCase, result: BderResult) -> OPFResult:
    """A grid design's schedule as the grid layer's :class:`OPFResult`, for its AC check."""
    network = case.network
    net = result.network
    assert network is not None and net is not None
    T, N = case.periods, network.n_buses
    s = result.schedules
    at_bus = placement([network.position(h.bus) for h in case.households], N)
    bus_p = at_bus @ s.net_kw
    bus_q = at_bus @ s.net_kvar
    bus_p[0] += net.root_p_kw
    bus_q[0] += net.root_q_kvar
    kw = network.kw_per_pu
    pv_rows = [k for k, h in enumerate(case.households) if h.pv is not None]
    bat_rows = [k for k, h in enumerate(case.households) if h.battery is not None]
    ev_rows = [k for k, h in enumerate(case.households) if h.ev is not None]
    zeros = np.zeros(T)
    return OPFResult(
        case=opf_case(case),
        status=result.method,
        cost=result.cost,
        import_cost=math.nan,
        feed_in_revenue=math.nan,
        grid_import_kw=np.maximum(net.root_p_kw, 0.0),
        grid_export_kw=np.maximum(-net.root_p_kw, 0.0),
        grid_q_kvar=net.root_q_kvar,
        pv_kw=s.pv_kw[pv_rows],
        pv_curtailed_kw=np.zeros((len(pv_rows), T)),
        pv_q_kvar=s.pv_q_kvar[pv_rows],
        battery_charge_kw=s.battery_charge_kw[bat_rows],
        battery_discharge_kw=s.battery_discharge_kw[bat_rows],
        battery_energy_kwh=s.battery_energy_kwh[bat_rows],
        ev_kw=s.ev_kw[ev_rows],
        bus_p_kw=np.asarray(bus_p),
        bus_q_kvar=np.asarray(bus_q),
        v_pu=net.v_pu,
        branch_p_kw=net.branch_p_pu * kw,
        branch_q_kvar=net.branch_q_pu * kw,
        branch_current_sq_pu=net.branch_psi_pu,
        branch_loss_kw=network.r_pu[:, None] * net.branch_psi_pu * kw,
        branch_loading_pct=np.full((network.n_branches, T), np.nan),
        gap=RelaxationGap.compute(
            network,
            net.branch_p_pu,
            net.branch_q_pu,
            net.branch_psi_pu,
            net.v_sq_pu[1:],
            case.period_hours,
        ),
        info=SolveInfo(
            result.method,
            result.method,
            0.0,
            0.0,
            result.solve_time_s,
            result.wall_time_s,
            result.iterations,
            0,
            0,
            0,
            0,
        ),
        max_simultaneous_exchange_kw=float(zeros.max()),
    )
