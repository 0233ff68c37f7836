"""The chapter's agents against the ledger (001b_book.md §10.4–10.5): AC10-2 (offers only for
predicted surplus, the prosumer keeps its need), AC10-3 (bids only where the seller's audited
battery holds the lot), AC10-4 (an outbid buyer rebids), AC10-5 (the seller lowers an unbid
lot's price), AC10-6 (the operator when the lots cost more) and AC10-7 (the battery audit blocks
the use of tokenised energy; the listener turns anomalies into the operator's actions)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from peergrid.ledger import EmbeddedChain
from peergrid.ledger.markets.microgrid_auction import (
    LotStatus,
    MicrogridLedger,
    packed_log,
    price_units,
    wh,
)
from peergrid.microgrid.agents import (
    BatteryAudit,
    BuyerAgent,
    EnergyAudit,
    EnergyInjector,
    EventListener,
    Market,
    Operator,
    SaleAgent,
)
from peergrid.microgrid.config import EntitySpec, Kind, MicrogridParameters
from peergrid.microgrid.forecast import ForecastAgent
from peergrid.microgrid.island import EntityState, Island

PARAMETERS = MicrogridParameters(minutes=60)


@dataclass
class Setup:
    chain: EmbeddedChain
    ledger: MicrogridLedger
    market: Market
    listener: EventListener
    audit: BatteryAudit
    sale: SaleAgent
    seller: EntityState
    buyers: list[EntityState]
    agents: dict[str, BuyerAgent]
    island: Island

    def log(self, step: int) -> None:
        self.listener.observe(
            self.ledger.log_step(
                step,
                [
                    packed_log(0, 0, wh(e.stored_kwh), wh(e.max_capacity_kwh))
                    for e in [self.seller, *self.buyers]
                ],
            )
        )


def _setup(seller_kwh: float = 10.0, buyers: int = 2) -> Setup:
    chain = EmbeddedChain()
    operator, meter = chain.new_account("operator"), chain.new_account("meter")
    ledger = MicrogridLedger.deploy(
        chain, operator=operator, meter=meter, operator_price=price_units(0.30), supply_micro=10**15
    )
    specs = [
        EntitySpec(
            name="seller",
            kind=Kind.PROSUMER,
            load_kw=0.5,
            generation_kw=5,
            battery_kwh=20,
            battery_initial_kwh=seller_kwh,
        )
    ] + [EntitySpec(name=f"b{i}", kind=Kind.CONSUMER, load_kw=1) for i in range(buyers)]
    entities = []
    for i, spec in enumerate(specs):
        address = chain.new_account(spec.name)
        ledger.register(address, 10_000, 0)
        ledger.fund(address, 10**8)
        entities.append(EntityState(spec, i, address, spec.battery_initial_kwh, spec.battery_kwh))
    listener = EventListener()
    market = Market(ledger, PARAMETERS)
    audit = BatteryAudit(ledger)
    agents = {e.address: BuyerAgent(e, market, listener, audit) for e in entities}
    listener.on("Outbid", lambda args: agents[str(args["bidder"])].on_outbid(int(str(args["lot"]))))
    zeros = np.zeros((len(entities), 60))
    island = Island(PARAMETERS, entities, zeros, zeros)
    setup = Setup(
        chain,
        ledger,
        market,
        listener,
        audit,
        SaleAgent(market, listener, audit),
        entities[0],
        entities[1:],
        agents,
        island,
    )
    setup.log(1)
    return setup


def test_a_seller_offers_only_predicted_surplus_and_keeps_its_own_need() -> None:
    """AC10-2."""
    s = _setup(seller_kwh=10.0)
    keep = PARAMETERS.reserve_soc * 20  # 4 kWh kept
    # 10 stored, 1 predicted in, 3 predicted out: 10 - 4 + 1 - 3 = 4 kWh
    assert s.sale.surplus_kwh(s.seller, 1.0, 3.0) == 4.0
    # predicted consumption eats everything beyond the kept share: no surplus, no lot
    assert s.sale.surplus_kwh(s.seller, 0.0, 10.0 - keep) == 0.0
    s.sale.offer(s.seller, 0.0, 0)
    assert s.ledger.lot_count() == 0
    s.sale.offer(s.seller, 4.0, 0)
    lots = [s.ledger.lot(i) for i in range(1, s.ledger.lot_count() + 1)]
    assert sum(lot.quantity_wh for lot in lots) == 4_000
    assert all(lot.quantity_wh <= wh(PARAMETERS.max_lot_kwh) for lot in lots)
    # the offered energy is tokenised: locked on the ledger and in the battery audit's mirror
    assert s.ledger.entity(s.seller.address).locked_wh == 4_000
    assert s.seller.locked_kwh == 4.0 and s.seller.free_kwh == 6.0


def test_the_battery_audit_blocks_the_use_of_tokenised_energy() -> None:
    """AC10-7 (BAA): a prosumer short of energy cannot draw the battery's tokenised lot."""
    s = _setup(seller_kwh=6.0)
    s.sale.offer(s.seller, 4.8, 0)  # reserve 4 kWh kept, 2 kWh offerable: one lot of 2 kWh
    assert s.seller.locked_kwh == 2.0
    load = np.zeros((3, 60))
    load[0, :] = 600.0  # 10 kWh a minute: far more than the battery
    island = Island(PARAMETERS, [s.seller, *s.buyers], np.zeros((3, 60)), load)
    island.buffer_kwh = 0.0
    island.step(0)
    assert s.seller.stored_kwh == 6.0 - 5.0 / 60  # one minute at the battery's 5 kW
    for minute in range(1, 60):
        island.step(minute)
    assert abs(s.seller.stored_kwh - 2.0) < 1e-9  # the tokenised 2 kWh are still there
    s.log(2)
    assert s.ledger.entity(s.seller.address).stored_wh == 2_000
    assert s.listener.counts["TokenisedEnergyUsed"] == 0


