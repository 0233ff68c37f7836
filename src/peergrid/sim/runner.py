"""Running a scenario: profiles -> orders -> clearing -> accounts -> power flow -> ledger.

With ``[ancillary]`` enabled, every hour also has its ancillary-service sessions
(:mod:`peergrid.sim.ancillary.sessions`), run after the hour's last slot, beside the energy
market; with ``market.enabled = false`` the sessions run alone, hour by hour. With
``[ev_quota]`` enabled the EV quota day runs alone (:mod:`peergrid.sim.ev_quota.day`).

Every slot, each household forms its order from its forecast, the trading cycle clears, what
the ledger would refuse is voided, what is not matched goes to the supplier, the slot's
injections are checked with an AC power flow and the trades are settled on chain. The slot's
rows (the slot, its trades, its grid violations) are streamed to disk by chunks
(:mod:`peergrid.sim.tables`): memory does not grow with the number of slots beyond the year's
profiles and power flows. The wall time of each stage is measured for the benchmark
("writing": the rows kept and the summary read back from them).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from peergrid.assets.household import EnergySeries, Household, household_energy
from peergrid.assets.profiles import load_profile_library
from peergrid.core.trades import Trade
from peergrid.grid.distance import DistanceMatrix, distance_matrix
from peergrid.grid.feeders import Feeder, GridLimits, load_feeder
from peergrid.grid.powerflow import FeederEnvelope, PowerFlowCheck, SlotCheck
from peergrid.ledger import Chain, open_chain
from peergrid.mechanisms.registry import MechanismSpec, distance_charge_per_m, mechanism_spec
from peergrid.platform.cycle import CycleTimes, TradingCycle
from peergrid.platform.settlement import MarketSetup, Settlement, open_settlement
from peergrid.sim.accounting import delivered_kwh, metered_accounts
from peergrid.sim.ancillary.sessions import HourlySessions
from peergrid.sim.ancillary.shouts import feeder_devices
from peergrid.sim.behaviour import (
    PriceModel,
    forecast_net,
    household_order,
    order_terms,
    submission_minutes,
)
from peergrid.sim.ev_quota.day import EvQuotaDay, run_ev_quota_day
from peergrid.sim.ev_quota.totals import ev_quota_figures
from peergrid.sim.metrics import summarise
from peergrid.sim.population import place_households
from peergrid.sim.rows import grid_row, slot_row, trade_row
from peergrid.sim.scenario import Scenario
from peergrid.sim.services.run import ServicesRun
from peergrid.sim.tables import RunTables
from peergrid.sim.totals import HouseholdTotals

SlotCallback = Callable[[int, int], None]
STAGES = ("profiles", "clearing", "power flow", "ledger", "sessions", "writing")


@dataclass
class RunResult:
    """A run's results. The households' bills and the summary are in memory; the per-slot,
    per-trade and violation tables were streamed to disk during the run (``tables``) and are
    read back each time :attr:`slots`, :attr:`trades` or :attr:`violations` is asked for: keep
    the frame if you use it twice. For a year with trades, prefer the columns you need
    (``result.tables.trades.frame(["price", "quantity_kwh"])``) or the chunks
    (``result.tables.trades.chunks()``)."""

    scenario: Scenario
    households: list[Household]
    bills: pd.DataFrame
    summary: dict[str, Any]
    tables: RunTables
    timings: dict[str, float] = field(default_factory=dict)
    grid_envelope: FeederEnvelope | None = None
    """Each bus's lowest and highest voltage and each line's highest loading over the run."""
    ledger: Settlement | None = None
    """The settlement the run used: its contracts and accounts, readable while the chain is open
    (a chain given to :func:`run_scenario` stays open; one the run opened is closed)."""
    ev_quota: EvQuotaDay | None = None
    """The EV quota day's tables (per period, per EV, the auction's trades), when it ran."""

    @property
    def slots(self) -> pd.DataFrame:
        return self.tables.slots.frame()

    @property
    def trades(self) -> pd.DataFrame:
        return self.tables.trades.frame()

    @property
    def violations(self) -> pd.DataFrame:
        return self.tables.violations.frame()

    @property
    def sessions(self) -> pd.DataFrame:
        return self.tables.sessions.frame()

    @property
    def session_trades(self) -> pd.DataFrame:
        return self.tables.session_trades.frame()

    @property
    def has_sessions(self) -> bool:
        """Whether the run had ancillary-service sessions."""
        return self.scenario.ancillary.enabled


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


@dataclass
class _Community:
    """Who trades where, and what they consume and produce over the run."""

    feeder: Feeder
    households: list[Household]
    energy: EnergySeries
    forecast_kwh: np.ndarray  # households x slots, net (positive: surplus)
    actual_kwh: np.ndarray  # households x slots, net, as metered
    distances: DistanceMatrix  # path lengths between buses, metres

    @cached_property
    def agents(self) -> list[str]:
        return [h.id for h in self.households]

    @cached_property
    def buses(self) -> list[int]:
        return [h.bus for h in self.households]


def run_scenario(
    scenario: Scenario, on_slot: SlotCallback | None = None, *, chain: Chain | None = None
) -> RunResult:
    """Run ``scenario`` from its first to its last slot.

    The ledger runs on ``chain`` when given, else on the node at ``ledger.rpc``, else on the
    chain ``ledger.chain`` names (``auto``: a private anvil when installed, else py-evm).
    """
    watch = _Stopwatch()
    started = time.perf_counter()
    if scenario.ev_quota.enabled:
        return _run_ev_quota_alone(scenario, on_slot, watch, started)
    if not scenario.market.enabled:
        return _run_sessions_alone(scenario, on_slot, watch, started, chain)
    rng = np.random.default_rng(scenario.seed)
    spec = mechanism_spec(scenario.market.mechanism)
    with ExitStack() as opened:
        if (scenario.ledger.enabled or scenario.ancillary_on_chain) and chain is None:
            # Opened first, so that a node that does not answer fails the run before any work;
            # the run opened it, the run closes it.
            chain = opened.enter_context(_open_chain(scenario))
        community = _community(scenario, rng, watch)
        grid_checks, envelope = _check_grid(scenario, community, watch)
        services = _services(scenario, community, watch)
        if services is not None:
            # The pool sees the households' meters net of their OTC contracts (the forecasts
            # too: the contracts are known before the orders); the grid saw the physical flows.
            community = replace(
                community,
                forecast_kwh=services.pool_net(community.forecast_kwh),
                actual_kwh=services.pool_net(community.actual_kwh),
            )
        run = _SlotRun(scenario, spec, community, rng)
        ledger: Settlement | None = None
        if chain is not None and scenario.ledger.enabled:
            with watch.stage("ledger"):
                ledger = _open_settlement(scenario, community, chain)
        with watch.stage("ledger"):
            sessions = _sessions(scenario, community.feeder, run.tables, chain)
        slots_per_hour = 60 // scenario.time.slot_minutes  # checked at load when sessions run
        n_slots = community.energy.n_slots
        for slot in range(n_slots):
            run.step(slot, ledger, grid_checks[slot] if grid_checks else None, watch)
            if services is not None:
                with watch.stage("services"):
                    services.after_slot(slot, run.last_price, run.last_trades)
            if sessions is not None and (slot + 1) % slots_per_hour == 0:
                with watch.stage("sessions"):
                    first = slot + 1 - slots_per_hour
                    draws = _households_draw_kw(community, first, slot + 1)
                    sessions.run_hour(slot // slots_per_hour, draws)
            if on_slot is not None:
                on_slot(slot + 1, n_slots)

        bills = run.totals.frame(community.households)
        if ledger is not None:
            balances = ledger.balances_micro()
            deposit = ledger.member_deposit_micro()
            bills["ledger_net_micro"] = [balances[h.id] - deposit for h in community.households]
        tables = run.tables
        with watch.stage("writing"):
            # The summary from the tables read back: the slots whole (one row a slot), of the
            # trades and violations only the columns it needs.
            summary = summarise(
                scenario,
                tables.slots.frame(),
                bills,
                tables.violations.frame(["kind"]),
                ledger,
                tables.trades.frame(["distance_m", "quantity_kwh"]),
                tables.sessions.frame() if sessions is not None else None,
            )
            if services is not None:
                summary |= services.summary()
    watch.seconds["total"] = time.perf_counter() - started
    stages = (*STAGES, "services") if services is not None else STAGES
    return RunResult(
        scenario=scenario,
        households=community.households,
        bills=bills,
        summary=summary,
        tables=tables,
        timings={stage: watch.seconds.get(stage, 0.0) for stage in (*stages, "total")},
        grid_envelope=envelope,
        ledger=ledger,
    )


def _run_sessions_alone(
    scenario: Scenario,
    on_slot: SlotCallback | None,
    watch: _Stopwatch,
    started: float,
    chain: Chain | None,
) -> RunResult:
    """The ancillary-service sessions without the energy market: no households, no energy
    tables; ``on_slot(done, total)`` counts hours. On chain, on ``chain`` when given, else on
    the one the scenario's ``[ledger]`` names (opened and closed here)."""
    with ExitStack() as opened:
        if scenario.ancillary_on_chain and chain is None:
            chain = opened.enter_context(_open_chain(scenario))
        feeder = load_feeder(scenario.feeder.name)
        tables = RunTables()
        with watch.stage("ledger"):
            sessions = _sessions(scenario, feeder, tables, chain)
        assert sessions is not None  # the scenario refuses a run with nothing to do
        hours = scenario.time.days * 24
        for hour in range(hours):
            with watch.stage("sessions"):
                sessions.run_hour(hour)
            if on_slot is not None:
                on_slot(hour + 1, hours)
    bills = HouseholdTotals.zeros(0).frame([])
    with watch.stage("writing"):
        summary = summarise(
            scenario,
            tables.slots.frame(),
            bills,
            tables.violations.frame(),
            None,
            tables.trades.frame(),
            tables.sessions.frame(),
        )
    watch.seconds["total"] = time.perf_counter() - started
    return RunResult(
        scenario=scenario,
        households=[],
        bills=bills,
        summary=summary,
        tables=tables,
        timings={stage: watch.seconds.get(stage, 0.0) for stage in (*STAGES, "total")},
    )


