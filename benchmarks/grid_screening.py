"""Error of the linear screening against AC for a day of the demo's injections.

The demo's 55 households on ``ieee-eu-lv`` (simbench profiles, PV on half of them, the demo day
2016-06-09 by default): 96 slots solved with the AC power flow, and estimated with
:class:`~peergrid.grid.sensitivity.LinearSensitivity` linearised around (a) no load and (b) the
first slot's operating point. Errors are over every bus (voltage, p.u.), every line and the
transformer (loading, percentage points) and every slot; also the power the external grid
supplies (kW) and the wall time of each (estimate: median of 5 calls for all 96 slots).

    python benchmarks/grid_screening.py [--start 2016-06-09] [--json]

The estimates are small dense products: on a busy 2-core machine OpenBLAS's threads make them
10-20x slower; ``OPENBLAS_NUM_THREADS=1`` gives the single-thread figure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import statistics
import time
import warnings
from typing import Any

import numpy as np

from grid_validation import demo_injections, machine
from peergrid.grid.ac_model import FeederModel
from peergrid.grid.feeders import load_feeder
from peergrid.grid.powerflow import PowerFlowCheck
from peergrid.grid.sensitivity import LinearSensitivity


def errors(estimate: Any, ac: Any) -> dict[str, float]:
    dv = np.abs(estimate.vm_pu - ac.vm_pu)
    dl = np.abs(estimate.line_loading_pct - ac.line_loading_pct)
    dt_ = np.abs(estimate.trafo_loading_pct - ac.trafo_loading_pct)
    dp = np.abs(estimate.transformer_p_kw - ac.transformer_p_kw)
    return {
        "max_abs_dv_pu": float(np.nanmax(dv)),
        "mean_abs_dv_pu": float(np.nanmean(dv)),
        "max_abs_dv_min_pu": float(np.abs(estimate.v_min_pu - np.nanmin(ac.vm_pu, axis=1)).max()),
        "max_abs_dline_pct": float(np.nanmax(dl)),
        "mean_abs_dline_pct": float(np.nanmean(dl)),
        "max_abs_dtrafo_pct": float(np.nanmax(dt_)),
        "mean_abs_dtrafo_pct": float(np.nanmean(dt_)),
        "max_abs_dtransformer_p_kw": float(dp.max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2016, 6, 9))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.getLogger("pandapower").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")

    buses, p, q = demo_injections("ieee-eu-lv", args.start, 1)
    feeder = load_feeder("ieee-eu-lv")
    model = FeederModel(feeder)
    check = PowerFlowCheck(feeder, buses, model=model)
    start = time.perf_counter()
    ac = check.run(p, q)
    ac_s = time.perf_counter() - start
    assert ac.converged.all(), "every demo slot converges"

    report: dict[str, Any] = {
        "machine": machine(),
        "feeder": "ieee-eu-lv",
        "day": args.start.isoformat(),
        "slots": int(p.shape[0]),
        "net_demand_kw": [float(p.sum(axis=1).min()), float(p.sum(axis=1).max())],
        "ac": {
            "seconds": ac_s,
            "v_min_pu": float(np.nanmin(ac.vm_pu)),
            "v_max_pu": float(np.nanmax(ac.vm_pu)),
            "max_line_loading_pct": float(np.nanmax(ac.line_loading_pct)),
            "max_trafo_loading_pct": float(np.nanmax(ac.trafo_loading_pct)),
        },
    }
    points = {"no_load": (np.zeros(len(buses)), np.zeros(len(buses))), "first_slot": (p[0], q[0])}
    for name, (p0, q0) in points.items():
        start = time.perf_counter()
        sens = LinearSensitivity(feeder, buses, p0, q0, model=model)
        build_s = time.perf_counter() - start
        estimate = sens.estimate(p - p0, q - q0)  # the first call also starts BLAS threads
        times = []
        for _ in range(5):
            start = time.perf_counter()
            sens.estimate(p - p0, q - q0)
            times.append(time.perf_counter() - start)
        estimate_s = statistics.median(times)
        report[name] = {"build_s": build_s, "estimate_s": estimate_s} | errors(estimate, ac)

    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"machine: {report['machine']}")
    low, high = report["net_demand_kw"]
    acr = report["ac"]
    print(
        f"{report['slots']} slots of the demo's 55 households on ieee-eu-lv, {report['day']} "
        f"(net demand {low:.1f} .. {high:.1f} kW)"
    )
    print(
        f"AC: {acr['seconds']:.3f} s; V in [{acr['v_min_pu']:.4f}, {acr['v_max_pu']:.4f}] p.u., "
        f"max line {acr['max_line_loading_pct']:.1f} %, trafo {acr['max_trafo_loading_pct']:.1f} %"
    )
    header = f"{'linearised around':<18} {'max|dV| pu':>11} {'mean|dV| pu':>11} "
    header += f"{'max|dline| %':>12} {'mean|dline| %':>13} {'max|dtrafo| %':>13} "
    header += f"{'max|dP| kW':>10} {'build s':>8} {'estimate s':>10}"
    print(header)
    for name in points:
        r = report[name]
        print(
            f"{name:<18} {r['max_abs_dv_pu']:11.2e} {r['mean_abs_dv_pu']:11.2e} "
            f"{r['max_abs_dline_pct']:12.3f} {r['mean_abs_dline_pct']:13.4f} "
            f"{r['max_abs_dtrafo_pct']:13.3f} {r['max_abs_dtransformer_p_kw']:10.3f} "
            f"{r['build_s']:8.3f} {r['estimate_s']:10.4f}"
        )


if __name__ == "__main__":
    main()
