# pragma version ~=0.4.3
"""
@title OrderBook
@notice Continuous double auction on chain for a local ancillary-service
        market (004_vdma.md §2.2, §2.4): hourly sessions, two independent
        pools per session (upward and downward service), price-time priority,
        partial fills, trades at the mid price, cancellation, gate closure,
        and an option (NCDA) to prefer the offers nearest the buyer on a
        distance table kept on chain by the DSO.
@dev Embeds the consortium (`accounts`, `voting`) and the escrow (`vault`).

     Sides. A buy order is the VDMA's ask (a request for service, the
     "master"), a sell order its offer (the "slave"). Prices are micro-
     currency per kWh, quantities Wh.

     Sessions. The operator opens a session (`open_session`, freezing the
     DSO's fee rate and choosing CDA or NCDA) and closes its gate
     (`close_session`); orders are placed only in between. After the gate,
     resting orders are dead: their owners cancel them, or the operator
     cancels them (reason EXPIRED), and buy orders' escrow is released.
     Cancelling one's own order needs no role, only ownership, so money is
     never trapped by a removal from the consortium.

     Books. Per session and pool, a buy list (best = highest price) and a
     sell list (best = lowest), singly linked, best first; at equal prices
     the older order comes first (time priority). Each order is one storage
     word (below) and carries the price of its successor, so an insertion
     checks its position with the hint's word alone. An insertion that does
     not become the best needs a hint: an order at or before its position
     (the contract walks forward at most MAX_WALK orders from it); clients
     compute it from the `book_orders` view.

     Matching. An order crosses the best opposite order when buy price >
     sell price (strict, the VDMA's "price lower than the willingness to
     pay") or >= (when deployed non-strict). A crossing order fills against
     resting orders at the mid price (buy + sell) // 2 until it is filled, no
     crossing order is left, or it has touched `max_fills` resting orders
     (bounded gas); then its remainder rests, or, if it still crosses, is
     cancelled (reason FILL_LIMIT) rather than leave the book crossed. A
     resting order of the taker's own is cancelled instead of traded with
     (self-trade prevention). In an NCDA session a crossing buy order takes
     the crossing sell orders (at most `max_fills` of them, cheapest first)
     nearest to it first: distance on the DSO's feeder map (`feeder_map`) between the two
     members' nodes, ties by price then time; unknown distances come last.
     A crossing sell order meets resting buy orders that no other resting
     offer suits, so it fills them in price-time order in both modes.

     Money. A buy order locks quantity * price // 1000 +
     quantity * fee_rate // 1000 on placement. A fill of e Wh at price p
     costs the buyer value + (fee - seller_fee) with value = e * p // 1000,
     fee = e * fee_rate // 1000 and seller_fee = min(fee // 2, value); the
     seller receives value - seller_fee, the DSO the fee. The buyer's lock
     shrinks to the lock of its remaining quantity, which always covers the
     cost. Nothing else moves: money is conserved.

     Order id (64 bits): member index << 32 | the member's order nonce.

     Positions. Each member has ORDER_POSITIONS (64) storage words for its
     orders; an order lives at position index << 6 | nonce % 64 (its id
     without the nonce's upper bits). An order that leaves the book
     (filled, cancelled, expired, self-trade) leaves a tombstone there, a
     nonzero word with no quantity, so
     the member's next order rewrites a nonzero word (2 900 gas) instead of
     filling a zero one (20 000). A placement takes the position its nonce
     points to, or, if an order still rests there, the nonce's next ones
     whose position is free (the nonce skips ahead); with all 64 resting it
     is refused. Links and heads hold positions; ids, in events and views,
     are rebuilt from a position and the nonce's upper bits in its word.

     Order word: remaining 0..47 | price 48..95 | next position 96..133 |
     next price 134..181 | nonce >> 6 182..207 | session 208..239 |
     pool 240 | sell 241. Tombstone: bit 255 alone. An order rests iff its
     remaining quantity is nonzero.
     Book key: session | pool << 32, bits 208..240 of an order word.
     Book word: buy head 0..63 | sell head 64..127 | best buy 128..175 |
     best sell 176..223 | fee rate 224..252 | open 253 | closed 254 | ncda 255
     (heads are positions).
"""

import accounts
import voting
import vault
import feeder_map

from ethereum.ercs import IERC20

initializes: accounts
initializes: voting[accounts := accounts]
initializes: vault[accounts := accounts]
initializes: feeder_map[accounts := accounts]

exports: (
    accounts.roles_of,
    accounts.index_of,
    accounts.is_member,
    accounts.address_of,
    accounts.index_count,
    accounts.member_count,
    accounts.voter_count,
    accounts.operator_count,
    voting.quorum_bps,
    voting.voting_period,
    voting.bootstrapping,
    voting.electorate_version,
    voting.proposal_count,
    voting.has_voted,
    voting.bootstrap_members,
    voting.end_bootstrap,
    voting.propose,
    voting.vote,
    voting.proposal,
    voting.proposal_state,
    vault.token,
    vault.dso,
    vault.total_internal_balance,
    vault.deposit,
    vault.withdraw,
    vault.balance_of,
    vault.locked_of,
    vault.available_of,
    feeder_map.node_of,
    feeder_map.set_nodes,
    feeder_map.set_distances,
    feeder_map.distance,
)


