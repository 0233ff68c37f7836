"""CDA and NCDA: the VDMA's continuous double auctions for ancillary services.

004_vdma.md §2.2 (CDA) and §2.4 (NCDA).

One engine, :class:`ContinuousBook`, with the semantics of the on-chain order book
(``ledger/contracts/OrderBook.vy``: ``place``, ``_take``, ``_take_nearest``), so that the same
stream of orders placed on the contract and here gives the same trades:

- An order *crosses* a resting order of the other side when the buy price is strictly above the
  sell price (the paper's "price lower than the willingness to pay"), or at least equal with
  ``strict=False``.
- A crossing order fills against resting orders, each fill ``min`` of the two remainders at the
  mid price ``(buy + sell) / 2`` (``price_rule``; the contract rounds the mid down to a micro-unit
  of its integer prices). A partly filled resting order keeps its place and its rest.
- CDA: the taker meets the opposite side in price-time order (best price first, then the older
  order). A crossing sell does so in NCDA too: the resting buys are exactly the asks no resting
  offer suits, so there is no choice of offer to make.
- NCDA: a crossing buy (an ask) takes the crossing sells (offers) nearest its bus first; at equal
  distance the cheaper, then the older one. Distances come from a :class:`BusDistances` table; an
  order whose bus the table does not know is farther than every known bus (the contract's
  "unknown distances come last"), and a taker of unknown bus sees every offer at one distance,
  i.e. in price-time order.
- Self-trade prevention: a resting order of the taker's own ``agent`` is cancelled instead of
  traded with (reason ``"self-trade"``). In CDA the taker cancels those it reaches in its walk; in
  NCDA a buy scans every crossing offer before it fills, so it cancels all crossing offers of its
  own agent, as the contract's scan does.
- ``max_fills`` (default None: unlimited; the contract allows 0..32): a taker touches at most this
  many resting orders (a self-trade cancellation counts; in NCDA the scan is of the first
  ``max_fills`` crossing offers in price-time order). If the taker still crosses after that, its
  rest is cancelled (reason ``"fill-limit"``) rather than leave a crossed book.
- Time is arrival: the ``n``-th placed order is older than the ``n+1``-th.

The book is kept in binary heaps (one for the buys; one for the sells in CDA, one per bus in NCDA
so that the nearest crossing offer is a scan over the buses' best offers, nearest group first);
removed orders are dropped lazily when they reach a heap's head.

The session clear of one pool (the paper's "market solving function", once per hourly session),
:func:`clear_session`, feeds this engine every offer first, in time order (offers never cross
offers: they all rest), then every ask in price-descending, then time order. That is the batch
procedure of §2.2 steps 1–8: the outstanding ask is the highest (then oldest); its suitable set is
the resting offers strictly cheaper, filled cheapest first (CDA) or nearest first (NCDA) until it
is satisfied or none is left; what it cannot fill rests to gate closure (unsatisfied), what no ask
took is unsold. The worked example 6B of the digest is a test of this equality.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar

from peergrid.core.errors import PeergridError
from peergrid.core.orders import Order, Side
from peergrid.core.trades import Clearing
from peergrid.mechanisms.ancillary import (
    BusDistances,
    Cancellation,
    FeederPaths,
    Fill,
    SessionParameters,
    check_orders,
    service_clearing,
)

if TYPE_CHECKING:
    from peergrid.grid.feeder_types import Feeder

__all__ = [
    "BookOrder",
    "BusDistances",
    "Cancellation",
    "ContinuousBook",
    "Fill",
    "RestingOrder",
    "SessionOutcome",
    "clear_cda",
    "clear_ncda",
    "clear_session",
    "mid_price",
    "session_order",
]

PriceRule = Callable[[float, float], float]
OrderT = TypeVar("OrderT", bound="BookOrder")

SELF_TRADE = "self-trade"
FILL_LIMIT = "fill-limit"
OWNER = "owner"


def mid_price(buy_price: float, sell_price: float) -> float:
    """The paper's trade price (L69): the mean of the ask's and the offer's prices."""
    return (buy_price + sell_price) / 2


class BookOrder(Protocol):
    """What the engine reads of an order (:class:`peergrid.core.orders.Order` has it all)."""

    @property
    def id(self) -> str: ...
    @property
    def agent(self) -> str: ...
    @property
    def side(self) -> Side: ...
    @property
    def quantity_kwh(self) -> float: ...
    @property
    def price(self) -> float: ...
    @property
    def bus(self) -> str | None: ...


class RestingOrder(NamedTuple):
    """A resting order as :meth:`ContinuousBook.resting` shows it."""

    order_id: str
    agent: str
    side: Side
    remaining: float
    price: float
    bus: str | None


