"""``peergrid run`` with an EV quota day (001b_book.md ch. 9; S5 in a simulation).

A day of 13 EVs on SimBench's rural1 LV grid (160 kVA), with the transformer's limit lowered
to 40 % so that uncoordinated charging overloads it: the transformer within its limit in every
period with quota trading, the quotas within the margin, every EV within its final quota, the
energy and the money accounted for, the same day for the same seed; the worked rules (window,
margin, orders) with exact numbers; the tables saved, the summary, the report; the refusals.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import peergrid
from peergrid.assets.household import Household
from peergrid.cli import app
from peergrid.core.errors import ScenarioError
from peergrid.core.orders import Side
from peergrid.grid.feeders import load_feeder
from peergrid.sim.ev_quota.bidding import EvPosition, QuotaBidding, demand_kw
from peergrid.sim.ev_quota.day import capacity_margins_kw, uncoordinated_kw
from peergrid.sim.ev_quota.fleet import PERIODS, fleet, tariff_of_periods
from peergrid.sim.population import place_households
from peergrid.sim.scenario import TABLE_1_TARIFF, ev_window_hours
from peergrid.sim.summary import RunSummary

ROOT = Path(__file__).resolve().parents[2]
LIMIT_PCT = 40.0
SMALL = peergrid.Scenario().replace(
    name="ev-quota-small",
    feeder={"name": "simbench:1-LV-rural1--0-sw"},
    households={"count": 13},
    time={"start": "2016-01-14"},
    market={"enabled": False},
    ledger={"enabled": False},
    grid={"max_trafo_loading_pct": LIMIT_PCT},
    ev_quota={"enabled": True, "share": 1.0, "arrival_h": [18.0, 1.0], "energy_kwh": [18.0, 6.0]},
)
EXACT = 1e-9


@pytest.fixture(scope="module")
def day() -> peergrid.Result:
    return peergrid.run(SMALL)


def test_the_day_runs_48_half_hour_periods_from_noon(day: peergrid.Result) -> None:
    periods = day.ev_quota_periods
    assert len(periods) == PERIODS == 48
    assert periods["time"].iloc[0] == "2016-01-14T12:00"
    assert periods["time"].iloc[-1] == "2016-01-15T11:30"
    # Each period is cleared during the one before (§9.2: 18:00 for 18:30-19:00).
    evening = periods.set_index("time").loc["2016-01-14T18:30"]
    assert evening["cleared_at"] == "2016-01-14T18:00"
    assert evening["tariff_per_kwh"] == 112.0
    assert len(day.evs) == 13 and day.summary.ev_quota_evs == 13
    # The quotas were short: auctions held, quota traded at prices between offers and bids.
    assert periods["auction_held"].sum() >= 2
    assert len(day.ev_quota_trades) > 0
    assert day.households.empty and day.slots.empty


def test_the_transformer_stays_within_its_limit_with_quotas_and_not_without(
    day: peergrid.Result,
) -> None:
    periods = day.ev_quota_periods
    assert (periods["trafo_loading_pct"] <= LIMIT_PCT).all()
    assert periods["within_rating"].all()
    assert day.summary.ev_quota_overload_periods == 0
    # Without quotas every EV draws its rating at once: the evening overloads the transformer.
    assert (periods["baseline_trafo_loading_pct"] > LIMIT_PCT).sum() >= 1
    assert day.summary.ev_quota_baseline_overload_periods == int(
        (~periods["baseline_within_rating"]).sum()
    )
    peak = day.summary.ev_quota_baseline_peak_trafo_loading_pct
    assert peak is not None and peak > LIMIT_PCT
    assert day.summary.max_trafo_loading_pct == pytest.approx(periods["trafo_loading_pct"].max())
    # Any violation the AC check finds is reported (a voltage, say), the transformer never.
    assert "trafo_overload" not in set(day.violations["kind"])


def _check_quotas(periods: pd.DataFrame, quotas: pd.DataFrame, trades: pd.DataFrame) -> None:
    """The invariants of every EV quota day."""
    per_period = quotas.groupby("period")
    finals = per_period["final_kw"].sum().reindex(periods["period"], fill_value=0.0).to_numpy()
    initials = per_period["initial_kw"].sum().reindex(periods["period"], fill_value=0.0)
    margins = periods["capacity_margin_kw"].to_numpy()
    # The quotas never exceed the margin, before and after trading (trades move, not create).
    assert (finals <= margins + EXACT).all()
    assert np.allclose(initials.to_numpy(), finals)
    # Every EV charges at most its final quota, and the final quota is within its demand.
    assert (quotas["charged_kw"] <= quotas["final_kw"] + EXACT).all()
    assert (quotas["final_kw"] <= quotas["demand_kw"] + EXACT).all()
    assert (quotas["charged_kw"] >= 0).all()
    # β of eq. (1): 1 when the demands fit, else margin / demand; quota_i = β · demand_i.
    demand = per_period["demand_kw"].sum().reindex(periods["period"], fill_value=0.0).to_numpy()
    beta = np.where(demand > margins, margins / np.where(demand > 0, demand, 1.0), 1.0)
    assert np.allclose(periods["beta"], beta)
    # Each initial quota is β · demand floored to the mechanism's micro-kW.
    by_beta = periods.set_index("period").loc[quotas["period"], "beta"].to_numpy()
    gap = by_beta * quotas["demand_kw"].to_numpy() - quotas["initial_kw"].to_numpy()
    assert (gap > -EXACT).all() and (gap < 1e-6 + EXACT).all()
    # Money is conserved in every auction: what buyers pay, sellers receive (micro-tokens).
    paid = quotas.groupby("period")["auction_payment"].sum()
    assert (paid.abs() < 1e-6).all()
    assert (periods["auction_balance"] == 0).all()
    if len(trades):
        value = trades.groupby("period")["value"].sum()
        bought = quotas[quotas["auction_payment"] > 0].groupby("period")["auction_payment"].sum()
        assert np.allclose(value, bought.reindex(value.index))
        assert np.allclose(periods.set_index("period").loc[value.index, "auction_paid"], value)
    # No auction without a shortage; no trade without an auction.
    assert not periods.loc[demand <= margins + EXACT, "auction_held"].any()
    assert (periods.loc[~periods["auction_held"], "trades"] == 0).all()


def test_quotas_margins_and_money(day: peergrid.Result) -> None:
    _check_quotas(day.ev_quota_periods, day.ev_quotas, day.ev_quota_trades)
    assert day.summary.ev_quota_auction_balance == 0.0


def test_energy_accounting(day: peergrid.Result) -> None:
    evs, quotas = day.evs, day.ev_quotas
    assert (evs["energy_delivered_kwh"] <= evs["energy_needed_kwh"] + EXACT).all()
    assert ((evs["satisfaction"] >= 0) & (evs["satisfaction"] <= 1)).all()
    assert ((evs["baseline_satisfaction"] >= 0) & (evs["baseline_satisfaction"] <= 1)).all()
    # What an EV was delivered is what it charged, period by period (0.5 h each).
    charged = (quotas.groupby("ev")["charged_kw"].sum() * 0.5).reindex(evs["ev"], fill_value=0.0)
    assert np.allclose(charged.to_numpy(), evs["energy_delivered_kwh"])
    # It charged only in its window, and paid the period's tariff on the metered energy.
    window = evs.set_index("ev")
    first = window.loc[quotas["ev"], "first_period"].to_numpy()
    stop = window.loc[quotas["ev"], "stop_period"].to_numpy()
    assert ((quotas["period"] >= first) & (quotas["period"] < stop)).all()
    tariff = tariff_of_periods(TABLE_1_TARIFF)[quotas["period"]]
    assert np.allclose(quotas["charging_fee"], quotas["charged_kw"] * 0.5 * tariff)
    fees = quotas.groupby("ev")["charging_fee"].sum().reindex(evs["ev"], fill_value=0.0)
    assert np.allclose(fees.to_numpy(), evs["charging_fees"])
    s = day.summary
    assert s.ev_quota_energy_delivered_kwh == pytest.approx(evs["energy_delivered_kwh"].sum())
    assert s.ev_quota_satisfaction == pytest.approx(
        evs["energy_delivered_kwh"].sum() / evs["energy_needed_kwh"].sum()
    )
    assert s.ev_quota_satisfaction is not None and 0 < s.ev_quota_satisfaction <= 1


def test_the_same_seed_gives_the_same_day(day: peergrid.Result) -> None:
    again = peergrid.run(SMALL)
    pd.testing.assert_frame_equal(again.ev_quota_periods, day.ev_quota_periods)
    pd.testing.assert_frame_equal(again.evs, day.evs)
    pd.testing.assert_frame_equal(again.ev_quota_trades, day.ev_quota_trades)
    other = peergrid.run(SMALL.replace(seed=7))
    assert not other.evs[["arrival", "energy_needed_kwh"]].equals(
        day.evs[["arrival", "energy_needed_kwh"]]
    )


@settings(max_examples=4, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    share=st.floats(0.3, 1.0),
    reserve=st.floats(0.0, 20.0),
    short=st.floats(0.0, 1.0),
)
def test_the_invariants_hold_for_any_day(
    seed: int, share: float, reserve: float, short: float
) -> None:
    scenario = SMALL.replace(
        seed=seed,
        ev_quota={"share": share, "margin_reserve_pct": reserve, "short_stay_share": short},
    )
    result = peergrid.run(scenario)
    _check_quotas(result.ev_quota_periods, result.ev_quotas, result.ev_quota_trades)
    evs = result.evs
    assert (evs["energy_delivered_kwh"] <= evs["energy_needed_kwh"] + EXACT).all()


# --- the rules, with exact numbers ------------------------------------------------------------


def test_an_ev_takes_part_from_the_clearing_it_is_plugged_in_for() -> None:
    # Periods count from noon. Plugged in at 18:00 it is there for the 18:00 clearing, which is
    # for 18:30-19:00 (period 13); leaving at 07:00 its last period is 06:30-07:00 (37).
    assert ev_window_hours(18.0, 7.0) == (13, 38, True)
    # At 18:10 it missed the 18:00 clearing: the 18:30 one, for 19:00 (period 14).
    assert ev_window_hours(18 + 10 / 60, 7.0) == (14, 38, True)
    # Leaving at 06:50 it cannot finish 06:30-07:00.
    assert ev_window_hours(18.0, 6 + 50 / 60) == (13, 37, True)
    # An hour's stay from 18:00 charges 18:30-19:00; from 18:10 it has no period left.
    assert ev_window_hours(18.0, 19.0) == (13, 14, True)
    assert ev_window_hours(18 + 10 / 60, 19.0)[2] is False


def test_the_margin_is_the_rating_less_the_base_load_at_unity_power_factor() -> None:
    # S = 250 kVA at 100 %, base case P = 100 kW, Q = 30 kvar, reserve 2 % of S (5 kW):
    # sqrt(250² − 30²) − 100 − 5 = 143.193 423 kW (floored to micro-kW).
    margin = capacity_margins_kw(np.array([100.0]), np.array([30.0]), 250.0, 100.0, 2.0)
    assert margin[0] == math.floor((math.sqrt(250**2 - 30**2) - 105) * 1e6) / 1e6
    assert margin[0] == pytest.approx(143.193423)
    # A base load beyond the rating leaves nothing; a base case that did not converge neither.
    over = capacity_margins_kw(np.array([300.0, np.nan]), np.array([0.0, np.nan]), 250, 100, 0)
    assert list(over) == [0.0, 0.0]


def test_demand_is_the_charger_or_the_rest_on_the_one_hour_basis() -> None:
    assert demand_kw(10.0, 11.0, True, 0.5) == 11.0
    assert demand_kw(3.2, 11.0, True, 0.5) == 6.4
    assert demand_kw(3.2, 11.0, False, 0.5) == 0.0
    assert demand_kw(0.0, 11.0, True, 0.5) == 0.0


BIDDING = QuotaBidding(bid_least=20.0, bid_most=30.0, offer=20.0, spread=0.0, period_hours=0.5)


def test_an_ev_that_cannot_finish_bids_for_its_shortfall() -> None:
    # Needs 10 kWh, quota 5.5 of its 11 kW demand: 7.25 kWh left after the period, one more
    # period at 11 kW gives 5.5 kWh: 1.75 kWh short, 3.5 kW; urgency 1.75 / 10.
    ev = EvPosition("A", 10.0, 11.0, 5.5, 11.0, later_periods=1, later_min_tariff=112.0)
    order = BIDDING.order(13, ev, 112.0, np.random.default_rng(0), at=0)
    assert order is not None and order.side is Side.BUY
    assert order.quantity_kwh == 3.5
    assert order.price == 21.75
    assert order.agent == "A" and order.slot == 13


def test_an_ev_with_slack_offers_its_quota_at_the_later_tariff_s_ratio() -> None:
    # Ten periods left, the cheapest at the night's 32 tokens/kWh against the evening's 112.
    ev = EvPosition("B", 10.0, 11.0, 5.5, 11.0, later_periods=10, later_min_tariff=32.0)
    order = BIDDING.order(13, ev, 112.0, np.random.default_rng(0), at=1)
    assert order is not None and order.side is Side.SELL
    assert order.quantity_kwh == 5.5
    assert order.price == round(20.0 * 32 / 112, 6)
    # No quota, no order (the mechanism takes none); nothing to spare, no order either.
    assert BIDDING.order(13, EvPosition("C", 10, 11, 0.0, 11, 10, 32), 112, None, 0) is None  # type: ignore[arg-type]
    exact = EvPosition("D", 5.5, 11.0, 11.0, 11.0, later_periods=0, later_min_tariff=112.0)
    assert BIDDING.order(13, exact, 112.0, np.random.default_rng(0), 0) is None


@given(
    remaining=st.floats(0.01, 80),
    beta=st.floats(0.0, 1.0),
    later=st.integers(0, 47),
    tariff=st.sampled_from([32.0, 69.0, 112.0]),
    later_tariff=st.sampled_from([32.0, 69.0, 112.0]),
    seed=st.integers(0, 1000),
)
def test_orders_stay_within_what_the_mechanism_accepts(
    remaining: float, beta: float, later: int, tariff: float, later_tariff: float, seed: int
) -> None:
    demand = demand_kw(remaining, 11.0, True, 0.5)
    initial = math.floor(demand * beta * 1e6) / 1e6
    ev = EvPosition("E", remaining, demand, initial, 11.0, later, later_tariff)
    bidding = QuotaBidding(20.0, 30.0, 20.0, 0.1, 0.5)
    order = bidding.order(5, ev, tariff, np.random.default_rng(seed), 0)
    if order is None:
        return
    assert order.quantity_kwh >= 1e-3 and order.price >= 1e-6
    if order.side is Side.BUY:
        assert order.quantity_kwh <= demand - initial + 1e-9
    else:
        assert order.quantity_kwh <= initial + 1e-9


def test_a_zero_offer_price_is_raised_to_the_least_the_mechanism_takes() -> None:
    free = QuotaBidding(bid_least=0.0, bid_most=0.0, offer=0.0, spread=0.0, period_hours=0.5)
    ev = EvPosition("B", 10.0, 11.0, 5.5, 11.0, later_periods=10, later_min_tariff=32.0)
    order = free.order(13, ev, 112.0, np.random.default_rng(0), at=1)
    assert order is not None and order.price == 1e-6


def test_without_quotas_each_ev_draws_its_rating_until_done() -> None:
    scenario = SMALL.replace(
        ev_quota={"evs": [{"id": "A", "household": 1, "arrival_h": 18.0,
                           "departure_h": 7.0, "energy_kwh": 12.0}]}
    )  # fmt: skip
    evs = fleet(scenario.ev_quota, _households(scenario), np.random.default_rng(0))
    kw = uncoordinated_kw(evs)
    assert kw.shape == (PERIODS, 1)
    # 12 kWh at 11 kW: two periods of 5.5 kWh from period 13, then 1 kWh (2 kW) in period 15.
    assert list(kw[13:16, 0]) == [11.0, 11.0, 2.0]
    assert kw[:13].sum() == 0 and kw[16:].sum() == 0


def _households(scenario: peergrid.Scenario) -> list[Household]:
    feeder = load_feeder(scenario.feeder.name)
    return place_households(scenario.households, feeder, np.random.default_rng(0))


# --- results, report, command line ------------------------------------------------------------


def test_results_saved_with_the_run(day: peergrid.Result, tmp_path: Path) -> None:
    files = day.save(tmp_path / "out")
    for name in ("ev_quota_periods", "evs", "ev_quota_trades", "ev_quotas"):
        assert files[name].suffix == ".csv"
        frame = pd.read_csv(files[name])
        assert len(frame) == len(getattr(day, name))
    summary = json.loads(files["summary"].read_text())
    assert summary["mechanism"] == "ev-quota" and summary["currency"] == "token"
    assert summary["ev_quota_evs"] == 13 and summary["ev_quota_periods"] == 48
    assert summary["ev_quota_baseline_overload_periods"] >= 1
    assert RunSummary.from_mapping(summary).to_dict()["ev_quota_evs"] == 13
    page = files["report"].read_text()
    assert "EV charging under quota trading" in page
    assert "Satisfaction per EV" in page and "transformer loading per period" in page
    assert 'data-key="ev_quota_satisfaction"' in page


def test_parquet_too(tmp_path: Path) -> None:
    scenario = SMALL.replace(ev_quota={"share": 0.5}, output={"format": "parquet"})
    files = peergrid.run(scenario).save(tmp_path / "pq")
    assert pd.read_parquet(files["evs"]).shape[0] == round(0.5 * 13)


def test_an_explicit_list_of_evs() -> None:
    evs = [
        {"id": "A", "household": 1, "arrival_h": 18.0, "departure_h": 20.0, "energy_kwh": 20.0},
        {"id": "B", "household": 2, "arrival_h": 17.0, "departure_h": 7.0, "energy_kwh": 10.0,
         "charger_kw": 7.4},
    ]  # fmt: skip
    result = peergrid.run(SMALL.replace(ev_quota={"evs": evs}))
    table = result.evs.set_index("ev")
    assert list(table.index) == ["A", "B"]
    assert table.loc["B", "charger_kw"] == 7.4 and table.loc["A", "charger_kw"] == 11.0
    # A stays two hours: 18:30-20:00 at 11 kW is 16.5 kWh of its 20 at most.
    assert table.loc["A", "energy_delivered_kwh"] <= 16.5 + EXACT
    assert table.loc["B", "satisfaction"] == pytest.approx(1.0)


def test_the_example_runs_from_the_command_line(tmp_path: Path) -> None:
    scenario = peergrid.Scenario.load(ROOT / "examples" / "ev-quota-day.toml")
    assert scenario.ev_quota.enabled and not scenario.market.enabled
    out = tmp_path / "example"
    done = CliRunner().invoke(
        app, ["run", str(ROOT / "examples" / "ev-quota-day.toml"), "-o", str(out), "-q"]
    )
    assert done.exit_code == 0, done.output
    assert "EV charging under quota trading" in done.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ev_quota_overload_periods"] == 0
    assert summary["ev_quota_baseline_overload_periods"] >= 1


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"market.enabled": True}, "market.enabled: the EV quota day runs alone"),
        ({"ledger.enabled": True}, "ledger.enabled: the EV quota day runs alone and off chain"),
        ({"time": {"days": 2}}, "time.days: the EV quota day runs one day"),
        ({"time": {"start": "2016-12-31"}}, "time.start: the EV quota day runs from noon"),
        ({"grid": {"power_flow": False}}, "grid.power_flow: the EV quota day"),
        ({"ev_quota": {"share": 1.5}}, "ev_quota.share: Input should be less than or equal to 1"),
        ({"ev_quota": {"count": 14}}, "ev_quota.count: at most one EV per household (13)"),
        ({"ev_quota": {"charger_kw": 0}}, "ev_quota.charger_kw: Input should be greater than 0"),
        ({"ev_quota": {"arrival_h": [8.0, 1.0]}}, "ev_quota.arrival_h: must be [mean, standard"),
        ({"ev_quota": {"bid_price_per_kwh": [30, 20]}}, "ev_quota.bid_price_per_kwh: must be"),
        ({"ev_quota": {"tariff_per_kwh": [1.0] * 23}}, "ev_quota.tariff_per_kwh: must be 24"),
        ({"ev_quota": {"margin_reserve_pct": 100}}, "ev_quota.margin_reserve_pct: Input should"),
        ({"ev_quota": {"bogus": 1}}, "ev_quota.bogus: unknown field"),
        (
            {"ev_quota": {"evs": [{"id": "A", "household": 14, "arrival_h": 18,
                                   "departure_h": 7, "energy_kwh": 5}]}},
            "ev_quota.evs.0.household: there are 13 households, got 14",
        ),
        (
            {"ev_quota": {"evs": [{"id": "A", "household": 1, "arrival_h": 18.25,
                                   "departure_h": 19, "energy_kwh": 5}]}},
            "ev_quota.evs: [0] 'A': arrives at 18.25 h and leaves at 19 h",
        ),
        (
            {"ev_quota": {"evs": [{"id": "A", "household": 1, "arrival_h": 18,
                                   "departure_h": 7, "energy_kwh": 5}] * 2}},
            "ev_quota.evs: [1]: duplicate EV id 'A'",
        ),
        (
            {"ev_quota": {"evs": [{"id": "A", "household": 1, "arrival_h": 18,
                                   "departure_h": 7, "energy_kwh": -5}]}},
            "ev_quota.evs.0.energy_kwh: Input should be greater than 0",
        ),
    ],
)  # fmt: skip
def test_bad_scenarios_are_refused_naming_the_field(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(ScenarioError) as caught:
        SMALL.replace(**change)
    assert str(caught.value).startswith(message), str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_feeder_with_several_transformers_is_refused_before_the_day() -> None:
    scenario = SMALL.replace(feeder={"name": "cigre-lv"}, households={"count": 13})
    with pytest.raises(ScenarioError, match=r"^feeder.name: .* 'cigre-lv' has 3 in service"):
        peergrid.run(scenario)


def test_the_command_line_refuses_with_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        SMALL.replace(**{"ledger.enabled": False}).to_toml().replace("share = 1.0", "share = 2.0")
    )
    done = CliRunner().invoke(app, ["run", str(path), "-o", str(tmp_path / "o"), "-q"])
    assert done.exit_code == 2
    assert "ev_quota.share" in done.output
    on = tmp_path / "with-market.toml"
    on.write_text(SMALL.to_toml().replace("enabled = false", "enabled = true", 1))
    done = CliRunner().invoke(app, ["run", str(on), "-o", str(tmp_path / "p"), "-q"])
    assert done.exit_code == 2
    assert "the EV quota day runs alone" in done.output
