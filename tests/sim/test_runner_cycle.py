"""The simulation drives the trading cycle: forecasts, late orders, feedback, meters."""

from __future__ import annotations

from typing import Any

import pytest

from peergrid.sim.runner import RunResult, run_scenario
from peergrid.sim.scenario import scenario_from_dict


def run(**market: Any) -> RunResult:
    scenario = scenario_from_dict(
        {
            "name": "cycle",
            "seed": 3,
            "households": {"count": 10, "pv_share": 0.5},
            "time": {"start": "2016-06-09", "slot_minutes": 60},
            "market": market,
            "grid": {"power_flow": False},
            "ledger": {"enabled": False},
        }
    )
    return run_scenario(scenario)


def test_perfect_forecasts_and_punctual_agents_deliver_every_contract() -> None:
    result = run(forecast_error=0.0, late_order_share=0.0)
    s, slots = result.summary, result.slots
    assert s["trades"] > 0 and s["late_orders"] == 0
    assert s["p2p_undelivered_kwh"] == pytest.approx(0.0, abs=1e-12)
    assert s["penalties"] == pytest.approx(0.0, abs=1e-12) and s["dso_imbalance"] == pytest.approx(
        0.0, abs=1e-12
    )
    assert slots["p2p_kwh"].to_numpy() == pytest.approx(slots["contracted_kwh"].to_numpy())
    assert s["dso_income"] == pytest.approx(s["dso_network_fees"])


def test_forecast_errors_leave_contracts_undelivered_and_are_penalised() -> None:
    result = run(forecast_error=0.3, late_order_share=0.0, penalty_per_kwh=0.1)
    s, bills = result.summary, result.bills
    assert s["p2p_undelivered_kwh"] > 0
    assert s["penalties"] == pytest.approx(0.1 * s["p2p_undelivered_kwh"])
    assert bills["penalties"].sum() == pytest.approx(s["penalties"])
    # Money: what the community pays beyond the supplier goes to the DSO.
    supplier = (bills["imported_kwh"] * 0.30 - bills["exported_kwh"] * 0.08).sum()
    assert bills["bill"].sum() - supplier == pytest.approx(s["dso_income"])


def test_late_orders_roll_and_are_replaced_or_withdrawn() -> None:
    some = run(late_order_share=0.3).summary
    assert some["late_orders"] > 0
    # Every rolled order is replaced by its agent's next order or withdrawn, except those
    # rolled past the last slot.
    assert 0 <= some["late_orders"] - some["rolled_replaced"] - some["rolled_withdrawn"] <= 10
    every = run(late_order_share=1.0).summary
    assert every["trades"] == 0 and every["orders"] == 0
    assert every["losers_told"] == 0 and every["winners_quoted"] == 0


def test_every_order_gets_feedback() -> None:
    result = run()
    slots = result.slots
    orders = slots["buy_orders"] + slots["sell_orders"]
    assert (slots["winners_quoted"] + slots["losers_told"] == orders).all()
    assert result.summary["winners_quoted"] > 0 and result.summary["losers_told"] > 0
