"""Wall time of a region of 20 feeders for one day on Ray, and a projection for 1 000 feeders.

The region: SimBench's rural1 and rural2 LV grids, ten copies each (other households per copy),
one household per load bus (13 and 93), the demo's market off chain for one day, the aggregate
import checked on SimBench's rural MV grid. Measured: the whole command's work (Ray's start and
stop included), each feeder's run in its worker, the MV check, and Ray's overhead per feeder
(the feeders' phase times the workers, less the feeders' own time, per feeder).

The projection for 1 000 feeders on a cluster of W worker CPUs states its assumptions:

- each feeder takes what it took here (the mean over the 20, on one core of this machine) and
  the feeders are spread evenly: ceil(1000 / W) rounds of feeders per CPU;
- Ray's overhead per feeder is what it was here (worker start and imports included);
- one SimBench MV grid holds at most ~90 LV substations, so 1 000 feeders are ~12 MV grids,
  each checked on the driver as here, one after another;
- the output folder is on storage shared by the nodes and fast enough for the feeders' files
  (the size per feeder is printed).

    python benchmarks/region.py [--workers 2] [--copies 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from peergrid.sim.region import load_region, run_region, write_region

ROOT = Path(__file__).resolve().parents[1]


def _region_file(folder: Path, copies: int) -> Path:
    path = folder / "region.toml"
    path.write_text(
        f'name = "bench"\nbase = "{ROOT / "examples" / "demo.toml"}"\ndays = 1\n'
        'households = "buses"\n[fixed]\n"ledger.enabled" = false\n[feeders]\n'
        'grids = ["simbench:1-LV-rural1--0-sw", "simbench:1-LV-rural2--0-sw"]\n'
        f'copies = {copies}\n[mv]\ngrid = "1-MV-rural--0-sw"\n',
        encoding="utf-8",
    )
    return path


def _size_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--copies", type=int, default=10, help="copies of each of the 2 grids")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        region = load_region(_region_file(folder, args.copies))
        loaded = time.perf_counter()
        outcome = run_region(region, folder / "out", workers=args.workers)
        ran = time.perf_counter()
        write_region(region, outcome, folder / "out", wall_s=ran - start)
        wall = time.perf_counter() - start
        per_feeder_bytes = _size_bytes(folder / "out" / "feeders") / len(region.feeders)
        figures_file = json.loads((folder / "out" / "region.json").read_text())
    n = len(region.feeders)
    elapsed = [r["elapsed_s"] for r in outcome.records if r["elapsed_s"] is not None]
    feeder_s = statistics.median(elapsed)
    assert outcome.feeders_s is not None and outcome.mv_s is not None
    overhead = (outcome.feeders_s * args.workers - sum(elapsed)) / n
    mv_grids = math.ceil(1000 / 90)
    projection = {
        w: math.ceil(1000 / w) * (statistics.mean(elapsed) + overhead) + mv_grids * outcome.mv_s
        for w in (2, 32, 128, 512)
    }
    figures = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "feeders": n,
        "households": figures_file["households"],
        "failed": figures_file["feeders_failed"],
        "workers": args.workers,
        "wall_s": wall,
        "load_s": loaded - start,
        "feeders_phase_s": outcome.feeders_s,
        "mv_check_s": outcome.mv_s,
        "feeder_median_s": feeder_s,
        "feeder_mean_s": statistics.mean(elapsed),
        "ray_overhead_per_feeder_s": overhead,
        "bytes_per_feeder": per_feeder_bytes,
        "mv_violations": figures_file.get("mv_violations"),
        "projection_1000_feeders_s": projection,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(
        f"{n} feeders ({figures['households']} households), one day, on {figures['machine']}, "
        f"{args.workers} workers; load average before {load_before[0]:.2f}, after "
        f"{figures['load_average_after'][0]:.2f}"
    )
    print(
        f"  wall time              {wall:8.1f} s  (loading the region file {loaded - start:.1f} s)"
    )
    print(f"  feeders on Ray         {outcome.feeders_s:8.1f} s  (Ray's start and stop included)")
    print(f"  one feeder (median)    {feeder_s:8.2f} s  (mean {figures['feeder_mean_s']:.2f} s)")
    print(f"  Ray overhead / feeder  {overhead:8.2f} s")
    print(
        f"  MV check               {outcome.mv_s:8.2f} s  ({figures['mv_violations']} violations)"
    )
    print(f"  results per feeder     {per_feeder_bytes / 1e6:8.2f} MB")
    print("  projection, 1 000 feeders (one day), W worker CPUs like these:")
    for w, seconds in projection.items():
        print(f"    W = {w:4d}: {seconds / 60:7.1f} min")


if __name__ == "__main__":
    main()
