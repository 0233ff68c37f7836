"""The islanded microgrid as a discrete-event simulation (SimPy), its agents on the ledger.

Three processes share SimPy's clock (in minutes):

* the device drivers, every minute at ``m``: the island's physics of minute ``m``, and at every
  sample time (``log_interval_min``) one log transaction of every entity (EPA, ECA, BSA);
* the auction, every round at ``m + 0.5`` (after that minute's physics): sale agents close due
  lots (winner, refusals, delivery and its audit, re-offers), buyer agents pay the operator's
  balancing, the forecast agent predicts the next hour for everyone, sale agents offer, buyer
  agents bid (and rebid when the listener tells them they were outbid) or go to the operator;
* the energy injector, every minute at ``m + 0.75``, informed by the market crawler each round.

The embedded chain's clock moves with SimPy's, so lots' deadlines are block times.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy
from numpy.typing import NDArray

from peergrid.ledger.chain.embedded import EmbeddedChain
from peergrid.ledger.markets.microgrid_auction import MicrogridLedger, price_units, wh
from peergrid.microgrid.agents import (
    ANOMALIES,
    AUDIT_FAILURES,
    BatteryAudit,
    BuyerAgent,
    DeviceDrivers,
    EnergyAudit,
    EnergyInjector,
    EventListener,
    LotRecord,
    Market,
    MarketCrawler,
    Operator,
    SaleAgent,
)
from peergrid.microgrid.config import MicrogridScenario
from peergrid.microgrid.forecast import ForecastAgent
from peergrid.microgrid.island import EntityState, Island, MinuteTotals
from peergrid.microgrid.profiles import load_kw, production_kw, wholesale_price

ATYPICAL_FACTOR = 10.0
"""A faulty production sensor reads ten times the station's rating for a minute: above what
the station can produce over any sample time of up to nine minutes."""

MAX_REBID_PASSES = 5
"""Buyers outbid in a round may rebid; five passes end any bidding war within a round."""


@dataclass
class MicrogridResult:
    """A run: the island minute by minute, the lots sold, the events and the operator's actions."""

    scenario: MicrogridScenario
    totals: MinuteTotals
    lots: list[LotRecord]
    event_counts: Counter[str]
    anomalies: list[tuple[int, str, dict[str, object]]]
    actions: Counter[str]
    operator_sales_kwh: float
    import_cost: float
    balances: dict[str, float]
    deposited: float
    transactions: int
    prices: list[tuple[int, float]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The headline: exactly ``lots_sold``, ``energy_imported_kwh``, ``unserved_kwh``,
        ``audits_failed`` and ``events`` (anomaly events raised, by name)."""
        return {
            "lots_sold": len(self.lots),
            "energy_imported_kwh": round(float(self.totals.imported.sum()), 3),
            "unserved_kwh": round(float(self.totals.unserved.sum()), 3),
            "audits_failed": sum(self.event_counts[name] for name in AUDIT_FAILURES),
            "events": {name: count for name, count in sorted(self.event_counts.items())},
        }


def _profiles(
    scenario: MicrogridScenario, day: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    p = scenario.microgrid
    minutes = p.minutes if day == 0 else 1440
    production = np.array(
        [production_kw(e, i, p.seed, day, minutes) for i, e in enumerate(scenario.entities)]
    )
    load = np.array([load_kw(e, i, p.seed, day, minutes) for i, e in enumerate(scenario.entities)])
    if day == 0:
        for i, e in enumerate(scenario.entities):
            for minute in e.atypical_minutes:
                production[i, minute] = ATYPICAL_FACTOR * e.generation_kw  # a faulty sensor
    return production, load


def run_microgrid(scenario: MicrogridScenario) -> MicrogridResult:
    """Run the scenario on a fresh embedded chain."""
    p = scenario.microgrid
    chain = EmbeddedChain()
    operator = chain.new_account("operator")
    meter = chain.new_account("meter")
    ledger = MicrogridLedger.deploy(
        chain,
        operator=operator,
        meter=meter,
        operator_price=price_units(p.operator_price),
        supply_micro=10**18,
    )
    ledger.set_thresholds(p.peak_ratio_percent, wh(p.peak_margin_kwh), wh(p.imbalance_kwh))
    log_hours = p.log_interval_min / 60.0
    entities: list[EntityState] = []
    for index, spec in enumerate(scenario.entities):
        address = chain.new_account(spec.name)
        # rated production of one log interval; a diesel's generator has its rating too
        ledger.register(
            address, wh(spec.generation_kw * log_hours), wh(spec.maintenance_threshold_kwh)
        )
        ledger.fund(address, price_units(p.funds))
        entities.append(
            EntityState(spec, index, address, spec.battery_initial_kwh, spec.battery_kwh)
        )
    by_address = {e.address: e for e in entities}

    history = [_profiles(scenario, -day) for day in range(1, p.history_days + 1)]
    prices = [wholesale_price(p.seed, -day, 1440) for day in range(1, p.history_days + 1)]
    forecast = ForecastAgent(scenario.entities, p.horizon_min).fit(
        [h[0] for h in history], [h[1] for h in history], prices
    )
    production, load = _profiles(scenario, 0)
    island = Island(p, entities, production, load)
    price_today = wholesale_price(p.seed, 0, p.minutes)

    listener = EventListener()
    market = Market(ledger, p)
    injector = EnergyInjector(p, price_today)
    crawler = MarketCrawler(forecast)
    mgo = Operator(market, listener, forecast, by_address, injector)
    drivers = DeviceDrivers(ledger, listener, island)
    baa = BatteryAudit(ledger)
    eaa = EnergyAudit(ledger, listener)
    sale = SaleAgent(market, listener, baa)
    buyers = {e.address: BuyerAgent(e, market, listener, baa) for e in entities}
    listener.on("Outbid", lambda args: buyers[str(args["bidder"])].on_outbid(int(str(args["lot"]))))

    env = simpy.Environment()

    def devices() -> Generator[simpy.Event, Any, None]:
        for minute in range(p.minutes):
            listener.minute = minute
            island.step(minute)
            if (minute + 1) % p.log_interval_min == 0:
                drivers.log()
            chain.advance_time(60)
            yield env.timeout(1)

    def auction() -> Generator[simpy.Event, Any, None]:
        yield env.timeout(0.5)
        for minute in range(0, p.minutes, p.round_min):
            if minute > 0:
                yield env.timeout(p.round_min)
            listener.minute = minute
            sale.close_due(minute, buyers, island, eaa)
            eaa.flush()
            for buyer in buyers.values():
                buyer.pay_balancing()
            injector.cheap = crawler.cheap_ahead(minute)
            produced, consumed = forecast.energy_ahead(
                minute, island.available_kw(minute), island.load_kw[:, minute]
            )
            for e in entities:
                if e.sells:
                    sale.offer(e, sale.surplus_kwh(e, produced[e.index], consumed[e.index]), minute)
            for e in entities:
                buyer = buyers[e.address]
                need = buyer.need(produced[e.index], consumed[e.index])
                if need > 0:
                    buyer.search(need)
            for _ in range(MAX_REBID_PASSES):
                outbid = [b for b in buyers.values() if b.outbid]
                if not outbid:
                    break
                for buyer in outbid:
                    buyer.outbid = False
                    e = buyer.entity
                    need = buyer.need(produced[e.index], consumed[e.index])
                    if need > 0:
                        buyer.search(need)

    def energy_injector() -> Generator[simpy.Event, Any, None]:
        yield env.timeout(0.75)
        for minute in range(p.minutes):
            if minute > 0:
                yield env.timeout(1)
            injector.act(island, minute)
            island.close_minute(minute)

    failures: list[BaseException] = []

    def guarded(process: Generator[simpy.Event, Any, None]) -> Generator[simpy.Event, Any, None]:
        # SimPy rebuilds a failed process's exception from its args, which loses a
        # LedgerError's fields: keep the original and raise it after the run
        try:
            yield from process
        except Exception as exc:
            failures.append(exc)

    for process in (devices(), auction(), energy_injector()):
        env.process(guarded(process))
    env.run()
    if failures:
        raise failures[0]
    eaa.flush()

    accounts = [operator, *(e.address for e in entities)]
    return MicrogridResult(
        scenario=scenario,
        totals=island.totals,
        lots=market.sold,
        event_counts=Counter({k: v for k, v in listener.counts.items() if k in ANOMALIES}),
        anomalies=listener.log,
        actions=mgo.actions,
        operator_sales_kwh=market.operator_sales_kwh,
        import_cost=injector.cost,
        balances={
            ("operator" if a == operator else by_address[a].spec.name): ledger.balance(a) / 1e6
            for a in accounts
        },
        deposited=len(entities) * p.funds,
        transactions=len(chain.gas_log),
        prices=market.prices,
    )
