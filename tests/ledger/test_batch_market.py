"""The sealed-bid batch market: phases, commit and reveal, escrow, verified clearing."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest

from peergrid.core.errors import LedgerError
from peergrid.core.orders import Order, Side
from peergrid.core.trades import Trade
from peergrid.ledger import (
    Fill,
    Phase,
    commitment,
    fills_from_trades,
    sealed_order,
)
from peergrid.ledger.chain.compile import compile_contract
from peergrid.ledger.markets.batch_market import clear, order_id_for
from peergrid.ledger.markets.escrow import lock_micro
from peergrid.ledger.markets.meters import (
    Position,
    packed_addresses,
    packed_positions,
    positions_hash,
)

from .helpers import reverts
from .market_helpers import (
    B1,
    FEE,
    FILLS,
    FUNDS_MICRO,
    ORDERS,
    PENALTY,
    S1,
    S2,
    SLOT,
    Batch,
    make_batch,
    revealed_slot,
    sealed,
)

CLEAR = "BatchMarket.post_clearing"
POST_READINGS = "BatchMarket.post_readings"


@pytest.fixture
def market() -> Batch:
    return make_batch(fee_micro_per_kwh=FEE, penalty_micro_per_kwh=PENALTY)


# --- the worked example ---------------------------------------------------------------------------


def test_reveal_locks_the_buyers_most_cost(market: Batch) -> None:
    revealed_slot(market)
    s1, s2, b1, b2 = market.members
    # B1: 2500 Wh * 200 000 // 1000 + 2500 * 10 000 // 1000 = 500 000 + 25 000
    assert market.escrow.locked_of(b1) == 525_000 == lock_micro(2500, 200_000, FEE)
    assert market.escrow.locked_of(b2) == 280_000 + 20_000
    assert market.escrow.locked_of(s1) == market.escrow.locked_of(s2) == 0
    assert market.escrow.available_of(b1) == FUNDS_MICRO - 525_000
    info = market.ledger.slot_info(SLOT)
    assert (info.phase, info.order_count, info.fee_micro_per_kwh) == (Phase.REVEAL, 4, FEE)
    assert info.reveal_started_at == market.chain.timestamp()
    # The contract stores the revealed orders in reveal order; the client reads them back.
    assert market.ledger.revealed(SLOT) == tuple(
        o.revealed(m) for m, o in zip(market.members, ORDERS, strict=True)
    )


def test_a_reveal_logs_its_stored_order_index_and_lock_in_one_word(market: Batch) -> None:
    ledger = market.ledger
    ledger.open_slot(SLOT)
    for member, order in zip(market.members, ORDERS, strict=True):
        ledger.commit(member, SLOT, order)
    ledger.start_reveal(SLOT)
    ledger.reveal(market.members[0], SLOT, S1)
    b1 = market.members[2]
    (event,) = ledger.reveal(b1, SLOT, B1).events_named("Revealed")
    assert (event.args["slot"], bytes(event.args["order_id"])) == (SLOT, B1.order_id)
    word = int(event.args["order"])
    (stored,) = ledger.chain.call(ledger.market, "orders_of", SLOT, 1, 1)
    assert word & (2**98 - 1) == int(stored[0])  # the order as stored, before any fill
    assert (word >> 98) & (2**16 - 1) == 1  # its index: the slot's second reveal
    assert word >> 128 == lock_micro(2500, 200_000, FEE) == market.escrow.locked_of(b1)


def test_the_clearing_moves_exact_amounts_and_releases_escrow(market: Batch) -> None:
    revealed_slot(market)
    s1, s2, b1, b2 = market.members
    before = market.balances()
    (receipt,) = market.ledger.post_clearing(SLOT, FILLS)
    after = market.balances()
    delta = {a: after[a] - before[a] for a in after}
    # fill 1: 2500 Wh at 145 000: value 362 500, fee 25 000 (seller 12 500, buyer 12 500)
    # fill 2:  500 Wh at 120 000: value  60 000, fee  5 000 (seller  2 500, buyer  2 500)
    assert delta[b1] == -375_000
    assert delta[b2] == -62_500
    assert delta[s1] == 350_000 + 57_500
    assert delta[s2] == 0
    assert delta[market.dso] == 30_000
    assert sum(delta.values()) == 0
    assert market.locked() == dict.fromkeys(market.accounts, 0)
    market.assert_conserved(4 * FUNDS_MICRO)

    traded = market.ledger.trades_in(receipt)
    assert [(t.slot, t.fill, t.charge_micro) for t in traded] == [
        (SLOT, Fill(2, 0, 2500, 145_000), 0),
        (SLOT, Fill(3, 0, 500, 120_000), 0),
    ]
    (cleared,) = receipt.events_named("Cleared")
    assert (cleared.args["energy_wh"], cleared.args["value_micro"], cleared.args["fee_micro"]) == (
        3000,
        422_500,
        30_000,
    )
    positions = market.ledger.positions(SLOT)
    assert positions == (
        Position(s1, False, 3000, 422_500),
        Position(b1, True, 2500, 362_500),
        Position(b2, True, 500, 60_000),
    )
    info = market.ledger.slot_info(SLOT)
    assert (info.phase, info.trade_count) == (Phase.CLEARED, 2)
    assert info.positions_hash == positions_hash(positions) == cleared.args["positions_hash"]
    assert cleared.args["trade_count"] == 2


def test_the_python_clearing_states_the_contracts_arithmetic(market: Batch) -> None:
    revealed_slot(market)
    outcome = clear(market.ledger.revealed(SLOT), FILLS, FEE)
    assert outcome.paid_micro == (407_500, 0, 375_000, 62_500)
    assert outcome.released_micro == (0, 0, 525_000 - 375_000, 300_000 - 62_500)
    assert outcome.fee_micro == 30_000
    assert outcome.energy_wh == 3000


def test_an_empty_clearing_cancels_the_slot(market: Batch) -> None:
    revealed_slot(market)
    before = market.balances()
    market.ledger.post_clearing(SLOT, [])
    assert market.balances() == before
    assert market.locked() == dict.fromkeys(market.accounts, 0)
    assert market.ledger.slot_info(SLOT).positions_hash == b"\x00" * 32


def test_rates_are_frozen_when_the_slot_opens(market: Batch) -> None:
    market.ledger.open_slot(SLOT)
    market.ledger.set_rates(99_000, 1, 2)
    market.ledger.open_slot(SLOT + 1)
    assert market.ledger.slot_info(SLOT).fee_micro_per_kwh == FEE
    assert market.ledger.slot_info(SLOT).penalty_micro_per_kwh == PENALTY
    assert market.ledger.slot_info(SLOT + 1).fee_micro_per_kwh == 99_000
    assert (market.ledger.fee_rate(), market.ledger.penalty_rate()) == (99_000, 1)


def test_two_slots_run_side_by_side(market: Batch) -> None:
    ledger = market.ledger
    revealed_slot(market, SLOT)
    ledger.open_slot(SLOT + 1)
    ledger.commit(market.members[2], SLOT + 1, sealed("next", True, 1000, 100_000))
    ledger.post_clearing(SLOT, FILLS)
    ledger.start_reveal(SLOT + 1)
    ledger.reveal(market.members[2], SLOT + 1, sealed("next", True, 1000, 100_000))
    assert ledger.slot_info(SLOT).phase is Phase.CLEARED
    assert ledger.slot_info(SLOT + 1).order_count == 1
    # the same order id is a new order in another slot
    ledger.open_slot(SLOT + 2)
    ledger.commit(market.members[0], SLOT + 2, S1)


# --- phases ---------------------------------------------------------------------------------------


def test_phases_go_in_order(market: Batch) -> None:
    ledger, member = market.ledger, market.members[0]
    with reverts("BatchMarket.commit", "slot is not open for commitments"):
        ledger.commit(member, SLOT, S1)
    with reverts("BatchMarket.start_reveal", "slot is not open for commitments"):
        ledger.start_reveal(SLOT)
    ledger.open_slot(SLOT)
    with reverts("BatchMarket.open_slot", "slot already opened"):
        ledger.open_slot(SLOT)
    ledger.commit(member, SLOT, S1)
    with reverts("BatchMarket.reveal", "slot is not in its reveal phase"):
        ledger.reveal(member, SLOT, S1)
    with reverts(CLEAR, "slot is not in its reveal phase"):
        ledger.post_clearing(SLOT, [])
    ledger.start_reveal(SLOT)
    with reverts("BatchMarket.commit", "slot is not open for commitments"):
        ledger.commit(market.members[1], SLOT, S2)  # bids are frozen
    ledger.reveal(member, SLOT, S1)
    with reverts("BatchMarket.post_readings", "slot is not cleared"):
        ledger.meters.post_readings(market.meter, SLOT, [], [])
    ledger.post_clearing(SLOT, [])
    with reverts(CLEAR, "slot is not in its reveal phase"):
        ledger.post_clearing(SLOT, [])
    with reverts("BatchMarket.reveal", "slot is not in its reveal phase"):
        ledger.reveal(member, SLOT, S1)
    ledger.post_readings(market.meter, SLOT, [])
    assert ledger.slot_info(SLOT).phase is Phase.SETTLED


# --- commit and reveal ----------------------------------------------------------------------------


def test_a_reveal_must_match_its_commitment(market: Batch) -> None:
    ledger, (a, b, *_) = market.ledger, market.members
    ledger.open_slot(SLOT)
    ledger.commit(a, SLOT, B1)
    ledger.commit(b, SLOT, sealed("B1", True, 1, 1))  # b's own order under the same id
    ledger.start_reveal(SLOT)
    for cheat in (
        sealed("B1", True, 2500, 210_000),  # another price
        sealed("B1", True, 2400, 200_000),  # another quantity
        sealed("B1", False, 2500, 200_000),  # another side
        sealed("B1", True, 2500, 200_000, salt="guess"),  # another salt
    ):
        with reverts("BatchMarket.reveal", "reveal does not match the commitment"):
            ledger.reveal(a, SLOT, cheat)
    with reverts("BatchMarket.reveal", "reveal does not match the commitment"):
        ledger.reveal(b, SLOT, B1)  # the commitment binds its sender
    with reverts("BatchMarket.reveal", "no commitment under this order id"):
        ledger.reveal(market.members[2], SLOT, B1)
    ledger.reveal(a, SLOT, B1)


def test_replayed_reveals_and_duplicate_order_ids_are_refused(market: Batch) -> None:
    ledger, (a, b, *_) = market.ledger, market.members
    ledger.open_slot(SLOT)
    ledger.commit(a, SLOT, B1)
    with reverts("BatchMarket.commit", "order id already committed"):
        ledger.commit(a, SLOT, B1)
    with reverts("BatchMarket.commit", "order id already committed"):
        ledger.commit(a, SLOT, sealed("B1", False, 10, 1))  # another order under a's id
    ledger.start_reveal(SLOT)
    assert ledger.commitment_of(SLOT, a, B1.order_id) == B1.commitment(SLOT, a)
    ledger.reveal(a, SLOT, B1)
    # Revealed: the commitment is gone, so the same reveal again finds nothing to open.
    assert ledger.commitment_of(SLOT, a, B1.order_id) == b"\x00" * 32
    with reverts("BatchMarket.reveal", "no commitment under this order id"):
        ledger.reveal(a, SLOT, B1)
    with reverts("BatchMarket.reveal", "no commitment under this order id"):
        ledger.reveal(b, SLOT, S2)
    assert ledger.commitment_of(SLOT, b, B1.order_id) == b"\x00" * 32
    assert ledger.slot_info(SLOT).order_count == 1


def test_one_order_per_member_per_slot(market: Batch) -> None:
    ledger, a = market.ledger, market.members[0]
    ledger.open_slot(SLOT)
    ledger.commit(a, SLOT, S1)
    ledger.commit(a, SLOT, S2)  # committing twice is allowed, revealing twice is not
    ledger.start_reveal(SLOT)
    ledger.reveal(a, SLOT, S1)
    with reverts("BatchMarket.reveal", "one order per member per slot"):
        ledger.reveal(a, SLOT, S2)


def test_a_buyer_cannot_lock_more_than_its_free_balance() -> None:
    market = make_batch(n_members=2, deposit_micro=100_000)
    ledger, a = market.ledger, market.members[0]
    big = sealed("big", True, 1000, 100_001)  # costs 100 001 > 100 000
    ledger.open_slot(SLOT)
    with reverts("BatchMarket.commit", "bad commitment"):
        market.chain.transact(a, ledger.market, "commit", SLOT, b"\x01" * 32, b"\x00" * 32)
    ledger.commit(a, SLOT, big)
    ledger.start_reveal(SLOT)
    with reverts("BatchMarket.reveal", "free balance too low for the order's escrow"):
        ledger.reveal(a, SLOT, big)


def test_a_locked_balance_cannot_be_withdrawn(market: Batch) -> None:
    revealed_slot(market)
    b1 = market.members[2]
    with reverts("BatchMarket.withdraw", "free balance too low"):
        market.escrow.withdraw(b1, FUNDS_MICRO - 525_000 + 1)
    market.escrow.withdraw(b1, FUNDS_MICRO - 525_000)
    assert market.escrow.balance_of(b1) == market.escrow.locked_of(b1) == 525_000


# --- verification of the clearing -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fills", "reason"),
    [
        ([Fill(2, 0, 2500, 200_001)], "price above the buyer's limit"),
        ([Fill(3, 1, 100, 145_000)], "price below the seller's limit"),
        ([Fill(2, 0, 2501, 150_000)], "buy order filled beyond its quantity"),
        (
            [Fill(2, 0, 2000, 150_000), Fill(3, 0, 1001, 120_000)],
            "sell order filled beyond its quantity",
        ),
        ([Fill(0, 2, 100, 150_000)], "fill's buy order is a sell order"),
        ([Fill(2, 3, 100, 150_000)], "fill's sell order is a buy order"),
        ([Fill(2, 4, 100, 150_000)], "fill names an unknown order"),
        ([Fill(2, 0, 0, 150_000)], "zero energy"),
        ([Fill(2, 0, 2**32, 150_000)], "energy out of range"),
        ([*FILLS, Fill(2, 1, 1, 150_000)], "buy order filled beyond its quantity"),
    ],
)
def test_a_clearing_that_fails_verification_changes_nothing(
    market: Batch, fills: list[Fill], reason: str
) -> None:
    revealed_slot(market)
    before = (market.balances(), market.locked(), market.ledger.slot_info(SLOT))
    with reverts(CLEAR, reason):
        market.ledger.post_clearing(SLOT, fills)
    with pytest.raises(LedgerError, match=re.escape(reason)):
        clear(market.ledger.revealed(SLOT), fills, FEE)
    assert (market.balances(), market.locked(), market.ledger.slot_info(SLOT)) == before


def test_the_clearing_names_stored_orders_by_index_only(market: Batch) -> None:
    """The operator posts fills (and, closing, the orders' owners after the arguments), nothing
    else: the orders the fills are verified against are the contract's own, so no forged order
    (a self-trade, a better price) can be slipped in, and each owner is checked against its
    order's member index."""
    revealed_slot(market)
    (function,) = [
        f for f in compile_contract("BatchMarket").abi if f.get("name") == "post_clearing"
    ]
    assert [i["name"] for i in function["inputs"]] == ["slot", "fills", "last"]
    assert market.ledger.order_states(SLOT)[2].order == B1.revealed(market.members[2])


def test_the_closing_refuses_owners_that_are_not_the_orders(market: Batch) -> None:
    """The closing part pays the owners the operator appends only if each is its order's member:
    a swapped pair, an outsider or too few owners revert, and nothing moves."""
    revealed_slot(market)
    s1, s2, b1, b2 = market.members
    packed = [f.packed() for f in FILLS]
    before = (market.balances(), market.locked(), market.ledger.slot_info(SLOT))

    def post(fills: list[int], last: bool, owners: list[str]) -> None:
        market.chain.transact(
            market.operator,
            market.ledger.market,
            "post_clearing",
            SLOT,
            fills,
            last,
            tail=packed_addresses(owners),
        )

    with reverts(CLEAR, "owner does not match the order"):
        post(packed, True, [s1, s2, b2, b1])
    with reverts(CLEAR, "owner does not match the order"):
        post(packed, True, [market.outsider, s2, b1, b2])
    # Too few bytes for four owners after the arguments (an empty fill list: 3 owners' bytes
    # and the arguments are fewer than the arguments and 4 owners).
    with reverts(CLEAR, "owners do not match the slot's orders"):
        post([], True, [s1, s2, b1])
    # The last 80 bytes are read as the owners: one missing shifts them all, and they no longer
    # match their orders.
    with reverts(CLEAR, "owner does not match the order"):
        post(packed, True, [s1, s2, b1])
    assert (market.balances(), market.locked(), market.ledger.slot_info(SLOT)) == before
    # The owner of a sell order without a fill is not read: any address passes there.
    post(packed, True, [s1, market.outsider, b1, b2])
    assert market.ledger.slot_info(SLOT).phase is Phase.CLEARED


def test_the_meter_posts_the_positions_the_clearing_hashed(market: Batch) -> None:
    """The readings come with the positions not settled yet, checked against the positions
    hash: a position in the wrong order, with another member, a lower value or a zero energy,
    one missing or one byte too many revert, and nothing moves."""
    revealed_slot(market)
    market.ledger.post_clearing(SLOT, FILLS)
    positions = list(market.ledger.positions(SLOT))
    s1, _, b1, b2 = market.members
    assert [p.member for p in positions] == [s1, b1, b2]
    before = (market.balances(), market.ledger.slot_info(SLOT))

    def post(readings: list[int], tail: bytes) -> None:
        market.chain.transact(
            market.meter, market.ledger.market, "post_readings", SLOT, readings, tail=tail
        )

    def changed(i: int, **fields: Any) -> list[Position]:
        return [replace(p, **fields) if k == i else p for k, p in enumerate(positions)]

    readings = [3000, 2500, 500]
    wrong = [
        positions[::-1],
        changed(1, member=market.outsider),
        changed(1, value_micro=positions[1].value_micro - 1),
        changed(2, energy_wh=0),
        changed(0, is_buy=True),
        positions[:2],
    ]
    for tail in wrong:
        with reverts(POST_READINGS, "positions do not match the slot's"):
            post(readings[: len(tail)], packed_positions(tail))
    with reverts(POST_READINGS, "positions do not match the slot's"):
        post(readings, packed_positions(positions) + b"\x00")
    with reverts(POST_READINGS, "more readings than positions"):
        post(readings, b"")
    assert (market.balances(), market.ledger.slot_info(SLOT)) == before
    # In two calls: the second carries the positions after the first's.
    post(readings[:1], packed_positions(positions))
    with reverts(POST_READINGS, "positions do not match the slot's"):
        post(readings[1:], packed_positions(positions))
    post(readings[1:], packed_positions(positions[1:]))
    assert market.ledger.slot_info(SLOT).phase is Phase.SETTLED


def test_a_clearing_in_one_transaction_stores_no_tallies(market: Batch) -> None:
    """Closed in the transaction of its only part, a clearing leaves the order words as revealed
    (its tallies lived in transient storage) and the positions hash; in parts, it tallies in
    the order words as before. The money moved is the same."""
    revealed_slot(market)
    market.ledger.post_clearing(SLOT, FILLS)
    states = market.ledger.order_states(SLOT)
    assert [(s.filled_wh, s.value_micro, s.money_micro) for s in states] == [(0, 0, 0)] * 4
    in_parts = make_batch(fee_micro_per_kwh=FEE, penalty_micro_per_kwh=PENALTY)
    revealed_slot(in_parts)
    in_parts.chain.transact(
        in_parts.operator, in_parts.ledger.market, "post_clearing", SLOT, [FILLS[0].packed()], False
    )
    in_parts.ledger.post_clearing(SLOT, FILLS)
    outcome = clear(in_parts.ledger.revealed(SLOT), FILLS, FEE)
    tallies = [
        (s.filled_wh, s.value_micro, s.money_micro) for s in in_parts.ledger.order_states(SLOT)
    ]
    assert tallies == list(
        zip(outcome.filled_wh, outcome.value_micro, outcome.paid_micro, strict=True)
    )
    assert market.ledger.slot_info(SLOT).positions_hash == positions_hash(outcome.positions)
    assert list(market.balances().values()) == list(in_parts.balances().values())
    # Both are metered from the positions posted with the readings, to the same money.
    for m in (market, in_parts):
        readings = [p.energy_wh + 100 for p in m.ledger.positions(SLOT)]
        m.ledger.post_readings(m.meter, SLOT, readings)
        assert m.ledger.slot_info(SLOT).phase is Phase.SETTLED
        m.assert_conserved(4 * FUNDS_MICRO)
    assert list(market.balances().values()) == list(in_parts.balances().values())


# --- conversion from core types ------------------------------------------------------------------


def test_core_orders_and_trades_convert_to_sealed_orders_and_fills() -> None:
    market = make_batch(n_members=3, fee_micro_per_kwh=FEE)
    ledger, (a, b, c) = market.ledger, market.members
    core = [
        Order("sell-a", "a", Side.SELL, 2.0, 0.12, slot=SLOT),
        Order("buy-b", "b", Side.BUY, 1.2, 0.2, slot=SLOT),
        Order("buy-c", "c", Side.BUY, 0.8004, 0.18, slot=SLOT),
    ]
    orders = [sealed_order(o, salt=bytes(32)) for o in core]
    assert orders[0].order_id == order_id_for("sell-a")
    assert (orders[1].quantity_wh, orders[1].price_micro_per_kwh) == (1200, 200_000)
    assert orders[2].quantity_wh == 800
    ledger.open_slot(SLOT)
    for member, order in zip((a, b, c), orders, strict=True):
        ledger.commit(member, SLOT, order)
    ledger.start_reveal(SLOT)
    for member, order in zip((a, b, c), orders, strict=True):
        ledger.reveal(member, SLOT, order)
    trades = [
        Trade("b", "a", 1.2, 0.15, SLOT, buy_order="buy-b", sell_order="sell-a"),
        # 0.8004 kWh rounds to 800 Wh, all buy-c has
        Trade("c", "a", 0.8004, 0.15, SLOT, buy_order="buy-c", sell_order="sell-a"),
    ]
    address_of = {"a": a, "b": b, "c": c}
    fills = fills_from_trades(trades, ledger.revealed(SLOT), address_of)
    assert fills == [Fill(1, 0, 1200, 150_000), Fill(2, 0, 800, 150_000)]
    ledger.post_clearing(SLOT, fills)
    # 2000 Wh at 0.15: 300 000 micro, fee 20 000 split 10 000 / 10 000
    assert market.escrow.balance_of(a) == FUNDS_MICRO + 300_000 - 10_000
    with pytest.raises(LedgerError, match="was not revealed"):
        fills_from_trades(
            [Trade("b", "a", 1, 0.1, buy_order="nope", sell_order="sell-a")], [], address_of
        )
    with pytest.raises(LedgerError, match="rounds to 0 Wh"):
        sealed_order(Order("tiny", "a", Side.BUY, 0.0004, 0.1))


def test_commitments_are_computed_as_documented() -> None:
    owner = "0x" + "ab" * 20
    assert commitment(1, S1, owner) != commitment(2, S1, owner)
    assert commitment(1, S1, owner) != commitment(1, S1, "0x" + "cd" * 20)
    assert S1.commitment(1, owner) == commitment(1, S1, owner)
    with pytest.raises(ValueError, match="salt must be 32 bytes"):
        type(S1)(S1.order_id, True, 1, 1, b"short")


def test_addresses_after_the_arguments_are_packed_20_bytes_each() -> None:
    a, b = "0x" + "11" * 20, "0x" + "ab" * 20
    assert packed_addresses([a, b]) == bytes.fromhex("11" * 20 + "ab" * 20)
    assert packed_addresses([]) == b""
    with pytest.raises(LedgerError, match="bad address"):
        packed_addresses(["0x1234"])
