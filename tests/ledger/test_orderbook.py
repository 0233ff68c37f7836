"""The on-chain continuous double auction: priority, partial fills, mid price, NCDA, gates, gas."""

from __future__ import annotations

import pytest

from peergrid.core.orders import Order, Side
from peergrid.ledger import CancelReason, Chain, DistanceRow, Pool
from peergrid.ledger.markets.base import UNKNOWN_DISTANCE
from peergrid.ledger.markets.escrow import lock_micro
from peergrid.ledger.markets.orderbook import ORDER_POSITIONS, order_owner_index, pack_ticket

from .helpers import reverts
from .market_helpers import FUNDS_MICRO, Book, make_book

FEE = 10_000  # 0.01 per kWh
S = 1  # the session the fixture opens
PLACE = "OrderBook.place"


@pytest.fixture
def book() -> Book:
    return make_book(fee_micro_per_kwh=FEE)


def sells(b: Book, pool: Pool = Pool.UP) -> list[tuple[int, int]]:
    return [(o.price_micro_per_kwh, o.remaining_wh) for o in b.ledger.orders(S, pool, False)]


def buys(b: Book, pool: Pool = Pool.UP) -> list[tuple[int, int]]:
    return [(o.price_micro_per_kwh, o.remaining_wh) for o in b.ledger.orders(S, pool, True)]


# --- priority, partial fills, mid price ---------------------------------------------------------


def test_a_buy_takes_sells_in_price_time_order_at_mid_prices(backend_chain: Chain) -> None:
    """On both backends: the embedded chain and anvil."""
    book = make_book(fee_micro_per_kwh=FEE, chain=backend_chain)
    ledger, (m0, m1, m2, m3) = book.ledger, book.members
    a = ledger.place(m0, S, Pool.UP, False, 1000, 100_000).order_id
    b = ledger.place(m1, S, Pool.UP, False, 1000, 90_000).order_id
    c = ledger.place(m2, S, Pool.UP, False, 500, 100_000).order_id
    assert [o.order_id for o in ledger.orders(S, Pool.UP, False)] == [b, a, c]
    before = book.balances()

    taker = ledger.place(m3, S, Pool.UP, True, 2200, 120_000)
    assert [(t.sell_order, t.energy_wh, t.price_micro_per_kwh) for t in taker.trades] == [
        (b, 1000, 105_000),  # mid of 120 000 and 90 000
        (a, 1000, 110_000),
        (c, 200, 110_000),  # partial: c keeps 300 Wh
    ]
    assert all(t.buy_order == taker.order_id for t in taker.trades)
    delta = {k: v - before[k] for k, v in book.balances().items()}
    # value 105 000 + 110 000 + 22 000, fees 10 000 + 10 000 + 2 000 split in halves
    assert delta[m3] == -(110_000 + 115_000 + 23_000)
    assert (delta[m1], delta[m0], delta[m2]) == (100_000, 105_000, 21_000)
    assert delta[book.dso] == 22_000
    assert sum(delta.values()) == 0
    assert book.escrow.locked_of(m3) == 0  # filled whole: its lock is gone
    assert sells(book) == [(100_000, 300)]
    assert buys(book) == []
    state = ledger.book(S, Pool.UP)
    assert (state.sell_head, state.best_sell_micro_per_kwh, state.best_buy_micro_per_kwh) == (
        c,
        100_000,
        None,
    )
    book.assert_conserved(4 * FUNDS_MICRO)


def test_a_sell_fills_resting_buys_and_shrinks_their_escrow(book: Book) -> None:
    ledger, (m0, m1, m2, m3) = book.ledger, book.members
    ledger.place(m0, S, Pool.UP, True, 1000, 120_000)
    ledger.place(m1, S, Pool.UP, True, 500, 130_000)
    late = ledger.place(m2, S, Pool.UP, True, 1000, 120_000).order_id
    assert buys(book) == [(130_000, 500), (120_000, 1000), (120_000, 1000)]
    taker = ledger.place(m3, S, Pool.UP, False, 2000, 110_000)
    assert [(t.energy_wh, t.price_micro_per_kwh) for t in taker.trades] == [
        (500, 120_000),
        (1000, 115_000),
        (500, 115_000),
    ]
    assert buys(book) == [(120_000, 500)]
    assert ledger.order(late) is not None
    # m2 bought 500 Wh at 115 000: value 57 500 + fee share 2 500; its lock fell from
    # lock(1000 Wh) = 130 000 to lock(500 Wh) = 65 000
    assert book.escrow.balance_of(m2) == FUNDS_MICRO - 60_000
    assert book.escrow.locked_of(m2) == 65_000 == lock_micro(500, 120_000, FEE)
    assert book.escrow.locked_of(m0) == book.escrow.locked_of(m1) == 0
    book.assert_conserved(4 * FUNDS_MICRO)


