"""Wall time of the demo day, split by stage (profiles, clearing, power flow, ledger).

Runs the built-in scenario several times in one process and prints each run and the median of
each stage. The first run also fills the caches (simbench profiles, compiled contracts) when
they are empty; the caches are kept on disk, as after `make demo`.

    python benchmarks/demo_day.py [--runs 5] [--no-ledger] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics

from peergrid.sim.runner import STAGES, run_scenario
from peergrid.sim.scenario import Scenario


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-ledger", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    scenario = Scenario()
    if args.no_ledger:
        scenario = scenario.model_copy(
            update={"ledger": scenario.ledger.model_copy(update={"enabled": False})}
        )
    runs = []
    for i in range(args.runs):
        result = run_scenario(scenario)
        runs.append(result.timings)
        if not args.json:
            cells = "  ".join(f"{k} {v:6.2f}s" for k, v in result.timings.items())
            print(f"run {i + 1}: {cells}")
    columns = (*STAGES, "total")
    median = {k: statistics.median(r[k] for r in runs) for k in columns}
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    if args.json:
        print(json.dumps({"machine": machine, "runs": runs, "median": median}, indent=2))
        return
    print(f"\nmedian of {args.runs} runs on {machine}:")
    for k in columns:
        print(f"  {k:<11} {median[k]:7.3f} s")
    print(f"  other       {median['total'] - sum(median[k] for k in STAGES):7.3f} s")


if __name__ == "__main__":
    main()
