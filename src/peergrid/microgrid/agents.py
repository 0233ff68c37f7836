"""The chapter's agents (001b_book.md §10.2) and how they talk: through the ledger.

Organisation 1, the operating system: :class:`Operator` (MGO), :class:`EventListener` (BEL),
:class:`MarketCrawler` (MCA), :class:`EnergyInjector` (EIA). Organisation 3, the transaction
manager: :class:`SaleAgent` (SA), :class:`BuyerAgent` (BA), :class:`BatteryAudit` (BAA),
:class:`EnergyAudit` (EAA). Organisation 4, the device drivers: :class:`DeviceDrivers` (EPA, ECA
and BSA, whose logs of one sample time go in one transaction). Organisation 2 is
:mod:`peergrid.microgrid.forecast`.

Every write is a transaction on ``MicrogridAuction.vy``; every receipt goes to the listener,
which hands each event to the agent it concerns (the operator for anomalies, buyer agents for
``Outbid`` and ``Winner``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.base import Receipt
from peergrid.ledger.markets.microgrid_auction import (
    MicrogridLedger,
    lot_value,
    packed_log,
    price_units,
    wh,
)
from peergrid.microgrid.config import MicrogridParameters
from peergrid.microgrid.forecast import ForecastAgent
from peergrid.microgrid.island import EntityState, Island

ANOMALIES = (
    "AtypicalProduction",
    "ConsumptionPeak",
    "MaintenanceNeeded",
    "TokenisedEnergyUsed",
    "FlowMismatch",
    "Imbalance",
)
AUDIT_FAILURES = ("FlowMismatch", "TokenisedEnergyUsed")


@dataclass
class OpenLot:
    """A lot as the agents see it from the ledger's events."""

    id: int
    seller: EntityState
    quantity_wh: int
    price: int
    deadline_min: int
    top_bidder: EntityState | None = None
    top_price: int = 0

    @property
    def asking(self) -> int:
        return self.top_price if self.top_bidder is not None else self.price


@dataclass
class LotRecord:
    """A finished lot, for the report."""

    id: int
    seller: str
    buyer: str
    quantity_kwh: float
    price: float
    minute: int
    metered_kwh: float


@dataclass
class Market:
    """What the transaction manager's agents share: the ledger, the open lots by id, the sold
    ones, and the operator's sales."""

    ledger: MicrogridLedger
    parameters: MicrogridParameters
    open_lots: dict[int, OpenLot] = field(default_factory=dict)
    sold: list[LotRecord] = field(default_factory=list)
    operator_sales_kwh: float = 0.0
    prices: list[tuple[int, float]] = field(default_factory=list)


class EventListener:
    """BEL: reads every receipt's events and informs the agent each concerns."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.handlers: dict[str, list[Callable[[dict[str, object]], None]]] = {}
        self.log: list[tuple[int, str, dict[str, object]]] = []
        self.minute = 0

    def on(self, name: str, handler: Callable[[dict[str, object]], None]) -> None:
        self.handlers.setdefault(name, []).append(handler)

    def observe(self, receipt: Receipt) -> Receipt:
        for event in receipt.events:
            args = dict(event.args)
            self.counts[event.name] += 1
            if event.name in ANOMALIES:
                self.log.append((self.minute, event.name, args))
            for handler in self.handlers.get(event.name, ()):
                handler(args)
        return receipt


class Operator:
    """MGO: turns the listener's anomaly events into actions, and owns the permanent offer."""

    def __init__(
        self,
        market: Market,
        listener: EventListener,
        forecast: ForecastAgent,
        by_address: dict[str, EntityState],
        injector: EnergyInjector,
    ) -> None:
        self.market = market
        self.forecast = forecast
        self.by_address = by_address
        self.injector = injector
        self.actions: Counter[str] = Counter()
        listener.on("AtypicalProduction", self._atypical)
        listener.on("MaintenanceNeeded", self._maintenance)
        listener.on("FlowMismatch", self._audit_failed)
        listener.on("TokenisedEnergyUsed", self._audit_failed)
        listener.on("ConsumptionPeak", self._alert)
        listener.on("Imbalance", self._alert)
        self.listener = listener

    def _atypical(self, args: dict[str, object]) -> None:
        # the station may be faulty: its data leave the predictions
        self.forecast.excluded.add(self.by_address[str(args["entity"])].index)
        self.actions["exclude from forecasts"] += 1

    def _maintenance(self, args: dict[str, object]) -> None:
        self.by_address[str(args["entity"])].maintenance = True
        self.actions["battery to maintenance"] += 1

    def _audit_failed(self, args: dict[str, object]) -> None:
        entity = self.by_address[str(args.get("seller", args.get("entity")))]
        if not entity.suspended:
            entity.suspended = True
            self.listener.observe(self.market.ledger.suspend(entity.address))
            self.actions["suspend seller"] += 1

    def _alert(self, args: dict[str, object]) -> None:
        self.injector.alert = True
        self.actions["alert the energy injector"] += 1


