"""Wall time of the all-pairs length matrix of the IEEE European LV feeder (907 buses).

Each run starts from a cold cache (a fresh ``DistanceCache``), so it includes reading the
topology from the net, the radiality check and the matrix itself. The feeder is built once
before timing. Prints every run and the median; the budget is 0.2 s.

    python benchmarks/grid_distance.py [--runs 9] [--feeder ieee-eu-lv] [--metric length] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

from peergrid.grid.distance import DistanceCache, distance_matrix
from peergrid.grid.feeders import load_feeder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--feeder", default="ieee-eu-lv")
    parser.add_argument("--metric", default="length", choices=["length", "hops", "impedance"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    feeder = load_feeder(args.feeder)
    times_s = []
    for _ in range(args.runs):
        start = time.perf_counter()
        matrix = distance_matrix(feeder, args.metric, cache=DistanceCache())
        times_s.append(time.perf_counter() - start)
    median_s = statistics.median(times_s)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    result = {
        "feeder": args.feeder,
        "metric": args.metric,
        "buses": len(matrix.buses),
        "runs_s": times_s,
        "median_s": median_s,
        "machine": machine,
    }
    if args.json:
        print(json.dumps(result))
        return
    for i, t in enumerate(times_s, 1):
        print(f"run {i}: {t * 1000:7.2f} ms")
    print(
        f"{args.feeder} {args.metric} matrix, {len(matrix.buses)} buses, cold cache: "
        f"median {median_s * 1000:.2f} ms over {args.runs} runs ({machine})"
    )


if __name__ == "__main__":
    main()
