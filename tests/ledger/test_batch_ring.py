"""The batch market's per-slot storage on a ring of ``SLOT_RING`` positions.

* Slot ``s`` is stored at ``s % SLOT_RING``; a later slot takes the position only once ``s`` is
  finished (settled, cleared without a fill, void with every order reclaimed, or without
  orders), else ``open_slot`` reverts with a reason.
* What a reused position held (orders, commitments, tallies, the positions hash) is never taken
  for the new slot's: the new slot starts empty and settles as a fresh one, money conserved.
* Reading back a slot older than the ring is a clear error; a slot not opened yet reads as
  having no phase.
"""

from __future__ import annotations

import pytest

from peergrid.core.errors import LedgerError
from peergrid.ledger import Fill, Phase
from peergrid.ledger.markets.batch_market import SLOT_RING
from peergrid.ledger.markets.meters import packed_positions

from .helpers import reverts
from .market_helpers import (
    FILLS,
    ORDERS,
    SLOT,
    Batch,
    make_batch,
    revealed_slot,
    sealed,
)

LATER = SLOT + SLOT_RING  # the same ring position as SLOT


def _settle(market: Batch, slot: int) -> None:
    """The worked example in ``slot``: revealed, cleared with its two fills, metered exactly."""
    revealed_slot(market, slot)
    market.ledger.post_clearing(slot, FILLS)
    metered = [p.energy_wh for p in market.ledger.positions(slot)]
    market.ledger.post_readings(market.meter, slot, metered)
    assert market.ledger.slot_info(slot).phase is Phase.SETTLED


def test_the_ring_size_is_the_contracts() -> None:
    market = make_batch()
    assert market.ledger.chain.call(market.ledger.market, "SLOT_RING") == SLOT_RING


def test_a_settled_slots_position_is_reused_as_a_fresh_slot() -> None:
    market = make_batch(fee_micro_per_kwh=10_000, penalty_micro_per_kwh=50_000)
    ledger = market.ledger
    total = ledger.escrow.total_internal_balance()
    before = market.balances()
    _settle(market, SLOT)
    first = ledger.positions(SLOT)
    between = market.balances()
    # Not opened yet: the position holds an earlier slot, which LATER does not see.
    assert ledger.slot_info(LATER).phase is Phase.NONE
    assert ledger.revealed(LATER) == ()
    _settle(market, LATER)
    # The same orders, fills and readings again: the same positions, the same money moved.
    assert ledger.positions(LATER) == first
    after = market.balances()
    assert {a: after[a] - between[a] for a in after} == {a: between[a] - before[a] for a in after}
    assert after != between
    market.assert_conserved(total)
    with pytest.raises(LedgerError, match=f"slot {SLOT} is older than the ring of {SLOT_RING}"):
        ledger.slot_info(SLOT)
    with reverts("BatchMarket.open_slot", "slot older than the ring"):
        ledger.open_slot(SLOT)
    with reverts("BatchMarket.open_slot", "slot already opened"):
        ledger.open_slot(LATER)


def test_an_unfinished_slots_position_is_not_reused() -> None:
    market = make_batch()
    ledger = market.ledger
    revealed_slot(market, SLOT)
    with reverts("BatchMarket.open_slot", "ring position holds an unfinished slot"):
        ledger.open_slot(LATER)
    ledger.post_clearing(SLOT, FILLS)  # cleared with fills: its positions await the meter
    with reverts("BatchMarket.open_slot", "ring position holds an unfinished slot"):
        ledger.open_slot(LATER)
    positions = ledger.positions(SLOT)
    metered = [p.energy_wh for p in positions]
    market.chain.transact(  # the first reading, with every position not settled yet
        market.meter,
        ledger.market,
        "post_readings",
        SLOT,
        metered[:1],
        tail=packed_positions(positions),
    )
    with reverts("BatchMarket.open_slot", "ring position holds an unfinished slot"):
        ledger.open_slot(LATER)
    ledger.post_readings(market.meter, SLOT, metered)
    ledger.open_slot(LATER)
    assert ledger.slot_info(LATER).phase is Phase.OPEN


def test_a_clearing_without_fills_or_a_slot_without_orders_frees_the_position() -> None:
    market = make_batch()
    ledger = market.ledger
    revealed_slot(market, SLOT)
    ledger.post_clearing(SLOT, [])
    assert ledger.slot_info(SLOT).phase is Phase.CLEARED
    ledger.open_slot(LATER)
    # Opened and never revealed into: nothing is held, the position is free.
    ledger.open_slot(LATER + SLOT_RING)
    assert ledger.slot_info(LATER + SLOT_RING).phase is Phase.OPEN


