"""A year of 15-minute AC checks (35 040 slots) on ``ieee-eu-lv``: the engines side by side.

The demo's 55 households on ``ieee-eu-lv`` (907 buses; simbench profiles, PV on half of them)
for 2016, as kW/kvar drawn per slot:

1. ``PowerFlowCheck.check_many`` on power-grid-model (the default engine), the whole year in one
   call; median of ``--runs`` runs after building the model. Its threads: PGM's default, one per
   core.
2. The same on lightsim2grid (the per-slot Newton–Raphson of before), on every n-th slot
   (``--sample-old`` slots), extrapolated to the year; and the largest difference of the two
   engines' per-slot figures on those slots.
3. pandapower's ``runpp`` (its defaults, ``numba=False``: numba is not installed) on
   ``--sample-pp`` slots, extrapolated to the year.
4. The memory of a year's ``check_many`` in a fresh process that holds only the feeder and the
   injections (read from a temporary file): resident memory before the call, and the peak
   (``ru_maxrss``) before and after it.

    python benchmarks/grid_year_ac.py [--runs 3] [--sample-old 2000] [--sample-pp 20] [--json]

The machine is shared: the figures move with its load (printed with them).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandapower as pp

from grid_validation import demo_injections, machine
from peergrid.grid.ac_model import FeederModel
from peergrid.grid.feeders import load_feeder
from peergrid.grid.powerflow import PowerFlowCheck

FEEDER = "ieee-eu-lv"
YEAR = 365 * 96


def threads() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"power-grid-model threads: one per core ({cores} usable cores)"


def new_engine(buses: list[int], p: np.ndarray, q: np.ndarray, runs: int) -> dict[str, Any]:
    feeder = load_feeder(FEEDER)
    start = time.perf_counter()
    model = FeederModel(feeder)
    check = PowerFlowCheck(feeder, buses, model=model)
    build_s = time.perf_counter() - start
    times, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        results = check.check_many(p, q)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {
        "engine": model.engine,
        "model_build_s": build_s,
        "year_s_runs": times,
        "year_s_median": statistics.median(times),
        "year_cpu_s_median": statistics.median(cpu),  # all threads of the process
        "slots": len(results),
        "converged": sum(r.converged for r in results),
        "slots_with_violations": sum(bool(r.violations) for r in results),
        "results": results,
    }


def old_engine(
    buses: list[int], p: np.ndarray, q: np.ndarray, sample: int, new: list[Any]
) -> dict[str, Any]:
    feeder = load_feeder(FEEDER)
    check = PowerFlowCheck(feeder, buses, engine="lightsim2grid")
    rows = np.linspace(0, len(p) - 1, sample).astype(int)
    start, start_cpu = time.perf_counter(), time.process_time()
    results = check.check_many(p[rows], q[rows], slots=rows.tolist())
    run_s = time.perf_counter() - start
    cpu_s = time.process_time() - start_cpu
    pairs = [(new[r], o) for r, o in zip(rows, results, strict=True) if o.converged]
    return {
        "sample_slots": sample,
        "sample_s": run_s,
        "year_s_extrapolated": run_s * len(p) / sample,
        "year_cpu_s_extrapolated": cpu_s * len(p) / sample,
        "max_abs_d_v_min_pu": max(abs(a.v_min_pu - b.v_min_pu) for a, b in pairs),
        "max_abs_d_v_max_pu": max(abs(a.v_max_pu - b.v_max_pu) for a, b in pairs),
        "max_abs_d_line_pct": max(
            abs(a.max_line_loading_pct - b.max_line_loading_pct) for a, b in pairs
        ),
        "max_abs_d_trafo_pct": max(
            abs(a.max_trafo_loading_pct - b.max_trafo_loading_pct) for a, b in pairs
        ),
        "same_violations": all(
            [v.kind for v in a.violations] == [v.kind for v in b.violations] for a, b in pairs
        ),
    }


def pandapower_runpp(buses: list[int], p: np.ndarray, q: np.ndarray, sample: int) -> dict[str, Any]:
    net = load_feeder(FEEDER).net
    for element in ("load", "sgen", "storage"):
        net[element] = net[element].iloc[0:0]
    for bus in buses:
        pp.create_load(net, bus, p_mw=0.0, q_mvar=0.0)
    rows = np.linspace(0, len(p) - 1, sample).astype(int)
    start = time.perf_counter()
    for r in rows:
        net.load["p_mw"] = p[r] / 1000.0
        net.load["q_mvar"] = q[r] / 1000.0
        pp.runpp(net, numba=False)
    run_s = time.perf_counter() - start
    return {
        "sample_slots": sample,
        "sample_s": run_s,
        "year_s_extrapolated": run_s * len(p) / sample,
    }


def memory(buses: list[int], p: np.ndarray, q: np.ndarray) -> dict[str, Any]:
    """Peak RSS of the year's check_many, in a fresh process."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "year.npz"
        np.savez(path, buses=np.asarray(buses), p=p, q=q)
        done = subprocess.run(
            [sys.executable, __file__, "--probe", str(path)],
            check=True,
            capture_output=True,
            text=True,
        )
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def probe(path: str) -> None:
    data = np.load(path)
    buses, p, q = [int(b) for b in data["buses"]], data["p"], data["q"]
    feeder = load_feeder(FEEDER)
    check = PowerFlowCheck(feeder, buses)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rss = _rss_mb()
    results = check.check_many(p, q)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "slots": len(results),
                "rss_before_mb": rss,
                "maxrss_before_mb": before,
                "maxrss_after_mb": after,
                "input_mb": (p.nbytes + q.nbytes) / 2**20,
            }
        )
    )