def _run_ev_quota_alone(
    scenario: Scenario, on_slot: SlotCallback | None, watch: _Stopwatch, started: float
) -> RunResult:
    """The EV quota day alone, off chain: ``on_slot(done, total)`` counts its 48 periods; the
    AC check's violations under quota trading go to the violations table."""
    with watch.stage("clearing"):
        day = run_ev_quota_day(scenario, on_slot)
    tables = RunTables()
    for violation in day.violations:
        tables.violations.append(violation.to_dict())
    bills = HouseholdTotals.zeros(0).frame([])
    with watch.stage("writing"):
        summary = summarise(
            scenario,
            tables.slots.frame(),
            bills,
            tables.violations.frame(),
            None,
            tables.trades.frame(),
        )
        summary |= ev_quota_figures(scenario, day)
    watch.seconds["total"] = time.perf_counter() - started
    return RunResult(
        scenario=scenario,
        households=day.households,
        bills=bills,
        summary=summary,
        tables=tables,
        timings={stage: watch.seconds.get(stage, 0.0) for stage in (*STAGES, "total")},
        ev_quota=day,
    )


def _sessions(
    scenario: Scenario, feeder: Feeder, tables: RunTables, chain: Chain | None
) -> HourlySessions | None:
    if not scenario.ancillary.enabled:
        return None
    on_chain = chain if scenario.ancillary_on_chain else None
    return HourlySessions(scenario, feeder, tables.sessions, tables.session_trades, on_chain)