struct OrderView:
    order_id: uint256
    owner: address
    session: uint256
    pool: uint256
    is_buy: bool
    remaining_wh: uint256
    price_micro_per_kwh: uint256
    next_id: uint256


struct BookView:
    buy_head: uint256
    sell_head: uint256
    best_buy_micro_per_kwh: uint256
    best_sell_micro_per_kwh: uint256
    fee_micro_per_kwh: uint256
    open: bool
    closed: bool
    ncda: bool


# @notice The two pools of a session.
POOL_UP: public(constant(uint256)) = 0
POOL_DOWN: public(constant(uint256)) = 1

# @notice Why an order left the book without being filled.
REASON_OWNER: public(constant(uint8)) = 1
REASON_FILL_LIMIT: public(constant(uint8)) = 2
REASON_SELF_TRADE: public(constant(uint8)) = 3
REASON_EXPIRED: public(constant(uint8)) = 4

# @notice Bounds on loops and inputs.
MAX_FILLS: public(constant(uint256)) = 32
MAX_WALK: public(constant(uint256)) = 64
MAX_QUANTITY_WH: public(constant(uint256)) = 2**48 - 1
MAX_PRICE_MICRO_PER_KWH: public(constant(uint256)) = 2**48 - 1
MAX_FEE_MICRO_PER_KWH: public(constant(uint256)) = 2**29 - 1
MAX_SESSION: public(constant(uint256)) = 2**32 - 1
# @notice Orders one member can have resting at once (storage words it reuses).
ORDER_POSITIONS: public(constant(uint256)) = 64

WH_PER_KWH: constant(uint256) = 1000
M48: constant(uint256) = 2**48 - 1
M64: constant(uint256) = 2**64 - 1
M32: constant(uint256) = 2**32 - 1
M29: constant(uint256) = 2**29 - 1
SLOT_BITS: constant(uint256) = 6
SLOT_MASK: constant(uint256) = ORDER_POSITIONS - 1
# a position: member index << 6 | slot
POSITION_MASK: constant(uint256) = 2**38 - 1
# the nonce's bits above the slot
GENERATION_MASK: constant(uint256) = 2**26 - 1

# order word
PRICE_SHIFT: constant(uint256) = 48
NEXT_SHIFT: constant(uint256) = 96
NEXT_PRICE_SHIFT: constant(uint256) = 134
GENERATION_SHIFT: constant(uint256) = 182
SESSION_SHIFT: constant(uint256) = 208
POOL_BIT: constant(uint256) = 1 << 240
SELL_BIT: constant(uint256) = 1 << 241
LINK_MASK: constant(uint256) = ((1 << 86) - 1) << 96
KEY_MASK: constant(uint256) = ((1 << 34) - 1) << 208
# an order's fields as placed: quantity, price, session, pool, side
FIELDS_MASK: constant(uint256) = ((1 << 96) - 1) | KEY_MASK
TOMBSTONE: constant(uint256) = 1 << 255
# OrderPlaced: the order id's place in the event's word
EVENT_ID_SHIFT: constant(uint256) = 96
# a book's key: session | pool << 32 (the order word's bits 208..240)
KEY_BITS: constant(uint256) = (1 << 33) - 1
POOL_KEY: constant(uint256) = 1 << 32
# a `place` ticket: quantity, price, max_fills, hint, session, pool, sell
HINT_SHIFT: constant(uint256) = 102
TICKET_MASK: constant(uint256) = (
    M48 | (M48 << PRICE_SHIFT) | (63 << NEXT_SHIFT) | (M64 << HINT_SHIFT) | KEY_MASK
)

# book word
SELL_HEAD_SHIFT: constant(uint256) = 64
BEST_BUY_SHIFT: constant(uint256) = 128
BEST_SELL_SHIFT: constant(uint256) = 176
FEE_SHIFT: constant(uint256) = 224
OPEN_BIT: constant(uint256) = 1 << 253
CLOSED_BIT: constant(uint256) = 1 << 254
NCDA_BIT: constant(uint256) = 1 << 255
BUY_SIDE_MASK: constant(uint256) = M64 | (M48 << BEST_BUY_SHIFT)
SELL_SIDE_MASK: constant(uint256) = (M64 << SELL_HEAD_SHIFT) | (M48 << BEST_SELL_SHIFT)

# NCDA scan entries: distance (capped: unknown above every known one) << 65 | gone << 64 | id
GONE_BIT: constant(uint256) = 1 << 64
MAX_SCAN_DISTANCE: constant(uint256) = 2**191 - 1

