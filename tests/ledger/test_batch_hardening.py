"""The batch market against a squatting member, a silent operator, a donation, a restarted
client, and a community of more than 256 members.

* Commitments are kept per slot, member and order id: committing under another member's id
  blocks nobody.
* The clearing deadline: once it has passed without the clearing's last part, every member
  reclaims its own lock and the slot is void; no part of a clearing can be posted any more.
* Tokens sent to the contract without a deposit are a surplus, not a broken invariant.
* A client attached to the deployed contracts finishes a slot another client began: revealed
  orders, tallies and positions are read from the contract.
* A slot of 300 orders clears in several transactions; the largest slot the contract takes
  (``MAX_ORDERS``) closes within the gas of one transaction.
"""

from __future__ import annotations

import pytest

from peergrid.core.errors import LedgerError
from peergrid.core.orders import Order, Side
from peergrid.core.trades import Trade
from peergrid.ledger import (
    MAX_ORDERS_PER_SLOT,
    BatchMarketLedger,
    Chain,
    DistanceRow,
    Fill,
    Phase,
    Receipt,
    fills_from_trades,
    sealed_order,
    slot_transactions,
)
from peergrid.ledger.chain.base import TX_GAS_LIMIT
from peergrid.ledger.markets.batch_market import (
    DEFAULT_CLEARING_DEADLINE_S,
    MAX_FILLS_PER_CALL,
    ORDERS_CLOSED_WITH_FILLS,
    clear,
    clearing_calls,
    readings_calls,
)
from peergrid.ledger.markets.escrow import lock_micro

from .helpers import reverts
from .market_helpers import (
    B1,
    FEE,
    FILLS,
    FUNDS_MICRO,
    ORDERS,
    PENALTY,
    S1,
    SLOT,
    Batch,
    make_batch,
    revealed_slot,
    sealed,
)

CLEAR = "BatchMarket.post_clearing"
RECLAIM = "BatchMarket.reclaim"
DEADLINE = 600


# --- 1. order-id squatting -------------------------------------------------------------------


def test_a_member_committing_under_anothers_id_blocks_nothing(backend_chain: Chain) -> None:
    market = make_batch(3, fee_micro_per_kwh=FEE, chain=backend_chain)
    ledger, (a, b, c) = market.ledger, market.members
    a_order = sealed("a's order", True, 2000, 200_000)
    squat = sealed("a's order", False, 10, 1, salt="squatter")  # b takes a's id first
    ledger.open_slot(SLOT)
    ledger.commit(b, SLOT, squat)
    ledger.commit(a, SLOT, a_order)  # a commits under its own id all the same
    ledger.commit(c, SLOT, S1)
    ledger.start_reveal(SLOT)
    ledger.reveal(b, SLOT, squat)  # even revealed, b's order is b's
    ledger.reveal(a, SLOT, a_order)
    ledger.reveal(c, SLOT, S1)
    assert ledger.revealed(SLOT) == (squat.revealed(b), a_order.revealed(a), S1.revealed(c))
    # Trades name members, not ids: a's trade maps to a's order, not to b's under the same id.
    trade = Trade("a", "c", 2.0, 0.15, SLOT, buy_order="a's order", sell_order="S1")
    fills = fills_from_trades([trade], ledger.revealed(SLOT), {"a": a, "b": b, "c": c})
    assert fills == [Fill(1, 2, 2000, 150_000)]
    before = market.balances()
    ledger.post_clearing(SLOT, fills)
    # 2000 Wh at 0.15: 300 000, fee 20 000 split 10 000 / 10 000
    assert market.balances()[a] - before[a] == -310_000
    assert market.balances()[c] - before[c] == 290_000
    assert market.balances()[b] == before[b]
    market.assert_conserved(3 * FUNDS_MICRO)


# --- 2. a silent operator --------------------------------------------------------------------


def silent_slot(chain: Chain | None = None) -> Batch:
    """The worked example's four orders revealed, the clearing deadline DEADLINE s away."""
    market = make_batch(
        fee_micro_per_kwh=FEE,
        penalty_micro_per_kwh=PENALTY,
        clearing_deadline_s=DEADLINE,
        chain=chain,
    )
    return revealed_slot(market)


