"""A day of the islanded microgrid (S8) with 50 entities at one-minute steps: wall time.

Runs :func:`peergrid.microgrid.run_microgrid` on a generated island (5 stations of each kind,
20 prosumers, 25 consumers; ``peergrid.microgrid.population``) on the embedded chain, with the
device drivers' ledger logs every ``--log-interval`` minutes (5 by default, 1: every step), and
prints the wall time, the transactions sent and the headline. The budget is 60 s.

    PYTHONPATH=src python benchmarks/microgrid_day.py [--entities 50] [--log-interval 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

from peergrid.microgrid import generated_island, run_microgrid


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entities", type=int, default=50)
    ap.add_argument("--minutes", type=int, default=1440)
    ap.add_argument("--log-interval", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    scenario = generated_island(
        args.entities, minutes=args.minutes, log_interval_min=args.log_interval
    )
    start = time.perf_counter()
    result = run_microgrid(scenario)
    seconds = time.perf_counter() - start
    row = {
        "entities": args.entities,
        "minutes": args.minutes,
        "log_interval_min": args.log_interval,
        "seconds": round(seconds, 2),
        "transactions": result.transactions,
        **result.summary(),
    }
    if args.json:
        print(json.dumps(row))
    else:
        for key, value in row.items():
            print(f"{key:>20}: {value}")


if __name__ == "__main__":
    main()
