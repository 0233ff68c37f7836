"""Iterations and wall time of the B-DER designs by ADMM to 0.1 % of the centralised optimum.

For 10, 55 and 200 households (on cigre-lv, ieee-eu-lv-reduced and simbench rural3; 200
households share the 118 household buses) and each coupled design, prints the centralised wall
time (build, canonicalisation and solve), and for the ADMM the first iteration from which the
cost stays within 0.1 % of the optimum, the wall time to that iteration, whether and when
the residual test stopped it, and the ratio of the two wall times.

    PYTHONPATH=src python benchmarks/bder_admm.py [--households 10 55 200] [--partition nodes]
"""

from __future__ import annotations

import argparse
import json

from peergrid.grid.feeders import load_feeder
from peergrid.mechanisms.admm import AdmmSettings, centralised, distributed, example_case
from peergrid.mechanisms.admm.check import rel_gap

FEEDERS = {10: "cigre-lv", 55: "ieee-eu-lv-reduced", 200: "simbench:1-LV-rural3--0-sw"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", type=int, nargs="+", default=[10, 55, 200])
    ap.add_argument("--designs", nargs="+", default=["grid-only", "trade-only", "combined"])
    ap.add_argument("--partition", default="households")
    ap.add_argument("--max-iterations", type=int, default=100)
    args = ap.parse_args()
    for n in args.households:
        case = example_case(load_feeder(FEEDERS.get(n, "simbench:1-LV-rural3--0-sw")), n)
        for design in args.designs:
            central = centralised(case, design, max_partners=10)
            settings = AdmmSettings(max_iterations=args.max_iterations, partition=args.partition)
            run = distributed(case, design, settings, max_partners=10)
            gaps = [abs(rel_gap(h.cost, central.cost)) for h in run.history]
            within = next((k for k in range(len(gaps)) if all(g <= 1e-3 for g in gaps[k:])), None)
            setup = run.wall_time_s - run.history[-1].time_s  # build + warm start
            t_within = None if within is None else setup + run.history[within].time_s
            row = {
                "households": n,
                "design": design,
                "central_wall_s": round(central.wall_time_s, 3),
                "iterations_to_0.1pct": None if within is None else within + 1,
                "admm_wall_to_0.1pct_s": None if t_within is None else round(t_within, 3),
                "ratio": None if t_within is None else round(t_within / central.wall_time_s, 1),
                "stopped_by_residuals": run.converged,
                "iterations": run.iterations,
                "final_gap": rel_gap(run.cost, central.cost),
                "admm_wall_s": round(run.wall_time_s, 3),
                "admm_solver_s": round(run.solve_time_s, 3),
            }
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