def _rss_mb() -> float:
    """Resident memory now (Linux), MB."""
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
    except OSError:
        return float("nan")
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="runs of the year (median)")
    parser.add_argument("--sample-old", type=int, default=2000, help="slots for lightsim2grid")
    parser.add_argument("--sample-pp", type=int, default=20, help="slots for pandapower runpp")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.getLogger("pandapower").setLevel(logging.ERROR)  # "numba cannot be imported"
    warnings.simplefilter("ignore")
    if args.probe:
        probe(args.probe)
        return

    buses, p, q = demo_injections(FEEDER, dt.date(2016, 1, 1), 365)
    p, q = p[:YEAR], q[:YEAR]
    new = new_engine(buses, p, q, args.runs)
    old = old_engine(buses, p, q, args.sample_old, new.pop("results"))
    runpp = pandapower_runpp(buses, p, q, args.sample_pp)
    mem = memory(buses, p, q)
    report = {
        "machine": machine(),
        "threads": threads(),
        "new": new,
        "old": old,
        "runpp": runpp,
        "memory": mem,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"machine: {report['machine']}")
    print(f"{report['threads']}")
    print(f"\n{new['slots']} slots (a year of 15 minutes) on {FEEDER}, 55 prosumers, 907 buses:")
    runs = ", ".join(f"{t:.2f}" for t in new["year_s_runs"])
    print(
        f"  {new['engine']:<14} check_many  {new['year_s_median']:7.2f} s  "
        f"(median of {len(new['year_s_runs'])}: {runs} s; CPU {new['year_cpu_s_median']:.2f} s "
        f"over all threads; model built in {new['model_build_s']:.2f} s)"
    )
    print(
        f"  lightsim2grid  check_many  {old['year_s_extrapolated']:7.2f} s  "
        f"(extrapolated from {old['sample_slots']} slots in {old['sample_s']:.2f} s; CPU "
        f"{old['year_cpu_s_extrapolated']:.2f} s)"
    )
    print(
        f"  pandapower     runpp       {runpp['year_s_extrapolated']:7.0f} s  "
        f"(extrapolated from {runpp['sample_slots']} slots in {runpp['sample_s']:.2f} s)"
    )
    print(
        f"  converged {new['converged']}/{new['slots']}, slots with violations "
        f"{new['slots_with_violations']}"
    )
    print(
        f"  engines on the lightsim2grid sample: max |d v_min| {old['max_abs_d_v_min_pu']:.1e} "
        f"p.u., |d v_max| {old['max_abs_d_v_max_pu']:.1e} p.u., |d line| "
        f"{old['max_abs_d_line_pct']:.1e} %, |d trafo| {old['max_abs_d_trafo_pct']:.1e} %, "
        f"same violations: {old['same_violations']}"
    )
    print(
        f"  memory of the year's check_many in a fresh process: resident {mem['rss_before_mb']:.0f}"
        f" MB before the call (peak so far {mem['maxrss_before_mb']:.0f} MB: imports, feeder, "
        f"model), peak {mem['maxrss_after_mb']:.0f} MB after it (ru_maxrss; the injections "
        f"are {mem['input_mb']:.0f} MB)"
    )


if __name__ == "__main__":
    main()