def test_equal_prices_cross_only_when_not_strict() -> None:
    strict = make_book(n_members=2)
    strict.ledger.place(strict.members[0], S, Pool.UP, False, 1000, 100_000)
    assert strict.ledger.place(strict.members[1], S, Pool.UP, True, 1000, 100_000).trades == ()
    assert buys(strict) == [(100_000, 1000)] and sells(strict) == [(100_000, 1000)]

    loose = make_book(n_members=2, strict_crossing=False)
    loose.ledger.place(loose.members[0], S, Pool.UP, False, 1000, 100_000)
    (trade,) = loose.ledger.place(loose.members[1], S, Pool.UP, True, 1000, 100_000).trades
    assert (trade.energy_wh, trade.price_micro_per_kwh) == (1000, 100_000)


def test_the_two_pools_are_separate_books(book: Book) -> None:
    ledger, (m0, m1, *_) = book.ledger, book.members
    ledger.place(m0, S, Pool.UP, False, 1000, 100_000)
    assert ledger.place(m1, S, Pool.DOWN, True, 1000, 150_000).trades == ()
    assert sells(book, Pool.UP) == [(100_000, 1000)]
    assert buys(book, Pool.DOWN) == [(150_000, 1000)]
    (trade,) = ledger.place(m1, S, Pool.UP, True, 400, 150_000).trades
    assert trade.pool is Pool.UP


def test_rested_orders_keep_price_time_order(book: Book) -> None:
    ledger, m = book.ledger, book.members
    for i, price in enumerate([50_000, 70_000, 60_000, 70_000, 40_000, 60_000]):
        ledger.place(m[i % 4], S, Pool.UP, True, 100 + i, price)
    assert buys(book) == [
        (70_000, 101),
        (70_000, 103),
        (60_000, 102),
        (60_000, 105),
        (50_000, 100),
        (40_000, 104),
    ]
    for i, price in enumerate([90_000, 80_000, 90_000, 85_000]):
        ledger.place(m[i % 4], S, Pool.UP, False, 10 + i, price)
    assert sells(book) == [(80_000, 11), (85_000, 13), (90_000, 10), (90_000, 12)]


def test_a_core_order_is_placed_in_wh_and_micro(book: Book) -> None:
    order = Order("o1", "a", Side.BUY, 1.25, 0.2)
    placement = book.ledger.place_order(book.members[0], S, Pool.DOWN, order)
    resting = book.ledger.order(placement.order_id)
    assert resting is not None
    assert (resting.remaining_wh, resting.price_micro_per_kwh, resting.pool) == (
        1250,
        200_000,
        Pool.DOWN,
    )
    assert order_owner_index(placement.order_id) == book.ledger.consortium.index_of(book.members[0])


# --- limits of a placement -----------------------------------------------------------------------


def test_a_crossing_order_that_hits_the_fill_limit_does_not_rest(book: Book) -> None:
    ledger, (m0, m1, m2, m3) = book.ledger, book.members
    for member, price in ((m0, 90_000), (m1, 95_000), (m2, 99_000)):
        ledger.place(member, S, Pool.UP, False, 100, price)
    placement = ledger.place(m3, S, Pool.UP, True, 1000, 120_000, max_fills=2)
    assert placement.filled_wh == 200
    (cancel,) = placement.cancellations
    assert (cancel.order_id, cancel.remaining_wh, cancel.reason) == (
        placement.order_id,
        800,
        CancelReason.FILL_LIMIT,
    )
    assert buys(book) == [] and sells(book) == [(99_000, 100)]
    assert book.escrow.locked_of(m3) == 0
    book.assert_conserved(4 * FUNDS_MICRO)