def test_buyers_skip_lots_whose_sellers_battery_does_not_hold_them() -> None:
    """AC10-3: the seller's battery drained after the offer; the buyer bids nothing there and
    goes to the operator instead."""
    s = _setup(seller_kwh=10.0)
    s.sale.offer(s.seller, 2.0, 0)
    s.seller.stored_kwh = 1.0
    s.log(2)
    buyer = s.agents[s.buyers[0].address]
    buyer.search(2.0)
    assert s.ledger.lot(1).bid_count == 0
    assert s.listener.counts["OperatorSale"] == 1 and s.buyers[0].credit_kwh == 2.0


def test_outbid_buyer_rebids_and_the_auction_goes_to_the_highest() -> None:
    """AC10-4 and AC10-5: b0 bids, b1 outbids it, b0 is told and rebids; at the deadline the
    highest bid wins and the lot is delivered and audited."""
    s = _setup(seller_kwh=10.0)
    s.sale.offer(s.seller, 2.0, 0)
    b0, b1 = (s.agents[e.address] for e in s.buyers)
    b0.search(2.0)
    b1.search(2.0)
    assert b0.outbid and not b1.outbid
    b0.outbid = False
    b0.search(2.0)
    assert b1.outbid
    bids = s.ledger.bids(1)
    step = price_units(PARAMETERS.bid_increment)
    assert [b.price for b in bids] == [
        bids[0].price,
        bids[0].price + step,
        bids[0].price + 2 * step,
    ]
    s.chain.advance_time(PARAMETERS.lot_duration_min * 60)
    eaa = EnergyAudit(s.ledger, s.listener)
    s.sale.close_due(PARAMETERS.lot_duration_min, s.agents, s.island, eaa)
    eaa.flush()
    (sold,) = s.market.sold
    assert sold.buyer == "b0" and sold.price == bids[-1].price / 1e6
    assert s.ledger.lot(1).status is LotStatus.DELIVERED
    assert s.buyers[0].credit_kwh == 2.0 and s.seller.stored_kwh == 8.0
    assert s.seller.locked_kwh == 0.0 and s.ledger.entity(s.seller.address).locked_wh == 0


