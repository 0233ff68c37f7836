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
import pyarrow as pa
import pyarrow.parquet as pq

from peergrid.core.errors import PeergridError
from peergrid.sim.report import write_report
from peergrid.sim.runner import RunResult
from peergrid.sim.tables import TableSpool

TABLES = ("slots", "trades", "households", "violations", "sessions", "session_trades")
"""The tables a run writes (``sessions`` and ``session_trades`` only when it has
ancillary-service sessions)."""
EV_QUOTA_TABLES = ("ev_quota_periods", "evs", "ev_quota_trades", "ev_quotas")
"""The EV quota day's tables, written when the run is one."""
RESULT_FILES = (
    *(f"{table}.{fmt}" for table in (*TABLES, *EV_QUOTA_TABLES) for fmt in ("csv", "parquet")),
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
    tables = result.tables
    paths: dict[str, Path] = {}
    written: list[tuple[str, TableSpool | None]] = [
        ("slots", tables.slots),
        ("trades", tables.trades),
        ("households", None),
        ("violations", tables.violations),
    ]
    if result.has_sessions:
        written += [("sessions", tables.sessions), ("session_trades", tables.session_trades)]
    for name, spool in written:
        path = directory / f"{name}.{fmt}"
        if spool is None:
            _write_frame(result.bills, path, fmt)
        else:
            _write_chunks(spool, path, fmt)
        paths[name] = path
    day = result.ev_quota
    if day is not None:
        day_tables = (day.periods, day.evs, day.trades, day.quotas)
        frames = dict(zip(EV_QUOTA_TABLES, day_tables, strict=True))
        for name, frame in frames.items():
            paths[name] = directory / f"{name}.{fmt}"
            _write_frame(frame, paths[name], fmt)
    paths["scenario"] = directory / "scenario.toml"
    paths["scenario"].write_text(result.scenario.to_toml(), encoding="utf-8")
    paths["summary"] = directory / "summary.json"
    paths["summary"].write_text(
        json.dumps(summary, indent=2, sort_keys=False, allow_nan=False), encoding="utf-8"
    )
    paths["report"] = write_report(result, directory / "report.html")
    return paths


def _write_frame(frame: pd.DataFrame, path: Path, fmt: str) -> None:
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


def _write_chunks(spool: TableSpool, path: Path, fmt: str) -> None:
    """A streamed table written a chunk at a time: the same file as from the whole frame (CSV
    byte for byte; Parquet value for value, in one row group per chunk)."""
    if not spool.rows:
        _write_frame(spool.frame(), path, fmt)
        return
    if fmt == "csv":
        for k, chunk in enumerate(spool.chunks()):
            chunk.to_csv(path, index=False, mode="a" if k else "w", header=not k)
        return
    # Arrow infers an object column's type from its values: a chunk whose column is all None
    # has the null type. A first pass finds each column's type over the whole table.
    schema = pa.unify_schemas(
        [pa.Schema.from_pandas(chunk, preserve_index=False) for chunk in spool.chunks()]
    )
    with pq.ParquetWriter(path, schema) as writer:
        for chunk in spool.chunks():
            table = pa.Table.from_pandas(chunk, preserve_index=False)
            writer.write_table(table.cast(schema))


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
