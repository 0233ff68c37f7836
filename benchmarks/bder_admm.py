"""Iterations and wall time of the B-DER designs by ADMM to 0.1 % of the centralised optimum.

For 10, 55 and 200 households (on cigre-lv, ieee-eu-lv-reduced and simbench rural3; 200
households share the 118 household buses; each trades with its 10 nearest) and each coupled
design, prints one JSON line: the centralised wall time (build, canonicalisation and solve);
for the ADMM the first iteration from which the cost stays within 0.1 % of the optimum, the
wall time to that iteration (build, warm start and the iterations up to it), whether and when
the residual test stopped it, the ratio of the two wall times, and the peak resident memory of
the process that ran the pair (each (households, design) runs in a process of its own, so the
figure is that design's).

    PYTHONPATH=src python benchmarks/bder_admm.py [--households 10 55 200] [--partition nodes]
        [--anderson 10] [--phi 0.4] [--start baseline|copper-plate] [--rho 0.24]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from dataclasses import replace

from peergrid.mechanisms.admm.consensus import STARTS, AdmmSettings

FEEDERS = {10: "cigre-lv", 55: "ieee-eu-lv-reduced", 200: "simbench:1-LV-rural3--0-sw"}
DESIGNS = ["grid-only", "trade-only", "combined"]


def run_one(
    n: int,
    design: str,
    partition: str,
    max_iterations: int,
    anderson: int,
    phi: float | None = None,
    start: str = "lindistflow",
    rho: float | None = None,
) -> dict[str, object]:
    from peergrid.grid.feeders import load_feeder
    from peergrid.mechanisms.admm import AdmmSettings, centralised, distributed, example_case
    from peergrid.mechanisms.admm.check import first_iteration_within, rel_gap

    case = example_case(load_feeder(FEEDERS.get(n, "simbench:1-LV-rural3--0-sw")), n)
    central = centralised(case, design, max_partners=10)
    settings = AdmmSettings(
        max_iterations=max_iterations, partition=partition, anderson=anderson, start=start
    )
    if phi is not None:
        settings = replace(settings, phi=phi)
    if rho is not None:
        settings = replace(settings, rho=rho)
    run = distributed(case, design, settings, max_partners=10)
    first = first_iteration_within([h.cost for h in run.history], central.cost)
    within = None if first is None else first - 1  # its index in the history
    setup = run.wall_time_s - run.history[-1].time_s  # build + warm start
    t_within = None if within is None else setup + run.history[within].time_s
    return {
        "households": n,
        "design": design,
        "anderson": anderson,
        "phi": settings.phi,
        "start": start,
        "rho": settings.for_design(design).rho,
        "central_wall_s": round(central.wall_time_s, 3),
        "iterations_to_0.1pct": None if within is None else within + 1,
        "admm_wall_to_0.1pct_s": None if t_within is None else round(t_within, 3),
        "ratio": None if t_within is None else round(t_within / central.wall_time_s, 1),
        "stopped_by_residuals": run.converged,
        "iterations": run.iterations,
        "final_gap": rel_gap(run.cost, central.cost),
        "admm_wall_s": round(run.wall_time_s, 3),
        "admm_solver_s": round(run.solve_time_s, 3),
        "setup_s": round(setup, 3),
        # ru_maxrss is in KiB on Linux.
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", type=int, nargs="+", default=[10, 55, 200])
    ap.add_argument("--designs", nargs="+", default=DESIGNS)
    ap.add_argument("--partition", default="households")
    ap.add_argument("--max-iterations", type=int, default=100)
    ap.add_argument("--anderson", type=int, default=0, help="Anderson memory, 0 = plain ADMM")
    ap.add_argument("--phi", type=float, default=None, help="initial trade penalty φ")
    ap.add_argument("--rho", type=float, default=None, help="initial grid penalty ρ")
    ap.add_argument(
        "--start",
        default=AdmmSettings().start,
        choices=STARTS,
        help=f"ADMM start (default {AdmmSettings().start})",
    )
    ap.add_argument("--one", action="store_true", help="run one pair in this process")
    args = ap.parse_args()
    if args.one:
        row = run_one(
            args.households[0],
            args.designs[0],
            args.partition,
            args.max_iterations,
            args.anderson,
            args.phi,
            args.start,
            args.rho,
        )
        print(json.dumps(row), flush=True)
        return
    for n in args.households:
        for design in args.designs:
            cmd = [sys.executable, __file__, "--one", "--households", str(n)]
            cmd += ["--designs", design, "--partition", args.partition]
            cmd += ["--max-iterations", str(args.max_iterations), "--anderson", str(args.anderson)]
            if args.phi is not None:
                cmd += ["--phi", str(args.phi)]
            cmd += ["--start", args.start]
            if args.rho is not None:
                cmd += ["--rho", str(args.rho)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                print(json.dumps({"households": n, "design": design, "error": out.stderr[-500:]}))
                continue
            print(out.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