def _services(scenario: Scenario, community: _Community, watch: _Stopwatch) -> ServicesRun | None:
    if scenario.services is None:
        return None
    with watch.stage("services"):
        return ServicesRun(
            scenario,
            community.feeder,
            community.households,
            community.energy.pv_kwh,
            community.actual_kwh,
        )


def _households_draw_kw(community: _Community, first: int, stop: int) -> dict[int, float]:
    """The households' metered net power drawn at each bus over slots ``first..stop - 1``
    (kW, load convention: their mean over the hour)."""
    hours = (stop - first) * community.energy.slot_minutes / 60.0
    net = community.actual_kwh[:, first:stop].sum(axis=1)
    draws: dict[int, float] = defaultdict(float)
    for bus, kwh in zip(community.buses, net.tolist(), strict=True):
        draws[bus] -= kwh / hours
    return dict(draws)


def _community(scenario: Scenario, rng: np.random.Generator, watch: _Stopwatch) -> _Community:
    feeder = load_feeder(scenario.feeder.name)
    households = place_households(scenario.households, feeder, rng)
    with watch.stage("profiles"):
        library = load_profile_library()
        window = library.window(scenario.time.start, scenario.time.days)
        energy = household_energy(households, library, window, scenario.time.slot_minutes)
    # Path lengths along the feeder: priced by distance-aware mechanisms, reported for every trade.
    with watch.stage("clearing"):
        distances = distance_matrix(feeder)
    with watch.stage("profiles"):
        forecast = forecast_net(energy.load_kwh, energy.pv_kwh, rng, scenario.market.forecast_error)
        actual = energy.net_kwh  # a property computed afresh on each read: read it once
    return _Community(feeder, households, energy, forecast, actual, distances)


