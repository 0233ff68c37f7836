"""Wall time of a sweep of one-day demo runs: on Ray with N workers against one after another.

Each run is the demo day with its own seed (the sweep's ``seed`` axis), off chain unless
``--ledger``. One after another: the runs in this process, each run and its results written as
a sweep task does. On Ray: ``peergrid sweep``'s engine on a local instance of ``--workers``
CPUs, started and stopped inside the timing. Ray's overhead per task is measured twice: on
no-op tasks (submission, scheduling and return on a warm instance), and on the sweep itself
(the sweep's wall time times the workers, less the runs' own time in the workers, per run: the
start and stop of Ray and each worker's first import of peergrid included).

    python benchmarks/sweep_scaling.py [--runs 32] [--workers 2] [--days 1] [--ledger] [--cli]
                                       [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tomli_w

from peergrid.sim.results import write_results
from peergrid.sim.runner import run_scenario
from peergrid.sim.sweep import load_sweep, run_sweep
from peergrid.sim.sweep.ray_pool import ray_pool

ROOT = Path(__file__).resolve().parents[1]


def _noop(value: int) -> int:
    return value


def _sweep_file(folder: Path, runs: int, ledger: bool, days: int) -> Path:
    path = folder / "sweep.toml"
    seeds = ", ".join(str(1000 + k) for k in range(runs))
    path.write_text(
        f'name = "scaling"\nbase = "{ROOT / "examples" / "demo.toml"}"\n'
        f'[fixed]\n"ledger.enabled" = {str(ledger).lower()}\n"time.days" = {days}\n'
        f"[axes]\nseed = [{seeds}]\n",
        encoding="utf-8",
    )
    return path


def cli_one_after_another(folder: Path, scenarios: list[dict[str, object]]) -> float:
    """Wall time of one ``peergrid run`` command per scenario, one after another."""
    peergrid = Path(sys.executable).with_name("peergrid")
    start = time.perf_counter()
    for k, data in enumerate(scenarios):
        path = folder / f"cli-{k}.toml"
        path.write_text(tomli_w.dumps(data), encoding="utf-8")
        subprocess.run(
            [str(peergrid), "run", str(path), "-o", str(folder / "cli" / str(k)), "--quiet"],
            check=True,
            capture_output=True,
        )
    return time.perf_counter() - start


def import_seconds() -> float:
    """A new process's import of what a run needs (what each Ray worker pays once)."""
    code = (
        "import time; t = time.perf_counter(); import peergrid.sim.runner, peergrid.sim.results;"
        " print(time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return float(out.stdout.split()[-1])


def ray_task_overhead(workers: int, tasks: int = 200) -> tuple[float, float]:
    """(Ray's start and stop, s; mean wall time per no-op task on the warm instance, ms)."""
    start = time.perf_counter()
    with ray_pool(None, workers) as pool:
        started = time.perf_counter()
        list(pool.map(_noop, list(range(workers)), lambda k: (k,)))  # workers up
        warm = time.perf_counter()
        list(pool.map(_noop, list(range(tasks)), lambda k: (k,)))
        per_task_ms = (time.perf_counter() - warm) / tasks * 1e3
        stop = time.perf_counter()
    return (started - start) + (time.perf_counter() - stop), per_task_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--days", type=int, default=1, help="days per run (the demo's: 1)")
    parser.add_argument("--ledger", action="store_true", help="settle on chain (anvil)")
    parser.add_argument("--cli", action="store_true", help="also one peergrid run per run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sweep = load_sweep(_sweep_file(folder, args.runs, args.ledger, args.days))

        serial_runs = []
        start = time.perf_counter()
        for run in sweep.runs:
            one = time.perf_counter()
            result = run_scenario(run.scenario)
            write_results(result, folder / "serial" / run.run_id)
            serial_runs.append(time.perf_counter() - one)
        serial = time.perf_counter() - start

        start = time.perf_counter()
        records = run_sweep(sweep, folder / "ray", workers=args.workers)
        on_ray = time.perf_counter() - start
        in_workers = [r["elapsed_s"] for r in records if r["elapsed_s"] is not None]
        failed = sum(r["status"] != "ok" for r in records)

        # The same figures both ways (the sweep's identity, checked on every run here too).
        for run, record in zip(sweep.runs, records, strict=True):
            alone = json.loads((folder / "serial" / run.run_id / "summary.json").read_text())
            alone.pop("timings_s")
            assert record["summary"] == alone, run.run_id

        cli = None
        if args.cli:
            scenarios = [
                {
                    k: v
                    for k, v in run.scenario.model_dump(mode="json", exclude_none=True).items()
                    if k != "output"
                }
                for run in sweep.runs
            ]
            cli = cli_one_after_another(folder, scenarios)

    start_stop_s, noop_ms = ray_task_overhead(args.workers)
    imports_s = import_seconds()
    overhead_per_run = (on_ray * args.workers - sum(in_workers)) / len(sweep.runs)
    figures = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "runs": len(sweep.runs),
        "workers": args.workers,
        "days": args.days,
        "ledger": args.ledger,
        "failed": failed,
        "serial_s": serial,
        "ray_s": on_ray,
        "speedup": serial / on_ray,
        "cli_one_after_another_s": cli,
        "speedup_against_cli": None if cli is None else cli / on_ray,
        "serial_run_median_s": statistics.median(serial_runs),
        "ray_run_median_s": statistics.median(in_workers),
        "ray_start_stop_s": start_stop_s,
        "ray_noop_task_ms": noop_ms,
        "ray_overhead_per_run_s": overhead_per_run,
        "worker_import_s": imports_s,
        # the best the sweep can do: the runs' time shared by the workers, plus Ray's start and
        # stop and one import per worker (in parallel)
        "speedup_ceiling": serial / (serial / args.workers + start_stop_s + imports_s),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(
        f"{figures['runs']} demo runs of {args.days} day(s) "
        f"({'on' if args.ledger else 'off'} chain) on "
        f"{figures['machine']}; load average before {load_before[0]:.2f}, after "
        f"{figures['load_average_after'][0]:.2f}"
    )
    print(
        f"  one after another   {serial:8.1f} s  "
        f"(median run {figures['serial_run_median_s']:.2f} s)"
    )
    print(
        f"  Ray, {args.workers} workers      {on_ray:8.1f} s  (median run in a worker "
        f"{figures['ray_run_median_s']:.2f} s)  speedup {figures['speedup']:.2f}x"
    )
    if cli is not None:
        print(
            f"  peergrid run each   {cli:8.1f} s  speedup of the sweep against it "
            f"{figures['speedup_against_cli']:.2f}x"
        )
    print(f"  Ray start + stop    {start_stop_s:8.2f} s")
    print(f"  import in a worker  {imports_s:8.2f} s  (once per worker, in parallel)")
    print(f"  ceiling             {figures['speedup_ceiling']:8.2f}x (runs / workers + fixed)")
    print(f"  Ray no-op task      {noop_ms:8.2f} ms (warm instance)")
    print(f"  Ray overhead / run  {overhead_per_run:8.2f} s  (sweep wall x workers - runs' time)")


if __name__ == "__main__":
    main()
