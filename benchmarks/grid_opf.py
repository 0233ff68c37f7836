"""Branch-flow OPF (000_bder.md §2.2–2.3): solve time, problem size, relaxation gap, AC check.

A one-day OPF (96 periods of 15 minutes by default) on ``case33bw`` and on
``ieee-eu-lv-reduced``, each with the ready example case of ``peergrid.grid.opf.example``
(loads at every household bus, PV on 40 %, batteries on 20 %, two EVs). The OPF is solved
``--runs`` times (median reported); its dispatch then goes once through the AC check.

    python benchmarks/grid_opf.py [--periods 96] [--runs 3] [--seed 0] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import warnings
from typing import Any

from peergrid.core.errors import GridError
from peergrid.grid.feeders import Feeder, GridLimits, load_feeder
from peergrid.grid.opf import ac_check, example_case, solve_opf

FEEDERS = ("case33bw", "ieee-eu-lv-reduced")


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> str:
    return (
        f"{_cpu()}, {os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}"
    )


def _feeder(name: str) -> Feeder | None:
    try:
        return load_feeder(name)
    except GridError as err:
        if name == "case33bw":
            import pandapower.networks as pn

            print(f"note: {err}; building case33bw from pandapower directly")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                net = pn.case33bw()
            buses = list(dict.fromkeys(int(b) for b in net.load.bus))
            return Feeder("case33bw", net, buses, 12.66, GridLimits())
        print(f"note: skipping {name}: {err}")
        return None


def bench(name: str, periods: int, runs: int, seed: int) -> dict[str, Any] | None:
    feeder = _feeder(name)
    if feeder is None:
        return None
    case = example_case(feeder, periods=periods, seed=seed)
    results = [solve_opf(case) for _ in range(runs)]
    r = results[-1]
    check = ac_check(r)
    info = r.info
    return {
        "feeder": name,
        "periods": periods,
        "buses": r.network.n_buses,
        "branches": r.network.n_branches,
        "assets": {
            "loads": len(case.loads),
            "pv": len(case.pv),
            "batteries": len(case.batteries),
            "evs": len(case.evs),
        },
        "variables": info.n_variables,
        "eq_constraints": info.n_eq_constraints,
        "ineq_constraints": info.n_ineq_constraints,
        "soc_constraints": info.n_soc_constraints,
        "iterations": info.iterations,
        "status": r.status,
        "wall_s_median": statistics.median(x.info.wall_time_s for x in results),
        "solver_s_median": statistics.median(x.info.solve_time_s for x in results),
        "compile_s_median": statistics.median(x.info.compile_time_s for x in results),
        "cost": r.cost,
        "losses_kwh": r.losses_kwh,
        "gap_max_abs_pu2": r.gap.max_abs_pu2,
        "gap_mean_abs_pu2": r.gap.mean_abs_pu2,
        "gap_max_rel": r.gap.max_rel,
        "fictitious_loss_kwh": r.gap.fictitious_loss_kwh,
        "simultaneous_exchange_kw": r.max_simultaneous_exchange_kw,
        "simultaneous_charge_discharge_kw": r.max_simultaneous_charge_discharge_kw,
        "s_base_mva": r.network.s_base_mva,
        "ac": check.summary(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--periods", type=int, default=96)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [bench(name, args.periods, args.runs, args.seed) for name in FEEDERS]
    done = [r for r in rows if r is not None]
    if args.json:
        print(json.dumps({"machine": machine(), "results": done}, indent=2))
        return
    print(f"machine: {machine()}")
    for r in done:
        ac = r["ac"]
        a = r["assets"]
        print(
            f"\n{r['feeder']}: {r['periods']} periods, {r['buses']} buses, {r['branches']} "
            f"branches; {a['loads']} loads, {a['pv']} PV, {a['batteries']} batteries, "
            f"{a['evs']} EVs"
        )
        print(
            f"  size       {r['variables']} variables, {r['eq_constraints']} equalities, "
            f"{r['ineq_constraints']} inequalities, {r['soc_constraints']} SOC constraints"
        )
        print(
            f"  time       {r['wall_s_median']:.3f} s median of {args.runs} (solver "
            f"{r['solver_s_median']:.3f} s, cvxpy compile {r['compile_s_median']:.3f} s, "
            f"{r['iterations']} iterations, {r['status']})"
        )
        print(
            f"  cost       {r['cost']:.2f}, losses {r['losses_kwh']:.2f} kWh; largest "
            f"simultaneous import/export {r['simultaneous_exchange_kw']:.1e} kW, battery "
            f"charge/discharge {r['simultaneous_charge_discharge_kw']:.1e} kW"
        )
        print(
            f"  gap        max {r['gap_max_abs_pu2']:.2e} p.u.², mean "
            f"{r['gap_mean_abs_pu2']:.2e} p.u.² (base {r['s_base_mva']:g} MVA), max relative "
            f"{r['gap_max_rel']:.2e}, fictitious losses {r['fictitious_loss_kwh']:.2e} kWh"
        )
        print(
            f"  AC check   converged {ac['converged']}, max |V_opf − V_ac| "
            f"{ac['max_v_diff_pu']:.2e} p.u., max exchange diff "
            f"{ac['max_exchange_diff_kw']:.2e} kW, V {ac['v_min_pu']:.4f}..{ac['v_max_pu']:.4f} "
            f"p.u., max line loading {ac['max_line_loading_pct']:.1f} %, "
            f"{ac['violations']} violations, {ac['time_s']:.2f} s"
        )


if __name__ == "__main__":
    main()