def test_members_reclaim_their_locks_once_the_deadline_has_passed(backend_chain: Chain) -> None:
    market = silent_slot(backend_chain)
    ledger, (s1, _, b1, b2) = market.ledger, market.members
    assert ledger.clearing_deadline() == DEADLINE
    deadline = ledger.deadline_of(SLOT)
    assert deadline == ledger.slot_info(SLOT).reveal_started_at + DEADLINE
    before = market.balances()
    locked = market.locked()
    assert locked[b1] == lock_micro(2500, 200_000, FEE) and locked[b2] == lock_micro(
        2000, 140_000, FEE
    )

    # Before the deadline: nobody reclaims, the operator may still post.
    market.chain.advance_time(DEADLINE - 30)
    with reverts(RECLAIM, "clearing deadline not reached"):
        ledger.reclaim(b1, SLOT)
    assert ledger.slot_info(SLOT).phase is Phase.REVEAL

    # After it: each member takes back its own lock; the first reclaim voids the slot.
    market.chain.advance_time(60)
    with reverts(CLEAR, "clearing deadline passed"):
        ledger.post_clearing(SLOT, FILLS)
    (event,) = ledger.reclaim(b1, SLOT).events_named("Reclaimed")
    assert (event.args["member"], event.args["index"]) == (b1, 2)
    assert event.args["released_micro"] == locked[b1]
    assert ledger.slot_info(SLOT).phase is Phase.VOID
    assert market.escrow.locked_of(b1) == 0 and market.escrow.locked_of(b2) == locked[b2]
    with reverts(RECLAIM, "order already reclaimed"):
        ledger.reclaim(b1, SLOT)
    ledger.reclaim(b2, SLOT)
    ledger.reclaim(s1, SLOT)  # a sell order locks nothing: nothing to release, but allowed
    with pytest.raises(LedgerError, match="revealed no order in slot"):
        ledger.reclaim(market.outsider, SLOT)
    # No part of a clearing after the void, and the meter has nothing to read.
    with reverts(CLEAR, "slot is not in its reveal phase"):
        ledger.post_clearing(SLOT, FILLS)
    with reverts("BatchMarket.post_readings", "slot is not cleared"):
        ledger.meters.post_readings(market.meter, SLOT, [], [])
    # Nothing moved but the locks: every balance as before, all of it free again.
    assert market.balances() == before
    assert market.locked() == dict.fromkeys(market.accounts, 0)
    market.assert_conserved(4 * FUNDS_MICRO)
    assert [s.reclaimed for s in ledger.order_states(SLOT)] == [True, False, True, True]


def test_a_clearing_left_half_posted_is_void_and_moves_nothing() -> None:
    """Parts of a clearing move no money: a silent operator after the first part leaves a slot
    that is voided whole, the posted fills ignored."""
    market = silent_slot()
    ledger, (s1, _, b1, b2) = market.ledger, market.members
    before = market.balances()
    market.chain.transact(
        market.operator, ledger.market, "post_clearing", SLOT, [FILLS[0].packed()], False
    )
    info = ledger.slot_info(SLOT)
    assert (info.phase, info.trade_count) == (Phase.CLEARING, 1)
    assert market.balances() == before  # tallied, not paid
    with reverts("BatchMarket.reveal", "slot is not in its reveal phase"):
        ledger.reveal(market.members[1], SLOT, ORDERS[1])
    market.chain.advance_time(DEADLINE)
    with reverts(CLEAR, "clearing deadline passed"):
        ledger.post_clearing(SLOT, FILLS)
    for member in (b1, b2, s1):
        ledger.reclaim(member, SLOT)
    assert market.balances() == before
    assert market.locked() == dict.fromkeys(market.accounts, 0)
    market.assert_conserved(4 * FUNDS_MICRO)


def test_reveals_end_at_the_deadline_and_a_cleared_slot_is_never_void() -> None:
    market = make_batch(fee_micro_per_kwh=FEE, clearing_deadline_s=DEADLINE)
    ledger, (a, b, *_) = market.ledger, market.members
    ledger.open_slot(SLOT)
    ledger.commit(a, SLOT, S1)
    ledger.commit(b, SLOT, B1)
    ledger.start_reveal(SLOT)
    ledger.reveal(a, SLOT, S1)
    market.chain.advance_time(DEADLINE)
    with reverts("BatchMarket.reveal", "clearing deadline passed"):
        ledger.reveal(b, SLOT, B1)
    # A slot cleared in time stays cleared, whatever the clock says.
    ledger.open_slot(SLOT + 1)
    ledger.commit(b, SLOT + 1, B1)
    ledger.start_reveal(SLOT + 1)
    ledger.reveal(b, SLOT + 1, B1)
    ledger.post_clearing(SLOT + 1, [])
    market.chain.advance_time(DEADLINE)
    with reverts(RECLAIM, "slot is not awaiting a clearing"):
        ledger.reclaim(b, SLOT + 1)
    assert market.escrow.locked_of(b) == 0