# @notice Whether a buy crosses a sell only at a strictly higher price.
strict_crossing: public(immutable(bool))

# @notice The DSO's fee on traded energy for sessions opened from now on.
fee_rate: public(uint256)

_books: HashMap[uint256, uint256]
_orders: HashMap[uint256, uint256]


event FeeRateChanged:
    fee_micro_per_kwh: uint256


event SessionOpened:
    session: indexed(uint256)
    ncda: bool
    fee_micro_per_kwh: uint256


event SessionClosed:
    session: indexed(uint256)


# `order`: quantity Wh 0..47 | price 48..95 | order id 96..159 | session
# 208..239 | pool 240 | sell 241. The owner is the member of index
# order_id >> 32. One word, no topic but the event's: a placement's log is
# its cheapest part that an indexer still reads.
event OrderPlaced:
    order: uint256


event Traded:
    session: indexed(uint256)
    buy_order: indexed(uint256)
    sell_order: indexed(uint256)
    pool: uint256
    energy_wh: uint256
    price_micro_per_kwh: uint256


event OrderCancelled:
    order_id: indexed(uint256)
    remaining_wh: uint256
    reason: uint8


@deploy
def __init__(
    token_: IERC20,
    operator_: address,
    dso_: address,
    quorum_bps_: uint256,
    voting_period_: uint256,
    fee_micro_per_kwh_: uint256,
    strict_crossing_: bool,
):
    """
    @notice Operator and DSO get their roles (the bootstrap is open); the DSO
            account receives the fees.
    """
    voting.__init__(operator_, dso_, quorum_bps_, voting_period_)
    vault.__init__(token_, dso_)
    assert fee_micro_per_kwh_ <= MAX_FEE_MICRO_PER_KWH, "fee rate out of range"
    self.fee_rate = fee_micro_per_kwh_
    strict_crossing = strict_crossing_


# --- DSO -----------------------------------------------------------------------


@external
def set_fee_rate(fee_micro_per_kwh: uint256):
    """
    @notice Set the fee rate for sessions opened from now on (DSO).
    """
    assert accounts._has_role(msg.sender, accounts.ROLE_DSO), "caller is not the dso"
    assert fee_micro_per_kwh <= MAX_FEE_MICRO_PER_KWH, "fee rate out of range"
    self.fee_rate = fee_micro_per_kwh
    log FeeRateChanged(fee_micro_per_kwh=fee_micro_per_kwh)


# --- operator: sessions ------------------------------------------------------------


@external
def open_session(session: uint256, ncda: bool):
    """
    @notice Open both pools of `session` (operator): CDA, or NCDA if `ncda`;
            the fee rate in force is frozen for the session.
    """
    assert accounts._has_role(msg.sender, accounts.ROLE_OPERATOR), "caller is not the operator"
    assert session <= MAX_SESSION, "session out of range"
    key: uint256 = session
    assert self._books[key] == 0, "session already opened"
    book: uint256 = OPEN_BIT | (self.fee_rate << FEE_SHIFT)
    if ncda:
        book = book | NCDA_BIT
    self._books[key] = book
    self._books[key | POOL_KEY] = book
    log SessionOpened(session=session, ncda=ncda, fee_micro_per_kwh=self.fee_rate)


@external
def close_session(session: uint256):
    """
    @notice Gate closure of `session` (operator): no more orders; resting
            orders can only be cancelled or expired.
    """
    assert accounts._has_role(msg.sender, accounts.ROLE_OPERATOR), "caller is not the operator"
    assert session <= MAX_SESSION, "session out of range"
    key: uint256 = session
    book: uint256 = self._books[key]
    assert book & OPEN_BIT != 0 and book & CLOSED_BIT == 0, "session is not open"
    self._books[key] = book | CLOSED_BIT
    self._books[key | POOL_KEY] = self._books[key | POOL_KEY] | CLOSED_BIT
    log SessionClosed(session=session)


# --- prosumers: orders -------------------------------------------------------------


