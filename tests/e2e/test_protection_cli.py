"""``peergrid protection simulate``: the example runs as it is; bad input is one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from peergrid.cli.main import app

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "protection.toml"


def test_the_example_runs(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["protection", "simulate", str(EXAMPLE), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert summary["tripped"] is True and summary["decided_on"] == "main"
    assert summary["detect_ms"] == pytest.approx(1.42, abs=0.03)
    assert summary["breakers_ms"]["bus1"] == summary["breakers_ms"]["bus2"]
    # tripped before the first capacitor's discharge ends (L3205)
    assert summary["trip_ms"] < summary["freewheeling_from_ms"][0]
    header = (tmp_path / "currents.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("t_ms,i1_a,i2_a,fault_a")
    assert (tmp_path / "currents.png").stat().st_size > 0


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[circuit]\ncapacitance_f = -0.001\n", "circuit.capacitance_f"),
        ("[fault]\nresistance_ohm = -2\n", "fault.resistance_ohm"),
        ("[fault]\nlocation = 1.5\n", "fault.location"),
        ("[sampling]\ninterval_us = 100000\n", "sampling.interval_us"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path: Path, text: str, field: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["protection", "simulate", str(config), "-o", str(out)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and field in lines[0]
    assert not out.exists()  # refused before anything is written