def test_a_void_slot_releases_the_feeder_map() -> None:
    market = make_batch(distance_charge_micro_per_km=2_000_000, clearing_deadline_s=DEADLINE)
    ledger, (a, b, *_) = market.ledger, market.members
    ledger.set_nodes({a: 1, b: 2})
    ledger.set_distances([DistanceRow(1, 2, 100_000)])
    ledger.open_slot(SLOT)
    ledger.commit(a, SLOT, B1)
    ledger.start_reveal(SLOT)
    ledger.reveal(a, SLOT, B1)
    with reverts("BatchMarket.set_distances", "the feeder map is in use by an open slot"):
        ledger.set_distances([DistanceRow(1, 2, 1)])
    market.chain.advance_time(DEADLINE)
    ledger.reclaim(a, SLOT)
    ledger.set_distances([DistanceRow(1, 2, 1)])  # the DSO may change its map again
    assert ledger.distance(1, 2) == 1


def test_the_deadline_is_set_at_deployment_within_bounds() -> None:
    market = make_batch()
    assert market.ledger.clearing_deadline() == DEFAULT_CLEARING_DEADLINE_S == 1800
    for bad in (0, 366 * 86400 + 1):
        with reverts("BatchMarket.constructor", "clearing deadline out of range"):
            make_batch(clearing_deadline_s=bad)


# --- 3. a donation -------------------------------------------------------------------------


def test_a_donation_is_a_surplus_not_a_failure() -> None:
    market = revealed_slot(make_batch(fee_micro_per_kwh=FEE, penalty_micro_per_kwh=PENALTY))
    escrow = market.escrow
    assert escrow.surplus_micro() == 0
    # Someone sends tokens straight to the contract: nobody's balance, nobody can take them.
    escrow.fund(market.outsider, 12_345)
    market.chain.transact(
        market.outsider, market.ledger.token, "transfer", market.ledger.market.address, 12_345
    )
    assert escrow.surplus_micro() == 12_345
    market.assert_conserved(4 * FUNDS_MICRO, surplus_micro=12_345)
    market.ledger.post_clearing(SLOT, FILLS)
    s1, _, b1, b2 = market.members
    market.ledger.post_readings(market.meter, SLOT, {s1: 2800, b1: 2600, b2: 400})
    market.assert_conserved(4 * FUNDS_MICRO, surplus_micro=12_345)
    with reverts("BatchMarket.withdraw", "free balance too low"):
        escrow.withdraw(market.outsider, 1)
    assert not escrow.conserved(4 * FUNDS_MICRO + 1)


# --- 4. a restarted client --------------------------------------------------------------------


def restarted(market: Batch) -> BatchMarketLedger:
    """A new client of the same contracts, as after a crash: it knows their addresses only.

    On a JSON-RPC chain it is a new connection signing with the operator's and meter's keys.
    """
    ledger = market.ledger
    chain: Chain = market.chain
    from peergrid.ledger.chain.rpc import RpcChain

    if isinstance(chain, RpcChain):
        fresh = RpcChain(chain.url)
        for role in (market.operator, market.meter, market.dso):
            fresh.add_account("0x" + bytes(chain._signers[role].key).hex(), "role")
        chain = fresh
    return BatchMarketLedger.at(
        chain,
        token=ledger.token.address,
        market=ledger.market.address,
        operator=market.operator,
        dso=market.dso,
        issuer=market.issuer,
    )


READINGS = (2800, 2600, 400)  # S1, B1, B2: deviations both ways, penalties


def finish(ledger: BatchMarketLedger, market: Batch, *, restart_after: str) -> BatchMarketLedger:
    """Clear the revealed example slot and post its readings, with a new client from the
    point named (``reveals`` or ``clearing``); the client that finished."""
    if restart_after == "reveals":
        ledger = restarted(market)
        assert ledger.revealed(SLOT) == market.ledger.revealed(SLOT)
    ledger.post_clearing(SLOT, FILLS)
    if restart_after == "clearing":
        ledger = restarted(market)
        # Cleared in one transaction: no tallies stored, the fills are cleared again and
        # checked against the positions hash.
        with pytest.raises(LedgerError, match="matches neither the stored tallies"):
            ledger.positions(SLOT)
        with pytest.raises(LedgerError, match="matches neither the stored tallies"):
            ledger.positions(SLOT, FILLS[:1])
        assert ledger.positions(SLOT, FILLS) == market.ledger.positions(SLOT)
    s1, _, b1, b2 = market.members
    ledger.post_readings(market.meter, SLOT, dict(zip((s1, b1, b2), READINGS, strict=True)))
    return ledger


