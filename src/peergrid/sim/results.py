"""Writing a run's results to a folder.

The rule (docs/decisions.md, "Input and output rules"): a run never silently replaces what is in
its folder. A folder that holds anything is refused unless ``overwrite``; with ``overwrite`` the
files a run writes (:data:`RESULT_FILES`: the tables in either format, the scenario, the summary,
the report) are replaced, and nothing else in the folder is touched. The summary holds no NaN
and no infinity: JSON has neither, and a run that produced one is refused, not written.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd

from peergrid.core.errors import PeergridError
from peergrid.sim.report import write_report
from peergrid.sim.runner import RunResult

TABLES = ("slots", "trades", "households", "violations")
RESULT_FILES = (
    *(f"{table}.{fmt}" for table in TABLES for fmt in ("csv", "parquet")),
    "scenario.toml",
    "summary.json",
    "report.html",
)


def write_results(
    result: RunResult, directory: Path, *, overwrite: bool = False
) -> dict[str, Path]:
    """Tables, the scenario as it ran, the summary and the HTML report; returns their paths."""
    if directory.is_dir() and not overwrite and _has_entries(directory):
        raise PeergridError(
            f"{directory}: the folder is not empty (an earlier run's results?); write to another "
            "folder or overwrite"
        )
    summary = dict(result.summary) | {"timings_s": result.timings}
    _check_finite(summary, "summary")
    directory.mkdir(parents=True, exist_ok=True)
    for name in RESULT_FILES:
        (directory / name).unlink(missing_ok=True)
    fmt = result.scenario.output.format
    frames: dict[str, pd.DataFrame] = {
        "slots": result.slots,
        "trades": result.trades,
        "households": result.bills,
        "violations": result.violations,
    }
    paths: dict[str, Path] = {}
    for name, frame in frames.items():
        path = directory / f"{name}.{fmt}"
        if fmt == "parquet":
            frame.to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False)
        paths[name] = path
    paths["scenario"] = directory / "scenario.toml"
    paths["scenario"].write_text(result.scenario.to_toml(), encoding="utf-8")
    paths["summary"] = directory / "summary.json"
    paths["summary"].write_text(
        json.dumps(summary, indent=2, sort_keys=False, allow_nan=False), encoding="utf-8"
    )
    paths["report"] = write_report(result, directory / "report.html")
    return paths


def _has_entries(folder: Path) -> bool:
    with os.scandir(folder) as entries:
        return any(True for _ in entries)


def _check_finite(value: Any, where: str) -> None:
    """Refuse a NaN or an infinity anywhere in ``value`` (a bug: inputs are bounded so that no
    figure overflows)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise PeergridError(f"{where} is {value}: a run's figures must be finite")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_finite(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_finite(item, f"{where}[{index}]")