def test_a_resting_order_of_the_takers_own_is_cancelled_not_traded(book: Book) -> None:
    ledger, (m0, m1, *_) = book.ledger, book.members
    own = ledger.place(m0, S, Pool.UP, True, 1000, 100_000).order_id
    ledger.place(m1, S, Pool.UP, True, 1000, 90_000)
    assert book.escrow.locked_of(m0) == lock_micro(1000, 100_000, FEE)
    placement = ledger.place(m0, S, Pool.UP, False, 500, 80_000)
    (cancel,) = placement.cancellations
    assert (cancel.order_id, cancel.reason) == (own, CancelReason.SELF_TRADE)
    (trade,) = placement.trades
    assert (trade.energy_wh, trade.price_micro_per_kwh) == (500, 85_000)
    assert book.escrow.locked_of(m0) == 0
    assert buys(book) == [(90_000, 500)]
    book.assert_conserved(4 * FUNDS_MICRO)


def test_a_buy_needs_free_balance_for_its_escrow() -> None:
    b = make_book(n_members=1, deposit_micro=100_000)
    with reverts(PLACE, "free balance too low for the order's escrow"):
        b.ledger.place(b.members[0], S, Pool.UP, True, 1000, 100_001)
    b.ledger.place(b.members[0], S, Pool.UP, True, 1000, 100_000)
    with reverts("OrderBook.withdraw", "free balance too low"):
        b.escrow.withdraw(b.members[0], 1)


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ((S, 2, True, 1000, 1), "unknown book"),
        ((2**32, 0, True, 1000, 1), "unknown book"),
        ((S, 0, True, 0, 1), "zero quantity"),
        ((S, 0, True, 2**48, 1), "quantity out of range"),
        ((S, 0, False, 1000, 2**48), "price out of range"),
        ((S, 0, False, 1000, -1), "price out of range"),
    ],
)
def test_bad_placements_are_refused_before_sending(
    book: Book, args: tuple[int, ...], reason: str
) -> None:
    with reverts(PLACE, reason):
        book.ledger.place(book.members[0], *args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ticket", "reason"),
    [
        (pack_ticket(S, Pool.UP, True, 1000, 1) | 1 << 200, "malformed order ticket"),
        (pack_ticket(S, Pool.UP, True, 1000, 1) | 1 << 255, "malformed order ticket"),
        (pack_ticket(S, Pool.UP, True, 1000, 1, max_fills=0) | 33 << 96, "max_fills out of range"),
        (pack_ticket(S, Pool.UP, True, 1000, 1) & ~(2**48 - 1), "zero quantity"),
        (pack_ticket(2, Pool.UP, True, 1000, 1), "session is not open"),
    ],
)
def test_bad_tickets_are_refused_by_the_contract(book: Book, ticket: int, reason: str) -> None:
    with reverts(PLACE, reason):
        book.chain.transact(book.members[0], book.ledger.market, "place", ticket)


def test_placed_event_carries_the_order(book: Book) -> None:
    placed = book.ledger.place(book.members[1], S, Pool.DOWN, False, 1234, 56_789)
    (event,) = placed.receipt.events_named("OrderPlaced")
    word = int(event.args["order"])
    assert word & (2**48 - 1) == 1234
    assert (word >> 48) & (2**48 - 1) == 56_789
    assert (word >> 96) & (2**64 - 1) == placed.order_id
    assert (word >> 208) & (2**32 - 1) == S
    assert (word >> 240) & 1 == int(Pool.DOWN)
    assert (word >> 241) & 1 == 1
    assert word >> 242 == 0


# --- hints ---------------------------------------------------------------------------------------


def test_hints_are_checked_and_walked(book: Book) -> None:
    ledger, (m0, m1, m2, m3) = book.ledger, book.members
    ids = [ledger.place(m0, S, Pool.UP, True, 100, p).order_id for p in (90_000, 80_000, 70_000)]
    with reverts(PLACE, "hint is past the insertion point"):
        ledger.place(m1, S, Pool.UP, True, 100, 85_000, hint=ids[2])
    ledger.place(m1, S, Pool.DOWN, True, 100, 95_000)
    with reverts(PLACE, "hint is not in this book"):
        ledger.place(m1, S, Pool.DOWN, True, 100, 85_000, hint=ids[0])
    # a hint is not read when the order becomes the best of its side
    ledger.place(m1, S, Pool.DOWN, True, 100, 99_000, hint=ids[0])
    other = ledger.place(m2, S, Pool.UP, False, 100, 200_000).order_id
    with reverts(PLACE, "hint is not in this book"):
        ledger.place(m1, S, Pool.UP, True, 100, 85_000, hint=other)
    # a stale hint before the insertion point is walked forward
    ledger.place(m1, S, Pool.UP, True, 100, 75_000, hint=ids[0])
    ledger.place(m3, S, Pool.UP, True, 100, 60_000, hint=0)
    assert [p for p, _ in buys(book)] == [90_000, 80_000, 75_000, 70_000, 60_000]


