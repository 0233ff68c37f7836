"""The islanded microgrid's contract (``MicrogridAuction.vy``, 001b_book.md chapter 10) on chain.

The auction's rules (AC10-1, AC10-3 to AC10-5 on chain), the anomaly events (AC10-7), every
function's roles, and money conserved on random sequences of bids, refusals and purchases.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peergrid.core.errors import LedgerError
from peergrid.ledger import EmbeddedChain
from peergrid.ledger.markets.microgrid_auction import (
    LotStatus,
    MicrogridLedger,
    lot_value,
    packed_log,
)

OPERATOR_PRICE = 300_000  # 0.30 per kWh
FUNDS = 10**9


@dataclass
class Island:
    chain: EmbeddedChain
    ledger: MicrogridLedger
    seller: str
    buyers: list[str]
    outsider: str


def _island(buyers: int = 3, stored_wh: int = 5_000) -> Island:
    chain = EmbeddedChain()
    operator = chain.new_account("operator")
    meter = chain.new_account("meter")
    ledger = MicrogridLedger.deploy(
        chain, operator=operator, meter=meter, operator_price=OPERATOR_PRICE, supply_micro=10**15
    )
    seller = chain.new_account("seller")
    ledger.register(seller, 1_000, 4_000)
    accounts = [chain.new_account(f"buyer{i}") for i in range(buyers)]
    for buyer in accounts:
        ledger.register(buyer, 0, 0)
        ledger.fund(buyer, FUNDS)
    ledger.log_step(1, [packed_log(0, 0, stored_wh, 10_000)] + [0] * buyers)
    return Island(chain, ledger, seller, accounts, chain.new_account("outsider"))


@pytest.fixture
def island() -> Island:
    return _island()


def _events(receipt: object, name: str) -> list[dict[str, object]]:
    return [dict(e.args) for e in receipt.events_named(name)]  # type: ignore[attr-defined]


def test_operator_offer_is_always_listed_and_a_first_bid_executes_at_once(island: Island) -> None:
    """AC10-1."""
    ledger, buyer = island.ledger, island.buyers[0]
    assert ledger.operator_offer() == (OPERATOR_PRICE, True)
    island.chain.advance_time(10 * 86_400)
    assert ledger.operator_offer() == (OPERATOR_PRICE, True)
    receipt = ledger.buy_from_operator(buyer, 2_500)
    (sale,) = _events(receipt, "OperatorSale")
    assert sale["value"] == lot_value(OPERATOR_PRICE, 2_500) == 750_000
    assert ledger.balance(buyer) == FUNDS - 750_000
    assert ledger.balance(ledger.operator) == 750_000


def test_offer_locks_energy_the_battery_holds(island: Island) -> None:
    ledger, seller = island.ledger, island.seller
    lot = ledger.offer(seller, 3_000, 200_000, 600)
    assert ledger.free_energy(seller) == 2_000
    with pytest.raises(LedgerError, match="battery does not hold the energy"):
        ledger.offer(seller, 2_001, 200_000, 600)
    assert ledger.lot(lot).status is LotStatus.OPEN


def test_bid_needs_the_sellers_logged_battery_to_hold_the_lot(island: Island) -> None:
    """AC10-3 on chain: the seller's battery drained after the offer: bids are refused."""
    ledger, seller = island.ledger, island.seller
    lot = ledger.offer(seller, 3_000, 200_000, 600)
    receipt = ledger.log_step(2, [packed_log(0, 0, 1_000, 10_000), 0, 0, 0])
    (used,) = _events(receipt, "TokenisedEnergyUsed")
    assert used["stored_wh"] == 1_000 and used["locked_wh"] == 3_000
    with pytest.raises(LedgerError, match="seller's battery does not hold the lot"):
        ledger.bid(island.buyers[0], lot, 250_000)


def test_outbid_event_and_the_deadline_order(island: Island) -> None:
    """AC10-4 and AC10-5: bids p1 > p2 > p3; p1 wins; p1 refuses, p2 is offered."""
    ledger, seller = island.ledger, island.seller
    b1, b2, b3 = island.buyers
    lot = ledger.offer(seller, 2_000, 100_000, 600)
    ledger.bid(b3, lot, 110_000)
    receipt = ledger.bid(b2, lot, 120_000)
    assert _events(receipt, "Outbid") == [
        {"lot": lot, "bidder": b3, "price": 110_000, "new_price": 120_000}
    ]
    receipt = ledger.bid(b1, lot, 130_000)
    assert [e["bidder"] for e in _events(receipt, "Outbid")] == [b2]
    with pytest.raises(LedgerError, match="bid not above the highest"):
        ledger.bid(b3, lot, 130_000)
    with pytest.raises(LedgerError, match="deadline not reached"):
        ledger.close(seller, lot)
    island.chain.advance_time(600)
    with pytest.raises(LedgerError, match="lot deadline passed"):
        ledger.bid(b3, lot, 200_000)
    (winner,) = _events(ledger.close(seller, lot), "Winner")
    assert (winner["bidder"], winner["price"]) == (b1, 130_000)
    with pytest.raises(LedgerError, match="caller is not the winner"):
        ledger.accept(b2, lot)
    (winner,) = _events(ledger.refuse(b1, lot), "Winner")
    assert (winner["bidder"], winner["price"]) == (b2, 120_000)
    (sold,) = _events(ledger.accept(b2, lot), "Sold")
    assert sold["value"] == lot_value(120_000, 2_000) == 240_000
    assert ledger.balance(seller) == 240_000
    assert ledger.balance(b2) == FUNDS - 240_000
    assert ledger.balance(b1) == FUNDS
    assert ledger.lot(lot).status is LotStatus.SOLD


