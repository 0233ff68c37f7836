"""One fault case of the DC line's protection (001b_book.md ch. 11) at 1 µs over 50 ms.

The default configuration (``examples/protection.toml``: 1 Ω at 33 % of the line) with the
sampling interval set to ``--interval-us`` (default 1 µs, 50 001 samples per line end). Timed
separately, each as the median of ``--runs`` runs (default 3):

* the circuit (scipy's Radau through both stages) and the relay's Eqs. (1)-(6) on every sample:
  the issue's "one fault case at 1 µs resolution over 50 ms: at most 5 s";
* the whole case, the ledger included: every sample signed by its unit, batched per 2 ms block
  and posted to ``ProtectionLog.vy`` on the embedded EVM, read back and checked.

The machine's load (``os.getloadavg``) is printed beside the figures: it may be shared.

    python benchmarks/protection_fault.py [--interval-us 1] [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable

from peergrid.protection.case import relay_settings, run_case
from peergrid.protection.circuit import simulate_fault
from peergrid.protection.config import ProtectionConfig
from peergrid.protection.relay import evaluate


def median_seconds(work: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval-us", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    config = ProtectionConfig().replace(sampling={"interval_us": args.interval_us})

    def circuit_and_relay() -> object:
        record = simulate_fault(config.circuit, config.fault, config.sampling)
        trace = evaluate(
            record.i1_a, record.i2_a, relay_settings(config, record.sampling_interval_s)
        )
        return trace.first_trip

    record = simulate_fault(config.circuit, config.fault, config.sampling)
    figures = {
        "interval_us": args.interval_us,
        "samples": len(record.t_s),
        "circuit_and_relay_s": round(median_seconds(circuit_and_relay, args.runs), 3),
        "whole_case_with_ledger_s": round(median_seconds(lambda: run_case(config), args.runs), 3),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    if args.json:
        print(json.dumps(figures))
        return
    for name, value in figures.items():
        print(f"{name:28} {value}")


if __name__ == "__main__":
    main()