def test_a_hint_too_far_from_the_insertion_point_is_refused() -> None:
    # 67 resting orders: five members, as one member rests at most ORDER_POSITIONS.
    b = make_book(n_members=5)
    ledger, members = b.ledger, b.members
    first = ledger.place(members[0], S, Pool.UP, False, 1, 100_000).order_id
    for i in range(65):
        ledger.place(members[(i + 1) % 5], S, Pool.UP, False, 1, 100_000)
    with reverts(PLACE, "hint too far from the insertion point"):
        ledger.place(members[1], S, Pool.UP, False, 1, 100_000, hint=first)
    ledger.place(members[1], S, Pool.UP, False, 1, 100_000)  # with the exact hint
    assert len(ledger.orders(S, Pool.UP, False)) == 67


# --- storage positions: reuse, tombstones, the limit ----------------------------------------------


def _position(order_id: int) -> int:
    """Where the contract stores an order: member index << 6 | nonce % 64."""
    return (order_id >> 32) << 6 | (order_id & (ORDER_POSITIONS - 1))


def test_a_position_left_by_an_order_is_reused_17_100_gas_cheaper(book: Book) -> None:
    ledger, (m0, m1, _, _) = book.ledger, book.members
    gas, ids = [], []
    for _ in range(ORDER_POSITIONS + 1):  # alone in its side each time: the same path
        placed = ledger.place(m0, S, Pool.UP, False, 1000, 100_000)
        gas.append(placed.receipt.gas_used)
        ids.append(placed.order_id)
        ledger.cancel(m0, placed.order_id)
    # Ids never repeat; the 65th order sits where the first did.
    assert [i & 0xFFFFFFFF for i in ids] == list(range(1, ORDER_POSITIONS + 2))
    assert _position(ids[-1]) == _position(ids[0])
    assert len(set(gas[:-1])) == 1  # every first use costs the same
    # A tombstone rewritten (2 900) instead of a zero word filled (20 000).
    assert gas[-2] - gas[-1] == 17_100
    # The order at the reused position trades and cancels as any other.
    again = ledger.place(m0, S, Pool.UP, False, 1000, 100_000).order_id
    assert _position(again) == _position(ids[1])
    taker = ledger.place(m1, S, Pool.UP, True, 400, 120_000)
    assert [(t.sell_order, t.energy_wh) for t in taker.trades] == [(again, 400)]
    left = ledger.order(again)
    assert left is not None and left.remaining_wh == 600
    ledger.cancel(m0, again)
    assert sells(book) == [] and book.escrow.locked_of(m0) == 0


def test_an_order_that_left_cannot_be_filled_cancelled_or_seen_again(book: Book) -> None:
    ledger, (m0, m1, m2, _) = book.ledger, book.members
    filled = ledger.place(m0, S, Pool.UP, False, 1000, 100_000).order_id
    cancelled = ledger.place(m0, S, Pool.UP, False, 1000, 101_000).order_id
    ledger.cancel(m0, cancelled)
    assert len(ledger.place(m1, S, Pool.UP, True, 1000, 120_000).trades) == 1
    for gone in (filled, cancelled):
        assert ledger.order(gone) is None
        with reverts("OrderBook.cancel", "no such resting order"):
            ledger.chain.transact(m0, ledger.market, "cancel", gone, 0)
    # Nothing left to take: a crossing buy rests instead of meeting a tombstone.
    before = book.balances()
    rest = ledger.place(m2, S, Pool.UP, True, 1000, 150_000)
    assert rest.trades == () and buys(book) == [(150_000, 1000)] and book.balances() == before
    # A tombstone is no hint, and an id beyond 64 bits names no order.
    with reverts(PLACE, "hint is not in this book"):
        ledger.place(m2, S, Pool.UP, True, 10, 140_000, hint=filled)
    assert ledger.order(filled | 1 << 64) is None


