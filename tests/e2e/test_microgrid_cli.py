"""``peergrid microgrid run``: a short island runs and writes its summary; bad input is one
line, exit 2 (the full-day example is run by ``tests/microgrid/test_run.py``, marked slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from peergrid.cli.main import app

ISLAND = """
[microgrid]
minutes = 60
[[entities]]
name = "pv"
kind = "pv"
generation_kw = 10
battery_kwh = 20
battery_initial_kwh = 15
[[entities]]
name = "house"
kind = "consumer"
load_kw = 2
"""


def test_a_short_island_runs(tmp_path: Path) -> None:
    scenario = tmp_path / "island.toml"
    scenario.write_text(ISLAND, encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["microgrid", "run", str(scenario), "-o", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert set(summary) == {
        "lots_sold",
        "energy_imported_kwh",
        "unserved_kwh",
        "audits_failed",
        "events",
    }
    assert json.loads(result.stdout) == summary
    balance = (out / "balance.csv").read_text(encoding="utf-8").splitlines()
    assert balance[0].startswith("minute,production_kwh,consumption_kwh") and len(balance) == 61
    for name in ("lots.csv", "events.csv", "report.md", "balance.png"):
        assert (out / name).stat().st_size > 0


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (
            ISLAND.replace("battery_initial_kwh = 15", "battery_initial_kwh = 25"),
            "entities.0.battery_initial_kwh",
        ),
        (ISLAND.replace("load_kw = 2", "load_kw = -2"), "entities.1.load_kw"),
        (ISLAND.replace("battery_kwh = 20", "battery_kwh = -20"), "entities.0.battery_kwh"),
        (
            ISLAND.replace('kind = "consumer"', 'kind = "consumer"\ncolour = "red"'),
            "entities.1.colour",
        ),
        (
            ISLAND.replace("minutes = 60", "minutes = 60\nround_minutes = 5"),
            "microgrid.round_minutes",
        ),
        (
            ISLAND.replace("minutes = 60", "minutes = 60\nlot_duration_min = 20"),
            "microgrid.lot_duration_min",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path: Path, text: str, field: str) -> None:
    scenario = tmp_path / "bad.toml"
    scenario.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["microgrid", "run", str(scenario), "-o", str(out)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and field in lines[0], lines
    assert not out.exists()