def test_refusals_of_every_bidder_expire_the_lot_and_it_may_be_reoffered_cheaper(
    island: Island,
) -> None:
    """AC10-5: a lot with no (accepted) bid may be re-offered cheaper."""
    ledger, seller = island.ledger, island.seller
    b1, b2, _ = island.buyers
    lot = ledger.offer(seller, 1_000, 100_000, 60)
    ledger.bid(b2, lot, 100_000)
    ledger.bid(b1, lot, 105_000)
    ledger.bid(b2, lot, 110_000)
    island.chain.advance_time(60)
    ledger.close(seller, lot)
    # b2 refuses: its earlier bid is skipped too, b1's is next
    (winner,) = _events(ledger.refuse(b2, lot), "Winner")
    assert winner["bidder"] == b1
    assert _events(ledger.refuse(b1, lot), "LotExpired") == [{"lot": lot, "seller": seller}]
    with pytest.raises(LedgerError, match="price not lower"):
        ledger.reoffer(seller, lot, 100_000, 60)
    ledger.reoffer(seller, lot, 90_000, 60)
    assert ledger.lot(lot).status is LotStatus.OPEN and ledger.lot(lot).bid_count == 0
    island.chain.advance_time(60)
    assert _events(ledger.close(seller, lot), "LotExpired")
    assert ledger.free_energy(seller) == 4_000
    ledger.withdraw_lot(seller, lot)
    assert ledger.free_energy(seller) == 5_000


def test_an_unbid_lot_is_reoffered_or_withdrawn_past_its_deadline_in_one_call(
    island: Island,
) -> None:
    ledger, seller = island.ledger, island.seller
    lot = ledger.offer(seller, 1_000, 100_000, 60)
    with pytest.raises(LedgerError, match="lot not expired"):
        ledger.reoffer(seller, lot, 90_000, 60)
    island.chain.advance_time(60)
    receipt = ledger.reoffer(seller, lot, 90_000, 60)
    assert [e.name for e in receipt.events] == ["LotExpired", "LotOffered"]
    ledger.bid(island.buyers[0], lot, 90_000)
    island.chain.advance_time(60)
    with pytest.raises(LedgerError, match="lot not expired"):
        ledger.withdraw_lot(seller, lot)  # it has a bid: it must be closed


def test_log_anomalies_raise_events(island: Island) -> None:
    """AC10-7: atypical production, a consumption peak, a battery below its maintenance
    threshold (once), an imbalance of the island."""
    ledger, seller = island.ledger, island.seller
    ledger.set_thresholds(300, 50, 100)
    receipt = ledger.log_step(
        2, [packed_log(1_001, 10, 5_000, 3_999), packed_log(0, 100, 0, 0), 0, 0]
    )
    (atypical,) = _events(receipt, "AtypicalProduction")
    assert (atypical["entity"], atypical["produced_wh"], atypical["rated_wh"]) == (
        seller,
        1_001,
        1_000,
    )
    (peak,) = _events(receipt, "ConsumptionPeak")
    assert (peak["entity"], peak["consumed_wh"]) == (island.buyers[0], 100)
    (maintenance,) = _events(receipt, "MaintenanceNeeded")
    assert maintenance["max_capacity_wh"] == 3_999 and maintenance["threshold_wh"] == 4_000
    assert not _events(receipt, "Imbalance")  # 110 consumed against 1 001 produced
    receipt = ledger.log_step(3, [packed_log(0, 10, 5_000, 3_000), packed_log(0, 110, 0, 0), 0, 0])
    assert not _events(receipt, "MaintenanceNeeded")  # flagged once
    assert not _events(receipt, "ConsumptionPeak")  # 110 after 100 is no peak
    assert _events(receipt, "Imbalance") == [{"step": 3, "produced_wh": 0, "consumed_wh": 120}]
    assert ledger.entity(seller).maintenance_flagged
    with pytest.raises(LedgerError, match="step already logged"):
        ledger.log_step(3, [0, 0, 0, 0])