class MarketCrawler:
    """MCA: predicts the upstream price (with the forecast agent) and informs the EIA."""

    def __init__(self, forecast: ForecastAgent) -> None:
        self.forecast = forecast
        self.reference = forecast.mean_price()

    def cheap_ahead(self, minute: int) -> bool:
        return self.forecast.price_ahead(minute) < self.reference


class EnergyInjector:
    """EIA: buys from outside into the operator's storage when the island's stored energy runs
    low, when alerted by the operator, or when the crawler predicts a cheap hour."""

    def __init__(self, parameters: MicrogridParameters, price: NDArray[np.float64]) -> None:
        self.parameters = parameters
        self.price = price
        self.alert = False
        self.cheap = False
        self.cost = 0.0

    def act(self, island: Island, minute: int) -> None:
        p = self.parameters
        capacity = p.operator_storage_kwh
        level = island.buffer_kwh
        target = 0.0
        if level < p.import_low_soc * capacity or self.alert or self.cheap:
            target = p.import_high_soc * capacity
        kwh = min(max(target - level, 0.0), p.import_limit_kw / 60.0)
        if kwh > 0:
            island.import_energy(minute, kwh)
            self.cost += kwh * float(self.price[minute])
        if level >= p.import_high_soc * capacity:
            self.alert = False


class DeviceDrivers:
    """EPA, ECA and BSA: one log per entity per sample time (production and consumption over
    the interval, stored energy and maximum capacity now), all in one transaction."""

    def __init__(self, ledger: MicrogridLedger, listener: EventListener, island: Island) -> None:
        self.ledger = ledger
        self.listener = listener
        self.island = island
        self.step = 0

    def log(self) -> None:
        island = self.island
        self.step += 1
        logs = [
            packed_log(
                wh(float(island.produced_kwh[e.index])),
                wh(float(island.consumed_kwh[e.index])),
                wh(e.stored_kwh),
                wh(e.max_capacity_kwh),
            )
            for e in island.entities
        ]
        self.listener.observe(self.ledger.log_step(self.step, logs))
        island.produced_kwh[:] = 0.0
        island.consumed_kwh[:] = 0.0


class BatteryAudit:
    """BAA: what a seller's battery holds on the ledger (its last BSA log), and the lock on
    tokenised energy, mirrored from the offers the ledger accepted."""

    def __init__(self, ledger: MicrogridLedger) -> None:
        self.ledger = ledger

    def holds(self, seller: EntityState, quantity_wh: int) -> bool:
        return self.ledger.entity(seller.address).stored_wh >= quantity_wh

    def free_wh(self, seller: EntityState) -> int:
        """What the seller's battery holds beyond its tokenised lots, on the ledger."""
        return self.ledger.free_energy(seller.address)

    def lock(self, seller: EntityState, quantity_wh: int) -> None:
        seller.locked_kwh += quantity_wh / 1000.0

    def unlock(self, seller: EntityState, quantity_wh: int) -> None:
        seller.locked_kwh = max(seller.locked_kwh - quantity_wh / 1000.0, 0.0)


class EnergyAudit:
    """EAA: the metered flow of each delivered lot, logged on the ledger (its meter misreports
    by the seller's ``meter_error``)."""

    def __init__(self, ledger: MicrogridLedger, listener: EventListener) -> None:
        self.ledger = ledger
        self.listener = listener
        self.pending: list[tuple[int, int]] = []

    def metered(self, lot: int, seller: EntityState, flow_kwh: float) -> None:
        self.pending.append((lot, wh(flow_kwh * (1.0 + seller.spec.meter_error))))

    def flush(self) -> None:
        if self.pending:
            for receipt in self.ledger.record_deliveries(self.pending):
                self.listener.observe(receipt)
            self.pending = []


