"""``peergrid dr run``: a small DR day end to end, and bad settings refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from peergrid.cli import app

SMALL = """\
prosumers = 8
baseline_days = 1
threshold_share = 0.7
duration = 2
"""


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_a_small_dr_day(tmp_path: Path) -> None:
    code, out, err = invoke("dr", "run", "-", "--json", "-o", str(tmp_path / "dr"), stdin=SMALL)
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["prosumers"] == 8 and summary["events"] >= 1
    assert summary["events_confirmed"] >= 1
    assert summary["onchain_equals_offchain"] is True
    assert summary["rewards"] > 0
    assert summary["ac_before"]["passed"] in (True, False)
    assert summary["ac_after"]["v_min_pu"] > 0
    files = {p.name for p in (tmp_path / "dr").iterdir()}
    assert files == {"summary.json", "prosumers.csv", "events.csv", "report.md"}
    report = (tmp_path / "dr" / "report.md").read_text()
    assert "book's and which are ours" in report and "CONFIRMED" in report
    rows = (tmp_path / "dr" / "prosumers.csv").read_text().splitlines()
    assert rows[0].startswith("id,bus,interested") and len(rows) == 9


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("-",), "reward_rate = -1\n", "reward_rate: Input should be greater than or equal to 0"),
        (("-",), "penalty_rate = -5\n", "penalty_rate: Input should be greater than or equal"),
        (("-",), "prosumers = 500\n", "prosumers: Input should be less than or equal to 128"),
        (("-",), "colour = 1\n", "colour: unknown field"),
        (("-",), "compliance = [0.9, 0.1]\n", "compliance: must be [low, high]"),
        (("-",), "genesis_stake = [0]\n", "genesis_stake: must be at least one positive stake"),
        (("-",), "day = 2016-01-02\nbaseline_days = 5\n", "baseline_days: 5 days before"),
        (("-",), "colluding_validators = 4\n", "colluding_validators: 4 is more than the 3"),
        (("--day", "tomorrow"), None, "--day: 'tomorrow' is not a date"),
        (("--feeder", "nowhere"), None, "'nowhere' is not a valid feeder"),
    ],
)
def test_bad_settings_are_one_line_and_status_2(
    args: tuple[str, ...], stdin: str | None, message: str
) -> None:
    code, _, err = invoke("dr", "run", *args, stdin=stdin)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


def test_tampered_meters_and_a_colluding_minority_confirm_nothing() -> None:
    # Two meters post their commanded profile instead of what was used; the TSO (40 % of the
    # stake) attests to the posted readings, the other stakeholders to the true ones.
    tamper = SMALL + "tampered_meters = 2\ncolluding_validators = 1\n"
    code, out, err = invoke("dr", "run", "-", "--json", stdin=tamper)
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["events_disputed"] >= 1 and summary["events_confirmed"] == 0
    assert summary["rewards"] == 0 and summary["penalties"] == 0
    assert summary["onchain_equals_offchain"] is True


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "dr-events.toml"


def test_the_example_settings_load() -> None:
    from peergrid.sim.dr_events import load_dr_settings

    settings = load_dr_settings(EXAMPLE)
    assert (settings.prosumers, settings.baseline_days, settings.duration) == (24, 2, 3)
    assert load_dr_settings(EXAMPLE, prosumers=5).prosumers == 5


@pytest.mark.slow
def test_the_example_runs() -> None:
    code, out, err = invoke("dr", "run", str(EXAMPLE), "--json")
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["events_confirmed"] >= 1 and summary["onchain_equals_offchain"] is True
    assert summary["ac_before"]["passed"] and summary["ac_after"]["passed"]