@external
def place(ticket: uint256) -> uint256:
    """
    @notice Place an order (prosumer); returns its id. The ticket packs the
            order in one word (short calldata keeps a placement cheap):
            quantity Wh 0..47 | price 48..95 | max_fills 96..101 | hint
            102..165 | session 208..239 | pool 240 | sell 241, all other
            bits zero. A crossing order fills first (at most `max_fills`
            resting orders); the rest rests after the order `hint` (0:
            search from the best), or is cancelled if it still crosses.
            Refused while the member has ORDER_POSITIONS orders resting.
    @dev The path of an order that does not cross is written out inline:
         it is the one whose gas the VDMA's cost model counts per shout.
    """
    record: uint256 = accounts.records[msg.sender]
    assert record & accounts.ROLE_PROSUMER != 0, "caller is not a prosumer"
    assert ticket & ~TICKET_MASK == 0, "malformed order ticket"
    quantity_wh: uint256 = ticket & M48
    assert quantity_wh != 0, "zero quantity"
    max_fills: uint256 = (ticket >> NEXT_SHIFT) & 63
    assert max_fills <= MAX_FILLS, "max_fills out of range"
    key: uint256 = (ticket >> SESSION_SHIFT) & KEY_BITS
    book: uint256 = self._books[key]
    stored_book: uint256 = book
    assert book & OPEN_BIT != 0, "session is not open"
    assert book & CLOSED_BIT == 0, "gate is closed"
    index: uint256 = (record >> accounts.INDEX_SHIFT) & M32
    nonce: uint256 = ((record >> accounts.COUNTER_SHIFT) & M32) + 1
    position: uint256 = (index << SLOT_BITS) | (nonce & SLOT_MASK)
    if self._orders[position] & M48 != 0:
        # An order still rests where the nonce points: the nonce skips to
        # the next free position (one more cold read per position passed).
        for i: uint256 in range(ORDER_POSITIONS - 1):
            nonce += 1
            position = (index << SLOT_BITS) | (nonce & SLOT_MASK)
            if self._orders[position] & M48 == 0:
                break
            assert i < ORDER_POSITIONS - 2, "all order positions in use"
    assert nonce <= M32, "order nonce exhausted"
    order_id: uint256 = (index << 32) | nonce
    record = (record & ~(M32 << accounts.COUNTER_SHIFT)) | (nonce << accounts.COUNTER_SHIFT)
    price: uint256 = (ticket >> PRICE_SHIFT) & M48
    is_buy: bool = ticket & SELL_BIT == 0
    fee_rate: uint256 = (book >> FEE_SHIFT) & M29
    if is_buy:
        lock: uint256 = self._lock(quantity_wh, price, fee_rate)
        locked: uint256 = record >> accounts.LOCKED_SHIFT
        assert (
            (record >> accounts.BALANCE_SHIFT) & accounts.AMOUNT_MASK
        ) - locked >= lock, "free balance too low for the order's escrow"
        # locked + lock <= balance < 2**92: the top field cannot overflow.
        record = unsafe_add(record, lock << accounts.LOCKED_SHIFT)
    # The order as it enters: the ticket with the order id in place of
    # max_fills and hint.
    fields: uint256 = ticket & FIELDS_MASK
    log OrderPlaced(order=fields | (order_id << EVENT_ID_SHIFT))

    # Fill against the other side while it crosses.
    remaining: uint256 = quantity_wh
    fees: uint256 = 0
    crosses: bool = False
    if is_buy:
        crosses = book & (M64 << SELL_HEAD_SHIFT) != 0 and self._crosses(
            price, (book >> BEST_SELL_SHIFT) & M48
        )
        if crosses:
            if book & NCDA_BIT != 0:
                remaining, record, book, fees = self._take_nearest(
                    order_id, key, price, remaining, record, book, max_fills
                )
            else:
                remaining, record, book, fees = self._take(
                    order_id, key, True, price, remaining, record, book, max_fills
                )
            crosses = book & (M64 << SELL_HEAD_SHIFT) != 0 and self._crosses(
                price, (book >> BEST_SELL_SHIFT) & M48
            )
    else:
        crosses = book & M64 != 0 and self._crosses((book >> BEST_BUY_SHIFT) & M48, price)
        if crosses:
            remaining, record, book, fees = self._take(
                order_id, key, False, price, remaining, record, book, max_fills
            )
            crosses = book & M64 != 0 and self._crosses((book >> BEST_BUY_SHIFT) & M48, price)

    if remaining != 0 and crosses:
        # The fill limit stopped a crossing order: its rest goes, not rests.
        if is_buy:
            record = unsafe_sub(record, self._lock(remaining, price, fee_rate) << accounts.LOCKED_SHIFT)
        log OrderCancelled(order_id=order_id, remaining_wh=remaining, reason=REASON_FILL_LIMIT)
    elif remaining != 0:
        fields = unsafe_add(unsafe_sub(fields, quantity_wh), remaining) | (
            (nonce >> SLOT_BITS) << GENERATION_SHIFT
        )
        # Rank prices as an ascending key, best first: buy prices are negated.
        flip: uint256 = 0
        head: uint256 = 0
        best: uint256 = 0
        if is_buy:
            flip = M48
            head = book & M64
            best = (book >> BEST_BUY_SHIFT) & M48
        else:
            head = (book >> SELL_HEAD_SHIFT) & M64
            best = (book >> BEST_SELL_SHIFT) & M48
        rank: uint256 = price ^ flip
        if head == 0 or rank < best ^ flip:
            # The new best of its side.
            self._orders[position] = fields | (head << NEXT_SHIFT) | (best << NEXT_PRICE_SHIFT)
            if is_buy:
                book = (book & ~BUY_SIDE_MASK) | position | (price << BEST_BUY_SHIFT)
            else:
                book = (book & ~SELL_SIDE_MASK) | (position << SELL_HEAD_SHIFT) | (
                    price << BEST_SELL_SHIFT
                )
        else:
            # A hint is where the walk starts: any resting order of this book
            # before the insertion point will do.
            current: uint256 = self._position((ticket >> HINT_SHIFT) & M64)
            if current == 0:
                current = head
            word: uint256 = self._orders[current]
            assert word & M48 != 0 and word & KEY_MASK == ticket & KEY_MASK, (
                "hint is not in this book"
            )
            assert ((word >> PRICE_SHIFT) & M48) ^ flip <= rank, "hint is past the insertion point"
            for i: uint256 in range(MAX_WALK + 1):
                following: uint256 = (word >> NEXT_SHIFT) & POSITION_MASK
                if following == 0 or ((word >> NEXT_PRICE_SHIFT) & M48) ^ flip > rank:
                    break
                assert i < MAX_WALK, "hint too far from the insertion point"
                current = following
                word = self._orders[current]
            self._orders[position] = fields | (word & LINK_MASK)
            self._orders[current] = (word & ~LINK_MASK) | (position << NEXT_SHIFT) | (
                price << NEXT_PRICE_SHIFT
            )
    accounts.records[msg.sender] = record
    if book != stored_book:
        # An order that rests behind another leaves the book word as it was
        # (rewriting it unchanged costs 100 gas).
        self._books[key] = book
    if fees != 0:
        # After the taker's write: the DSO may itself be the taker.
        vault._credit(vault.dso, fees)
    return order_id