def test_a_void_slots_position_is_reused_once_every_order_is_reclaimed() -> None:
    market = make_batch()
    ledger = market.ledger
    total = ledger.escrow.total_internal_balance()
    revealed_slot(market, SLOT)
    market.chain.advance_time(ledger.clearing_deadline())
    for member in market.members[:-1]:
        ledger.reclaim(member, SLOT)
    assert ledger.slot_info(SLOT).phase is Phase.VOID
    with reverts("BatchMarket.open_slot", "ring position holds an unfinished slot"):
        ledger.open_slot(LATER)
    ledger.reclaim(market.members[-1], SLOT)
    assert all(market.escrow.locked_of(m) == 0 for m in market.members)
    _settle(market, LATER)
    market.assert_conserved(total)


def test_an_earlier_slots_words_are_not_the_new_slots() -> None:
    market = make_batch(n_members=4)
    ledger = market.ledger
    a, b, c, _ = market.members
    _settle(market, SLOT)
    ledger.open_slot(LATER)
    # c committed in SLOT and revealed; its commitment there is no commitment in LATER.
    assert ledger.commitment_of(LATER, c, ORDERS[2].order_id) == bytes(32)
    order = sealed("late", True, 1000, 100_000)
    ledger.commit(a, LATER, order)
    ledger.start_reveal(LATER)
    # The orders SLOT stored at indices 0..3 are not LATER's: nothing to fill or reclaim.
    with reverts("BatchMarket.post_clearing", "fill names an unknown order"):
        ledger.post_clearing(LATER, [Fill(0, 1, 1, 100_000)])
    with reverts("BatchMarket.reveal", "no commitment under this order id"):
        ledger.reveal(b, LATER, ORDERS[1])
    ledger.reveal(a, LATER, order)
    states = ledger.order_states(LATER)
    assert len(states) == 1 and states[0].filled_wh == 0 and not states[0].reclaimed
    market.chain.advance_time(ledger.clearing_deadline())
    with reverts("BatchMarket.reclaim", "no such order in the slot"):
        market.chain.transact(b, ledger.market, "reclaim", LATER, 1)
    ledger.reclaim(a, LATER)
    assert market.escrow.locked_of(a) == 0


def test_a_commitment_left_in_an_earlier_slot_blocks_nothing() -> None:
    market = make_batch()
    ledger = market.ledger
    a = market.members[0]
    order = sealed("x", True, 1000, 100_000)
    ledger.open_slot(SLOT)
    ledger.commit(a, SLOT, order)  # never revealed: the slot ends without orders
    ledger.open_slot(LATER)
    ledger.commit(a, LATER, order)  # the same id: a commitment of LATER's own
    assert ledger.commitment_of(LATER, a, order.order_id) == order.commitment(LATER, a)
    ledger.start_reveal(LATER)
    ledger.reveal(a, LATER, order)
    assert ledger.commitment_of(LATER, a, order.order_id) == bytes(32)


def test_anyone_may_release_a_void_slots_orders_to_their_owners() -> None:
    # Members who never reclaim would otherwise hold a void slot's ring position for ever.
    market = make_batch()
    ledger = market.ledger
    total = ledger.escrow.total_internal_balance()
    revealed_slot(market, SLOT)
    locked = {m: market.escrow.locked_of(m) for m in market.members}
    balances = {m: market.escrow.balance_of(m) for m in market.members}
    assert any(locked.values())
    with reverts("BatchMarket.reclaim", "clearing deadline not reached"):
        ledger.release_slot(market.outsider, SLOT)
    market.chain.advance_time(ledger.clearing_deadline())
    receipts = ledger.release_slot(market.outsider, SLOT)
    assert len(receipts) == len(ledger.order_states(SLOT))
    owners = [e.args["member"].lower() for r in receipts for e in r.events_named("Reclaimed")]
    assert sorted(owners) == sorted(s.order.owner.lower() for s in ledger.order_states(SLOT))
    for m in market.members:  # each lock went back to its owner, nothing to the caller
        assert market.escrow.locked_of(m) == 0
        assert market.escrow.balance_of(m) == balances[m]
    assert ledger.release_slot(market.operator, SLOT) == []  # nothing left to release
    with reverts("BatchMarket.reclaim", "order already reclaimed"):
        market.chain.transact(market.operator, ledger.market, "reclaim", SLOT, 0)
    _settle(market, LATER)
    market.assert_conserved(total)
