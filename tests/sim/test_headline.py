"""The report's headline: the figures a person reads first, each holding its exact value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from peergrid.sim.headline import headline
from peergrid.sim.summary import SERVICES_FIGURES, RunSummary

FIGURES = {
    "scenario": "t",
    "mechanism": "dpda",
    "feeder": "ieee-eu-lv",
    "households": 4,
    "households_with_pv": 2,
    "slots": 96,
    "currency": "EUR",
    "consumption_kwh": 40.0,
    "pv_production_kwh": 30.0,
    "p2p_contracted_kwh": 6.0,
    "p2p_traded_kwh": 5.5,
    "p2p_undelivered_kwh": 0.5,
    "forecast_error": 0.1,
    "orders": 300,
    "late_orders": 3,
    "rolled_replaced": 2,
    "rolled_withdrawn": 1,
    "trades_refused": 0,
    "winners_quoted": 100,
    "losers_told": 200,
    "imported_kwh": 30.0,
    "exported_kwh": 14.5,
    "self_sufficiency": 0.25,
    "self_sufficiency_baseline": 0.1125,
    "trades": 40,
    "slots_with_trades": 20,
    "average_p2p_price": 0.19,
    "retail_price": 0.3,
    "feed_in_price": 0.08,
    "community_bill": 6.0,
    "community_bill_baseline": 8.0,
    "community_saving": 2.0,
    "dso_network_fees": 0.06,
    "penalties": 0.02,
    "dso_imbalance": -0.01,
    "dso_income": 0.07,
    "average_trade_distance_m": 120.0,
    "households_better_off": 3,
    "households_worse_off": 1,
    "largest_saving": 1.2,
    "winners_beyond_limit": 0,
    "clipping_excess_kwh": 0.0,
    "grid_checked": True,
    "grid_violations": 3,
    "grid_violations_by_kind": {"undervoltage": 2, "line_overload": 1},
    "slots_with_violations": 2,
    "power_flow_failures": 0,
    "v_min_pu": 0.89,
    "v_max_pu": 1.04,
    "max_line_loading_pct": 104.0,
    "max_trafo_loading_pct": 40.0,
    "ledger": False,
    "transactions": 0,
    "gas_used": 0,
}


def test_headline_in_words_and_units() -> None:
    figures = {h.key: h for h in headline(RunSummary.from_mapping(FIGURES))}
    assert list(figures) == [
        "self_sufficiency",
        "community_saving",
        "p2p_traded_kwh",
        "dso_income",
        "grid_violations",
        "ledger_money_conserved",
    ]
    assert figures["self_sufficiency"].shown == "25.0%"
    assert "11.2% without the market" in figures["self_sufficiency"].context
    assert figures["community_saving"].shown == "2.00 EUR"
    assert "25.0% of the 8.00 EUR" in figures["community_saving"].context
    assert figures["p2p_traded_kwh"].shown == "5.5 kWh"
    assert figures["dso_income"].context.endswith("true-ups of deviations −0.01 EUR")
    grid = figures["grid_violations"]
    assert grid.shown == "3 violations"
    assert "in 2 of 96 slots: line overload 1, undervoltage 2" in grid.context
    assert figures["ledger_money_conserved"].shown == "off"
    for key, figure in figures.items():
        if key in FIGURES:
            assert figure.value == FIGURES[key]


def test_headline_on_chain_and_without_violations() -> None:
    on_chain = FIGURES | {
        "grid_violations": 0,
        "grid_violations_by_kind": {},
        "slots_with_violations": 0,
        "ledger": True,
        "transactions": 500,
        "gas_used": 12_345_678,
        "ledger_market": "batch",
        "ledger_money_conserved": True,
    }
    figures = {h.key: h for h in headline(RunSummary.from_mapping(on_chain))}
    assert figures["grid_violations"].shown == "none violated"
    ledger = figures["ledger_money_conserved"]
    assert (ledger.shown, ledger.value) == ("yes", True)
    assert ledger.context == "settled on the batch market in 500 transactions, 12.3 M gas"


def test_every_summary_figure_is_a_field(tmp_path: Path) -> None:
    assert set(FIGURES) == set(RunSummary.model_fields) - {
        k
        for k in RunSummary.model_fields
        if k.startswith(("ledger_", "ancillary_", "ev_quota_", "services_"))
        or k in SERVICES_FIGURES
    }
    with pytest.raises(ValueError, match="extra"):
        RunSummary.from_mapping(FIGURES | {"new_figure": 1})
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(FIGURES | {"timings_s": {"total": 1.0}}), encoding="utf-8")
    summary = RunSummary.from_mapping(json.loads(path.read_text(encoding="utf-8")))
    assert summary.to_dict() == FIGURES


ANCILLARY = {
    "ancillary_only": False,
    "ancillary_mechanism": "ncda",
    "ancillary_on_chain": True,
    "ancillary_sessions": 48,
    "ancillary_asks": 400,
    "ancillary_offers": 120,
    "ancillary_asked_kwh": 200_000.0,
    "ancillary_offered_kwh": 180_000.0,
    "ancillary_matched_kwh": 90_000.4,
    "ancillary_up_matched_kwh": 50_000.0,
    "ancillary_down_matched_kwh": 40_000.4,
    "ancillary_unsatisfied_kwh": 109_999.6,
    "ancillary_unsold_kwh": 89_999.6,
    "ancillary_trades": 250,
    "ancillary_average_price": 0.351,
    "ancillary_min_price": 0.3,
    "ancillary_max_price": 0.4,
    "ancillary_sessions_checked": 48,
    "ancillary_infeasible_sessions": 12,
    "ancillary_violations": 28,
    "ancillary_gas_used": 24_000_000,
    "ancillary_cost_eur": 21.03552,
    "ancillary_cost_eur_per_session": 0.43824,
}


def test_the_ancillary_sessions_follow_the_energy_market() -> None:
    figures = headline(RunSummary.from_mapping(FIGURES | ANCILLARY))
    keys = [h.key for h in figures]
    assert keys[: len(keys) - 3] == [h.key for h in headline(RunSummary.from_mapping(FIGURES))]
    matched, infeasible, cost = figures[-3:]
    assert (matched.key, matched.shown) == ("ancillary_matched_kwh", "90,000 kWh")
    assert matched.context == (
        "of 200,000 kWh asked in 48 ncda sessions; 110,000 kWh left to external resources; "
        "0.351 EUR/kWh on average"
    )
    assert (infeasible.shown, infeasible.value) == ("12 of 48", 12)
    assert (cost.shown, cost.value) == ("0.44 €", 0.43824)


def test_the_sessions_alone_show_only_their_figures() -> None:
    alone = FIGURES | ANCILLARY | {"ancillary_only": True, "ancillary_on_chain": False}
    alone |= {"ancillary_gas_used": None, "ancillary_cost_eur": None}
    alone["ancillary_cost_eur_per_session"] = None
    figures = headline(RunSummary.from_mapping(alone))
    assert [h.key for h in figures] == ["ancillary_matched_kwh", "ancillary_infeasible_sessions"]
    summary = RunSummary.from_mapping(alone)
    assert summary.to_dict() == alone