@pytest.mark.parametrize("restart_after", ["reveals", "clearing"])
def test_a_restarted_client_finishes_the_slot(backend_chain: Chain, restart_after: str) -> None:
    market = silent_slot(backend_chain)
    reference = silent_slot()  # the same slot without a restart, on the embedded chain
    s1, _, b1, b2 = reference.members
    reference.ledger.post_clearing(SLOT, FILLS)
    reference.ledger.post_readings(
        reference.meter, SLOT, dict(zip((s1, b1, b2), READINGS, strict=True))
    )
    ledger = finish(market.ledger, market, restart_after=restart_after)
    try:
        assert ledger.slot_info(SLOT).phase is Phase.SETTLED
        by_role = lambda m: [m.balances()[a] for a in m.accounts]  # noqa: E731
        assert by_role(market) == by_role(reference)
        market.assert_conserved(4 * FUNDS_MICRO)
    finally:
        if ledger.chain is not market.chain:
            ledger.chain.close()


def test_a_client_restarted_midway_through_a_clearing_sends_the_rest() -> None:
    market = silent_slot()
    market.chain.transact(
        market.operator, market.ledger.market, "post_clearing", SLOT, [FILLS[0].packed()], False
    )
    ledger = restarted(market)
    with pytest.raises(LedgerError, match="1 fills posted that are not the first of these"):
        ledger.post_clearing(SLOT, FILLS[::-1])
    receipts = ledger.post_clearing(SLOT, FILLS)
    # The second fill and the closing: the first was not sent again.
    assert [len(ledger.trades_in(r)) for r in receipts] == [1, 0]
    assert ledger.slot_info(SLOT).trade_count == 2
    reference = silent_slot()
    reference.ledger.post_clearing(SLOT, FILLS)
    assert market.balances() == reference.balances()


def test_a_client_attached_elsewhere_reads_the_slot_but_a_wrong_address_fails() -> None:
    market = silent_slot()
    with pytest.raises(LedgerError, match="is not cleared"):
        restarted(market).positions(SLOT)
    with pytest.raises(LedgerError, match="bad address"):
        BatchMarketLedger.at(
            market.chain,
            token="nope",
            market=market.ledger.market.address,
            operator=market.operator,
            dso=market.dso,
            issuer=market.issuer,
        )


# --- 5. more than 256 orders ------------------------------------------------------------------


def test_the_clearings_transactions_follow_the_stated_formula() -> None:
    assert clearing_calls(4, 2) == 1
    assert clearing_calls(ORDERS_CLOSED_WITH_FILLS, MAX_FILLS_PER_CALL) == 1
    assert clearing_calls(ORDERS_CLOSED_WITH_FILLS + 1, 0) == 1  # the closing alone
    assert clearing_calls(ORDERS_CLOSED_WITH_FILLS + 1, 1) == 2
    assert clearing_calls(10, MAX_FILLS_PER_CALL + 1) == 3
    assert (readings_calls(0), readings_calls(256), readings_calls(257)) == (1, 1, 2)
    assert slot_transactions(4, 2, 3) == 2 * 4 + 4
    assert slot_transactions(256, 128, 256) == 2 * 256 + 4
    assert slot_transactions(4, 0, 0) == 2 * 4 + 3  # an empty clearing: no readings
    assert slot_transactions(300, 150, 300) == 2 * 300 + 2 + 3 + 2


def community_orders(n: int, slot: int) -> list[Order]:
    """Half sellers at 0.10 + i micro, half buyers at 0.20 - i micro, 1 kWh each."""
    return [
        Order(
            f"{slot}-m{i}",
            f"m{i}",
            Side.SELL if i % 2 == 0 else Side.BUY,
            1.0,
            0.1 + i * 1e-6 if i % 2 == 0 else 0.2 - i * 1e-6,
            slot=slot,
        )
        for i in range(n)
    ]