class _Rest:
    """A resting order; ``gone`` once filled or cancelled (heaps drop it lazily)."""

    __slots__ = ("agent", "bus", "bus_index", "gone", "id", "is_buy", "price", "remaining", "seq")

    def __init__(
        self,
        order_id: str,
        agent: str,
        is_buy: bool,
        remaining: float,
        price: float,
        bus: str | None,
        bus_index: int,
        seq: int,
    ) -> None:
        self.id = order_id
        self.agent = agent
        self.is_buy = is_buy
        self.remaining = remaining
        self.price = price
        self.bus = bus
        self.bus_index = bus_index
        self.seq = seq
        self.gone = False


_Entry = tuple[float, int, _Rest]  # (price, or -price for buys; arrival; the order)


class ContinuousBook:
    """A continuous double auction for one pool of one session, as ``OrderBook.vy`` runs it.

    ``ncda`` with ``distances`` makes a crossing buy take the nearest crossing offers first.
    ``place`` returns the order's fills in the order they happen; every cancellation (self-trade,
    fill limit, owner) is appended to :attr:`cancellations`::

        book = ContinuousBook(ncda=True, distances=BusDistances.from_matrix(hops))
        fills = book.place(order)
        book.resting(Side.SELL)  # best first
    """

    def __init__(
        self,
        *,
        ncda: bool = False,
        distances: BusDistances | None = None,
        strict: bool = True,
        max_fills: int | None = None,
        price_rule: PriceRule = mid_price,
    ) -> None:
        if ncda and distances is None:
            raise ValueError("an NCDA book needs the distances between buses")
        if max_fills is not None and max_fills < 0:
            raise ValueError(f"max_fills must be at least 0, got {max_fills}")
        self.ncda = ncda
        self.distances = distances
        self.strict = strict
        self.max_fills = max_fills
        self.price_rule = price_rule
        self.cancellations: list[Cancellation] = []
        self._seq = 0
        self._buys: list[_Entry] = []
        self._sells: list[_Entry] = []  # every offer (NCDA: for the quick test of a crossing)
        n = len(distances.labels) + 1 if distances is not None else 1
        self._sells_at: list[list[_Entry]] = [[] for _ in range(n)]  # NCDA: per bus position
        self._sells_of: dict[str, list[_Entry]] = {}  # NCDA: each agent's offers, a heap
        self._resting: dict[str, _Rest] = {}
        self._bus_index = {b: i for i, b in enumerate(distances.labels)} if distances else {}
        self._unknown = len(self._bus_index)  # the position of buses the table does not know

    # -- orders ------------------------------------------------------------------------------
    def place(self, order: BookOrder) -> list[Fill]:
        """Place ``order``: it fills against the crossing resting orders, then rests (or, if a
        fill limit stopped it while it still crosses, its rest is cancelled)."""
        is_buy = order.side is Side.BUY
        price = order.price
        remaining = order.quantity_kwh
        seq = self._seq
        self._seq = seq + 1
        bus = order.bus
        bus_index = self._bus_index.get(bus, self._unknown) if bus is not None else self._unknown
        fills: list[Fill] = []
        if is_buy:
            if self.ncda:
                if self.max_fills is None:
                    remaining = self._take_nearest(order, price, remaining, bus_index, fills)
                else:
                    remaining = self._take_nearest_limited(
                        order, price, remaining, bus_index, fills
                    )
            else:
                remaining = self._take(self._sells, order, True, price, remaining, fills)
        else:
            remaining = self._take(self._buys, order, False, price, remaining, fills)
        if remaining > 0:
            if self.max_fills is not None and self._still_crosses(is_buy, price):
                self.cancellations.append(Cancellation(order.id, remaining, FILL_LIMIT))
            else:
                rest = _Rest(order.id, order.agent, is_buy, remaining, price, bus, bus_index, seq)
                self._resting[order.id] = rest
                if is_buy:
                    heapq.heappush(self._buys, (-price, seq, rest))
                else:
                    entry = (price, seq, rest)
                    heapq.heappush(self._sells, entry)
                    if self.ncda:
                        heapq.heappush(self._sells_at[bus_index], entry)
                        heapq.heappush(self._sells_of.setdefault(order.agent, []), entry)
        return fills

    def cancel(self, order_id: str) -> float:
        """Remove a resting order (its owner's cancellation); returns its remaining kWh."""
        rest = self._resting.pop(order_id, None)
        if rest is None:
            raise KeyError(f"no resting order {order_id!r}")
        rest.gone = True
        self.cancellations.append(Cancellation(order_id, rest.remaining, OWNER))
        return rest.remaining

    def resting(self, side: Side) -> list[RestingOrder]:
        """The resting orders of ``side``, best first (price, then arrival)."""
        is_buy = side is Side.BUY
        rests = sorted(
            (r for r in self._resting.values() if r.is_buy == is_buy),
            key=lambda r: (-r.price if is_buy else r.price, r.seq),
        )
        return [RestingOrder(r.id, r.agent, side, r.remaining, r.price, r.bus) for r in rests]

    # -- matching ----------------------------------------------------------------------------
    def _crosses(self, buy_price: float, sell_price: float) -> bool:
        return buy_price > sell_price if self.strict else buy_price >= sell_price

    def _still_crosses(self, is_buy: bool, price: float) -> bool:
        head = _head(self._sells) if is_buy else None
        if is_buy:
            return head is not None and self._crosses(price, head.price)
        head = _head(self._buys)
        return head is not None and self._crosses(head.price, price)

    def _fill(
        self, taker: BookOrder, is_buy: bool, price: float, remaining: float, maker: _Rest
    ) -> tuple[float, Fill]:
        quantity = remaining if remaining < maker.remaining else maker.remaining
        if is_buy:
            fill = Fill(
                taker.id,
                maker.id,
                taker.agent,
                maker.agent,
                quantity,
                self.price_rule(price, maker.price),
                taker.bus,
                maker.bus,
            )
        else:
            fill = Fill(
                maker.id,
                taker.id,
                maker.agent,
                taker.agent,
                quantity,
                self.price_rule(maker.price, price),
                maker.bus,
                taker.bus,
            )
        return quantity, fill

    def _remove(self, maker: _Rest, reason: str | None = None) -> None:
        maker.gone = True
        del self._resting[maker.id]
        if reason is not None:
            self.cancellations.append(Cancellation(maker.id, maker.remaining, reason))

    def _take(
        self,
        heap: list[_Entry],
        taker: BookOrder,
        is_buy: bool,
        price: float,
        remaining: float,
        fills: list[Fill],
    ) -> float:
        """Price-time order against one heap (the contract's ``_take``)."""
        limit = self.max_fills
        touched = 0
        strict = self.strict
        while remaining > 0 and heap:
            maker = heap[0][2]
            if maker.gone:
                heapq.heappop(heap)
                continue
            if is_buy:
                crosses = price > maker.price if strict else price >= maker.price
            else:
                crosses = maker.price > price if strict else maker.price >= price
            if not crosses or (limit is not None and touched >= limit):
                break
            touched += 1
            if maker.agent == taker.agent:
                heapq.heappop(heap)
                self._remove(maker, SELF_TRADE)
                continue
            quantity, fill = self._fill(taker, is_buy, price, remaining, maker)
            fills.append(fill)
            remaining -= quantity
            if quantity == maker.remaining:
                heapq.heappop(heap)
                self._remove(maker)
            else:
                maker.remaining -= quantity
        return remaining

    def _cancel_own_offers(self, taker: BookOrder, price: float) -> None:
        """NCDA's scan cancels every crossing offer of the taker's agent (price-time order)."""
        own = self._sells_of.get(taker.agent)
        while own:
            rest = own[0][2]
            if rest.gone:
                heapq.heappop(own)
            elif self._crosses(price, rest.price):
                heapq.heappop(own)
                self._remove(rest, SELF_TRADE)
            else:
                break

    def _take_nearest(
        self, taker: BookOrder, price: float, remaining: float, position: int, fills: list[Fill]
    ) -> float:
        """NCDA without a fill limit: nearest group of buses first, in a group the best offer
        (price, then arrival) among the buses' best."""
        assert self.distances is not None
        strict = self.strict
        # Most arriving asks cross nothing: the cheapest offer of all says so at once.
        cheapest = _head(self._sells)
        if cheapest is None or not (price > cheapest.price if strict else price >= cheapest.price):
            return remaining
        self._cancel_own_offers(taker, price)
        heaps = self._sells_at
        for group in self.distances.groups(position):
            while remaining > 0:
                best: _Entry | None = None
                for j in group:
                    heap = heaps[j]
                    while heap and heap[0][2].gone:
                        heapq.heappop(heap)
                    if heap:
                        entry = heap[0]
                        crosses = price > entry[0] if strict else price >= entry[0]
                        if crosses and (best is None or entry < best):
                            best = entry
                if best is None:
                    break
                maker = best[2]
                quantity, fill = self._fill(taker, True, price, remaining, maker)
                fills.append(fill)
                remaining -= quantity
                if quantity == maker.remaining:
                    heapq.heappop(heaps[maker.bus_index])
                    self._remove(maker)
                else:
                    maker.remaining -= quantity
            if remaining <= 0:
                break
        return remaining

    def _take_nearest_limited(
        self, taker: BookOrder, price: float, remaining: float, position: int, fills: list[Fill]
    ) -> float:
        """NCDA with a fill limit, as the contract's ``_take_nearest``: scan the first
        ``max_fills`` crossing offers in price-time order (cancelling the taker's own), then fill
        from the scanned ones nearest first (ties, the same distance groups as the unlimited
        scan: scan order)."""
        assert self.distances is not None and self.max_fills is not None
        crossing = sorted(
            (
                entry
                for heap in self._sells_at
                for entry in heap
                if not entry[2].gone and self._crosses(price, entry[0])
            ),
        )[: self.max_fills]
        scanned: list[tuple[int, int, _Rest]] = []
        for k, (_, _, maker) in enumerate(crossing):
            if maker.agent == taker.agent:
                self._remove(maker, SELF_TRADE)
            else:
                scanned.append((self.distances.rank(position, maker.bus_index), k, maker))
        scanned.sort(key=lambda s: (s[0], s[1]))
        for _, _, maker in scanned:
            if remaining <= 0:
                break
            quantity, fill = self._fill(taker, True, price, remaining, maker)
            fills.append(fill)
            remaining -= quantity
            if quantity == maker.remaining:
                self._remove(maker)
            else:
                maker.remaining -= quantity
        return remaining


