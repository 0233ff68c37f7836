"""``peergrid run`` with hourly ancillary-service sessions on cigre-mv-vdma (004_vdma.md).

A day of sessions alone and beside the energy market, off chain; the sessions table's
invariants (matched within what was asked and offered, every match priced between its offer and
its ask, the pools independent); the summary and report; the refusals.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import peergrid
from peergrid.core.errors import ScenarioError
from peergrid.sim.ancillary.shouts import table_1_devices
from peergrid.sim.summary import RunSummary

ROOT = Path(__file__).resolve().parents[2]
ALONE = peergrid.Scenario().replace(
    name="as-alone",
    feeder={"name": "cigre-mv-vdma"},
    market={"enabled": False},
    ancillary={"enabled": True},
    ledger={"enabled": False},
)
TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def alone() -> peergrid.Result:
    return peergrid.run(ALONE)


def test_a_day_alone_has_a_session_per_hour_and_pool(alone: peergrid.Result) -> None:
    sessions = alone.sessions
    assert len(sessions) == 48
    assert sorted(zip(sessions.hour, sessions.pool, strict=True)) == sorted(
        (h, p) for h in range(24) for p in ("up", "down")
    )
    assert sessions["time"].iloc[0] == "2016-06-09T00:00"
    assert set(sessions["mechanism"]) == {"ncda"}
    assert not sessions["on_chain"].any()
    assert sessions["gas_used"].isna().all() and sessions["cost_eur"].isna().all()
    # No energy market: no households, no slots.
    assert alone.households.empty and alone.slots.empty and alone.trades.empty
    # Every device shouts with probability 1/2, so about 23 / 2 shouts a session.
    shouts = (sessions["asks"] + sessions["offers"]).mean()
    assert 9 < shouts < 14.5


def _check_sessions(sessions: pd.DataFrame, trades: pd.DataFrame) -> None:
    """The invariants every sessions table holds."""
    # What is matched is within what was asked and offered; the rest is unsatisfied or unsold.
    assert (sessions.matched_kwh <= sessions.asked_kwh + TOLERANCE).all()
    assert (sessions.matched_kwh <= sessions.offered_kwh + TOLERANCE).all()
    assert np.allclose(sessions.matched_kwh + sessions.unsatisfied_kwh, sessions.asked_kwh)
    assert np.allclose(sessions.matched_kwh + sessions.unsold_kwh, sessions.offered_kwh)
    # The matches of each session are the session's rows of the trades table.
    if trades.empty:
        assert (sessions.trades == 0).all() and (sessions.matched_kwh == 0).all()
        return
    per_session = trades.groupby(["hour", "pool"])["quantity_kwh"].agg(["sum", "size"])
    keyed = sessions.set_index(["hour", "pool"])
    matched = keyed.loc[keyed.trades > 0]
    assert np.allclose(per_session.loc[matched.index, "sum"], matched.matched_kwh)
    assert (per_session.loc[matched.index, "size"] == matched.trades).all()
    # Every match is priced at the mid-point of an offer strictly cheaper than its ask (on
    # chain the mid in micro-units, floored: it may equal the offer's price).
    assert (trades.offer_price < trades.ask_price).all()
    assert (trades.offer_price <= trades.price).all() and (trades.price < trades.ask_price).all()
    assert np.allclose(trades.price, (trades.ask_price + trades.offer_price) / 2, atol=1e-6)
    assert (trades.quantity_kwh > 0).all()
    # The pools are independent: a match joins an ask and an offer of its own pool.
    for column in ("buy_order", "sell_order"):
        assert (trades[column].str.split("-").str[0] == trades.pool).all()
    with_trades = sessions[sessions.trades > 0]
    assert (with_trades.price_min <= with_trades.price_mean + TOLERANCE).all()
    assert (with_trades.price_mean <= with_trades.price_max + TOLERANCE).all()


def test_the_sessions_table_holds_its_invariants(alone: peergrid.Result) -> None:
    _check_sessions(alone.sessions, alone.session_trades)
    trades = alone.session_trades
    # Generators offer, loads ask (the paper's simulation rule).
    kinds: dict[int, set[str]] = {}
    for d in table_1_devices():
        kinds.setdefault(d.bus, set()).add(d.kind)
    assert all("generator" in kinds[bus] for bus in trades.offer_bus)
    assert all("load" in kinds[bus] for bus in trades.ask_bus)


def test_the_summary_adds_up_the_sessions(alone: peergrid.Result) -> None:
    s, sessions = alone.summary, alone.sessions
    assert s.ancillary_only is True and s.mechanism == "ncda" and s.households == 0
    assert s.ancillary_sessions == 48
    assert s.ancillary_matched_kwh == pytest.approx(sessions.matched_kwh.sum())
    up, down = s.ancillary_up_matched_kwh, s.ancillary_down_matched_kwh
    assert up is not None and down is not None
    assert up + down == pytest.approx(s.ancillary_matched_kwh)
    assert s.ancillary_unsatisfied_kwh == pytest.approx(sessions.unsatisfied_kwh.sum())
    assert s.ancillary_trades == len(alone.session_trades)
    trades = alone.session_trades
    weighted = (trades.price * trades.quantity_kwh).sum() / trades.quantity_kwh.sum()
    assert s.ancillary_average_price == pytest.approx(weighted)
    assert s.ancillary_min_price == trades.price.min()
    assert s.ancillary_max_price == trades.price.max()
    assert s.ancillary_sessions_checked == 48
    assert s.ancillary_infeasible_sessions == int((~sessions.feasible.astype(bool)).sum())
    assert s.ancillary_violations == sessions.violations.sum()
    assert s.ancillary_gas_used is None and s.ancillary_cost_eur is None
    assert RunSummary.from_mapping(s.to_dict()) == s


def test_a_session_breaks_a_limit_exactly_when_its_ac_check_says_so(
    alone: peergrid.Result,
) -> None:
    sessions = alone.sessions
    broken = ~sessions.feasible.astype(bool)
    assert ((sessions.violations > 0) == broken).all()
    assert (sessions.loc[broken, "violation_kinds"] != "").all()
    over = sessions.max_line_loading_pct > 100.0
    assert (broken[over]).all()
    # The base case alone is within its limits (max loading 83.5 % on line 3-4, 004 §6 D12):
    # a session without matches breaks none.
    assert not broken[sessions.trades == 0].any()


def test_pools_are_independent() -> None:
    scenario = ALONE.replace(time={"days": 1}, grid={"power_flow": False})
    both = peergrid.run(scenario).sessions
    up = peergrid.run(scenario.replace(ancillary={"pools": ["up"]})).sessions
    pd.testing.assert_frame_equal(
        both[both.pool == "up"].reset_index(drop=True), up.reset_index(drop=True)
    )
    assert not both.checked.any() and both.feasible.isna().all()


def test_beside_the_energy_market_neither_changes_the_other(alone: peergrid.Result) -> None:
    energy = ALONE.replace(name="as-beside", market={"enabled": True}, ancillary={"enabled": False})
    without = peergrid.run(energy)
    beside = peergrid.run(energy.replace(ancillary={"enabled": True}))
    pd.testing.assert_frame_equal(without.slots, beside.slots)
    pd.testing.assert_frame_equal(without.trades, beside.trades)
    sessions = beside.sessions
    for column in ("asks", "offers", "asked_kwh", "matched_kwh", "unsold_kwh", "trades"):
        pd.testing.assert_series_equal(sessions[column], alone.sessions[column])
    # The households' power is in the sessions' AC checks: the voltages move.
    assert not np.allclose(sessions.v_min_pu, alone.sessions.v_min_pu)
    s = beside.summary
    assert s.ancillary_only is False and s.mechanism == "dpda" and s.households == 55
    # The energy market's own check keeps the devices of Table 1 as the feeder's base case.
    assert s.max_line_loading_pct is not None and s.max_line_loading_pct > 80.0


def test_the_report_and_files_show_the_sessions(alone: peergrid.Result, tmp_path: Path) -> None:
    files = alone.save(tmp_path / "alone")
    page = files["report"].read_text(encoding="utf-8")
    assert "<h2>Ancillary-service sessions</h2>" in page
    assert 'data-key="ancillary_matched_kwh"' in page
    assert "Voltage envelope" not in page and 'data-key="self_sufficiency"' not in page
    written = pd.read_csv(files["sessions"])
    assert len(written) == 48
    assert list(pd.read_csv(files["session_trades"]).columns) == list(alone.session_trades.columns)


def test_a_run_without_sessions_writes_no_sessions_files(tmp_path: Path) -> None:
    result = peergrid.run(peergrid.Scenario().replace(ledger={"enabled": False}))
    files = result.save(tmp_path / "energy")
    assert "sessions" not in files and result.sessions.empty
    assert "Ancillary-service sessions" not in files["report"].read_text(encoding="utf-8")
    assert not any(k.startswith("ancillary_") for k in result.details.summary)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**32),
    spread=st.sampled_from([0.0, 0.02, 0.15, 1.0]),
    probability=st.floats(0.0, 1.0),
    mechanism=st.sampled_from(["cda", "ncda"]),
    roles=st.sampled_from(["generators-offer", "loads-offer"]),
)
def test_invariants_hold_for_any_draw(
    seed: int, spread: float, probability: float, mechanism: str, roles: str
) -> None:
    scenario = ALONE.replace(
        seed=seed,
        grid={"power_flow": False},
        ancillary={
            "spread": spread,
            "probability": probability,
            "mechanism": mechanism,
            "roles": roles,
        },
    )
    result = peergrid.run(scenario)
    _check_sessions(result.sessions, result.session_trades)
    assert result.summary.ancillary_matched_kwh is not None
    assert math.isfinite(result.summary.ancillary_matched_kwh)


def test_ocda_runs_a_day_off_chain() -> None:
    scenario = ALONE.replace(ancillary={"mechanism": "ocda"}, time={"days": 1})
    result = peergrid.run(scenario)
    assert len(result.sessions) == 48
    _check_sessions(result.sessions, result.session_trades)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"ancillary": {"enabled": True}}, "has no devices' data"),
        ({"market": {"enabled": False}}, "with the energy market off"),
        (
            {
                "feeder": {"name": "cigre-mv-vdma"},
                "ancillary": {"enabled": True, "params": {"max_fills": 33}},
            },
            "max_fills on chain is at most 32",  # on chain as [ledger] says
        ),
        (
            {
                "feeder": {"name": "cigre-mv-vdma"},
                "ancillary": {"enabled": True, "mechanism": "ocda", "on_chain": True},
            },
            "runs off chain only",
        ),
        (
            {
                "feeder": {"name": "cigre-mv-vdma"},
                "ancillary": {"enabled": True, "on_chain": False, "pools": []},
            },
            "must name up, down or both",
        ),
        (
            {
                "feeder": {"name": "cigre-mv-vdma"},
                "ancillary": {"enabled": True, "on_chain": False, "pools": ["up", "up"]},
            },
            "each once",
        ),
        (
            {
                "feeder": {"name": "cigre-mv-vdma"},
                "ancillary": {"enabled": True, "on_chain": False, "probability": 1.5},
            },
            "ancillary.probability",
        ),
    ],
)
def test_refusals(changes: dict[str, dict[str, object]], error: str) -> None:
    with pytest.raises(ScenarioError, match=error):
        peergrid.Scenario().replace(**changes)


@pytest.fixture(scope="module")
def on_chain() -> peergrid.Result:
    """A day of sessions cleared on the order book, on the embedded chain."""
    return peergrid.run(ALONE.replace(ledger={"enabled": True, "chain": "embedded"}))


def test_a_day_on_chain_clears_as_off_chain(on_chain: peergrid.Result) -> None:
    sessions, trades = on_chain.sessions, on_chain.session_trades
    assert len(sessions) == 48 and sessions["on_chain"].all()
    _check_sessions(sessions, trades)
    # The same shouts off chain (the chain holds them in Wh and micro-units): the same matches,
    # each within the rounding of its orders to Wh and its price within a micro-unit.
    off = peergrid.run(ALONE.replace(ledger={"enabled": True}, ancillary={"on_chain": False}))
    assert not off.sessions["on_chain"].any()
    reference = off.session_trades
    pairs = ["hour", "pool", "buy_order", "sell_order"]
    pd.testing.assert_frame_equal(trades[pairs], reference[pairs])
    assert np.abs(trades.quantity_kwh - reference.quantity_kwh).max() <= 0.002
    assert np.abs(trades.price - reference.price).max() <= 1e-6


def test_on_chain_every_session_has_its_gas_and_cost(on_chain: peergrid.Result) -> None:
    from peergrid.ledger.chain.gas import cost_eur

    sessions = on_chain.sessions
    assert (sessions.gas_used > 0).all()
    assert np.allclose(sessions.cost_eur, [cost_eur(g) for g in sessions.gas_used])
    # A placement per shout; the session's opening, closure and expiries with its up pool.
    shouts = sessions.asks + sessions.offers
    up, down = sessions.pool == "up", sessions.pool == "down"
    assert (sessions.transactions[down] == shouts[down]).all()
    assert (sessions.transactions[up] >= shouts[up] + 2).all()
    s = on_chain.summary
    assert s.ancillary_on_chain is True
    assert s.ancillary_gas_used == sessions.gas_used.sum()
    cost = s.ancillary_cost_eur
    assert cost is not None and cost == pytest.approx(cost_eur(sessions.gas_used.sum()))
    assert s.ancillary_cost_eur_per_session == pytest.approx(cost / 48)
    page = on_chain.save(Path(on_chain.details.tables.folder) / "saved")["report"]
    assert 'data-key="ancillary_cost_eur_per_session"' in page.read_text(encoding="utf-8")


def test_the_example_runs_off_chain() -> None:
    scenario = peergrid.Scenario.load(ROOT / "examples" / "vdma-day.toml")
    assert scenario.feeder.name == "cigre-mv-vdma" and scenario.ancillary.enabled
    result = peergrid.run(scenario.replace(ledger={"enabled": False}, grid={"power_flow": False}))
    assert len(result.sessions) == 24 * len(scenario.ancillary.pools)


def test_the_command_runs_the_example_off_chain(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from peergrid.cli import app

    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["run", str(ROOT / "examples" / "vdma-day.toml"), "-o", str(out), "-q", "--no-ledger"],
    )
    assert result.exit_code == 0, result.stderr
    assert "Ancillary-service sessions: vdma-day" in result.stdout
    assert "Market summary" not in result.stdout  # no energy market in the example
    assert "off chain" in result.stderr
    assert len(pd.read_csv(out / "sessions.csv")) == 48
