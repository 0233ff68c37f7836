"""A sweep's runs as one table: ``runs.parquet``, one row per run.

Columns: ``run_id``, ``status`` (``ok`` or ``failed``), ``error``, ``elapsed_s`` (the run's wall
time in its worker), the axis values by their scenario paths (``market.mechanism``,
``households.pv_share``, ``seed``: names with a dot never clash with a figure's; a date as ISO
text, a table or list, such as ``market.params``, as JSON text), then every
figure of the run's ``summary.json`` (empty for a failed run). ``grid_violations_by_kind`` is
kept as JSON text (a mapping of kind to count), so the table stays flat.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from peergrid.sim.sweep.spec import Sweep

RUNS_TABLE = "runs.parquet"
MAPPING_FIGURES = ("grid_violations_by_kind",)


def runs_frame(sweep: Sweep, records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per run, in the sweep's order."""
    rows = []
    for run, record in zip(sweep.runs, records, strict=True):
        row: dict[str, Any] = {
            "run_id": run.run_id,
            "status": record["status"],
            "error": record.get("error"),
            "elapsed_s": record.get("elapsed_s"),
        }
        for axis in sweep.axes:
            value = run.values[axis]
            if hasattr(value, "isoformat"):
                value = value.isoformat()
            elif isinstance(value, dict | list | tuple):
                value = json.dumps(value, sort_keys=True)
            row[axis] = value
        for key, value in (record.get("summary") or {}).items():
            if key in MAPPING_FIGURES:
                value = json.dumps(value, sort_keys=True)
            row[key] = value
        rows.append(row)
    return pd.DataFrame(rows)


def write_runs_table(frame: pd.DataFrame, directory: Path) -> Path:
    path = directory / RUNS_TABLE
    frame.to_parquet(path, index=False)
    return path