@external
def cancel(order_id: uint256, hint: uint256):
    """
    @notice Remove a resting order: its owner may at any time (no role
            needed), the operator once the gate of its session has closed
            (expiry). `hint` is an order before it in its list (0: search
            from the best). A buy order's escrow is released.
    """
    position: uint256 = 0
    word: uint256 = 0
    position, word = self._resting(order_id)
    assert word != 0, "no such resting order"
    owner: address = accounts.address_of[order_id >> 32]
    reason: uint8 = REASON_OWNER
    key: uint256 = (word >> SESSION_SHIFT) & KEY_BITS
    is_buy: bool = word & SELL_BIT == 0
    book: uint256 = self._books[key]
    if msg.sender != owner:
        assert accounts._has_role(msg.sender, accounts.ROLE_OPERATOR), "caller does not own the order"
        assert book & CLOSED_BIT != 0, "gate is not closed"
        reason = REASON_EXPIRED
    head: uint256 = 0
    if is_buy:
        head = book & M64
    else:
        head = (book >> SELL_HEAD_SHIFT) & M64
    next_links: uint256 = word & LINK_MASK
    if head == position:
        next_id: uint256 = (word >> NEXT_SHIFT) & POSITION_MASK
        next_price: uint256 = (word >> NEXT_PRICE_SHIFT) & M48
        if is_buy:
            book = (book & ~BUY_SIDE_MASK) | next_id | (next_price << BEST_BUY_SHIFT)
        else:
            book = (book & ~SELL_SIDE_MASK) | (next_id << SELL_HEAD_SHIFT) | (
                next_price << BEST_SELL_SHIFT
            )
        self._books[key] = book
    else:
        current: uint256 = self._position(hint)
        if current == 0:
            current = head
        found: bool = False
        for i: uint256 in range(MAX_WALK):
            if current == 0:
                break
            current_word: uint256 = self._orders[current]
            assert current_word & M48 != 0 and current_word & KEY_MASK == word & KEY_MASK, (
                "hint is not in the order's book"
            )
            following: uint256 = (current_word >> NEXT_SHIFT) & POSITION_MASK
            if following == position:
                self._orders[current] = (current_word & ~LINK_MASK) | next_links
                found = True
                break
            current = following
        assert found, "order not found after the hint"
    self._orders[position] = TOMBSTONE
    remaining: uint256 = word & M48
    if is_buy:
        self._unlock(owner, self._lock(remaining, (word >> PRICE_SHIFT) & M48, (book >> FEE_SHIFT) & M29))
    log OrderCancelled(order_id=order_id, remaining_wh=remaining, reason=reason)


# --- views ---------------------------------------------------------------------------


@external
@view
def order(order_id: uint256) -> OrderView:
    """
    @notice A resting order (all zero once filled, cancelled or expired).
    """
    position: uint256 = 0
    word: uint256 = 0
    position, word = self._resting(order_id)
    if word == 0:
        return empty(OrderView)
    return OrderView(
        order_id=order_id,
        owner=accounts.address_of[order_id >> 32],
        session=(word >> SESSION_SHIFT) & M32,
        pool=convert(word & POOL_BIT != 0, uint256),
        is_buy=word & SELL_BIT == 0,
        remaining_wh=word & M48,
        price_micro_per_kwh=(word >> PRICE_SHIFT) & M48,
        next_id=self._id_at((word >> NEXT_SHIFT) & POSITION_MASK),
    )