def _check_grid(
    scenario: Scenario, community: _Community, watch: _Stopwatch
) -> tuple[list[SlotCheck] | None, FeederEnvelope | None]:
    """Every slot's AC power flow, in one pass: trades move money, not electrons, so a slot's
    injections are the households' net positions whatever clears (on a feeder with devices'
    data, beside the devices' own power)."""
    grid = scenario.grid
    if not grid.power_flow:
        return None, None
    with watch.stage("power flow"):
        limits = GridLimits(
            grid.v_min_pu, grid.v_max_pu, grid.max_line_loading_pct, grid.max_trafo_loading_pct
        )
        slot_hours = scenario.time.slot_minutes / 60.0
        energy = community.energy
        p, q = (-community.actual_kwh / slot_hours).T, energy.q_kvar.T
        buses = community.buses
        devices = feeder_devices(community.feeder.name)
        if devices:
            # A feeder with devices' data (cigre-mv-vdma) keeps them as its base case: the
            # households are customers behind its substations, their power beside the devices'.
            buses = [*buses, *(d.bus for d in devices)]
            sign = np.array([1.0 if d.kind == "load" else -1.0 for d in devices])
            base_p = np.broadcast_to(sign * [d.p_kw for d in devices], (p.shape[0], len(devices)))
            base_q = np.broadcast_to(sign * [d.q_kvar for d in devices], base_p.shape)
            p, q = np.hstack([p, base_p]), np.hstack([q, base_q])
        check = PowerFlowCheck(community.feeder, buses, limits)
        return check.check_many_with_envelope(p, q)


def _open_chain(scenario: Scenario) -> Chain:
    """The node at ``ledger.rpc``, else the chain ``ledger.chain`` names: a private anvil the
    run starts and stops, the embedded EVM, or (``auto``) anvil when its binary is installed."""
    url = scenario.ledger.rpc
    return open_chain("rpc", url) if url else open_chain(scenario.ledger.chain)


def _open_settlement(scenario: Scenario, community: _Community, chain: Chain) -> Settlement:
    section, market = scenario.ledger, scenario.market
    setup = MarketSetup(
        agents=community.agents,
        deposit_per_member=section.deposit_per_member,
        fee_per_kwh=scenario.tariffs.network_fee_per_kwh,
        penalty_per_kwh=market.penalty_per_kwh,
        distance_charge_per_m=distance_charge_per_m(market.mechanism, market.params),
        buses=community.buses,
        distances=community.distances,
        salt_seed=scenario.seed,
    )
    return open_settlement(section.market, chain, setup)


