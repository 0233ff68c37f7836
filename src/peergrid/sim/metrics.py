"""The figures a market day is judged by."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import pandas as pd

from peergrid.sim.ancillary.totals import session_figures
from peergrid.sim.scenario import Scenario

if TYPE_CHECKING:
    from peergrid.platform.settlement import Settlement

SLOT_FIGURES = (
    "p2p_kwh",
    "import_kwh",
    "export_kwh",
    "contracted_kwh",
    "clearing_price",
    "network_fees",
    "penalties",
    "dso_imbalance",
    "undelivered_kwh",
    "buy_orders",
    "sell_orders",
    "late_orders",
    "rolled_replaced",
    "rolled_withdrawn",
    "trades_refused",
    "winners_quoted",
    "losers_told",
    "trades",
    "winners_beyond_limit",
    "clipping_excess_kwh",
    "grid_violations",
    "pf_converged",
    "v_min_pu",
    "v_max_pu",
    "max_line_loading_pct",
    "max_trafo_loading_pct",
    "transactions",
    "gas_used",
)
"""The slot columns the summary reads (an empty table of them when the energy market is off)."""


def summarise(
    scenario: Scenario,
    slots: pd.DataFrame,
    bills: pd.DataFrame,
    violations: pd.DataFrame,
    ledger: Settlement | None,
    trades: pd.DataFrame,
    sessions: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """The run's figures from its tables: ``violations`` needs only its ``kind`` column and
    ``trades`` only ``distance_m`` and ``quantity_kwh``; ``sessions``, the ancillary-service
    sessions when the run has them, adds the ``ancillary_*`` figures. With the energy market
    off, its tables are empty and its figures zero (or None where there is no value)."""
    if not scenario.market.enabled:
        slots = pd.DataFrame(columns=SLOT_FIGURES)
    consumption = float(bills["consumption_kwh"].sum())
    production = float(bills["pv_kwh"].sum())
    p2p = float(slots["p2p_kwh"].sum())
    imported = float(slots["import_kwh"].sum())
    exported = float(slots["export_kwh"].sum())
    baseline_import = imported + p2p  # without the market every deficit comes from the supplier
    contracted = float(slots["contracted_kwh"].sum())
    # A day without any trade has no price at all: the column is all None.
    clearing_price = slots["clearing_price"].astype(float).fillna(0.0)
    traded_value = float((clearing_price * slots["contracted_kwh"]).sum())
    fees = float(slots["network_fees"].sum())
    penalties = float(slots["penalties"].sum())
    imbalance = float(slots["dso_imbalance"].sum())
    bills_change = bills["bill_change"]
    kinds = Counter(violations["kind"])
    summary: dict[str, Any] = {
        "scenario": scenario.name,
        "mechanism": scenario.market.mechanism,
        "feeder": scenario.feeder.name,
        "households": len(bills),
        "households_with_pv": int((bills["pv_kwp"] > 0).sum()),
        "slots": len(slots),
        "currency": scenario.tariffs.currency,
        "consumption_kwh": consumption,
        "pv_production_kwh": production,
        "p2p_contracted_kwh": contracted,
        "p2p_traded_kwh": p2p,
        "p2p_undelivered_kwh": float(slots["undelivered_kwh"].sum()),
        "forecast_error": scenario.market.forecast_error,
        "orders": int((slots["buy_orders"] + slots["sell_orders"]).sum()),
        "late_orders": int(slots["late_orders"].sum()),
        "rolled_replaced": int(slots["rolled_replaced"].sum()),
        "rolled_withdrawn": int(slots["rolled_withdrawn"].sum()),
        "trades_refused": int(slots["trades_refused"].sum()),
        "winners_quoted": int(slots["winners_quoted"].sum()),
        "losers_told": int(slots["losers_told"].sum()),
        "imported_kwh": imported,
        "exported_kwh": exported,
        "self_sufficiency": 1.0 - imported / consumption if consumption > 0 else 0.0,
        "self_sufficiency_baseline": (
            1.0 - baseline_import / consumption if consumption > 0 else 0.0
        ),
        "trades": int(slots["trades"].sum()),
        "slots_with_trades": int((slots["trades"] > 0).sum()),
        "average_p2p_price": traded_value / contracted if contracted > 0 else None,
        "retail_price": scenario.tariffs.retail_per_kwh,
        "feed_in_price": scenario.tariffs.feed_in_per_kwh,
        "community_bill": float(bills["bill"].sum()),
        "community_bill_baseline": float(bills["baseline_bill"].sum()),
        "community_saving": float(bills["baseline_bill"].sum() - bills["bill"].sum()),
        "dso_network_fees": fees,
        "penalties": penalties,
        "dso_imbalance": imbalance,
        # The DSO's takings: its fees, the penalties, and the true-ups of metered deviations
        # (it buys what buyers did not take and pays for what sellers did not deliver).
        "dso_income": fees + penalties + imbalance,
        "average_trade_distance_m": (
            float((trades["distance_m"] * trades["quantity_kwh"]).sum() / p2p) if p2p > 0 else None
        ),
        "households_better_off": int((bills_change < -1e-9).sum()),
        "households_worse_off": int((bills_change > 1e-9).sum()),
        "largest_saving": float(-bills_change.min()) if len(bills) else 0.0,
        "winners_beyond_limit": int(slots["winners_beyond_limit"].sum()),
        "clipping_excess_kwh": float(slots["clipping_excess_kwh"].sum()),
        "grid_checked": bool(scenario.grid.power_flow),
        "grid_violations": len(violations),
        "grid_violations_by_kind": dict(kinds),
        "slots_with_violations": int((slots["grid_violations"] > 0).sum()),
        "power_flow_failures": int((slots["pf_converged"] == False).sum()),  # noqa: E712
        "v_min_pu": _min(slots, "v_min_pu"),
        "v_max_pu": _max(slots, "v_max_pu"),
        "max_line_loading_pct": _max(slots, "max_line_loading_pct"),
        "max_trafo_loading_pct": _max(slots, "max_trafo_loading_pct"),
        "ledger": bool(ledger is not None),
        "transactions": int(slots["transactions"].sum()),
        "gas_used": int(slots["gas_used"].sum()),
    }
    if not scenario.market.enabled:
        summary["mechanism"] = (
            "ev-quota" if scenario.ev_quota.enabled else scenario.ancillary.mechanism
        )
    if sessions is not None:
        summary |= session_figures(scenario, sessions)
    if ledger is not None:
        log = ledger.gas_log
        summary["ledger_setup_transactions"] = len(log) - summary["transactions"]
        summary["ledger_setup_gas"] = log.total - summary["gas_used"]
        summary["ledger_market"] = scenario.ledger.market
        summary["ledger_dso_balance"] = ledger.dso_balance() / 1e6
        summary["ledger_fills_refused"] = ledger.refused_fills
        summary["ledger_unpaid"] = ledger.unpaid_micro / 1e6
        summary["ledger_money_conserved"] = ledger.money_conserved()
        summary["ledger_surplus"] = ledger.surplus_micro() / 1e6
        summary["ledger_trades_below_one_wh"] = ledger.dropped_trades
    return summary


def _min(frame: pd.DataFrame, column: str) -> float | None:
    values = frame[column].dropna()
    return float(values.min()) if len(values) else None


def _max(frame: pd.DataFrame, column: str) -> float | None:
    values = frame[column].dropna()
    return float(values.max()) if len(values) else None
