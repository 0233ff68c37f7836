"""The Python API a researcher calls (``peergrid.run``, ``peergrid.clear``, ...): what it
returns, that it agrees with the command line, and that every public name is documented with an
example."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import peergrid
from peergrid.cli import app
from peergrid.sim.summary import RunSummary

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "examples" / "orders-thesis-table-2-2.json"


@pytest.fixture(scope="module")
def small() -> peergrid.Scenario:
    return peergrid.Scenario().replace(
        name="small", households={"count": 6}, ledger={"enabled": False}
    )


@pytest.fixture(scope="module")
def result(small: peergrid.Scenario) -> peergrid.Result:
    return peergrid.run(small)


def test_every_public_name_is_documented_with_an_example() -> None:
    missing = []
    for name in peergrid.__all__:
        if name == "__version__":
            continue
        doc = inspect.getdoc(getattr(peergrid, name)) or ""
        if "::" not in doc and ">>>" not in doc:
            missing.append(name)
    assert missing == []


def test_load_gives_the_file_and_replace_validates(tmp_path: Path) -> None:
    demo = peergrid.Scenario.load(ROOT / "examples" / "demo.toml")
    assert demo == peergrid.Scenario()
    week = demo.replace(time={"days": 7}, seed=3, **{"market.mechanism": "mcafee"})
    assert (week.time.days, week.seed, week.market.mechanism) == (7, 3, "mcafee")
    assert week.time.start == demo.time.start  # the rest of the section is kept
    assert demo.time.days == 1  # a variant, not a change
    path = tmp_path / "week.toml"
    path.write_text(week.to_toml(), encoding="utf-8")
    assert peergrid.Scenario.load(path) == week
    with pytest.raises(peergrid.ScenarioError, match=r"time\.days"):
        demo.replace(time={"days": 0})
    with pytest.raises(peergrid.ScenarioError, match="unknown field"):
        demo.replace(colour="red")
    with pytest.raises(peergrid.ScenarioError, match="not a section"):
        demo.replace(**{"seed.value": 1})


def test_run_returns_frames_a_typed_summary_and_a_report(
    result: peergrid.Result, small: peergrid.Scenario, tmp_path: Path
) -> None:
    assert result.scenario == small
    for frame in (result.slots, result.trades, result.households, result.violations):
        assert isinstance(frame, pd.DataFrame)
    assert len(result.slots) == 96
    assert len(result.households) == 6
    assert result.summary.trades == len(result.trades) > 0
    assert result.summary.p2p_contracted_kwh == pytest.approx(result.trades["quantity_kwh"].sum())
    assert isinstance(result.summary, RunSummary)
    assert result.summary.to_dict() == result.details.summary
    report = result.report(tmp_path / "report.html")
    assert report.read_text(encoding="utf-8").lower().startswith("<!doctype html>")


def test_the_api_and_the_command_line_write_the_same_results(
    result: peergrid.Result, small: peergrid.Scenario, tmp_path: Path
) -> None:
    scenario_file = tmp_path / "small.toml"
    scenario_file.write_text(small.to_toml(), encoding="utf-8")
    cli_folder, api_folder = tmp_path / "cli", tmp_path / "api"
    out = CliRunner().invoke(app, ["run", str(scenario_file), "-o", str(cli_folder), "-q"])
    assert out.exit_code == 0, out.output
    result.save(api_folder)
    for name in ("slots.csv", "trades.csv", "households.csv", "violations.csv"):
        assert (cli_folder / name).read_bytes() == (api_folder / name).read_bytes(), name
    with pytest.raises(peergrid.PeergridError, match="not empty"):
        result.save(api_folder)


def test_run_takes_a_path_and_refuses_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[time]\nslot_minutes = 20\n", encoding="utf-8")
    with pytest.raises(peergrid.ScenarioError, match="slot_minutes"):
        peergrid.run(bad)


def test_clear_agrees_with_the_command_line() -> None:
    document = json.loads(BOOK.read_text(encoding="utf-8"))
    for mechanism in ("dpda", "mcafee"):
        out = CliRunner().invoke(app, ["clear", str(BOOK), "-m", mechanism])
        assert out.exit_code == 0, out.output
        clearing = peergrid.clear(document["orders"], mechanism=mechanism)
        assert clearing.to_dict() == json.loads(out.stdout)
        orders = [peergrid.Order(**_order(o)) for o in document["orders"]]
        assert peergrid.clear(orders, mechanism=mechanism).trades == clearing.trades


def _order(raw: dict[str, object]) -> dict[str, object]:
    return {
        "id": raw["id"],
        "agent": raw.get("agent", raw["id"]),
        "side": peergrid.Side(raw["side"]),
        "quantity_kwh": float(raw["quantity_kwh"]),  # type: ignore[arg-type]
        "price": float(raw["price"]),  # type: ignore[arg-type]
    }


def test_clear_names_what_is_wrong() -> None:
    good = {"id": "b1", "side": "buy", "price": 0.3, "quantity_kwh": 1.0}
    with pytest.raises(peergrid.OrderError, match="quantity_kwh"):
        peergrid.clear([good | {"id": "b2", "quantity_kwh": -1}])
    with pytest.raises(peergrid.PeergridError, match="unknown mechanism"):
        peergrid.clear([good], mechanism="nope")
    with pytest.raises(peergrid.PeergridError, match="needs a feeder"):
        peergrid.clear([good], mechanism="dpda+score")
    with pytest.raises(peergrid.GridError, match="unknown feeder"):
        peergrid.clear([good], mechanism="dpda+score", feeder="nowhere")


def test_catalogues_list_what_exists() -> None:
    names = [f.name for f in peergrid.feeders()]
    assert "ieee-eu-lv" in names and "cigre-mv-vdma" in names
    mechanisms = {m.name: m for m in peergrid.mechanisms()}
    assert set(mechanisms) == {
        "dpda",
        "mcafee",
        "dpda+score",
        "mcafee+score",
        "cda",
        "ncda",
        "ocda",
        "ev-quota",
    }
    assert "distance_charge_per_m" in [p.name for p in mechanisms["dpda+score"].parameters]


def test_the_summary_of_a_run_on_chain_is_typed(small: peergrid.Scenario) -> None:
    on_chain = small.replace(ledger={"enabled": True, "market": "community"})
    summary = peergrid.run(on_chain).summary
    assert summary.ledger and summary.ledger_market == "community"
    assert summary.ledger_money_conserved is True
    assert summary.transactions > 0 and summary.gas_used > 0


def test_the_docs_list_every_public_name() -> None:
    page = (ROOT / "docs" / "reference" / "api.md").read_text(encoding="utf-8")
    missing = [n for n in peergrid.__all__ if n != "__version__" and f"`{n}`" not in page]
    assert missing == []