class SaleAgent:
    """SA of every producing entity with a battery: offers lots only for predicted surplus, keeps
    what the entity needs, closes lots at their deadline and lowers an unsold lot's price."""

    def __init__(self, market: Market, listener: EventListener, audit: BatteryAudit) -> None:
        self.market = market
        self.listener = listener
        self.audit = audit

    def surplus_kwh(self, entity: EntityState, produced_kwh: float, consumed_kwh: float) -> float:
        """What the entity can offer now: predicted production beyond predicted consumption,
        plus its free stored energy, less the share of its battery it keeps, and never more than
        its battery holds free now (a lot is tokenised battery energy). 0: no offer (AC10-2)."""
        keep = self.market.parameters.reserve_soc * entity.max_capacity_kwh
        surplus = entity.free_kwh - keep + produced_kwh - consumed_kwh
        return max(min(surplus, entity.free_kwh - keep), 0.0)

    def offer(self, entity: EntityState, surplus_kwh: float, minute: int) -> None:
        p = self.market.parameters
        if entity.suspended or entity.maintenance or surplus_kwh < p.min_lot_kwh:
            return  # no predicted surplus: no offer (AC10-2)
        price = price_units(p.operator_price * p.initial_price_ratio)
        # the ledger knows the battery from its last log (the BAA's audit): never offer more
        # than it holds free there, nor more than it holds now
        on_ledger = self.audit.free_wh(entity) / 1000.0
        left = min(surplus_kwh, on_ledger - p.reserve_soc * entity.max_capacity_kwh)
        listed = sum(1 for lot in self.market.open_lots.values() if lot.seller is entity)
        while left >= p.min_lot_kwh and listed < p.max_open_lots:
            listed += 1
            quantity = int(min(left, p.max_lot_kwh) * 1000)  # rounded down: never above
            lot = self.market.ledger.offer(entity.address, quantity, price, p.lot_duration_min * 60)
            self.audit.lock(entity, quantity)
            self.market.open_lots[lot] = OpenLot(
                lot, entity, quantity, price, minute + p.lot_duration_min
            )
            left -= quantity / 1000.0

    def close_due(
        self, minute: int, buyers: dict[str, BuyerAgent], island: Island, eaa: EnergyAudit
    ) -> None:
        """Close every lot past its deadline: the highest bid wins; a refusal passes the lot on;
        a lot nobody takes is re-offered cheaper, or withdrawn at the floor price."""
        p = self.market.parameters
        ledger = self.market.ledger
        floor = price_units(p.operator_price * p.floor_price_ratio)
        for lot in [x for x in self.market.open_lots.values() if x.deadline_min <= minute]:
            winners = []
            if lot.top_bidder is not None:  # else re-offer or withdraw close it on the way
                receipt = self.listener.observe(ledger.close(lot.seller.address, lot.id))
                winners = receipt.events_named("Winner")
            while winners:
                winner = dict(winners[0].args)
                buyer = buyers[str(winner["bidder"])]
                if buyer.wants(lot, int(winner["price"])):
                    self.listener.observe(ledger.accept(buyer.entity.address, lot.id))
                    flow = island.deliver(lot.seller, buyer.entity, lot.quantity_wh / 1000.0)
                    eaa.metered(lot.id, lot.seller, flow)
                    self.audit.unlock(lot.seller, lot.quantity_wh)
                    self.market.sold.append(
                        LotRecord(
                            lot.id,
                            lot.seller.spec.name,
                            buyer.entity.spec.name,
                            lot.quantity_wh / 1000.0,
                            int(winner["price"]) / 1e6,
                            minute,
                            flow,
                        )
                    )
                    self.market.prices.append((minute, int(winner["price"]) / 1e6))
                    break
                receipt = self.listener.observe(ledger.refuse(buyer.entity.address, lot.id))
                winners = receipt.events_named("Winner")
            else:
                cheaper = int(lot.price * p.reoffer_ratio)
                if cheaper >= floor and not lot.seller.suspended:
                    ledger.reoffer(lot.seller.address, lot.id, cheaper, p.lot_duration_min * 60)
                    self.market.open_lots[lot.id] = OpenLot(
                        lot.id, lot.seller, lot.quantity_wh, cheaper, minute + p.lot_duration_min
                    )
                    continue
                ledger.withdraw_lot(lot.seller.address, lot.id)
                self.audit.unlock(lot.seller, lot.quantity_wh)
            del self.market.open_lots[lot.id]


