"""AC validation of an OPF dispatch: the optimised injections through a full AC power flow.

Each period's net bus injections (``OPFResult.bus_p_kw`` / ``bus_q_kvar``; applied to
pandapower as loads, i.e. in the load convention, kW drawn) go through pandapower's Newton-
Raphson power flow on a private copy of the network's net, the external grid holding the root
voltage. Reported per period: the largest difference between the OPF's voltage magnitudes and
the AC ones, the difference between the OPF's grid exchange and the AC slack power, the
voltage envelope and the highest loadings, and every violation of the limits.

Where the two can differ: the relaxation gap (a loose cone means the OPF's flows are not a
power-flow solution), the transformer's magnetising branch (the OPF puts it at the HV bus,
pandapower in the middle of its T model) and the solver's tolerance. With a tight
relaxation on a net of lines only, the branch-flow model *is* the AC power flow (angles are
recoverable on a tree), so the voltages agree to the solver's accuracy: about 1e-6 p.u. on
``case33bw`` (the tests hold it to 1e-4 p.u.).
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandapower as pp

from peergrid.grid.feeders import GridLimits
from peergrid.grid.opf.network import FloatArray
from peergrid.grid.opf.result import OPFResult
from peergrid.grid.powerflow import Violation

BoolArray = npt.NDArray[np.bool_]

#: Slack in the limit tests: an AC value within this of a limit the OPF holds it to is not a
#: violation (the OPF puts voltages exactly on a binding limit).
VOLTAGE_TOL_PU = 1e-4
LOADING_TOL_PCT = 0.1


@dataclass(frozen=True, eq=False)
class ACCheck:
    """AC power-flow figures of an OPF dispatch, per period, and their worst values."""

    converged: BoolArray  # (T,)
    v_diff_pu: FloatArray  # (T,) max over buses of |V_opf − V_ac|
    exchange_diff_kw: FloatArray  # (T,) AC slack power minus the OPF's net import
    v_min_pu: FloatArray  # (T,) AC
    v_max_pu: FloatArray  # (T,) AC
    max_line_loading_pct: FloatArray  # (T,) AC; NaN without lines
    max_trafo_loading_pct: FloatArray  # (T,) AC; NaN without transformers
    losses_kw: FloatArray  # (T,) AC losses (slack power minus the net bus injections)
    violations: tuple[Violation, ...]
    time_s: float

    @property
    def all_converged(self) -> bool:
        return bool(self.converged.all())

    @property
    def max_v_diff_pu(self) -> float:
        return float(np.nanmax(self.v_diff_pu)) if self.all_converged else math.inf

    @property
    def max_exchange_diff_kw(self) -> float:
        return float(np.nanmax(np.abs(self.exchange_diff_kw))) if self.all_converged else math.inf

    def summary(self) -> dict[str, float | int | bool]:
        return {
            "converged": self.all_converged,
            "max_v_diff_pu": self.max_v_diff_pu,
            "max_exchange_diff_kw": self.max_exchange_diff_kw,
            "v_min_pu": float(np.nanmin(self.v_min_pu)),
            "v_max_pu": float(np.nanmax(self.v_max_pu)),
            "max_line_loading_pct": _nanmax(self.max_line_loading_pct),
            "max_trafo_loading_pct": _nanmax(self.max_trafo_loading_pct),
            "violations": len(self.violations),
            "time_s": self.time_s,
        }


def _nanmax(a: FloatArray) -> float:
    return float(np.nanmax(a)) if np.isfinite(a).any() else math.nan


def ac_check(result: OPFResult, limits: GridLimits | None = None) -> ACCheck:
    """Run the dispatch of ``result`` through an AC power flow, period by period.

    ``limits`` default to the case's. A period whose power flow does not converge is
    reported as a ``not_converged`` violation, never as a pass.
    """
    t0 = time.perf_counter()
    network = result.network
    lim = limits or result.case.limits
    net = copy.deepcopy(network.net)
    for table in ("load", "sgen", "storage", "asymmetric_load", "asymmetric_sgen"):
        if table in net and len(net[table]):
            net[table] = net[table].iloc[0:0]
    buses = network.buses
    loads = np.array(
        [pp.create_load(net, int(b), p_mw=0.0, q_mvar=0.0) for b in buses], dtype=np.int64
    )
    T = result.case.periods
    nan = np.full(T, np.nan)
    converged = np.zeros(T, dtype=bool)
    v_diff, exch, vmin, vmax, lmax, tmax, loss = (nan.copy() for _ in range(7))
    violations: list[Violation] = []
    # The assets' own injections: the root's exchange with the external grid is the slack's.
    exchange = result.grid_import_kw - result.grid_export_kw
    own_p = result.bus_p_kw.copy()
    own_q = result.bus_q_kvar.copy()
    own_p[0] -= exchange
    own_q[0] -= result.grid_q_kvar
    initialised = False
    for t in range(T):
        net.load.loc[loads, "p_mw"] = -own_p[:, t] / 1000.0
        net.load.loc[loads, "q_mvar"] = -own_q[:, t] / 1000.0
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pp.runpp(
                    net,
                    init="results" if initialised else "auto",
                    numba=False,
                    calculate_voltage_angles=True,
                )
            initialised = True
        except pp.LoadflowNotConverged:
            initialised = False
            violations.append(Violation(t, "not_converged", "feeder", math.nan, math.nan))
            continue
        converged[t] = True
        vm = net.res_bus.vm_pu.loc[buses].to_numpy(dtype=float)
        v_diff[t] = float(np.abs(vm - result.v_pu[:, t]).max())
        slack_kw = float(net.res_ext_grid.p_mw.sum()) * 1000.0
        exch[t] = slack_kw - exchange[t]
        loss[t] = slack_kw + float(own_p[:, t].sum())
        vmin[t], vmax[t] = float(vm.min()), float(vm.max())
        for bus, v in zip(buses, vm, strict=True):
            if v < lim.v_min_pu - VOLTAGE_TOL_PU:
                violations.append(
                    Violation(t, "undervoltage", f"bus {bus}", float(v), lim.v_min_pu)
                )
            elif v > lim.v_max_pu + VOLTAGE_TOL_PU:
                violations.append(Violation(t, "overvoltage", f"bus {bus}", float(v), lim.v_max_pu))
        line_loading = net.res_line.loading_percent[net.line.in_service.astype(bool)]
        if len(line_loading):
            lmax[t] = float(line_loading.max())
            for idx, val in line_loading[
                line_loading > lim.max_line_loading_pct + LOADING_TOL_PCT
            ].items():
                violations.append(
                    Violation(
                        t, "line_overload", f"line {idx}", float(val), lim.max_line_loading_pct
                    )
                )
        if "trafo" in net and len(net.trafo):
            trafo_loading = net.res_trafo.loading_percent[net.trafo.in_service.astype(bool)]
            if len(trafo_loading):
                tmax[t] = float(trafo_loading.max())
                for idx, val in trafo_loading[
                    trafo_loading > lim.max_trafo_loading_pct + LOADING_TOL_PCT
                ].items():
                    violations.append(
                        Violation(
                            t,
                            "trafo_overload",
                            f"trafo {idx}",
                            float(val),
                            lim.max_trafo_loading_pct,
                        )
                    )
    return ACCheck(
        converged=converged,
        v_diff_pu=v_diff,
        exchange_diff_kw=exch,
        v_min_pu=vmin,
        v_max_pu=vmax,
        max_line_loading_pct=lmax,
        max_trafo_loading_pct=tmax,
        losses_kw=loss,
        violations=tuple(violations),
        time_s=time.perf_counter() - t0,
    )