def run_community_slot(
    market: Batch, n: int, *, extra: int = 0
) -> tuple[list[Fill], tuple[Receipt, ...], tuple[Receipt, ...]]:
    """A slot of ``n`` orders from ``n`` members, each buyer paired with the seller before it:
    its fills and the receipts of its clearing and readings. ``extra`` more members commit,
    and their reveals are refused: the slot is full."""
    ledger, slot = market.ledger, SLOT
    orders = community_orders(n + extra, slot)
    address_of = {f"m{i}": m for i, m in enumerate(market.members[: n + extra])}
    sealed = [sealed_order(o, salt=bytes(32)) for o in orders]
    ledger.open_slot(slot)
    for order, s in zip(orders, sealed, strict=True):
        ledger.commit(address_of[order.agent], slot, s)
    ledger.start_reveal(slot)
    for order, s in zip(orders[:n], sealed, strict=False):
        ledger.reveal(address_of[order.agent], slot, s)
    for order, s in zip(orders[n:], sealed[n:], strict=True):
        with reverts("BatchMarket.reveal", "slot has the most orders it can clear"):
            ledger.reveal(address_of[order.agent], slot, s)
    trades = [
        Trade(f"m{i}", f"m{i - 1}", 1.0, 0.15, slot, buy_order=f"{slot}-m{i}")
        for i in range(1, n, 2)
    ]
    fills = fills_from_trades(trades, ledger.revealed(slot), address_of)
    clearing = ledger.post_clearing(slot, fills)
    readings = ledger.post_readings(
        market.meter, slot, {p.member: p.energy_wh for p in ledger.positions(slot)}
    )
    return fills, clearing, readings


@pytest.mark.slow
def test_a_slot_of_300_orders_clears_in_parts() -> None:
    n = 300
    market = make_batch(n, deposit_micro=10_000_000, fee_micro_per_kwh=FEE)
    fills, clearing, readings = run_community_slot(market, n)
    assert len(fills) == 150
    # Two parts of fills (128 + 22) and the closing; readings 256 + 44.
    assert (len(clearing), len(readings)) == (clearing_calls(n, 150), readings_calls(300)) == (3, 2)
    # One Traded event per part with fills, one word per fill.
    assert [len(r.events_named("Traded")) for r in clearing] == [1, 1, 0]
    assert [len(market.ledger.trades_in(r)) for r in clearing] == [128, 22, 0]
    assert [len(r.events_named("MeterSettled")) for r in readings] == [256, 44]
    info = market.ledger.slot_info(SLOT)
    assert (info.phase, info.order_count, info.trade_count) == (Phase.SETTLED, n, 150)
    # Each pair: 1000 Wh at 0.15 = 150 000, fee 10 000 split; the DSO holds the fees.
    balances = market.balances()
    assert balances[market.members[1]] == 10_000_000 - 155_000
    assert balances[market.members[0]] == 10_000_000 + 145_000
    assert balances[market.dso] == 150 * 10_000
    assert market.locked() == dict.fromkeys(market.accounts, 0)
    market.assert_conserved(n * 10_000_000)
    outcome = clear(market.ledger.revealed(SLOT), fills, FEE)
    assert market.ledger.positions(SLOT) == outcome.positions
    assert all(r.gas_used < TX_GAS_LIMIT // 2 for r in (*clearing, *readings))


@pytest.mark.slow
def test_the_largest_slot_closes_within_one_transactions_gas() -> None:
    """MAX_ORDERS orders, every one filled and charged a distance it cannot pay (a shortfall
    logged for each): the dearest closing there is, in one transaction of at most 2**24 gas.
    One order more is refused."""
    n = MAX_ORDERS_PER_SLOT
    market = make_batch(n + 1, deposit_micro=200_000, distance_charge_micro_per_km=2_000_000)
    ledger = market.ledger
    assert ledger.max_orders() == n
    ledger.set_nodes({m: 1 + i % 2 for i, m in enumerate(market.members)})
    ledger.set_distances([DistanceRow(1, 2, 10**9)])  # 1 000 km: 2 000 currency a pair
    fills, clearing, _ = run_community_slot(market, n, extra=1)
    assert len(fills) == n // 2
    closing = clearing[-1]
    assert len(closing.events_named("ChargeShortfall")) == n
    assert closing.gas_used < TX_GAS_LIMIT * 0.9, closing.gas_used
    market.assert_conserved((n + 1) * 200_000)
