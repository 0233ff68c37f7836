"""Speed of the AC validation against pandapower's own ``runpp``, and a year of slots.

1. One slot on ``ieee-eu-lv`` (the demo's households and injections at the demo day's evening
   peak): ``PowerFlowCheck.check`` against ``pp.runpp`` with its defaults on the same net and
   injections, side by side; median of many runs each, and the largest difference of the results.
2. A year of 15-minute slots (35 040) on ``ieee-eu-lv-reduced`` with 55 prosumers at its load
   vertices, with the demo's households (simbench profiles, PV on half of them): one
   ``check_many`` call, after building the model.

    python benchmarks/grid_validation.py [--runs 200] [--slots 35040] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import statistics
import time
import warnings
from typing import Any

import numpy as np
import pandapower as pp

from peergrid.assets.household import household_energy
from peergrid.assets.profiles import load_profile_library
from peergrid.grid.ac_model import FeederModel
from peergrid.grid.feeders import CATALOGUE, load_feeder
from peergrid.grid.powerflow import PowerFlowCheck
from peergrid.sim.population import place_households
from peergrid.sim.scenario import Scenario


def demo_injections(
    feeder_name: str, start: dt.date, days: int
) -> tuple[list[int], np.ndarray, np.ndarray]:
    """The demo's households on ``feeder_name``: buses and (slots × prosumers) kW / kvar drawn."""
    scenario = Scenario()
    feeder = load_feeder(feeder_name)
    rng = np.random.default_rng(scenario.seed)
    households = place_households(scenario.households, feeder, rng)
    library = load_profile_library()
    energy = household_energy(
        households, library, library.window(start, days), scenario.time.slot_minutes
    )
    slot_hours = scenario.time.slot_minutes / 60.0
    p_kw = (-energy.net_kwh / slot_hours).T  # load convention: drawn is positive
    return [h.bus for h in households], np.ascontiguousarray(p_kw), energy.q_kvar.T.copy()


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    blas = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"OPENBLAS_NUM_THREADS={blas} (load average {load}: other processes compete for the cores)"
    )


def _median_ms(fn: Any, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def one_slot(runs: int) -> dict[str, Any]:
    demo = Scenario()
    buses, p, q = demo_injections("ieee-eu-lv", demo.time.start, 1)
    slot = int(np.argmax(p.sum(axis=1)))  # the day's highest net demand
    feeder = load_feeder("ieee-eu-lv")
    start = time.perf_counter()
    check = PowerFlowCheck(feeder, buses)
    build_s = time.perf_counter() - start

    net = load_feeder("ieee-eu-lv").net
    net.load.drop(net.load.index, inplace=True)
    for bus, p_kw, q_kvar in zip(buses, p[slot], q[slot], strict=True):
        pp.create_load(net, bus, p_mw=p_kw / 1000.0, q_mvar=q_kvar / 1000.0)

    def runpp() -> None:
        pp.runpp(net)

    ours_ms = _median_ms(lambda: check.check(slot, p[slot], q[slot]), runs)
    runpp_ms = _median_ms(runpp, max(20, runs // 4))
    result = check.run(p[slot][None, :], q[slot][None, :])
    runpp()
    return {
        "feeder": "ieee-eu-lv",
        "slot": slot,
        "net_demand_kw": float(p[slot].sum()),
        "model_build_s": build_s,
        "check_ms": ours_ms,
        "runpp_default_ms": runpp_ms,
        "speedup": runpp_ms / ours_ms,
        "max_abs_dv_pu_vs_runpp": float(np.nanmax(np.abs(result.vm_pu[0] - net.res_bus.vm_pu))),
        "max_abs_dline_pct_vs_runpp": float(
            np.nanmax(np.abs(result.line_loading_pct[0] - net.res_line.loading_percent))
        ),
        "v_min_pu": float(np.nanmin(result.vm_pu[0])),
        "iterations": int(result.iterations[0]),
    }


def year(n_slots: int) -> dict[str, Any]:
    name = "ieee-eu-lv-reduced" if "ieee-eu-lv-reduced" in CATALOGUE else "ieee-eu-lv"
    days = -(-n_slots // 96)
    buses, p, q = demo_injections(name, dt.date(2016, 1, 1), days)
    p, q = p[:n_slots], q[:n_slots]
    feeder = load_feeder(name)
    start = time.perf_counter()
    model = FeederModel(feeder)
    check = PowerFlowCheck(feeder, buses, model=model)
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    results = check.check_many(p, q)
    run_s = time.perf_counter() - start
    converged = sum(r.converged for r in results)
    return {
        "feeder": name,
        "buses": len(feeder.net.bus),
        "prosumers": len(buses),
        "slots": len(results),
        "model_build_s": build_s,
        "check_many_s": run_s,
        "per_slot_ms": run_s / len(results) * 1e3,
        "converged": converged,
        "slots_with_violations": sum(bool(r.violations) for r in results),
        "violations": sum(len(r.violations) for r in results),
        "v_min_pu": min(r.v_min_pu for r in results if r.converged),
        "v_max_pu": max(r.v_max_pu for r in results if r.converged),
        "max_trafo_loading_pct": max(r.max_trafo_loading_pct for r in results if r.converged),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200, help="runs of the one-slot timing")
    parser.add_argument("--slots", type=int, default=35_040, help="slots of the year run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.getLogger("pandapower").setLevel(logging.ERROR)  # "numba cannot be imported"
    warnings.simplefilter("ignore")

    one, yr = one_slot(args.runs), year(args.slots)
    report = {"machine": machine(), "one_slot": one, "year": yr}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"machine: {report['machine']}")
    print(
        f"\none slot on {one['feeder']} (slot {one['slot']}, {one['net_demand_kw']:.1f} kW net "
        f"demand), median of {args.runs} runs:"
    )
    print(f"  PowerFlowCheck.check     {one['check_ms']:8.3f} ms")
    print(f"  pandapower runpp default {one['runpp_default_ms']:8.3f} ms")
    print(f"  speed-up                 {one['speedup']:8.1f} x")
    print(
        f"  vs runpp: max |dV| {one['max_abs_dv_pu_vs_runpp']:.1e} p.u., max |d loading| "
        f"{one['max_abs_dline_pct_vs_runpp']:.1e} % (runpp's own default tolerance)"
    )
    print(f"  model built once in {one['model_build_s']:.2f} s")
    print(
        f"\n{yr['slots']} slots on {yr['feeder']} ({yr['buses']} buses, {yr['prosumers']} "
        f"prosumers): check_many {yr['check_many_s']:.1f} s ({yr['per_slot_ms']:.3f} ms/slot), "
        f"model {yr['model_build_s']:.2f} s"
    )
    print(
        f"  converged {yr['converged']}/{yr['slots']}, slots with violations "
        f"{yr['slots_with_violations']}, V in [{yr['v_min_pu']:.4f}, {yr['v_max_pu']:.4f}] p.u., "
        f"max trafo loading {yr['max_trafo_loading_pct']:.1f} %"
    )


if __name__ == "__main__":
    main()
