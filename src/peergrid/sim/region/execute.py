"""Running a region: every feeder's market a Ray task, then the region's figures and the MV
check of the feeders' aggregate import.

A feeder's run is ``peergrid run`` of its scenario, its results written under
``feeders/<feeder id>/``; the task returns the summary and the feeder's import per slot (kW at
its transformer). A feeder that fails is recorded with its error and the others go on; the MV
check then runs only when every feeder finished (a missing feeder's import is unknown).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from peergrid.grid.feeder_types import GridLimits
from peergrid.sim.region.spec import Region, RegionFeeder
from peergrid.sim.sweep.execute import task_record
from peergrid.sim.sweep.ray_pool import Finished, ray_pool

FEEDERS_FOLDER = "feeders"


@dataclass
class RegionProgress:
    total: int
    done: int = 0
    failed: int = 0
    running: int = 0


@dataclass
class RegionOutcome:
    """Every feeder's record (in the region's order) and the MV check, when it ran."""

    records: list[dict[str, Any]]
    mv_slots: pd.DataFrame | None = None
    mv_violations: list[dict[str, Any]] = field(default_factory=list)
    mv_connections: dict[str, int] = field(default_factory=dict)
    mv_skipped: str | None = None
    feeders_s: float | None = None
    """Wall time of the feeders' phase (Ray's start and stop included), s."""
    mv_s: float | None = None
    """Wall time of the MV check, s."""


def feeder_import_kw(slots: pd.DataFrame, slot_minutes: int) -> list[float]:
    """A feeder's import per slot, kW: the power at its transformer from its power flow where
    the slot was solved, else the metered imports less exports over the slot's length."""
    metered = (slots["import_kwh"] - slots["export_kwh"]) * (60.0 / slot_minutes)
    if "transformer_p_kw" not in slots:
        return [float(v) for v in metered]
    flow = pd.to_numeric(slots["transformer_p_kw"], errors="coerce")
    return [
        float(f) if math.isfinite(f) else float(m)
        for f, m in zip(flow.fillna(np.nan), metered, strict=True)
    ]


def execute_feeder(scenario_data: dict[str, Any], folder: str) -> dict[str, Any]:
    """One feeder's market in a worker: the run, its results in ``folder``, its import."""
    from peergrid.sim.results import write_results
    from peergrid.sim.runner import run_scenario
    from peergrid.sim.scenario import scenario_from_dict

    start = time.perf_counter()
    try:
        scenario = scenario_from_dict(scenario_data)
        result = run_scenario(scenario)
        write_results(result, Path(folder), overwrite=True)
        profile = feeder_import_kw(result.slots, scenario.time.slot_minutes)
    # Any error of one feeder is that feeder's failure, recorded; the region goes on.
    except Exception as exc:
        return task_record(start, error=exc, import_kw=None)
    return task_record(start, summary=dict(result.summary), import_kw=profile)


def run_region(
    region: Region,
    directory: Path,
    *,
    address: str | None = None,
    workers: int | None = None,
    on_progress: Callable[[RegionProgress], None] | None = None,
) -> RegionOutcome:
    """Every feeder on Ray, then the MV check (when ``[mv] grid`` is given)."""
    directory = directory.resolve()
    progress = RegionProgress(total=len(region.feeders))
    by_id: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    if on_progress is not None:
        on_progress(progress)
    with ray_pool(address, workers) as pool:

        def event(running: int, done: int, finished: Finished[RegionFeeder] | None) -> None:
            progress.running = running
            if finished is not None:
                progress.done = done
                if finished.error is not None or finished.value["status"] != "ok":
                    progress.failed += 1
            if on_progress is not None:
                on_progress(progress)

        for finished in pool.map(
            execute_feeder,
            region.feeders,
            lambda f: (
                f.scenario.model_dump(mode="python"),
                str(directory / FEEDERS_FOLDER / f.feeder_id),
            ),
            event,
        ):
            value = finished.value or {
                "status": "failed",
                "error": finished.error,
                "elapsed_s": None,
                "summary": None,
                "import_kw": None,
                "worker_pid": None,
            }
            by_id[finished.item.feeder_id] = value
    records = [
        {"feeder_id": f.feeder_id, "grid": f.grid, **by_id[f.feeder_id]} for f in region.feeders
    ]
    outcome = RegionOutcome(records, feeders_s=time.perf_counter() - started)
    if region.spec.mv.grid is not None:
        started = time.perf_counter()
        _mv(region, outcome)
        outcome.mv_s = time.perf_counter() - started
    return outcome


def _mv(region: Region, outcome: RegionOutcome) -> None:
    from peergrid.sim.region.mv import check_mv

    failed = [r["feeder_id"] for r in outcome.records if r["status"] != "ok"]
    if failed:
        outcome.mv_skipped = (
            f"{len(failed)} feeder(s) failed ({', '.join(failed[:3])}): their import is unknown"
        )
        return
    mv = region.spec.mv
    code = mv.grid
    assert code is not None and region.mv_net is not None
    net, connections = region.mv_net, list(region.mv_connections)
    imports = np.array([r["import_kw"] for r in outcome.records], dtype=float).T
    time_ = region.feeders[0].scenario.time
    limits = GridLimits(mv.v_min_pu, mv.v_max_pu, mv.max_line_loading_pct, mv.max_trafo_loading_pct)
    slots, violations = check_mv(
        net, code, connections, imports, time_.start, time_.slot_minutes, limits
    )
    outcome.mv_slots = slots
    outcome.mv_violations = violations
    outcome.mv_connections = {c.feeder_id: c.bus for c in connections}
