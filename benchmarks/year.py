"""A year of the demo community: wall time, stage times and peak memory.

55 households on the IEEE European LV feeder with AC checks every slot (the built-in scenario,
stretched from one day to ``--days``), settled on ``--chain`` or with the ledger off. Each run is
a fresh Python process, so that its peak resident memory is its own; the figures are the
stages of ``run_scenario`` (profiles, clearing, power flow, ledger, writing: the summary read
back from the streamed tables) plus the results written to a temporary folder, the process's
wall and processor time (on a busy machine the processor time is the steadier figure), and the
peak RSS of the run's process and of its children (a node the run started).
With ``--repeat N`` the median of N runs is printed.

    python benchmarks/year.py [--days 365] [--chain off|embedded|anvil|auto] [--repeat 1] [--json]

``--days 30`` is the quick variant. ``--chain`` sets the scenario's ``ledger.chain``; ``off``
sets ``ledger.enabled = false``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CHAINS = ("off", "embedded", "anvil", "auto")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365, help="days (1..366)")
    parser.add_argument("--chain", choices=CHAINS, default="off")
    parser.add_argument("--repeat", type=int, default=1, help="runs; the median is printed")
    parser.add_argument(
        "--start",
        default=None,
        help="first day, YYYY-MM-DD (default: the demo's, or 1 January "
        "when the days from there would leave the profile year 2016)",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_one_run(args.days, args.chain, args.start)))
        return

    runs = []
    for i in range(args.repeat):
        command = [sys.executable, __file__, "--child", f"--days={args.days}"]
        command += [f"--chain={args.chain}"] + ([f"--start={args.start}"] if args.start else [])
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"run {i + 1} failed:\n{done.stderr}")
        run = json.loads(done.stdout.strip().splitlines()[-1])
        runs.append(run)
        if not args.json:
            print(f"run {i + 1}: " + "  ".join(_cells(run)), flush=True)
    keys = [k for k in runs[0] if isinstance(runs[0][k], float)]
    median = {k: statistics.median(r[k] for r in runs) for k in keys}
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    what = {"days": args.days, "chain": args.chain, "slots": runs[0]["slots"]}
    if args.json:
        print(json.dumps({"machine": machine, **what, "runs": runs, "median": median}, indent=2))
        return
    print(
        f"\nmedian of {args.repeat} run(s), {args.days} days ({what['slots']} slots), "
        f"chain {args.chain}, on {machine}:"
    )
    for key in keys:
        unit = "MB" if key.endswith("_mb") else "s"
        print(f"  {key.removesuffix('_' + unit.lower()):<22} {median[key]:9.2f} {unit}")
    print(f"  trades                 {runs[0]['trades']:9d}")


def _cells(run: dict[str, Any]) -> list[str]:
    return [
        f"{k} {v:.1f}{'MB' if k.endswith('_mb') else 's'}"
        for k, v in run.items()
        if isinstance(v, float)
    ]


def _one_run(days: int, chain: str, start: str | None) -> dict[str, Any]:
    """One run in this process; its figures as a flat mapping."""
    began = time.perf_counter()
    from peergrid.assets.profiles import PROFILE_YEAR_END, PROFILE_YEAR_START
    from peergrid.sim.results import write_results
    from peergrid.sim.runner import run_scenario
    from peergrid.sim.scenario import Scenario

    base = Scenario()
    ledger = (
        base.ledger.model_copy(update={"enabled": False})
        if chain == "off"
        else base.ledger.model_copy(update={"enabled": True, "chain": chain})
    )
    first = dt.date.fromisoformat(start) if start else base.time.start
    if first + dt.timedelta(days=days - 1) > PROFILE_YEAR_END:
        first = PROFILE_YEAR_START.date()  # a year from the demo's day would leave the profiles
    time_section = base.time.model_copy(update={"days": days, "start": first})
    scenario = Scenario.model_validate(
        base.model_dump() | {"ledger": ledger.model_dump(), "time": time_section.model_dump()}
    )
    imported = time.perf_counter() - began
    run_cpu = time.process_time()
    result = run_scenario(scenario)
    run_cpu = time.process_time() - run_cpu
    with tempfile.TemporaryDirectory(prefix="peergrid-year-") as folder:
        written = time.perf_counter()
        write_results(result, Path(folder), overwrite=True)
        files = time.perf_counter() - written
    figures: dict[str, Any] = {"slots": int(result.summary["slots"])}
    figures |= {k.replace(" ", "_") + "_s": float(v) for k, v in result.timings.items()}
    figures["files_s"] = files
    figures["wall_s"] = time.perf_counter() - began
    figures["imports_s"] = imported
    # The processor time of this process: less sensitive than the wall time to other work on a
    # shared machine.
    own = resource.getrusage(resource.RUSAGE_SELF)
    figures["cpu_s"] = own.ru_utime + own.ru_stime
    figures["run_cpu_s"] = run_cpu  # of run_scenario alone (its "total" in processor time)
    # ru_maxrss is in kB on Linux (bytes on macOS).
    scale = 1024 if sys.platform != "darwin" else 1024 * 1024
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale
    figures["children_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / scale
    figures["trades"] = int(result.summary["trades"])
    return figures


if __name__ == "__main__":
    main()
