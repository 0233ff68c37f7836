"""Writing a run's results to a folder."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from peergrid.sim.report import write_report
from peergrid.sim.runner import RunResult

TABLES = ("slots", "trades", "households", "violations")


def write_results(result: RunResult, directory: Path) -> dict[str, Path]:
    """Tables, the scenario as it ran, the summary and the HTML report; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
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
    summary = dict(result.summary) | {"timings_s": result.timings}
    paths["summary"].write_text(json.dumps(summary, indent=2, sort_keys=False), encoding="utf-8")
    paths["report"] = write_report(result, directory / "report.html")
    return paths