def _head(heap: list[_Entry]) -> _Rest | None:
    while heap and heap[0][2].gone:
        heapq.heappop(heap)
    return heap[0][2] if heap else None


# -- the session clear ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionOutcome:
    """What the clear of one pool of one session gives: the fills in the order they happened,
    the cancellations, and what each ask and offer has left at gate closure (kWh)."""

    fills: tuple[Fill, ...]
    cancellations: tuple[Cancellation, ...]
    unsatisfied_kwh: dict[str, float]  # ask id -> kWh left (asks with something left only)
    unsold_kwh: dict[str, float]  # offer id -> kWh left (offers with something left only)


def session_order(orders: Iterable[OrderT]) -> tuple[list[OrderT], list[OrderT]]:
    """The offers in time order and the asks in price-descending, then time order.

    Time is ``submitted_at`` where the orders carry it (the order file's position otherwise);
    equal times keep the given order.
    """
    offers = [o for o in orders if o.side is Side.SELL]
    asks = [o for o in orders if o.side is Side.BUY]
    offers.sort(key=_time)
    asks.sort(key=lambda o: (-o.price, _time(o)))
    return offers, asks


def _time(order: BookOrder) -> int:
    return int(getattr(order, "submitted_at", 0))


def clear_session(
    orders: Sequence[BookOrder],
    *,
    ncda: bool = False,
    distances: BusDistances | None = None,
    strict: bool = True,
    max_fills: int | None = None,
    price_rule: PriceRule = mid_price,
) -> SessionOutcome:
    """Clear one pool of one session: every offer rests first, then the asks arrive in
    price-descending, then time order (§2.2 steps 1–8; NCDA §2.4 when ``ncda``)."""
    book = ContinuousBook(
        ncda=ncda, distances=distances, strict=strict, max_fills=max_fills, price_rule=price_rule
    )
    offers, asks = session_order(orders)
    fills: list[Fill] = []
    for order in (*offers, *asks):
        fills.extend(book.place(order))
    left: dict[str, float] = {o.id: o.quantity_kwh for o in orders}
    for fill in fills:
        left[fill.buy_order] -= fill.quantity
        left[fill.sell_order] -= fill.quantity
    unsatisfied = {o.id: left[o.id] for o in asks if left[o.id] > 0}
    unsold = {o.id: left[o.id] for o in offers if left[o.id] > 0}
    return SessionOutcome(tuple(fills), tuple(book.cancellations), unsatisfied, unsold)