def test_a_stale_id_does_not_reach_the_order_that_reuses_its_position(book: Book) -> None:
    ledger, (m0, _, _, _) = book.ledger, book.members
    old = ledger.place(m0, S, Pool.UP, False, 1000, 100_000).order_id
    ledger.cancel(m0, old)
    for _ in range(ORDER_POSITIONS - 1):
        ledger.cancel(m0, ledger.place(m0, S, Pool.UP, False, 1, 100_000).order_id)
    new = ledger.place(m0, S, Pool.UP, False, 700, 90_000).order_id
    assert new != old and _position(new) == _position(old)
    assert ledger.order(old) is None
    with reverts("OrderBook.cancel", "no such resting order"):
        ledger.chain.transact(m0, ledger.market, "cancel", old, 0)
    resting = ledger.order(new)
    assert resting is not None and (resting.remaining_wh, resting.price_micro_per_kwh) == (
        700,
        90_000,
    )
    assert [o.order_id for o in ledger.orders(S, Pool.UP, False)] == [new]
    assert ledger.book(S, Pool.UP).sell_head == new


def test_a_member_with_every_position_resting_is_refused_until_one_leaves(book: Book) -> None:
    ledger, (m0, m1, _, _) = book.ledger, book.members
    ids: list[int] = []
    for _ in range(ORDER_POSITIONS):  # equal prices: each rests behind the one before
        ids.append(
            ledger.place(m0, S, Pool.UP, True, 10, 50_000, hint=ids[-1] if ids else 0).order_id
        )
    locked = book.escrow.locked_of(m0)
    with reverts(PLACE, "all order positions in use"):
        ledger.place(m0, S, Pool.UP, False, 10, 200_000, hint=0)
    assert book.escrow.locked_of(m0) == locked
    ledger.place(m1, S, Pool.UP, False, 10, 200_000)  # another member is not limited
    ledger.cancel(m0, ids[9], hint=ids[8])  # nonce 10 leaves
    # The next nonce (65) points at a resting order: it skips to the free position, nonce 74.
    skipped = ledger.place(m0, S, Pool.UP, False, 10, 200_000).order_id
    assert skipped & 0xFFFFFFFF == ORDER_POSITIONS + 10
    assert _position(skipped) == _position(ids[9])
    assert [o.order_id for o in ledger.orders(S, Pool.UP, False)][-1] == skipped
    with reverts(PLACE, "all order positions in use"):
        ledger.place(m0, S, Pool.UP, False, 10, 200_000)
    # A fill frees one, and so does self-trade prevention: a crossing sell of m0's own (one
    # resting order touched at most) cancels its best buy, then its own rest (fill limit).
    ledger.place(m1, S, Pool.UP, False, 10, 40_000)  # fills m0's best buy, ids[0]
    follow = ledger.place(m0, S, Pool.UP, False, 10, 40_000, max_fills=1)
    assert [(c.order_id, c.reason) for c in follow.cancellations] == [
        (ids[1], CancelReason.SELF_TRADE),
        (follow.order_id, CancelReason.FILL_LIMIT),
    ]
    assert len(ledger.orders(S, Pool.UP, True)) == ORDER_POSITIONS - 3
    ledger.place(m0, S, Pool.UP, False, 10, 200_000)  # a free position again


# --- cancellation and gate closure ---------------------------------------------------------------


def test_cancellation_releases_escrow_and_relinks_the_list(book: Book) -> None:
    ledger, (m0, m1, m2, _) = book.ledger, book.members
    top = ledger.place(m0, S, Pool.UP, True, 1000, 100_000).order_id
    middle = ledger.place(m1, S, Pool.UP, True, 1000, 90_000).order_id
    low = ledger.place(m2, S, Pool.UP, True, 1000, 80_000).order_id
    with reverts("OrderBook.cancel", "caller does not own the order"):
        ledger.cancel(m0, middle)
    with reverts("OrderBook.cancel", "order not found after the hint"):
        ledger.cancel(m1, middle, hint=low)
    receipt = ledger.cancel(m1, middle)
    (event,) = receipt.events_named("OrderCancelled")
    assert (event.args["remaining_wh"], event.args["reason"]) == (1000, CancelReason.OWNER)
    assert book.escrow.locked_of(m1) == 0
    assert buys(book) == [(100_000, 1000), (80_000, 1000)]
    ledger.cancel(m0, top)
    assert buys(book) == [(80_000, 1000)]
    assert ledger.book(S, Pool.UP).best_buy_micro_per_kwh == 80_000
    with reverts("OrderBook.cancel", "no such resting order"):
        book.chain.transact(m0, ledger.market, "cancel", top, 0)
    assert ledger.order(top) is None