def test_an_unbid_lot_is_offered_again_cheaper_then_withdrawn_at_the_floor() -> None:
    """AC10-5 (no bids: the seller may lower the price)."""
    s = _setup()
    s.sale.offer(s.seller, 2.0, 0)
    eaa = EnergyAudit(s.ledger, s.listener)
    prices = [s.ledger.lot(1).price]
    minute = 0
    while s.ledger.lot(1).status is LotStatus.OPEN:
        minute += PARAMETERS.lot_duration_min
        s.chain.advance_time(PARAMETERS.lot_duration_min * 60)
        s.sale.close_due(minute, s.agents, s.island, eaa)
        prices.append(s.ledger.lot(1).price)
    assert all(later < earlier for earlier, later in itertools.pairwise(prices[:-1]))
    assert prices[-1] >= price_units(PARAMETERS.operator_price * PARAMETERS.floor_price_ratio)
    assert s.ledger.lot(1).status is LotStatus.WITHDRAWN and s.seller.locked_kwh == 0.0


def test_buyers_go_to_the_operator_when_the_lots_cost_more() -> None:
    """AC10-6: with one lot at the operator's price, the second buyer, which would have to
    outbid above it, buys from the operator at once; the first stops once its need is met."""
    s = _setup()
    s.market.parameters = PARAMETERS.model_copy(update={"initial_price_ratio": 1.0})
    s.sale = SaleAgent(s.market, s.listener, s.audit)
    s.sale.offer(s.seller, 1.0, 0)
    b0, b1 = (s.agents[e.address] for e in s.buyers)
    b0.search(1.0)
    assert s.ledger.lot(1).bid_count == 1 and s.listener.counts["OperatorSale"] == 0
    b1.search(1.5)
    assert s.ledger.lot(1).bid_count == 1  # 0.30 + increment is above the operator's 0.30
    assert s.listener.counts["OperatorSale"] == 1 and s.buyers[1].credit_kwh == 1.5


def test_the_listener_turns_anomalies_into_the_operators_actions() -> None:
    """AC10-7: a flow mismatch suspends the seller; an atypical production excludes the station
    from the forecasts; a maintenance event stops its sales; peaks alert the injector."""
    s = _setup()
    forecast = ForecastAgent([e.spec for e in [s.seller, *s.buyers]], 60)
    injector = EnergyInjector(PARAMETERS, np.zeros(60))
    by_address = {e.address: e for e in [s.seller, *s.buyers]}
    mgo = Operator(s.market, s.listener, forecast, by_address, injector)
    s.ledger.set_thresholds(300, 50, 0)
    s.sale.offer(s.seller, 2.0, 0)
    b0 = s.agents[s.buyers[0].address]
    b0.search(2.0)
    s.chain.advance_time(600)
    eaa = EnergyAudit(s.ledger, s.listener)
    s.seller.spec = s.seller.spec.model_copy(update={"meter_error": 0.1})
    s.sale.close_due(10, s.agents, s.island, eaa)
    eaa.flush()
    assert s.listener.counts["FlowMismatch"] == 1
    assert s.seller.suspended and s.ledger.entity(s.seller.address).suspended
    s.sale.offer(s.seller, 2.0, 20)  # a suspended seller offers nothing
    assert s.ledger.lot_count() == 1
    receipt = s.ledger.log_step(
        3, [packed_log(20_000, 0, 8_000, 20_000), packed_log(0, 500, 0, 0), 0]
    )
    s.listener.observe(receipt)
    assert forecast.excluded == {0}
    assert injector.alert
    assert mgo.actions["suspend seller"] == 1 and mgo.actions["exclude from forecasts"] == 1
