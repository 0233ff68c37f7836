"""``peergrid flex run``: the default SimBench day is congested by its EVs, the market relieves
it on and off chain, results are written; bad input is one line, exit 2."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from peergrid.cli.main import app


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["flex", "run", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("ledger", [[], ["--no-ledger"]])
def test_the_default_day_is_relieved(ledger: list[str], tmp_path: Path) -> None:
    code, out, _ = run("--json", "-o", str(tmp_path / "out"), *ledger)
    assert code == 0, out
    summary = json.loads(out)
    assert summary["ledger"] is (not ledger)
    assert summary["congested_slots_before"] >= 2
    assert summary["congested_slots_after"] == 0
    assert summary["worst"]["trafo 0"]["before"] > 100.0 > summary["worst"]["trafo 0"]["after"]
    assert summary["flexibility_kwh"] > 0 and summary["cost"] > 0
    # flexible loads deliver 80 % of their awards: their shortfall is penalised at 0.10 / kWh
    shortfall = summary["flexibility_bought_kwh"] - summary["flexibility_kwh"]
    assert summary["penalties"] == pytest.approx(0.10 * shortfall, rel=1e-3, abs=1e-5)
    for row in summary["slots"]:
        assert row["before"] > row["limit"] > row["after"]
    written = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert written["flexibility_kwh"] == summary["flexibility_kwh"]
    assert bool(written["gas"]) is (not ledger)
    with (tmp_path / "out" / "slots.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == len(summary["slots"])
    with (tmp_path / "out" / "elements.csv").open() as handle:
        day = list(csv.DictReader(handle))
    assert [r["element"] for r in day] == ["trafo 0"] * 96
    assert (day[0]["time"], day[-1]["time"]) == ("00:00", "23:45")
    worst = summary["worst"]["trafo 0"]
    assert max(float(r["before"]) for r in day) == pytest.approx(worst["before"], abs=1e-3)
    assert max(float(r["after"]) for r in day) == pytest.approx(worst["after"], abs=1e-3)


def test_table_and_options() -> None:
    code, out, _ = run("--no-ledger", "--max-price", "0.11", "--ev-share", "0.9")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("simbench:1-LV-rural1--0-sw, 2016-01-21:")
    assert "flexibility bought" in lines[-1] and lines[-1].endswith("(off chain)")


def test_no_ev_no_congestion() -> None:
    code, out, _ = run("--no-ledger", "--json", "--ev-share", "0")
    assert code == 0
    summary = json.loads(out)
    assert summary["needs"] == 0 and summary["flexibility_kwh"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ev-share", "1.5"], "--ev-share"),
        (["--ev-share", "nan"], "--ev-share"),
        (["--max-price", "-1"], "--max-price"),
        (["--penalty-rate", "inf"], "--penalty-rate"),
        (["--day", "366"], "day: expected 0..365"),
        (["--feeder", "simbench:1-LV-nowhere"], "not a SimBench LV grid code"),
        (["--feeder", "atlantis"], "unknown feeder 'atlantis'"),
    ],
)
def test_bad_input(args: list[str], message: str) -> None:
    code, out, err = run(*args)
    assert code == 2
    assert out == ""
    assert message in err and len(err.strip().splitlines()) == 1


def test_refuses_a_full_output_folder(tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_text("x")
    code, _, err = run("--no-ledger", "-o", str(tmp_path))
    assert code == 2 and "not empty" in err


@pytest.mark.parametrize("ledger", [[], ["--no-ledger"]])
def test_community_battery_pays_dividends(ledger: list[str]) -> None:
    code, out, _ = run("--json", "--community-battery", "20", "--max-price", "0.115", *ledger)
    assert code == 0, out
    summary = json.loads(out)
    battery = summary["community_battery"]
    # 20 kW for 2 h at 300 per kWh: 12 000, 240 shares of 50 over 13 households
    assert (battery["kwh"], battery["shares"], battery["holders"]) == (40.0, 240, 13)
    assert battery["raised"] == 12_000.0
    # the cheapest batteries after the loads at 0.10: the community's at 0.11 earns
    assert summary["by_kind_kwh"]["battery"] > 0 and battery["revenue"] > 0
    # every holder claims: what is paid is the revenue less at most a micro-unit per holder
    assert battery["revenue"] - 13e-6 <= battery["dividends_paid"] <= battery["revenue"]
    assert summary["dividends_paid"] == battery["dividends_paid"]