# -- the mechanisms as the registry calls them -----------------------------------------------------


def clear_cda(
    orders: Sequence[Order], params: Mapping[str, Any], feeder: Feeder | None = None
) -> Clearing:
    """CDA (§2.2) on one pool of one session. With a ``feeder``, every bus is checked against it
    and every trade carries its path (metres, hops)."""
    return _clear("cda", orders, params, feeder)


def clear_ncda(
    orders: Sequence[Order], params: Mapping[str, Any], feeder: Feeder | None = None
) -> Clearing:
    """NCDA (§2.4): CDA whose asks take the nearest suitable offers first, on ``feeder``."""
    if feeder is None:
        raise PeergridError("mechanism 'ncda' needs a feeder for its grid distances")
    return _clear("ncda", orders, params, feeder)


def _clear(
    mechanism: str, orders: Sequence[Order], params: Mapping[str, Any], feeder: Feeder | None
) -> Clearing:
    session = SessionParameters.from_params(params, mechanism)
    paths = FeederPaths.of(feeder, session.distance) if feeder is not None else None
    check_orders(orders, paths, mechanism, need_bus=mechanism == "ncda")
    outcome = clear_session(
        orders,
        ncda=mechanism == "ncda",
        distances=paths.metric if paths is not None else None,
        strict=session.strict,
        max_fills=session.max_fills,
    )
    return service_clearing(mechanism, orders, outcome.fills, outcome.cancellations, session, paths)