@external
@view
def book(session: uint256, pool: uint256) -> BookView:
    """
    @notice Heads, best prices, fee rate and state of one book.
    """
    book: uint256 = self._books[self._book_key(session, pool)]
    return BookView(
        buy_head=self._id_at(book & M64),
        sell_head=self._id_at((book >> SELL_HEAD_SHIFT) & M64),
        best_buy_micro_per_kwh=(book >> BEST_BUY_SHIFT) & M48,
        best_sell_micro_per_kwh=(book >> BEST_SELL_SHIFT) & M48,
        fee_micro_per_kwh=(book >> FEE_SHIFT) & M29,
        open=book & OPEN_BIT != 0,
        closed=book & CLOSED_BIT != 0,
        ncda=book & NCDA_BIT != 0,
    )


@external
@view
def book_orders(
    session: uint256, pool: uint256, is_buy: bool, max_orders: uint256
) -> DynArray[OrderView, 1024]:
    """
    @notice Up to `max_orders` resting orders of one side, best first.
    """
    book: uint256 = self._books[self._book_key(session, pool)]
    current: uint256 = 0
    if is_buy:
        current = book & M64
    else:
        current = (book >> SELL_HEAD_SHIFT) & M64
    out: DynArray[OrderView, 1024] = []
    word: uint256 = 0
    if current != 0:
        word = self._orders[current]
    for i: uint256 in range(max_orders, bound=1024):
        if current == 0:
            break
        following: uint256 = (word >> NEXT_SHIFT) & POSITION_MASK
        following_word: uint256 = 0
        if following != 0:
            following_word = self._orders[following]
        out.append(
            OrderView(
                order_id=self._order_id(current, word),
                owner=accounts.address_of[current >> SLOT_BITS],
                session=session,
                pool=pool,
                is_buy=is_buy,
                remaining_wh=word & M48,
                price_micro_per_kwh=(word >> PRICE_SHIFT) & M48,
                next_id=self._order_id(following, following_word),
            )
        )
        current = following
        word = following_word
    return out


# --- internals -----------------------------------------------------------------------


@internal
@pure
def _position(order_id: uint256) -> uint256:
    """
    @notice Where an order id's order is stored: index << 6 | nonce % 64
            (0 for 0, the id of no order).
    """
    return (((order_id >> 32) & M32) << SLOT_BITS) | (order_id & SLOT_MASK)


@internal
@pure
def _order_id(position: uint256, word: uint256) -> uint256:
    """
    @notice The id of the order stored at `position` with word `word`: its
            nonce is the position's slot and the word's upper nonce bits.
    """
    if position == 0:
        return 0
    return (
        ((position >> SLOT_BITS) << 32)
        | (((word >> GENERATION_SHIFT) & GENERATION_MASK) << SLOT_BITS)
        | (position & SLOT_MASK)
    )


@internal
@view
def _id_at(position: uint256) -> uint256:
    if position == 0:
        return 0
    return self._order_id(position, self._orders[position])


@internal
@view
def _resting(order_id: uint256) -> (uint256, uint256):
    """
    @notice (position, word) of the resting order `order_id`; the word is 0
            if no order of that id rests (never placed, or gone and its
            position free or reused by a later order).
    """
    position: uint256 = self._position(order_id)
    word: uint256 = self._orders[position]
    if (
        order_id >> 64 != 0
        or word & M48 == 0
        or (word >> GENERATION_SHIFT) & GENERATION_MASK != (order_id & M32) >> SLOT_BITS
    ):
        return position, 0
    return position, word


@internal
@pure
def _lock(quantity_wh: uint256, price: uint256, fee_rate: uint256) -> uint256:
    """
    @notice Escrow of a buy order: its most possible cost. Inputs are below
            2**48, so the products are below 2**96.
    """
    return unsafe_div(unsafe_mul(quantity_wh, price), WH_PER_KWH) + unsafe_div(
        unsafe_mul(quantity_wh, fee_rate), WH_PER_KWH
    )


@internal
@view
def _crosses(buy_price: uint256, sell_price: uint256) -> bool:
    if strict_crossing:
        return buy_price > sell_price
    return buy_price >= sell_price


@internal
@pure
def _better(is_buy: bool, price: uint256, other: uint256) -> bool:
    """
    @notice Whether `price` ranks strictly before `other` on its side.
    """
    if is_buy:
        return price > other
    return price < other


@internal
@pure
def _book_key(session: uint256, pool: uint256) -> uint256:
    assert session <= MAX_SESSION and pool <= 1, "unknown book"
    return session | (pool << 32)


@internal
def _unlock(owner: address, amount_micro: uint256):
    record: uint256 = accounts.records[owner]
    accounts.records[owner] = accounts._with_money(
        record, accounts._balance(record), accounts._locked(record) - amount_micro
    )


