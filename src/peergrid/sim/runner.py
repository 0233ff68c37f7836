"""Running a scenario: profiles -> orders -> clearing -> accounts -> power flow -> ledger.

Every slot, each household forms its order from its net position, the mechanism clears, what is
not matched goes to the supplier, the slot's injections are checked with an AC power flow and the
trades are settled on chain. The wall time of each stage is measured for the benchmark.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from peergrid.assets.household import Household, household_energy
from peergrid.assets.profiles import load_profile_library
from peergrid.core.trades import Trade
from peergrid.grid.distance import DistanceMatrix, distance_matrix
from peergrid.grid.feeders import GridLimits, load_feeder
from peergrid.grid.powerflow import PowerFlowCheck, SlotCheck
from peergrid.mechanisms.registry import NEEDS_DISTANCES, distance_charge_per_m
from peergrid.platform.cycle import CycleTimes, TradingCycle
from peergrid.sim.accounting import MeteredAccounts, delivered_kwh, metered_accounts
from peergrid.sim.behaviour import PriceModel, forecast_net, slot_orders, submission_minutes
from peergrid.sim.metrics import summarise
from peergrid.sim.population import place_households
from peergrid.sim.scenario import Scenario

if TYPE_CHECKING:
    from peergrid.sim.settlement import Settlement

SlotCallback = Callable[[int, int], None]
STAGES = ("profiles", "clearing", "power flow", "ledger")


@dataclass
class RunResult:
    scenario: Scenario
    households: list[Household]
    slots: pd.DataFrame
    trades: pd.DataFrame
    bills: pd.DataFrame
    violations: pd.DataFrame
    summary: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)


class _Stopwatch:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start


def run_scenario(scenario: Scenario, on_slot: SlotCallback | None = None) -> RunResult:
    """Run ``scenario`` from its first to its last slot."""
    watch = _Stopwatch()
    started = time.perf_counter()
    rng = np.random.default_rng(scenario.seed)
    feeder = load_feeder(scenario.feeder.name)
    households = place_households(scenario.households, feeder, rng)
    agents = [h.id for h in households]
    buses = [h.bus for h in households]
    index = {agent: i for i, agent in enumerate(agents)}

    with watch.stage("profiles"):
        library = load_profile_library()
        window = library.window(scenario.time.start, scenario.time.days)
        energy = household_energy(households, library, window, scenario.time.slot_minutes)

    grid = scenario.grid
    slot_hours = scenario.time.slot_minutes / 60.0
    grid_checks: list[SlotCheck] | None = None
    if grid.power_flow:
        # Trades move money, not electrons: the slot's injections are the households' net
        # positions whatever clears, so every slot is checked in one pass.
        with watch.stage("power flow"):
            limits = GridLimits(
                grid.v_min_pu, grid.v_max_pu, grid.max_line_loading_pct, grid.max_trafo_loading_pct
            )
            check = PowerFlowCheck(feeder, buses, limits)
            grid_checks = check.check_many((-energy.net_kwh / slot_hours).T, energy.q_kvar.T)

    # Path lengths along the feeder: priced by distance-aware mechanisms, reported for every trade.
    with watch.stage("clearing"):
        feeder_distances = distance_matrix(feeder)

    ledger: Settlement | None = None
    if scenario.ledger.enabled:
        with watch.stage("ledger"):
            ledger = _open_ledger(scenario, agents, buses, feeder_distances)

    distances = feeder_distances if scenario.market.mechanism in NEEDS_DISTANCES else None
    bus_of = dict(zip(agents, buses, strict=True))

    tariffs = scenario.tariffs
    market = scenario.market
    prices = PriceModel(
        scenario.reference_price, tariffs.feed_in_per_kwh, tariffs.retail_per_kwh, market.behaviour
    )
    times = CycleTimes.scaled(float(scenario.time.slot_minutes))
    cycle = TradingCycle(
        market.mechanism,
        params=market.params,
        distances=distances,
        times=times,
        penalty_per_kwh=market.penalty_per_kwh,
        network_fee_per_kwh=tariffs.network_fee_per_kwh,
    )
    with watch.stage("profiles"):
        forecast = forecast_net(energy.load_kwh, energy.pv_kwh, rng, market.forecast_error)
    slot_rows: list[dict[str, Any]] = []
    trade_rows: list[dict[str, Any]] = []
    violations: list[dict[str, Any]] = []
    n = len(households)
    totals = {
        k: np.zeros(n)
        for k in (
            "bought",
            "sold",
            "contracted_bought",
            "contracted_sold",
            "penalties",
            "imported",
            "exported",
            "bill",
            "baseline",
            "load",
            "pv",
        )
    }
    for slot in range(energy.n_slots):
        actual = energy.net_kwh[:, slot]
        with watch.stage("clearing"):
            # Quotation (cycle slot - 1): every household sends its order for this slot.
            quoting = _quote(cycle, slot, agents, buses, forecast[:, slot], prices, rng, scenario)
            clearing = cycle.match(slot)
            orders = list(cycle.orders(slot))
            refused = []
            if ledger is not None:
                # The contract is the authority: what the ledger would not settle (a price
                # beyond a limit, energy below 1 Wh) does not happen.
                refused = ledger.refused(orders, clearing.trades)
                clearing = cycle.void(slot, refused)
            feedback = cycle.feedback(slot)
            trades = list(clearing.trades)
            # Delivery in the slot, then the meters (settled in cycle slot + 1).
            metered = delivered_kwh(orders, trades, actual, index)
            settlements = cycle.settle(slot, metered)
            accounts = metered_accounts(
                actual,
                orders,
                settlements,
                index,
                tariffs.retail_per_kwh,
                tariffs.feed_in_per_kwh,
                clearing.price,
            )
        result = grid_checks[slot] if grid_checks is not None else None
        if result is not None:
            violations.extend(v.to_dict() for v in result.violations)
        receipts: tuple[Any, ...] = ()
        if ledger is not None:
            with watch.stage("ledger"):
                metered_by_agent = {o.agent: metered[o.id] for o in orders}
                receipts = ledger.settle(slot, orders, trades, metered_by_agent)

        for key, value in (
            ("bought", accounts.bought_p2p_kwh),
            ("sold", accounts.sold_p2p_kwh),
            ("contracted_bought", accounts.contracted_bought_kwh),
            ("contracted_sold", accounts.contracted_sold_kwh),
            ("penalties", accounts.penalties),
            ("imported", accounts.imported_kwh),
            ("exported", accounts.exported_kwh),
            ("bill", accounts.bill),
            ("baseline", accounts.baseline_bill),
            ("load", energy.load_kwh[:, slot]),
            ("pv", energy.pv_kwh[:, slot]),
        ):
            totals[key] += value
        slot_rows.append(
            _slot_row(scenario, slot, orders, clearing.info, clearing.price, trades, accounts)
            | quoting
            | {
                "trades_refused": len(refused),
                "losers_told": sum(not f.won for f in feedback),
                "winners_quoted": sum(f.won for f in feedback),
            }
            | _grid_row(result)
            | {
                "transactions": len(receipts),
                "gas_used": sum(r.gas_used for r in receipts),
            }
        )
        trade_rows.extend(
            _trade_row(scenario, t)
            | {"distance_m": feeder_distances.between(bus_of[t.buyer], bus_of[t.seller])}
            for t in trades
        )
        if on_slot is not None:
            on_slot(slot + 1, energy.n_slots)

    slots = pd.DataFrame(slot_rows)
    bills = _bills_frame(households, totals, ledger)
    trades_frame = pd.DataFrame(trade_rows, columns=_TRADE_COLUMNS)
    summary = summarise(scenario, slots, bills, violations, ledger, trades_frame)
    watch.seconds["total"] = time.perf_counter() - started
    return RunResult(
        scenario=scenario,
        households=households,
        slots=slots,
        trades=trades_frame,
        bills=bills,
        violations=pd.DataFrame(violations, columns=_VIOLATION_COLUMNS),
        summary=summary,
        timings={stage: watch.seconds.get(stage, 0.0) for stage in (*STAGES, "total")},
    )


_TRADE_COLUMNS = [
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
_VIOLATION_COLUMNS = ["slot", "kind", "element", "value", "limit"]


def _quote(
    cycle: TradingCycle,
    slot: int,
    agents: list[str],
    buses: list[int],
    forecast_kwh: np.ndarray,
    prices: PriceModel,
    rng: np.random.Generator,
    scenario: Scenario,
) -> dict[str, int]:
    """The quotation window for delivery ``slot``: orders from the forecasts, each sent at a
    minute of cycle ``slot - 1``; an order sent too late rolls to the next cycle. An agent whose
    order rolled into this slot replaces it with its new order, or withdraws it."""
    market, times = scenario.market, cycle.times
    orders = slot_orders(slot, agents, buses, forecast_kwh, prices, rng, market.min_order_kwh)
    sent_at = submission_minutes(
        len(orders), rng, times.quotation_end, times.slot_minutes, market.late_order_share
    )
    cycle_start = (slot - 1) * times.slot_minutes
    # Only orders that rolled in from the last cycle can be in this book before its quotation.
    rolled_in = {o.agent: o.id for o in cycle.orders(slot)}
    quoting = set()
    late = replaced = 0
    for k in np.argsort(sent_at, kind="stable"):
        order = dataclasses.replace(orders[k], submitted_at=int(sent_at[k] * 60))
        submission = cycle.submit(order, cycle_start + float(sent_at[k]))
        late += submission.rolled
        replaced += submission.replaced is not None
        if not submission.rolled:
            quoting.add(order.agent)
    withdrawn = [i for agent, i in rolled_in.items() if agent not in quoting]
    for order_id in withdrawn:
        cycle.withdraw(order_id)
    return {"late_orders": late, "rolled_replaced": replaced, "rolled_withdrawn": len(withdrawn)}


def _open_ledger(
    scenario: Scenario, agents: list[str], buses: list[int], distances: DistanceMatrix
) -> Settlement:
    from peergrid.sim.settlement import BatchSettlement, LedgerSettlement

    section = scenario.ledger
    if section.market == "batch":
        market = scenario.market
        return BatchSettlement.open(
            agents,
            section.deposit_per_member,
            scenario.tariffs.network_fee_per_kwh,
            market.penalty_per_kwh,
            distance_charge_per_m(market.mechanism, market.params),
            buses,
            distances,
        )
    return LedgerSettlement.open(agents, section.deposit_per_member)


def slot_start(scenario: Scenario, slot: int) -> dt.datetime:
    start = dt.datetime.combine(scenario.time.start, dt.time())
    return start + dt.timedelta(minutes=scenario.time.slot_minutes * slot)


def _slot_row(
    scenario: Scenario,
    slot: int,
    orders: list[Any],
    info: Any,
    price: float | None,
    trades: list[Trade],
    accounts: MeteredAccounts,
) -> dict[str, Any]:
    buys = [o for o in orders if o.side.value == "buy"]
    sells = [o for o in orders if o.side.value == "sell"]
    return {
        "slot": slot,
        "time": slot_start(scenario, slot).isoformat(timespec="minutes"),
        "buy_orders": len(buys),
        "sell_orders": len(sells),
        "demand_kwh": sum(o.quantity_kwh for o in buys),
        "supply_kwh": sum(o.quantity_kwh for o in sells),
        "clearing_price": price,
        "case": info.get("case"),
        "x": info.get("x"),
        "y": info.get("y"),
        "oversupply_kwh": info.get("oversupply", info.get("theta")),
        "clipping_excess_kwh": info.get("clipping_excess_kwh", 0.0),
        "ir_violations": len(info.get("individual_rationality_violations", [])),
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


def _grid_row(result: SlotCheck | None) -> dict[str, Any]:
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


def _trade_row(scenario: Scenario, trade: Trade) -> dict[str, Any]:
    return {
        "slot": trade.slot,
        "time": slot_start(scenario, trade.slot).isoformat(timespec="minutes"),
        "buyer": trade.buyer,
        "seller": trade.seller,
        "buy_order": trade.buy_order,
        "sell_order": trade.sell_order,
        "quantity_kwh": trade.quantity_kwh,
        "price": trade.price,
        "value": trade.value,
        "grid_fee": trade.grid_fee,
    }


def _bills_frame(
    households: list[Household], totals: dict[str, np.ndarray], ledger: Settlement | None
) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "household": [h.id for h in households],
            "bus": [h.bus for h in households],
            "load_profile": [h.load_profile for h in households],
            "annual_consumption_kwh": [h.annual_consumption_kwh for h in households],
            "pv_kwp": [h.pv_kwp for h in households],
            "consumption_kwh": totals["load"],
            "pv_kwh": totals["pv"],
            "contracted_bought_kwh": totals["contracted_bought"],
            "contracted_sold_kwh": totals["contracted_sold"],
            "bought_p2p_kwh": totals["bought"],
            "sold_p2p_kwh": totals["sold"],
            "penalties": totals["penalties"],
            "imported_kwh": totals["imported"],
            "exported_kwh": totals["exported"],
            "bill": totals["bill"],
            "baseline_bill": totals["baseline"],
        }
    )
    frame["bill_change"] = frame["bill"] - frame["baseline_bill"]
    if ledger is not None:
        balances = ledger.balances_micro()
        deposit = ledger.member_deposit_micro()
        frame["ledger_net_micro"] = [balances[h.id] - deposit for h in households]
    return frame
