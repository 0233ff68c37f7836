"""A typed client of ``OrderBook.vy``: a continuous double auction on chain (004_vdma.md).

The VDMA's local ancillary-service market: hourly sessions, each with two independent pools
(:attr:`Pool.UP` for upward service, :attr:`Pool.DOWN` for downward). A buy order is the
paper's *ask* (a request for service), a sell order its *offer*. Orders match as they arrive
(price-time priority, partial fills, each trade at the mid price of its two orders, rounded down
to a micro-unit); resting orders can be cancelled; the operator opens a session and closes its
gate, after which resting orders can only leave (cancelled by their owners, or expired by the
operator) and buy orders' escrow is released. In an NCDA session (``ncda=True``) a crossing buy
order takes the crossing offers nearest to it first, on the feeder map the DSO keeps on chain
(:meth:`~peergrid.ledger.markets.base.MarketLedger.set_nodes`,
:meth:`~peergrid.ledger.markets.base.MarketLedger.set_distances`).

Gas. ``place`` takes the order packed in one word (:func:`pack_ticket`, the hint included),
which keeps its calldata short. A placement that does not cross writes its order's storage word
(see Storage below) and, unless it becomes the best of its side, rewrites the word of the order
it rests behind: the ``hint``. The client computes the exact hint from the book
(:meth:`OrderBookLedger.insertion_hint`); the contract checks it and walks forward at most 64
orders from it if the book moved in between. A crossing order touches at most ``max_fills``
resting orders (at most 32), then rests, or is cancelled if it still crosses (never leaving a
crossed book).

Storage. Order ids are ``member index << 32 | the member's order nonce`` and never repeat; the
order itself is stored at one of its member's :data:`ORDER_POSITIONS` positions (``index << 6 |
nonce % 64``). An order that leaves the book (filled, cancelled, expired) leaves a nonzero
tombstone there, so a later order of the member rewrites a nonzero word (2 900 gas) instead of
filling a zero one (20 000); the removal forgoes the 4 800-gas refund of clearing the word. If an
order still rests at the position the nonce points to, the nonce skips ahead to the next free
position (its id says so); a member with 64 resting orders cannot place another until one
leaves. Orders left in a closed session hold their positions until they are cancelled or expired
(:meth:`OrderBookLedger.expire`).

Money (:mod:`peergrid.ledger.markets.escrow`): a buy order locks
``q * price // 1000 + q * fee // 1000``; a fill costs the buyer
``value + fee - min(fee // 2, value)`` and pays the seller ``value - min(fee // 2, value)``, the
DSO the fee, with ``value = e * mid // 1000``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from peergrid.core.errors import LedgerError
from peergrid.core.orders import Order, Side
from peergrid.core.units import kwh_to_wh, to_micro
from peergrid.ledger.chain.base import Chain, Contract, Receipt
from peergrid.ledger.markets.base import MAX_QUANTITY_WH, MarketLedger
from peergrid.ledger.markets.consortium import (
    DEFAULT_QUORUM_BPS,
    DEFAULT_VOTING_PERIOD_S,
)

MAX_FILLS = 32
"""Most resting orders one placement touches (the contract's ``MAX_FILLS``)."""

MAX_WALK = 64
"""Most orders the contract walks forward from a hint."""

ORDER_POSITIONS = 64
"""Most orders one member can have resting at once (the contract's ``ORDER_POSITIONS``): each
member's orders are stored in 64 storage words of its own, each reused once its order has left
the book; a placement while all 64 hold resting orders is refused ("all order positions in
use")."""

MAX_FEE_MICRO_PER_KWH = 2**29 - 1


MAX_SESSION = 2**32 - 1
MAX_PRICE_MICRO_PER_KWH = 2**48 - 1

# The ``place`` ticket and the ``OrderPlaced`` word share the order word's layout.
_PRICE_SHIFT, _MAX_FILLS_SHIFT, _HINT_SHIFT = 48, 96, 102
_ORDER_ID_SHIFT, _SESSION_SHIFT, _POOL_SHIFT, _SELL_SHIFT = 96, 208, 240, 241
_M64 = 2**64 - 1


class Pool(IntEnum):
    """The two pools of a session (grid point of view, 004 §1.3)."""

    UP = 0
    """Upward service: more active power injected."""
    DOWN = 1
    """Downward service: less active power injected."""


def pack_ticket(
    session: int,
    pool: Pool,
    is_buy: bool,
    quantity_wh: int,
    price_micro_per_kwh: int,
    *,
    hint: int = 0,
    max_fills: int = MAX_FILLS,
) -> int:
    """The one-word order ticket ``OrderBook.place`` takes: quantity Wh (bits 0..47), price
    (48..95), ``max_fills`` (96..101), ``hint`` (102..165), session (208..239), pool (240),
    sell (241).

    A value that does not fit its field raises :class:`LedgerError` naming it (the contract
    would refuse the ticket as malformed)."""
    checks = (
        (0 <= session <= MAX_SESSION and int(pool) in (0, 1), "unknown book"),
        (quantity_wh != 0, "zero quantity"),
        (0 < quantity_wh <= MAX_QUANTITY_WH, "quantity out of range"),
        (0 <= price_micro_per_kwh <= MAX_PRICE_MICRO_PER_KWH, "price out of range"),
        (0 <= max_fills <= MAX_FILLS, "max_fills out of range"),
        (0 <= hint <= _M64, "hint is not an order id"),
    )
    for ok, reason in checks:
        if not ok:
            raise LedgerError("OrderBook.place", reason)
    return (
        quantity_wh
        | price_micro_per_kwh << _PRICE_SHIFT
        | max_fills << _MAX_FILLS_SHIFT
        | hint << _HINT_SHIFT
        | session << _SESSION_SHIFT
        | int(pool) << _POOL_SHIFT
        | (0 if is_buy else 1) << _SELL_SHIFT
    )


class CancelReason(IntEnum):
    OWNER = 1
    FILL_LIMIT = 2
    """A crossing order touched ``max_fills`` resting orders and still crossed."""
    SELF_TRADE = 3
    """A resting order met an order of its own owner."""
    EXPIRED = 4
    """Removed by the operator after the gate closed."""


@dataclass(frozen=True, slots=True)
class BookOrder:
    """A resting order as the contract holds it."""

    order_id: int
    owner: str
    session: int
    pool: Pool
    is_buy: bool
    remaining_wh: int
    price_micro_per_kwh: int
    next_id: int


@dataclass(frozen=True, slots=True)
class BookState:
    """One book (a session's pool): best orders and prices, fee rate, state."""

    buy_head: int
    sell_head: int
    best_buy_micro_per_kwh: int | None
    best_sell_micro_per_kwh: int | None
    fee_micro_per_kwh: int
    open: bool
    closed: bool
    ncda: bool


@dataclass(frozen=True, slots=True)
class BookTrade:
    """A trade the contract made: ``Traded`` event."""

    session: int
    pool: Pool
    buy_order: int
    sell_order: int
    energy_wh: int
    price_micro_per_kwh: int


@dataclass(frozen=True, slots=True)
class Cancellation:
    order_id: int
    remaining_wh: int
    reason: CancelReason


@dataclass(frozen=True)
class Placement:
    """What one placement did: the new order's id, its trades and any order it removed."""

    order_id: int
    receipt: Receipt
    trades: tuple[BookTrade, ...]
    cancellations: tuple[Cancellation, ...]

    @property
    def filled_wh(self) -> int:
        return sum(t.energy_wh for t in self.trades)


def order_inputs(order: Order) -> tuple[bool, int, int]:
    """A core order as ``(is_buy, quantity_wh, price_micro_per_kwh)`` (nearest Wh, micro)."""
    quantity = kwh_to_wh(order.quantity_kwh)
    if quantity <= 0:
        raise LedgerError("order_inputs", f"order {order.id!r}: rounds to {quantity} Wh")
    return order.side is Side.BUY, quantity, to_micro(order.price)


def order_owner_index(order_id: int) -> int:
    """The member index in an order id (``index << 32 | nonce``)."""
    return order_id >> 32


class OrderBookLedger(MarketLedger):
    """The settlement token and an ``OrderBook`` contract on one chain, with its roles."""

    @classmethod
    def deploy(
        cls,
        chain: Chain,
        *,
        operator: str,
        dso: str,
        issuer: str,
        supply_micro: int,
        fee_micro_per_kwh: int = 0,
        strict_crossing: bool = True,
        quorum_bps: int = DEFAULT_QUORUM_BPS,
        voting_period_s: int = DEFAULT_VOTING_PERIOD_S,
        token: Contract | None = None,
    ) -> OrderBookLedger:
        """Deploy the order book (and a token with ``supply_micro`` to ``issuer`` unless
        ``token`` is given). ``strict_crossing``: a buy crosses a sell only at a strictly higher
        price (the VDMA's "price lower than the willingness to pay"); else also at equality."""
        token, market = cls.deploy_contracts(
            chain,
            "OrderBook",
            operator=operator,
            issuer=issuer,
            supply_micro=supply_micro,
            token=token,
            market_args=(
                operator,
                dso,
                quorum_bps,
                voting_period_s,
                fee_micro_per_kwh,
                strict_crossing,
            ),
        )
        return cls(chain, token, market, operator=operator, dso=dso, issuer=issuer)

    # --- DSO ---------------------------------------------------------------------------------

    def set_fee_rate(self, fee_micro_per_kwh: int) -> Receipt:
        """Fee rate for sessions opened from now on (DSO)."""
        return self.chain.transact(self.dso, self.market, "set_fee_rate", fee_micro_per_kwh)

    # --- operator ------------------------------------------------------------------------------

    def open_session(self, session: int, *, ncda: bool = False) -> Receipt:
        """Open both pools of ``session`` (operator), CDA or NCDA; its fee rate is frozen."""
        return self.chain.transact(self.operator, self.market, "open_session", session, ncda)

    def close_session(self, session: int) -> Receipt:
        """Gate closure of ``session`` (operator)."""
        return self.chain.transact(self.operator, self.market, "close_session", session)

    def expire(self, order_id: int) -> Receipt:
        """Remove a resting order after its session's gate closed (operator)."""
        return self.chain.transact(
            self.operator, self.market, "cancel", order_id, self.predecessor(order_id)
        )

    # --- prosumers -----------------------------------------------------------------------------

    def place(
        self,
        member: str,
        session: int,
        pool: Pool,
        is_buy: bool,
        quantity_wh: int,
        price_micro_per_kwh: int,
        *,
        hint: int | None = None,
        max_fills: int = MAX_FILLS,
    ) -> Placement:
        """``member`` places an order; ``hint`` defaults to the exact insertion point."""
        pack_ticket(  # refuse a bad order before reading the book for its hint
            session, pool, is_buy, quantity_wh, price_micro_per_kwh, max_fills=max_fills
        )
        if hint is None:
            hint = self.insertion_hint(session, pool, is_buy, price_micro_per_kwh)
        ticket = pack_ticket(
            session, pool, is_buy, quantity_wh, price_micro_per_kwh, hint=hint, max_fills=max_fills
        )
        receipt = self.chain.transact(member, self.market, "place", ticket)
        (placed,) = receipt.events_named("OrderPlaced")
        return Placement(
            order_id=(int(placed.args["order"]) >> _ORDER_ID_SHIFT) & _M64,
            receipt=receipt,
            trades=self.trades_in(receipt),
            cancellations=tuple(
                Cancellation(
                    int(e.args["order_id"]),
                    int(e.args["remaining_wh"]),
                    CancelReason(int(e.args["reason"])),
                )
                for e in receipt.events_named("OrderCancelled")
            ),
        )

    def place_order(
        self,
        member: str,
        session: int,
        pool: Pool,
        order: Order,
        *,
        hint: int | None = None,
        max_fills: int = MAX_FILLS,
    ) -> Placement:
        """Place a core :class:`~peergrid.core.orders.Order` (kWh, currency/kWh)."""
        is_buy, quantity, price = order_inputs(order)
        return self.place(
            member, session, pool, is_buy, quantity, price, hint=hint, max_fills=max_fills
        )

    def cancel(self, member: str, order_id: int, *, hint: int | None = None) -> Receipt:
        """``member`` cancels its own resting order (``hint`` defaults to its predecessor)."""
        if hint is None:
            hint = self.predecessor(order_id)
        return self.chain.transact(member, self.market, "cancel", order_id, hint)

    # --- views ---------------------------------------------------------------------------------

    def book(self, session: int, pool: Pool) -> BookState:
        raw = self.chain.call(self.market, "book", session, int(pool))
        buy_head, sell_head, best_buy, best_sell, fee, is_open, closed, ncda = raw
        return BookState(
            buy_head=int(buy_head),
            sell_head=int(sell_head),
            best_buy_micro_per_kwh=int(best_buy) if buy_head else None,
            best_sell_micro_per_kwh=int(best_sell) if sell_head else None,
            fee_micro_per_kwh=int(fee),
            open=bool(is_open),
            closed=bool(closed),
            ncda=bool(ncda),
        )

    def orders(
        self, session: int, pool: Pool, is_buy: bool, max_orders: int = 1024
    ) -> list[BookOrder]:
        """Resting orders of one side, best first (at most 1 024)."""
        rows = self.chain.call(self.market, "book_orders", session, int(pool), is_buy, max_orders)
        return [self._book_order(row) for row in rows]

    def order(self, order_id: int) -> BookOrder | None:
        """A resting order, or ``None`` once it left the book."""
        row = self.chain.call(self.market, "order", order_id)
        return None if int(row[0]) == 0 else self._book_order(row)

    def insertion_hint(
        self, session: int, pool: Pool, is_buy: bool, price_micro_per_kwh: int
    ) -> int:
        """The order a new order at this price would rest behind (0: it would be the best).

        Orders at the same price come first (time priority).
        """
        hint = 0
        for o in self.orders(session, pool, is_buy):
            ahead = (
                o.price_micro_per_kwh >= price_micro_per_kwh
                if is_buy
                else o.price_micro_per_kwh <= price_micro_per_kwh
            )
            if not ahead:
                break
            hint = o.order_id
        return hint

    def predecessor(self, order_id: int) -> int:
        """The order before ``order_id`` in its list (0: it is the best)."""
        resting = self.order(order_id)
        if resting is None:
            raise LedgerError(f"{self.market.name}.cancel", f"no resting order {order_id}")
        previous = 0
        for o in self.orders(resting.session, resting.pool, resting.is_buy):
            if o.order_id == order_id:
                return previous
            previous = o.order_id
        raise LedgerError(f"{self.market.name}.cancel", f"order {order_id} not in its book")

    def fee_rate(self) -> int:
        return int(self.chain.call(self.market, "fee_rate"))

    def trades_in(self, receipt: Receipt) -> tuple[BookTrade, ...]:
        """The trades a receipt records."""
        return tuple(
            BookTrade(
                session=int(e.args["session"]),
                pool=Pool(int(e.args["pool"])),
                buy_order=int(e.args["buy_order"]),
                sell_order=int(e.args["sell_order"]),
                energy_wh=int(e.args["energy_wh"]),
                price_micro_per_kwh=int(e.args["price_micro_per_kwh"]),
            )
            for e in receipt.events_named("Traded")
            if e.address == self.market.address
        )

    @staticmethod
    def _book_order(row: Sequence[Any]) -> BookOrder:
        order_id, owner, session, pool, is_buy, remaining, price, next_id = row
        return BookOrder(
            order_id=int(order_id),
            owner=str(owner),
            session=int(session),
            pool=Pool(int(pool)),
            is_buy=bool(is_buy),
            remaining_wh=int(remaining),
            price_micro_per_kwh=int(price),
            next_id=int(next_id),
        )