def test_flow_different_from_the_lot_raises_flow_mismatch(island: Island) -> None:
    """AC10-7: the energy audit."""
    ledger, seller = island.ledger, island.seller
    buyer = island.buyers[0]
    lots = [ledger.offer(seller, 1_000, 100_000, 60) for _ in range(2)]
    for lot in lots:
        ledger.bid(buyer, lot, 100_000)
    island.chain.advance_time(60)
    for lot in lots:
        ledger.close(seller, lot)
        ledger.accept(buyer, lot)
    assert ledger.free_energy(seller) == 3_000
    (receipt,) = ledger.record_deliveries([(lots[0], 1_000), (lots[1], 900)])
    assert _events(receipt, "FlowMismatch") == [
        {"lot": lots[1], "seller": seller, "buyer": buyer, "quantity_wh": 1_000, "metered_wh": 900}
    ]
    assert ledger.free_energy(seller) == 5_000
    with pytest.raises(LedgerError, match="lot not sold or already delivered"):
        ledger.record_deliveries([(lots[0], 1_000)])


def test_a_suspended_entity_cannot_sell(island: Island) -> None:
    ledger, seller = island.ledger, island.seller
    ledger.suspend(seller)
    with pytest.raises(LedgerError, match="entity suspended"):
        ledger.offer(seller, 1_000, 100_000, 60)
    ledger.suspend(seller, False)
    ledger.offer(seller, 1_000, 100_000, 60)


def test_roles_of_every_function(island: Island) -> None:
    ledger, chain, market = island.ledger, island.chain, island.ledger.market
    seller, buyer, outsider = island.seller, island.buyers[0], island.outsider
    operator_only = {
        "register": (outsider, 0, 0),
        "set_thresholds": (300, 50, 0),
        "set_operator_price": (1,),
        "suspend": (seller, True),
    }
    for name, args in operator_only.items():
        for caller in (seller, ledger.meter, outsider):
            with pytest.raises(LedgerError, match="caller is not the operator"):
                chain.transact(caller, market, name, *args)
    for name, args in {"log_step": (9, [0, 0, 0, 0]), "record_deliveries": ([], [])}.items():
        for caller in (ledger.operator, seller, outsider):
            with pytest.raises(LedgerError, match="caller is not the meter"):
                chain.transact(caller, market, name, *args)
    lot = ledger.offer(seller, 1_000, 100_000, 60)
    for name, args in {
        "offer": (1, 1, 1),
        "bid": (lot, 200_000),
        "buy_from_operator": (1,),
    }.items():
        with pytest.raises(LedgerError, match="not an entity"):
            chain.transact(outsider, market, name, *args)
    with pytest.raises(LedgerError, match="seller cannot bid on its own lot"):
        ledger.bid(seller, lot, 200_000)
    ledger.bid(buyer, lot, 100_000)
    chain.advance_time(60)
    for name in ("close", "reoffer", "withdraw_lot"):
        args = (lot, 1, 1) if name == "reoffer" else (lot,)
        with pytest.raises(LedgerError, match="caller is not the seller"):
            chain.transact(buyer, market, name, *args)
    ledger.close(seller, lot)
    for name in ("accept", "refuse"):
        with pytest.raises(LedgerError, match="caller is not the winner"):
            chain.transact(island.buyers[1], market, name, lot)
    with pytest.raises(LedgerError, match="balance too low"):
        ledger.withdraw(outsider, 1)


_action = st.tuples(
    st.sampled_from(["offer", "bid", "operator", "close", "accept", "refuse", "deliver"]),
    st.integers(0, 2),
    st.integers(1, 400_000),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_action, min_size=1, max_size=25))
def test_money_is_conserved(actions: list[tuple[str, int, int]]) -> None:
    """Whatever is sold, refused or bought from the operator, the balances held here sum to what
    was deposited, and tokens outside plus inside stay the supply."""
    island = _island(stored_wh=50_000)
    ledger, seller = island.ledger, island.seller
    accounts = [seller, ledger.operator, *island.buyers]
    lots: list[int] = []
    for kind, who, amount in actions:
        buyer = island.buyers[who]
        try:
            if kind == "offer":
                lots.append(ledger.offer(seller, 1 + amount % 5_000, 1 + amount % 200_000, 60))
            elif kind == "bid" and lots:
                ledger.bid(buyer, lots[-1], amount)
            elif kind == "operator":
                ledger.buy_from_operator(buyer, amount)
            elif kind == "close" and lots:
                island.chain.advance_time(60)
                ledger.close(seller, lots[amount % len(lots)])
            elif kind in ("accept", "refuse") and lots:
                lot = ledger.lot(lots[amount % len(lots)])
                if lot.status is LotStatus.AWARDED:
                    winner = ledger.bids(lot.id)[lot.candidate].bidder
                    getattr(ledger, kind)(winner, lot.id)
            elif kind == "deliver" and lots:
                ledger.record_deliveries([(lots[amount % len(lots)], amount % 6_000)])
        except LedgerError:
            pass
        held = sum(ledger.balance(a) for a in accounts)
        assert held == 3 * FUNDS == ledger.token_balance(ledger.market.address)
    sold = [ledger.lot(lot) for lot in lots]
    received = sum(lot.value for lot in sold if lot.status in (LotStatus.SOLD, LotStatus.DELIVERED))
    assert ledger.balance(seller) == received
