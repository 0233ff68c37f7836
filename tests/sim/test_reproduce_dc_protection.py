"""``peergrid reproduce dc-protection``: the four cases of 001b_book.md §11.4 beside the book's,
through the command line (slow) and on a shorter window (fast)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from peergrid.cli.main import app
from peergrid.protection import ProtectionConfig
from peergrid.sim.reproduce.dc_protection import (
    CASE_KEYS,
    HEADLINE_FIELDS,
)

SHORT = ProtectionConfig().replace(
    sampling={"interval_us": 20.0, "window_ms": 20.0},
    fault={"time_ms": 8.0},
    attack={"start_ms": 3.0},
)


def _check_headline(headline: dict[str, dict[str, object]]) -> None:
    assert list(headline) == list(CASE_KEYS)
    for key in CASE_KEYS:
        assert sorted(headline[key]) == sorted(HEADLINE_FIELDS)
        assert headline[key]["tripped"] is True
        assert headline[key]["attack_detected"] is key.endswith("_attack")
    one, ten = headline["1ohm"], headline["10ohm"]
    assert one["peak_current_a"] == pytest.approx(25.1, abs=0.1)  # book: almost 25 A
    assert ten["peak_current_a"] == pytest.approx(4.41, abs=0.05)  # book: approximately 4 A
    assert one["detect_ms"] == pytest.approx(1.42, abs=0.03)  # book: 1.4 ms
    assert ten["detect_ms"] == pytest.approx(0.56, abs=0.03)  # book: 0.5 ms
    for key, bound in (("1ohm", 29.0), ("10ohm", 2.5)):
        attacked = headline[f"{key}_attack"]["detect_ms"]
        assert isinstance(attacked, float)
        assert headline[key]["detect_ms"] <= attacked <= bound  # type: ignore[operator]


def test_reproduction_on_a_short_window(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Through the command line, on a shorter window than the default (the slow test runs it)."""
    import peergrid.sim.reproduce.dc_protection as module

    original = module.reproduce_dc_protection
    monkeypatch.setattr(
        module, "reproduce_dc_protection", lambda output, **kw: original(output, SHORT, **kw)
    )
    args = ["reproduce", "dc-protection", "-o", str(tmp_path), "--json", "-q"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    _check_headline(json.loads(result.stdout.strip().splitlines()[-1]))
    with (tmp_path / "attacks.csv").open(encoding="utf-8") as handle:
        attacks = list(csv.DictReader(handle))
    assert len(attacks) == 8
    for row in attacks:
        healthy = row["line"] == "healthy"
        assert row["tripped"] == str(not healthy)
        assert row["attack_detected"] == "True" or (healthy and row["attack"] == "replay")
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "| 1ohm | 25.0 | 25.1 | 1.4 |" in summary
    for name in ("cases.csv", "cases.png", "headline.json", "1ohm-currents.png"):
        assert (tmp_path / name).stat().st_size > 0


@pytest.mark.slow
def test_reproduce_dc_protection_command(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "peergrid",
            "reproduce",
            "dc-protection",
            "-o",
            str(tmp_path),
            "--json",
            "-q",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    _check_headline(json.loads(done.stdout.strip().splitlines()[-1]))