def test_gate_closure(book: Book) -> None:
    ledger, (m0, m1, *_) = book.ledger, book.members
    buy = ledger.place(m0, S, Pool.UP, True, 1000, 100_000).order_id
    sell = ledger.place(m1, S, Pool.DOWN, False, 1000, 150_000).order_id
    with reverts("OrderBook.cancel", "gate is not closed"):
        book.chain.transact(book.operator, ledger.market, "cancel", buy, 0)
    with reverts("OrderBook.close_session", "caller is not the operator"):
        book.chain.transact(m0, ledger.market, "close_session", S)
    ledger.close_session(S)
    assert ledger.book(S, Pool.UP).closed
    with reverts(PLACE, "gate is closed"):
        ledger.place(m1, S, Pool.UP, False, 1000, 90_000)
    with reverts("OrderBook.close_session", "session is not open"):
        ledger.close_session(S)
    receipt = ledger.expire(buy)
    assert receipt.events_named("OrderCancelled")[0].args["reason"] == CancelReason.EXPIRED
    assert book.escrow.locked_of(m0) == 0
    ledger.cancel(m1, sell)  # an owner may still cancel after the gate
    book.assert_conserved(4 * FUNDS_MICRO)
    with reverts("OrderBook.open_session", "session already opened"):
        ledger.open_session(S)
    ledger.open_session(S + 1)
    ledger.place(m1, S + 1, Pool.UP, False, 1000, 90_000)


def test_a_removed_member_still_cancels_and_withdraws(book: Book) -> None:
    ledger, (m0, m1, m2, m3) = book.ledger, book.members
    order = ledger.place(m0, S, Pool.UP, True, 1000, 100_000).order_id
    proposal, _ = ledger.consortium.propose_revoke(m1, m0)
    for voter in (m2, m3, book.dso):  # 4 of the 6 voters
        ledger.consortium.vote(voter, proposal)
    assert not ledger.consortium.is_member(m0)
    with reverts(PLACE, "caller is not a prosumer"):
        ledger.place(m0, S, Pool.UP, True, 1000, 100_000)
    ledger.cancel(m0, order)
    book.escrow.withdraw(m0, FUNDS_MICRO)
    assert book.escrow.balance_of(m0) == 0
    assert book.escrow.token_balance(m0) == FUNDS_MICRO


# --- NCDA ----------------------------------------------------------------------------------------


def ncda_book() -> Book:
    """Buyer m3 at node 1; sellers m0 (node 2, 500 m), m1 (node 3, 50 m), m2 (node 4, unmapped)."""
    b = make_book(ncda=True)
    m0, m1, m2, m3 = b.members
    b.ledger.set_nodes({m0: 2, m1: 3, m2: 4, m3: 1})
    b.ledger.set_distances(
        [DistanceRow(1, 2, 500_000), DistanceRow(3, 1, 50_000), DistanceRow(2, 3, 450_000)]
    )
    return b


def test_ncda_takes_the_nearest_crossing_offers_first() -> None:
    b = ncda_book()
    ledger, (m0, m1, m2, m3) = b.ledger, b.members
    assert ledger.book(S, Pool.UP).ncda
    far = ledger.place(m0, S, Pool.UP, False, 1000, 90_000).order_id
    near = ledger.place(m1, S, Pool.UP, False, 1000, 100_000).order_id
    unknown = ledger.place(m2, S, Pool.UP, False, 1000, 80_000).order_id
    assert [o.order_id for o in ledger.orders(S, Pool.UP, False)] == [unknown, far, near]
    taker = ledger.place(m3, S, Pool.UP, True, 1500, 120_000)
    assert [(t.sell_order, t.energy_wh, t.price_micro_per_kwh) for t in taker.trades] == [
        (near, 1000, 110_000),
        (far, 500, 105_000),
    ]
    assert [(o.order_id, o.remaining_wh) for o in ledger.orders(S, Pool.UP, False)] == [
        (unknown, 1000),
        (far, 500),
    ]
    assert ledger.book(S, Pool.UP).best_sell_micro_per_kwh == 80_000
    b.assert_conserved(4 * FUNDS_MICRO)


