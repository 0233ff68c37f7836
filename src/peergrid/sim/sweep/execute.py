"""Running a sweep: each run a Ray task, its record written as it ends, finished runs skipped
on resume.

A run is exactly ``peergrid run`` of its scenario (:func:`peergrid.sim.runner.run_scenario`, its
results written by :func:`peergrid.sim.results.write_results` into ``runs/<run id>/``), in a Ray
worker. The task returns the summary; the driver writes ``runs/<run id>/run.json`` (the run's
axis values, status, error, wall time and summary), the record that marks the run done. A run
that raises is recorded with its error (``status = "failed"``) and the sweep goes on; a failed
run has no results, so ``--resume`` runs it again.

On a cluster, the run's tables are written on the node that ran it: the output folder must be a
shared file system for them to gather in one place (the records and ``runs.parquet`` do not
need it: the driver writes them from what the tasks return).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peergrid.sim.sweep.ray_pool import Finished, ray_pool
from peergrid.sim.sweep.spec import Sweep, SweepRun

RUNS_FOLDER = "runs"
RECORD_FILE = "run.json"


@dataclass
class Progress:
    """What the progress line shows."""

    total: int
    skipped: int = 0
    done: int = 0
    failed: int = 0
    running: int = 0


ProgressCallback = Callable[[Progress], None]


def run_folder(directory: Path, run_id: str) -> Path:
    return directory / RUNS_FOLDER / run_id


def read_record(directory: Path, run_id: str) -> dict[str, Any] | None:
    """The run's record, or None when the run has none (or an unreadable one: run it again)."""
    path = run_folder(directory, run_id) / RECORD_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def finished_ok(directory: Path, run_id: str) -> bool:
    record = read_record(directory, run_id)
    return record is not None and record.get("status") == "ok"


def execute_run(scenario_data: dict[str, Any], folder: str) -> dict[str, Any]:
    """One run in a worker: the scenario run and its results written to ``folder``.

    Returns the record's figures: status, error, wall time and the summary.
    """
    from peergrid.sim.results import write_results
    from peergrid.sim.runner import run_scenario
    from peergrid.sim.scenario import scenario_from_dict

    start = time.perf_counter()
    try:
        result = run_scenario(scenario_from_dict(scenario_data))
        write_results(result, Path(folder), overwrite=True)
    # Any error of one run, a domain error or a bug it hits, is that run's failure: recorded
    # with its type and message, and the sweep goes on with the other runs.
    except Exception as exc:
        return task_record(start, error=exc)
    return task_record(start, summary=dict(result.summary))


def task_record(
    start: float,
    *,
    summary: dict[str, Any] | None = None,
    error: BaseException | None = None,
    **figures: Any,
) -> dict[str, Any]:
    """What a task returns to the driver: its status, its error (type and message), its wall
    time since ``start`` (``time.perf_counter``), its summary and any further ``figures``."""
    return {
        "status": "ok" if error is None else "failed",
        "error": None if error is None else f"{type(error).__name__}: {error}",
        "elapsed_s": time.perf_counter() - start,
        "summary": summary,
        **figures,
        "worker_pid": os.getpid(),
    }


def _record(run: SweepRun, finished: Finished[SweepRun]) -> dict[str, Any]:
    if finished.error is not None:
        figures: dict[str, Any] = {
            "status": "failed",
            "error": finished.error,
            "elapsed_s": None,
            "summary": None,
            "worker_pid": None,
        }
    else:
        figures = finished.value
    return {"run_id": run.run_id, "values": _jsonable(run.values), **figures}


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(values, default=str))


def write_record(directory: Path, record: dict[str, Any]) -> None:
    """The record written whole or not at all (a killed sweep leaves no half record)."""
    folder = run_folder(directory, record["run_id"])
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / (RECORD_FILE + ".tmp")
    temporary.write_text(json.dumps(record, indent=2, allow_nan=False), encoding="utf-8")
    os.replace(temporary, folder / RECORD_FILE)


def run_sweep(
    sweep: Sweep,
    directory: Path,
    *,
    address: str | None = None,
    workers: int | None = None,
    resume: bool = False,
    on_progress: ProgressCallback | None = None,
) -> list[dict[str, Any]]:
    """Run the sweep's runs on Ray (those with results skipped when ``resume``); returns every
    run's record, in the sweep's order."""
    directory = directory.resolve()
    todo = [r for r in sweep.runs if not (resume and finished_ok(directory, r.run_id))]
    progress = Progress(total=len(sweep.runs), skipped=len(sweep.runs) - len(todo))
    if on_progress is not None:
        on_progress(progress)
    if todo:
        with ray_pool(address, workers) as pool:

            def event(running: int, done: int, finished: Finished[SweepRun] | None) -> None:
                progress.running = running
                if finished is not None:
                    progress.done = done
                    record = _record(finished.item, finished)
                    write_record(directory, record)
                    if record["status"] != "ok":
                        progress.failed += 1
                if on_progress is not None:
                    on_progress(progress)

            for _ in pool.map(
                execute_run,
                todo,
                lambda run: (
                    run.scenario.model_dump(mode="python"),
                    str(run_folder(directory, run.run_id)),
                ),
                event,
            ):
                pass
    records = []
    for run in sweep.runs:
        record = read_record(directory, run.run_id)
        if record is None:  # cannot happen unless the folder changed under the sweep
            record = {
                "run_id": run.run_id,
                "values": _jsonable(run.values),
                "status": "failed",
                "error": "no record written",
                "elapsed_s": None,
                "summary": None,
                "worker_pid": None,
            }
        records.append(record)
    return records
