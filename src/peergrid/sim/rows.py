"""The rows of a run's tables: one per slot, one per trade (see the README's table list)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from peergrid.core.orders import Order, Side
from peergrid.core.trades import Trade
from peergrid.grid.powerflow import SlotCheck
from peergrid.mechanisms.info import AuctionInfo
from peergrid.sim.accounting import MeteredAccounts
from peergrid.sim.scenario import Scenario

TRADE_COLUMNS = [
    "slot",
    "time",
    "buyer",
    "seller",
    "buy_order",
    "sell_order",
    "quantity_kwh",
    "price",
    "value",
    "grid_fee",
    "distance_m",
]
VIOLATION_COLUMNS = ["slot", "kind", "element", "value", "limit"]
SESSION_COLUMNS = [
    "hour",
    "time",
    "pool",
    "mechanism",
    "asks",
    "offers",
    "asked_kwh",
    "offered_kwh",
    "matched_kwh",
    "unsatisfied_kwh",
    "unsold_kwh",
    "trades",
    "price_mean",
    "price_min",
    "price_max",
    "weighted_distance",
    "checked",
    "feasible",
    "violations",
    "violation_kinds",
    "v_min_pu",
    "v_max_pu",
    "max_line_loading_pct",
    "losses_share",
    "on_chain",
    "transactions",
    "gas_used",
    "cost_eur",
]
"""The ``sessions`` table: one row per session (hour and pool). Energies in kWh, prices in
currency/kWh (``price_mean`` weighted by the matched kWh), ``weighted_distance`` in the
market's distance unit per kWh matched; gas and € (Eq. 1) only when cleared on chain."""

SESSION_TRADE_COLUMNS = [
    "hour",
    "time",
    "pool",
    "buy_order",
    "sell_order",
    "buyer",
    "seller",
    "ask_bus",
    "offer_bus",
    "quantity_kwh",
    "price",
    "ask_price",
    "offer_price",
    "path_m",
    "hops",
]
"""The ``session_trades`` table: one row per match (ask, offer, kWh, the match's own price, the
ask's and the offer's limit prices, currency/kWh; the path in metres and hops)."""


def slot_start(scenario: Scenario, slot: int) -> dt.datetime:
    start = dt.datetime.combine(scenario.time.start, dt.time())
    return start + dt.timedelta(minutes=scenario.time.slot_minutes * slot)


def slot_row(
    scenario: Scenario,
    slot: int,
    orders: list[Order],
    info: AuctionInfo,
    price: float | None,
    trades: list[Trade],
    accounts: MeteredAccounts,
) -> dict[str, Any]:
    buy = Side.BUY
    buys = [o for o in orders if o.side is buy]
    sells = [o for o in orders if o.side is not buy]
    return {
        "slot": slot,
        "time": slot_start(scenario, slot).isoformat(timespec="minutes"),
        "buy_orders": len(buys),
        "sell_orders": len(sells),
        "demand_kwh": sum(o.quantity_kwh for o in buys),
        "supply_kwh": sum(o.quantity_kwh for o in sells),
        "clearing_price": price,
        "case": info.case,
        "x": info.x,
        "y": info.y,
        "oversupply_kwh": info.oversupply_kwh,
        "clipping_excess_kwh": info.clipping_excess_kwh,
        # winning orders whose own limit the uniform price crosses (DPDA Case 4); the batch
        # market voids their trades (counted in trades_refused)
        "winners_beyond_limit": len(info.individual_rationality_violations),
        "trades": len(trades),
        "contracted_kwh": float(accounts.contracted_bought_kwh.sum()),
        # Peer-to-peer energy the buyers' meters confirm (what replaced supplier imports).
        "p2p_kwh": float(accounts.bought_p2p_kwh.sum()),
        "p2p_delivered_kwh": float(accounts.sold_p2p_kwh.sum()),
        "undelivered_kwh": float(
            (accounts.contracted_bought_kwh - accounts.bought_p2p_kwh).sum()
            + (accounts.contracted_sold_kwh - accounts.sold_p2p_kwh).sum()
        ),
        "penalties": float(accounts.penalties.sum()),
        "dso_imbalance": accounts.dso_imbalance,
        "import_kwh": float(accounts.imported_kwh.sum()),
        "export_kwh": float(accounts.exported_kwh.sum()),
        "network_fees": accounts.network_fees,
        "community_bill": float(accounts.bill.sum()),
        "baseline_bill": float(accounts.baseline_bill.sum()),
    }


def grid_row(result: SlotCheck | None) -> dict[str, Any]:
    if result is None:
        return {
            "pf_converged": None,
            "v_min_pu": None,
            "v_max_pu": None,
            "max_line_loading_pct": None,
            "max_trafo_loading_pct": None,
            "transformer_p_kw": None,
            "grid_violations": 0,
        }
    return {
        "pf_converged": result.converged,
        "v_min_pu": result.v_min_pu,
        "v_max_pu": result.v_max_pu,
        "max_line_loading_pct": result.max_line_loading_pct,
        "max_trafo_loading_pct": result.max_trafo_loading_pct,
        "transformer_p_kw": result.transformer_p_kw,
        "grid_violations": len(result.violations),
    }


def trade_row(
    scenario: Scenario, trade: Trade, distance_m: float, time: str | None = None
) -> dict[str, Any]:
    """A trade's row; ``time``, its slot's start as written, when the caller has it already."""
    if time is None:
        time = slot_start(scenario, trade.slot).isoformat(timespec="minutes")
    return {
        "slot": trade.slot,
        "time": time,
        "buyer": trade.buyer,
        "seller": trade.seller,
        "buy_order": trade.buy_order,
        "sell_order": trade.sell_order,
        "quantity_kwh": trade.quantity_kwh,
        "price": trade.price,
        "value": trade.value,
        "grid_fee": trade.grid_fee,
        "distance_m": distance_m,
    }