def test_ncda_breaks_distance_ties_by_price_and_only_takes_crossing_offers() -> None:
    b = ncda_book()
    ledger, (m0, m1, m2, m3) = b.ledger, b.members
    ledger.set_nodes({m2: 2})  # m2 now as far as m0
    dear = ledger.place(m0, S, Pool.UP, False, 100, 95_000).order_id
    cheap = ledger.place(m2, S, Pool.UP, False, 100, 85_000).order_id
    ledger.place(m1, S, Pool.UP, False, 100, 130_000)  # nearest, but does not cross
    taker = ledger.place(m3, S, Pool.UP, True, 150, 120_000)
    assert [(t.sell_order, t.energy_wh) for t in taker.trades] == [(cheap, 100), (dear, 50)]


def test_the_same_orders_in_a_cda_session_go_by_price() -> None:
    b = ncda_book()
    ledger, (m0, m1, m2, m3) = b.ledger, b.members
    ledger.open_session(S + 1, ncda=False)
    for member, price in ((m0, 90_000), (m1, 100_000), (m2, 80_000)):
        ledger.place(member, S + 1, Pool.UP, False, 1000, price)
    taker = ledger.place(m3, S + 1, Pool.UP, True, 1500, 120_000)
    assert [t.price_micro_per_kwh for t in taker.trades] == [100_000, 105_000]


def test_the_distance_table_is_the_dsos() -> None:
    b = ncda_book()
    ledger = b.ledger
    assert (ledger.distance(1, 3), ledger.distance(3, 1), ledger.distance(2, 2)) == (
        50_000,
        50_000,
        0,
    )
    assert ledger.distance(1, 4) == ledger.distance(0, 1) == UNKNOWN_DISTANCE
    assert ledger.node_of(b.members[1]) == 3
    for sender in (b.members[0], b.operator):
        with reverts("OrderBook.set_nodes", "caller is not the dso"):
            b.chain.transact(sender, ledger.market, "set_nodes", [(b.members[0], 9)])
        with reverts("OrderBook.set_distances", "caller is not the dso"):
            b.chain.transact(sender, ledger.market, "set_distances", [(1, 2, 3)])
        with reverts("OrderBook.set_fee_rate", "caller is not the dso"):
            b.chain.transact(sender, ledger.market, "set_fee_rate", 1)
    with reverts("OrderBook.set_distances", "a node is at distance 0 from itself"):
        ledger.set_distances([DistanceRow(5, 5, 3)])
    with reverts("OrderBook.set_distances", "node 0 is the unknown node"):
        ledger.set_distances([DistanceRow(0, 5, 3)])
    with reverts("OrderBook.set_fee_rate", "fee rate out of range"):
        ledger.set_fee_rate(2**29)


def test_the_fee_rate_is_frozen_per_session(book: Book) -> None:
    ledger = book.ledger
    ledger.set_fee_rate(50_000)
    ledger.open_session(S + 1)
    assert ledger.book(S, Pool.UP).fee_micro_per_kwh == FEE
    assert ledger.book(S + 1, Pool.DOWN).fee_micro_per_kwh == 50_000


# --- gas -----------------------------------------------------------------------------------------


def test_gas_of_a_placement_that_does_not_cross() -> None:
    b = make_book(n_members=4, fee_micro_per_kwh=FEE)
    ledger, m = b.ledger, b.members
    at_best, behind = [], []
    for i in range(24):
        is_buy = i % 2 == 0
        price = (100_000 - 1000 * i) if is_buy else (200_000 + 1000 * i)
        placement = ledger.place(m[i % 4], S, Pool.UP, is_buy, 1000 + i, price)
        assert placement.trades == ()
        (at_best if i < 2 else behind).append(placement.receipt.gas_used)
    # a new best (no hint): one new word, the book word rewritten
    assert max(at_best) < 60_000
    # behind a hint: one new word, the hint's word rewritten
    assert max(behind) < 62_500
    taker = ledger.place(m[0], S, Pool.UP, True, 1000 * 6, 300_000)
    assert len(taker.trades) == 6