@internal
def _settle_fill(
    buy_id: uint256,
    sell_id: uint256,
    key: uint256,
    energy_wh: uint256,
    buy_price: uint256,
    sell_price: uint256,
    fee_rate: uint256,
) -> (uint256, uint256, uint256):
    """
    @notice Money of one fill at the mid price: (buyer's cost, seller's
            proceeds, fee). Logs the trade.
    """
    price: uint256 = unsafe_div(unsafe_add(buy_price, sell_price), 2)
    value: uint256 = unsafe_div(unsafe_mul(energy_wh, price), WH_PER_KWH)
    fee: uint256 = unsafe_div(unsafe_mul(energy_wh, fee_rate), WH_PER_KWH)
    seller_fee: uint256 = min(unsafe_div(fee, 2), value)
    log Traded(
        session=key & M32,
        buy_order=buy_id,
        sell_order=sell_id,
        pool=key >> 32,
        energy_wh=energy_wh,
        price_micro_per_kwh=price,
    )
    return unsafe_add(value, unsafe_sub(fee, seller_fee)), unsafe_sub(value, seller_fee), fee


@internal
def _take(
    taker_id: uint256,
    key: uint256,
    is_buy: bool,
    price: uint256,
    remaining_: uint256,
    record_: uint256,
    book_: uint256,
    max_fills: uint256,
) -> (uint256, uint256, uint256, uint256):
    """
    @notice Fill a crossing taker against the opposite side in price-time
            order. Returns (remaining, taker record, book word, fees); the
            caller writes the taker's record, then credits the fees.
    """
    remaining: uint256 = remaining_
    record: uint256 = record_
    book: uint256 = book_
    fee_rate: uint256 = (book >> FEE_SHIFT) & M29
    taker_index: uint256 = taker_id >> 32
    fees: uint256 = 0
    head: uint256 = 0
    best: uint256 = 0
    if is_buy:
        head = (book >> SELL_HEAD_SHIFT) & M64
        best = (book >> BEST_SELL_SHIFT) & M48
    else:
        head = book & M64
        best = (book >> BEST_BUY_SHIFT) & M48
    for i: uint256 in range(max_fills, bound=MAX_FILLS):
        if remaining == 0 or head == 0:
            break
        if is_buy:
            if not self._crosses(price, best):
                break
        elif not self._crosses(best, price):
            break
        word: uint256 = self._orders[head]
        maker_id: uint256 = self._order_id(head, word)
        maker_qty: uint256 = word & M48
        maker_price: uint256 = (word >> PRICE_SHIFT) & M48
        next_position: uint256 = (word >> NEXT_SHIFT) & POSITION_MASK
        next_price: uint256 = (word >> NEXT_PRICE_SHIFT) & M48
        maker_index: uint256 = head >> SLOT_BITS
        if maker_index == taker_index:
            # Self-trade prevention: the resting order goes, unfilled.
            if not is_buy:
                lock: uint256 = self._lock(maker_qty, maker_price, fee_rate)
                record = accounts._with_money(
                    record, accounts._balance(record), accounts._locked(record) - lock
                )
            self._orders[head] = TOMBSTONE
            log OrderCancelled(order_id=maker_id, remaining_wh=maker_qty, reason=REASON_SELF_TRADE)
            head = next_position
            best = next_price
            continue
        energy: uint256 = min(remaining, maker_qty)
        maker: address = accounts.address_of[maker_index]
        maker_record: uint256 = accounts.records[maker]
        cost: uint256 = 0
        proceeds: uint256 = 0
        fee: uint256 = 0
        if is_buy:
            cost, proceeds, fee = self._settle_fill(
                taker_id, maker_id, key, energy, price, maker_price, fee_rate
            )
            release: uint256 = self._lock(remaining, price, fee_rate) - self._lock(
                remaining - energy, price, fee_rate
            )
            record = accounts._with_money(
                record, accounts._balance(record) - cost, accounts._locked(record) - release
            )
            accounts.records[maker] = maker_record + (proceeds << accounts.BALANCE_SHIFT)
        else:
            cost, proceeds, fee = self._settle_fill(
                maker_id, taker_id, key, energy, maker_price, price, fee_rate
            )
            release: uint256 = self._lock(maker_qty, maker_price, fee_rate) - self._lock(
                maker_qty - energy, maker_price, fee_rate
            )
            accounts.records[maker] = accounts._with_money(
                maker_record,
                accounts._balance(maker_record) - cost,
                accounts._locked(maker_record) - release,
            )
            record = record + (proceeds << accounts.BALANCE_SHIFT)
        fees = unsafe_add(fees, fee)
        remaining = unsafe_sub(remaining, energy)
        if energy == maker_qty:
            self._orders[head] = TOMBSTONE
            head = next_position
            best = next_price
        else:
            self._orders[head] = word - energy
    if is_buy:
        book = (book & ~SELL_SIDE_MASK) | (head << SELL_HEAD_SHIFT) | (best << BEST_SELL_SHIFT)
    else:
        book = (book & ~BUY_SIDE_MASK) | head | (best << BEST_BUY_SHIFT)
    return remaining, record, book, fees