class _SlotRun:
    """The trading cycle over the run's slots, and what each slot adds to the results."""

    def __init__(
        self,
        scenario: Scenario,
        spec: MechanismSpec,
        community: _Community,
        rng: np.random.Generator,
    ) -> None:
        self.scenario, self.spec, self.community, self.rng = scenario, spec, community, rng
        tariffs, market = scenario.tariffs, scenario.market
        self.prices = PriceModel(
            scenario.reference_price,
            tariffs.feed_in_per_kwh,
            tariffs.retail_per_kwh,
            market.behaviour,
        )
        self.cycle = TradingCycle(
            market.mechanism,
            params=market.params,
            distances=community.distances if spec.needs_distances else None,
            times=CycleTimes.scaled(float(scenario.time.slot_minutes)),
            penalty_per_kwh=market.penalty_per_kwh,
            network_fee_per_kwh=tariffs.network_fee_per_kwh,
        )
        self.index = {agent: i for i, agent in enumerate(community.agents)}
        self.bus_of = dict(zip(community.agents, community.buses, strict=True))
        self.totals = HouseholdTotals.zeros(len(community.households))
        self.tables = RunTables()
        # The last slot's pool price and trades, for the services settled after the pool.
        self.last_price: float | None = None
        self.last_trades: list[Trade] = []

    def step(
        self, slot: int, ledger: Settlement | None, check: SlotCheck | None, watch: _Stopwatch
    ) -> None:
        """Quote, match, void what the ledger refuses, feed back, deliver, meter, settle."""
        scenario, cycle, community = self.scenario, self.cycle, self.community
        tariffs = scenario.tariffs
        actual = community.actual_kwh[:, slot]
        with watch.stage("clearing"):
            # Quotation (cycle slot - 1): every household sends its order for this slot.
            quoting = self._quote(slot)
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
            self.last_price, self.last_trades = clearing.price, trades
            # Delivery in the slot, then the meters (settled in cycle slot + 1).
            metered = delivered_kwh(orders, trades, actual, self.index)
            accounts = metered_accounts(
                actual,
                orders,
                cycle.settle(slot, metered),
                self.index,
                tariffs.retail_per_kwh,
                tariffs.feed_in_per_kwh,
                clearing.price,
            )
        if check is not None:
            for violation in check.violations:
                self.tables.violations.append(violation.to_dict())
        receipts: tuple[Any, ...] = ()
        if ledger is not None:
            with watch.stage("ledger"):
                metered_by_agent = {o.agent: metered[o.id] for o in orders}
                receipts = ledger.settle(slot, orders, trades, metered_by_agent)

        # The slot's rows and totals: what the run keeps of it (streamed to disk by chunks).
        with watch.stage("writing"):
            energy = community.energy
            self.totals.add(accounts, energy.load_kwh[:, slot], energy.pv_kwh[:, slot])
            info = self.spec.info(clearing)
            row = (
                slot_row(scenario, slot, orders, info, clearing.price, trades, accounts)
                | quoting
                | {
                    "trades_refused": len(refused),
                    "losers_told": sum(not f.won for f in feedback),
                    "winners_quoted": sum(f.won for f in feedback),
                }
                | grid_row(check)
                | {
                    "transactions": len(receipts),
                    "gas_used": sum(r.gas_used for r in receipts),
                }
            )
            self.tables.slots.append(row)
            distances, bus_of, when = community.distances, self.bus_of, row["time"]
            for t in trades:
                metres = distances.between(bus_of[t.buyer], bus_of[t.seller])
                self.tables.trades.append(
                    trade_row(scenario, t, metres, when if t.slot == slot else None)
                )
        cycle.forget(slot)  # its results are in the rows: the cycle keeps only slots in flight

    def _quote(self, slot: int) -> dict[str, int]:
        """The quotation window for delivery ``slot``: orders from the forecasts, each sent at
        a minute of cycle ``slot - 1``; an order sent too late rolls to the next cycle. An agent
        whose order rolled into this slot replaces it with its new order, or withdraws it."""
        cycle, rng, community = self.cycle, self.rng, self.community
        market, times = self.scenario.market, cycle.times
        net = community.forecast_kwh[:, slot]
        active, selling, reserved = order_terms(net, self.prices, rng, market.min_order_kwh)
        sent_at = submission_minutes(
            len(active), rng, times.quotation_end, times.slot_minutes, market.late_order_share
        )
        cycle_start = (slot - 1) * times.slot_minutes
        # Only orders that rolled in from the last cycle can be in this book before its quotation.
        rolled_in = {o.agent: o.id for o in cycle.orders(slot)}
        quoting = set()
        late = replaced = 0
        agents, buses = community.agents, community.buses
        # Python numbers, not NumPy scalars, in the loop over orders (the same values).
        households, sells, prices = active.tolist(), selling.tolist(), reserved.tolist()
        minutes, nets = sent_at.tolist(), net.tolist()
        for k in np.argsort(sent_at, kind="stable").tolist():
            i = households[k]
            # The order as slot_orders forms it, sent at its minute (in seconds of the cycle).
            order = household_order(
                slot, agents[i], buses[i], nets[i], sells[k], prices[k], int(minutes[k] * 60)
            )
            submission = cycle.submit(order, cycle_start + minutes[k])
            late += submission.rolled
            replaced += submission.replaced is not None
            if not submission.rolled:
                quoting.add(order.agent)
        withdrawn = [i for agent, i in rolled_in.items() if agent not in quoting]
        for order_id in withdrawn:
            cycle.withdraw(order_id)
        return {
            "late_orders": late,
            "rolled_replaced": replaced,
            "rolled_withdrawn": len(withdrawn),
        }
