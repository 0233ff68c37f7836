"""End to end through the command line, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from peergrid.ledger import slot_transactions

ROOT = Path(__file__).resolve().parents[2]
SHORT_SCENARIO = """
name = "short"
seed = 7

[households]
count = 12
pv_share = 0.5

[time]
start = "2016-06-09"
slot_minutes = 60

[market]
mechanism = "{mechanism}"

[ledger]
enabled = true
deposit_per_member = 50.0
"""


def peergrid(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "peergrid", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize("mechanism", ["dpda", "mcafee", "dpda+score"])
def test_run_short_scenario(tmp_path: Path, mechanism: str) -> None:
    scenario = tmp_path / "short.toml"
    # The community contract: one settlement per slot (the batch market, the default, below).
    scenario.write_text(SHORT_SCENARIO.format(mechanism=mechanism) + 'market = "community"\n')
    out = tmp_path / "out"
    done = peergrid("run", str(scenario), "--output", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    assert "Market summary: short" in done.stdout

    for name in ("slots.csv", "trades.csv", "households.csv", "violations.csv", "report.html"):
        assert (out / name).is_file(), name
    slots = pd.read_csv(out / "slots.csv")
    trades = pd.read_csv(out / "trades.csv")
    households = pd.read_csv(out / "households.csv")
    summary = json.loads((out / "summary.json").read_text())

    assert len(slots) == 24 and len(households) == 12
    assert summary["mechanism"] == mechanism
    assert summary["households_with_pv"] == 6
    assert summary["trades"] == len(trades) > 0
    # The tables agree with each other.
    per_slot = trades.groupby("slot")["quantity_kwh"].sum()
    contracted = slots.set_index("slot")["contracted_kwh"]
    assert per_slot.reindex(contracted.index, fill_value=0.0).to_numpy() == pytest.approx(
        contracted.to_numpy()
    )
    traded = trades["quantity_kwh"].sum()
    assert households["contracted_bought_kwh"].sum() == pytest.approx(traded)
    assert households["contracted_sold_kwh"].sum() == pytest.approx(traded)
    # Meters confirm at most the contracts; the shortfall is what the penalties are paid on.
    assert (households["bought_p2p_kwh"] <= households["contracted_bought_kwh"] + 1e-12).all()
    assert (households["sold_p2p_kwh"] <= households["contracted_sold_kwh"] + 1e-12).all()
    shortfall = (
        households["contracted_bought_kwh"]
        + households["contracted_sold_kwh"]
        - households["bought_p2p_kwh"]
        - households["sold_p2p_kwh"]
    ).sum()
    assert summary["p2p_undelivered_kwh"] == pytest.approx(shortfall)
    assert summary["penalties"] == pytest.approx(0.05 * shortfall)
    assert households["penalties"].sum() == pytest.approx(summary["penalties"])
    assert summary["late_orders"] == int(slots["late_orders"].sum())
    assert summary["winners_quoted"] + summary["losers_told"] == summary["orders"]
    # Every trade within its slot's clearing price, every slot checked by a power flow.
    prices = slots.set_index("slot")["clearing_price"]
    assert (trades["price"].to_numpy() == prices.loc[trades["slot"]].to_numpy()).all()
    assert slots["pf_converged"].all()
    assert summary["grid_checked"] and summary["v_min_pu"] > 0.5
    # Settled on chain, money conserved, one settlement per slot with trades.
    assert summary["ledger_money_conserved"] is True
    assert summary["transactions"] == int((slots["trades"] > 0).sum())
    assert summary["gas_used"] > 0
    net_on_chain = households["ledger_net_micro"]
    assert net_on_chain.sum() == -round(summary["ledger_dso_balance"] * 1e6)
    # Sellers gain on chain, pure buyers pay.
    pure_buyers = households[(households["sold_p2p_kwh"] == 0) & (households["bought_p2p_kwh"] > 0)]
    assert (pure_buyers["ledger_net_micro"] < 0).all()
    # Every trade's path length along the feeder, and the DSO's fees.
    assert (trades["distance_m"] >= 0).all() and summary["average_trade_distance_m"] > 0
    assert summary["dso_network_fees"] == pytest.approx(trades["grid_fee"].sum())
    # The scenario as it ran, and a report with its headline, its interactive chart, the
    # feeder at its worst and five plots.
    assert "mechanism = " in (out / "scenario.toml").read_text()
    report = (out / "report.html").read_text()
    assert report.count("<img alt=") == 6 and "The feeder at its worst" in report
    assert report.count('class="figure') == 6 and "Plotly.newPlot" in report


def test_malformed_scenario_is_one_line(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.toml"
    scenario.write_text("[time]\nslot_minutes = 20\n")
    done = peergrid("run", str(scenario))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "time.slot_minutes" in lines[0]


def test_clear_thesis_book() -> None:
    done = peergrid(
        "clear", "--mechanism", "dpda", "--orders", "examples/orders-thesis-table-2-2.json"
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["price"] == 16.5
    assert (result["info"]["case"], result["info"]["x"], result["info"]["y"]) == (3, 4, 5)
    assert result["info"]["oversupply"] == pytest.approx(0.75)
    assert result["allocations"]["S24"] == pytest.approx(24.25)
    assert sum(t["quantity_kwh"] for t in result["trades"]) == pytest.approx(146.0)


def test_clear_mcafee() -> None:
    done = peergrid(
        "clear", "--mechanism", "mcafee", "--orders", "examples/orders-thesis-table-2-2.json"
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["info"]["case"] == 2 and result["info"]["theta"] == pytest.approx(3.0)
    assert result["allocations"]["S24"] == pytest.approx(22.0)


@pytest.mark.parametrize(
    ("orders", "words"),
    [
        ('{"orders": [{"id": "a", "side": "sell", "price": 1, "quantity_kwh": 0}]}', "'a'"),
        ('{"orders": [{"id": "b", "side": "hold", "price": 1, "quantity_kwh": 1}]}', "'side'"),
        ('{"orders": [{"id": "c", "side": "buy", "price": NaN, "quantity_kwh": 1}]}', "'price'"),
        ('{"orders": [{"id": "d", "side": "buy", "price": -1, "quantity_kwh": 1}]}', "'price'"),
        (
            '{"orders": [{"id": "e", "side": "buy", "price": 1, "quantity_kwh": 1},'
            ' {"id": "e", "side": "sell", "price": 1, "quantity_kwh": 1}]}',
            "duplicate",
        ),
        ('{"orders": [', "not valid JSON (line 1, column 13)"),
    ],
)
def test_clear_bad_orders(tmp_path: Path, orders: str, words: str) -> None:
    path = tmp_path / "book.json"
    path.write_text(orders)
    done = peergrid("clear", "--mechanism", "dpda", "--orders", str(path))
    assert done.returncode == 2
    assert words in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_unknown_mechanism() -> None:
    done = peergrid(
        "clear", "--mechanism", "vickrey", "--orders", "examples/orders-thesis-table-2-2.json"
    )
    assert done.returncode == 2
    assert "unknown mechanism" in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("mechanism", ["mcafee", "dpda", "dpda+score"])
def test_run_on_the_sealed_bid_batch_market(tmp_path: Path, mechanism: str) -> None:
    scenario = tmp_path / "batch.toml"
    scenario.write_text(SHORT_SCENARIO.format(mechanism=mechanism))  # the default market
    out = tmp_path / "out"
    done = peergrid("run", str(scenario), "--output", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    slots = pd.read_csv(out / "slots.csv")
    assert summary["ledger_market"] == "batch"
    assert summary["ledger_money_conserved"] is True
    # Each slot with trades: open, N commits, start of reveal, N reveals, the clearing and the
    # meter's readings unless the contract refused every fill: T = 2 N + 2 + C + R
    # (``slot_transactions``). With 12 households, one clearing and one posting of readings
    # (C = R = 1, R = 0 without positions): 2 N + 4, or 2 N + 3.
    traded = slots[slots["trades"] > 0]
    orders = traded["buy_orders"] + traded["sell_orders"]
    full = [slot_transactions(n, t, 1) for n, t in zip(orders, traded["trades"], strict=True)]
    assert full == [2 * n + 4 for n in orders]
    assert (traded["transactions"] == full).sum() >= len(traded) - summary["ledger_fills_refused"]
    assert (traded["transactions"] >= [f - 1 for f in full]).all()
    assert summary["ledger_surplus"] == 0
    households = pd.read_csv(out / "households.csv")
    # On chain, each household's money moved as the metered settlement says off chain: its
    # bill less what the supplier was paid (to rounding: Wh and micro-units).
    p2p_paid = (
        households["bill"] - households["imported_kwh"] * 0.30 + (households["exported_kwh"] * 0.08)
    )
    # What the contract would refuse (a DPDA price beyond a buyer's limit, 003 §6 item 9) is
    # voided before settlement, so the contract refuses nothing and agrees with the accounts.
    assert mechanism != "mcafee" or summary["trades_refused"] == 0
    assert summary["ledger_fills_refused"] == 0
    assert (households["ledger_net_micro"] / 1e6).to_numpy() == pytest.approx(
        (-p2p_paid).to_numpy(), abs=5e-3
    )
    assert summary["penalties"] > 0
    # The DSO's income on chain is the accounts' (fees, and with Score Matching each pair's
    # distance charge C_d·d; penalties; true-ups), every member having paid what it owed.
    assert summary["ledger_dso_balance"] - 50.0 == pytest.approx(summary["dso_income"], abs=5e-3)
    assert summary["ledger_unpaid"] == 0
    # Money moved only between members and the DSO.
    assert households["ledger_net_micro"].sum() == -round(summary["ledger_dso_balance"] * 1e6) + (
        round(50.0 * 1e6)
    )


def test_every_command_group_is_listed() -> None:
    done = peergrid("--help")
    assert done.returncode == 0
    for command in (
        "demo",
        "run",
        "clear",
        "mechanisms",
        "reproduce",
        "grid",
        "chain",
        "deploy",
        "bench",
    ):
        assert f" {command} " in done.stdout, command


def test_mechanisms_lists_the_registry_as_json() -> None:
    done = peergrid("mechanisms", "--json")
    assert done.returncode == 0, done.stderr
    registry = json.loads(done.stdout)
    assert set(registry) == {
        "dpda",
        "mcafee",
        "dpda+score",
        "mcafee+score",
        "cda",
        "ncda",
        "ocda",
        "ev-quota",
    }
    assert registry["ncda"]["needs_feeder"] and not registry["dpda"]["needs_feeder"]
    charge = registry["dpda+score"]["parameters"][0]
    assert charge == {
        "name": "distance_charge_per_m",
        "unit": "currency/m",
        "default": 0.002,
        "description": charge["description"],
    }


def test_an_error_message_is_printed_as_written(tmp_path: Path) -> None:
    # Square brackets in a message are text, not console markup.
    scenario = tmp_path / "brackets.toml"
    scenario.write_text('[households]\npv_kwp = [9.0, 1.0]\nload_profiles = ["[/]"]\n')
    done = peergrid("run", str(scenario))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: {scenario}: households.pv_kwp: must be [low, high] with 0 <= low <= high, "
        "got [9.0, 1.0] [and 1 more error(s)]"
    ]
    scenario.write_text('name = "[/]"\n')
    done = peergrid("run", str(scenario))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: {scenario}: name: must be a file name of 1 to 64 letters, digits, '.', '_' or "
        "'-', starting with a letter or digit (it names the results folder), got '[/]'"
    ]


@pytest.mark.parametrize(
    ("mechanism", "weighted", "unsold"),
    [("cda", 41, {"O2": 1.0, "O4": 1.0}), ("ncda", 19, {"O3": 1.0, "O4": 1.0})],
)
def test_clear_an_ancillary_service_session(
    mechanism: str, weighted: float, unsold: dict[str, float]
) -> None:
    done = peergrid(
        "clear",
        "--mechanism",
        mechanism,
        "--feeder",
        "cigre-mv-vdma",
        "--orders",
        "examples/orders-vdma-example-b.json",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["price"] is None
    assert result["info"]["weighted_distance"] == weighted
    assert result["info"]["unsold_kwh"] == unsold
    assert result["info"]["pool"] == "up"
    assert {"path_m", "hops"} <= set(result["trades"][0])


def test_clear_the_ev_quota_auction_of_chapter_9() -> None:
    done = peergrid(
        "clear", "--mechanism", "ev-quota", "--orders", "examples/orders-ev-quota-chapter9.json"
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert round(result["beta"], 2) == 0.83
    assert [(t["buyer"], t["seller"], t["price"]) for t in result["trades"]][:2] == [
        ("E", "H", 22.0),
        ("D", "H", 21.0),
    ]
    assert result["payments"]["D"] == 240.0
    assert round(result["quotas"]["C"]["final_kw"], 2) == 28.18
    # The margin from the command line wins over the file's; a margin above the demand: no auction.
    done = peergrid(
        "clear",
        "-m",
        "ev-quota",
        "--param",
        "capacity_margin_kw=400",
        "examples/orders-ev-quota-chapter9.json",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["beta"] == 1.0 and result["trades"] == [] and not result["auction_held"]


def test_clear_help_states_ncda_s_distance() -> None:
    done = peergrid("clear", "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "hops on the feeder graph" in text and "cheaper first, then older" in text


def test_dvpp_setpoints_of_the_example() -> None:
    done = peergrid("dvpp", "setpoints", "--input", "examples/dvpp-setpoints.json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["setpoints_w"] == {"b1": 3500, "b2": 3500, "b3": 0, "b4": 0}
    done = peergrid("dvpp", "setpoints", "examples/dvpp-setpoints.json", "--rule", "code")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["setpoints_w"]["b3"] == 2333.333