@internal
def _take_nearest(
    taker_id: uint256,
    key: uint256,
    price: uint256,
    remaining_: uint256,
    record_: uint256,
    book_: uint256,
    max_fills: uint256,
) -> (uint256, uint256, uint256, uint256):
    """
    @notice NCDA: fill a crossing buy order from the crossing sell orders
            (the first `max_fills`, cheapest first) nearest to the buyer
            first. Returns (remaining, taker record, book word, fees).
    @dev One memory array, `scanned`: per scanned offer, its distance to
         the buyer (capped) << 65 | gone << 64 | order id. Any memory this
         function holds is paid by every placement (the caller's frame sits
         above it), so words are read again from (warm) storage instead.
    """
    remaining: uint256 = remaining_
    record: uint256 = record_
    book: uint256 = book_
    fee_rate: uint256 = (book >> FEE_SHIFT) & M29
    taker_index: uint256 = taker_id >> 32
    taker_node: uint256 = feeder_map.node_of[msg.sender]

    scanned: DynArray[uint256, MAX_FILLS] = []
    current: uint256 = (book >> SELL_HEAD_SHIFT) & M64
    current_price: uint256 = (book >> BEST_SELL_SHIFT) & M48
    for i: uint256 in range(max_fills, bound=MAX_FILLS):
        if current == 0 or not self._crosses(price, current_price):
            break
        word: uint256 = self._orders[current]
        maker_index: uint256 = current >> SLOT_BITS
        if maker_index == taker_index:
            scanned.append(GONE_BIT | current)
            log OrderCancelled(
                order_id=self._order_id(current, word),
                remaining_wh=word & M48,
                reason=REASON_SELF_TRADE,
            )
        else:
            millimetres: uint256 = min(
                feeder_map._distance(
                    taker_node, feeder_map.node_of[accounts.address_of[maker_index]]
                ),
                MAX_SCAN_DISTANCE,
            )
            scanned.append((millimetres << 65) | current)
        current = (word >> NEXT_SHIFT) & POSITION_MASK
        current_price = (word >> NEXT_PRICE_SHIFT) & M48

    n: uint256 = len(scanned)
    fees: uint256 = 0
    # At most one offer is left partly filled: the last one taken.
    partial_position: uint256 = 0
    partial_word: uint256 = 0
    for k: uint256 in range(n, bound=MAX_FILLS):
        if remaining == 0:
            break
        chosen: uint256 = n
        nearest: uint256 = 0
        for j: uint256 in range(n, bound=MAX_FILLS):
            entry: uint256 = scanned[j]
            # Strictly nearer only: at equal distance the earlier (cheaper,
            # then older) offer stays chosen.
            if entry & GONE_BIT == 0 and (chosen == n or entry >> 65 < nearest):
                chosen = j
                nearest = entry >> 65
        if chosen == n:
            break
        maker_position: uint256 = scanned[chosen] & M64
        word: uint256 = self._orders[maker_position]
        maker_qty: uint256 = word & M48
        energy: uint256 = min(remaining, maker_qty)
        cost: uint256 = 0
        proceeds: uint256 = 0
        fee: uint256 = 0
        cost, proceeds, fee = self._settle_fill(
            taker_id,
            self._order_id(maker_position, word),
            key,
            energy,
            price,
            (word >> PRICE_SHIFT) & M48,
            fee_rate,
        )
        release: uint256 = self._lock(remaining, price, fee_rate) - self._lock(
            remaining - energy, price, fee_rate
        )
        record = accounts._with_money(
            record, accounts._balance(record) - cost, accounts._locked(record) - release
        )
        maker: address = accounts.address_of[maker_position >> SLOT_BITS]
        accounts.records[maker] = accounts.records[maker] + (proceeds << accounts.BALANCE_SHIFT)
        fees = unsafe_add(fees, fee)
        remaining = unsafe_sub(remaining, energy)
        if energy == maker_qty:
            scanned[chosen] = scanned[chosen] | GONE_BIT
        else:
            partial_position = maker_position
            partial_word = word - energy

    # Relink the scanned prefix of the sell list: remaining offers keep
    # their order, filled and self-cancelled ones go.
    following: uint256 = current
    following_price: uint256 = current_price
    for k: uint256 in range(n, bound=MAX_FILLS):
        entry: uint256 = scanned[n - 1 - k]
        maker_position: uint256 = entry & M64
        if entry & GONE_BIT != 0:
            self._orders[maker_position] = TOMBSTONE
            continue
        stored: uint256 = self._orders[maker_position]
        word: uint256 = stored
        if maker_position == partial_position:
            word = partial_word
        word = (word & ~LINK_MASK) | (following << NEXT_SHIFT) | (following_price << NEXT_PRICE_SHIFT)
        if word != stored:
            self._orders[maker_position] = word
        following = maker_position
        following_price = (word >> PRICE_SHIFT) & M48
    book = (book & ~SELL_SIDE_MASK) | (following << SELL_HEAD_SHIFT) | (
        following_price << BEST_SELL_SHIFT
    )
    return remaining, record, book, fees