class BuyerAgent:
    """BA of one entity: bids on the cheapest lots whose seller's audited battery holds them,
    rebids when outbid, and goes to the operator when what is left costs more than its offer."""

    def __init__(
        self, entity: EntityState, market: Market, listener: EventListener, audit: BatteryAudit
    ) -> None:
        self.entity = entity
        self.market = market
        self.listener = listener
        self.audit = audit
        self.need_kwh = 0.0
        self.holding: dict[int, int] = {}
        self.outbid = False

    def need(self, produced_kwh: float, consumed_kwh: float) -> float:
        """Predicted consumption beyond predicted production, usable battery and energy already
        bought or bid for."""
        e = self.entity
        keep = self.market.parameters.reserve_soc * e.max_capacity_kwh
        usable = max(e.free_kwh - keep, 0.0)
        pending = sum(self.holding.values()) / 1000.0
        return max(consumed_kwh - produced_kwh - usable - e.credit_kwh - pending, 0.0)

    def on_outbid(self, lot: int) -> None:
        if lot in self.holding:
            del self.holding[lot]
            self.outbid = True

    def wants(self, lot: OpenLot, price: int) -> bool:
        """At the deadline: take the lot if the seller's battery still holds it (the BA's audit)
        and the money is there; else refuse."""
        self.holding.pop(lot.id, None)
        money = self.market.ledger.balance(self.entity.address)
        return money >= lot_value(price, lot.quantity_wh) and self.audit.holds(
            lot.seller, lot.quantity_wh
        )

    def search(self, need_kwh: float) -> None:
        """Bid through the lots cheapest first until the need is covered (AC10-3, AC10-6)."""
        p = self.market.parameters
        ledger = self.market.ledger
        operator = price_units(p.operator_price)
        increment = price_units(p.bid_increment)
        left = need_kwh
        lots = sorted(self.market.open_lots.values(), key=lambda x: (x.asking, x.id))
        for lot in lots:
            if left <= 0:
                return
            if lot.seller is self.entity or lot.top_bidder is self.entity:
                continue
            price = lot.price if lot.top_bidder is None else lot.top_price + increment
            if price > operator:
                break  # every lot left costs more than the operator's offer
            if not self.audit.holds(lot.seller, lot.quantity_wh):
                continue  # the seller's battery does not hold the lot: next offer
            try:
                self.listener.observe(ledger.bid(self.entity.address, lot.id, price))
            except LedgerError:
                continue  # e.g. not enough money for this lot
            lot.top_bidder, lot.top_price = self.entity, price
            self.holding[lot.id] = lot.quantity_wh
            left -= lot.quantity_wh / 1000.0
        if left >= p.min_lot_kwh:
            self.buy_from_operator(left)

    def buy_from_operator(self, kwh: float) -> None:
        quantity = wh(kwh)
        if quantity <= 0:
            return
        try:
            self.listener.observe(
                self.market.ledger.buy_from_operator(self.entity.address, quantity)
            )
        except LedgerError:
            return  # no money left: the operator balances and bills what it can
        self.entity.credit_kwh += quantity / 1000.0
        self.market.operator_sales_kwh += quantity / 1000.0

    def pay_balancing(self) -> None:
        """What the operator balanced for the entity since the last round, bought from its
        offer (which executes at once)."""
        kwh = self.entity.balancing_kwh
        self.entity.balancing_kwh = 0.0
        quantity = wh(kwh)
        if quantity > 0:
            try:
                self.listener.observe(
                    self.market.ledger.buy_from_operator(self.entity.address, quantity)
                )
                self.market.operator_sales_kwh += quantity / 1000.0
            except LedgerError:
                pass
