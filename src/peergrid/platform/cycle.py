"""The 15-minute trading cycle of 003_dpda.md §1.5 (Table 4.2), as a clocked state machine.

Each cycle has four phases, in minutes from its start (scaled to the slot length):

==============  ============  ==========================================================
phase           minutes       what happens
==============  ============  ==========================================================
quotation       [0, 3)        prosumers submit orders for the next delivery slot
matching        [3, 10)       the mechanism clears the orders (bids frozen and hidden)
feedback        [10, 13)      losers are told, winners receive their quotes
settlement      [13, 15)      the previous delivery slot is settled against the meters
==============  ============  ==========================================================

The thesis's cycle indices do not fit together (digest §1.5); peergrid follows SYSTEM.md: orders
for delivery slot k are quoted and matched during slot k−1, delivered in slot k, and metered and
settled in slot k+1. An order that arrives after the quotation window of its slot's cycle is not
refused: it rolls to the next cycle, for delivery one slot later, and the prosumer is told. An
agent holds at most one order per delivery slot: a newer order replaces its older one (the GUI's
*Update Values*), and an order can be withdrawn until its slot is matched; an agent whose order
rolled replaces it with its position for the new slot, or withdraws it.

Besides the mechanism's own charges (Score Matching's C_d·d per pair), the DSO may charge a fee
per kWh traded (``network_fee_per_kwh``): it is added to every trade's ``grid_fee`` and, half
each, to the quotes' charges.

The DSO's view (channel C2 of the thesis) holds the clearing's results, the trades and the DSO's
charges, never the raw bids of the prosumers' channel.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import pairwise
from typing import Any

from peergrid.core.errors import PeergridError
from peergrid.core.orders import Order
from peergrid.core.trades import Clearing, Trade
from peergrid.mechanisms.metered import MeteredSettlement, settle_against_meters
from peergrid.mechanisms.registry import clear, mechanism_spec
from peergrid.mechanisms.score_matching import DistanceTable


class Phase(StrEnum):
    QUOTATION = "quotation"
    MATCHING = "matching"
    FEEDBACK = "feedback"
    SETTLEMENT = "settlement"


@dataclass(frozen=True)
class CycleTimes:
    """Phase boundaries in minutes from the start of a cycle (Table 4.2 for 15-min slots)."""

    slot_minutes: float = 15.0
    quotation_end: float = 3.0
    matching_end: float = 10.0
    feedback_end: float = 13.0

    def __post_init__(self) -> None:
        bounds = (0.0, self.quotation_end, self.matching_end, self.feedback_end, self.slot_minutes)
        if any(b >= c for b, c in pairwise(bounds)):
            raise PeergridError(f"phase boundaries must increase within the slot, got {bounds}")

    @classmethod
    def scaled(cls, slot_minutes: float) -> CycleTimes:
        """Table 4.2's proportions for another slot length."""
        f = slot_minutes / 15.0
        return cls(slot_minutes, 3.0 * f, 10.0 * f, 13.0 * f)

    def cycle_of(self, minute: float) -> int:
        """The cycle running at ``minute`` (minutes since the market's start)."""
        return int(minute // self.slot_minutes)

    def phase_at(self, minute: float) -> Phase:
        offset = minute - self.cycle_of(minute) * self.slot_minutes
        if offset < self.quotation_end:
            return Phase.QUOTATION
        if offset < self.matching_end:
            return Phase.MATCHING
        if offset < self.feedback_end:
            return Phase.FEEDBACK
        return Phase.SETTLEMENT


@dataclass(frozen=True)
class Submission:
    """What a prosumer is told when it submits an order."""

    order_id: str
    delivery_slot: int  # the slot the order now trades for
    rolled: bool  # True when it arrived late and moved to the next cycle
    message: str
    replaced: str | None = None  # the agent's older order for the same slot, now gone


@dataclass(frozen=True)
class Feedback:
    """What a prosumer learns in the feedback phase."""

    agent: str
    order_id: str
    won: bool
    price: float | None
    quote: Mapping[str, float] | None
    message: str


@dataclass(frozen=True)
class DsoView:
    """What the DSO's channel shows of a delivery slot: results, trades, charges; no bids."""

    slot: int
    price: float | None
    case: int | None
    traded_kwh: float
    trades: tuple[Mapping[str, Any], ...]
    dso_income: float
    oversupply_kwh: float | None


@dataclass
class _Book:
    orders: list[Order] = field(default_factory=list)
    clearing: Clearing | None = None
    settlement: list[MeteredSettlement] | None = None
    ids: set[str] = field(default_factory=set)  # every order id this book has taken
    by_agent: dict[str, Order] = field(default_factory=dict)  # each agent's order in ``orders``


class TradingCycle:
    """Runs the cycle for one market: submit, match, feedback, settle, on a minute clock."""

    def __init__(
        self,
        mechanism: str = "dpda",
        *,
        params: Mapping[str, Any] | None = None,
        distances: DistanceTable | None = None,
        times: CycleTimes | None = None,
        penalty_per_kwh: float = 0.0,
        network_fee_per_kwh: float = 0.0,
    ) -> None:
        if not network_fee_per_kwh >= 0:
            raise PeergridError(
                f"network_fee_per_kwh must be a non-negative number, got {network_fee_per_kwh}"
            )
        self.mechanism = mechanism
        self.spec = mechanism_spec(mechanism)
        self.params = dict(params or {})
        self.distances = distances
        self.times = times or CycleTimes()
        self.penalty_per_kwh = penalty_per_kwh
        self.network_fee_per_kwh = network_fee_per_kwh
        self._books: dict[int, _Book] = defaultdict(_Book)
        self._ids: set[str] = set()
        self._slot_of: dict[str, int] = {}  # order id -> the book that holds it

    # -- quotation -----------------------------------------------------------------------
    def submit(self, order: Order, minute: float) -> Submission:
        """Accept ``order`` (for delivery slot ``order.slot``) at ``minute``.

        An order is on time when it arrives in the quotation window of cycle ``order.slot − 1``
        or earlier; an order that arrives later trades one slot after the cycle it arrived in.
        """
        if order.id in self._ids:
            raise PeergridError(f"order {order.id!r}: duplicate order id")
        cycle = self.times.cycle_of(minute)
        on_time_cycle = order.slot - 1
        open_for = cycle + 1 if self.times.phase_at(minute) is Phase.QUOTATION else cycle + 2
        if cycle < on_time_cycle or (cycle == on_time_cycle and open_for == order.slot):
            slot, rolled = order.slot, False
            message = f"accepted for delivery slot {slot}"
        else:
            slot, rolled = open_for, True
            message = (
                f"arrived after the quotation window for slot {order.slot}; "
                f"rolled to the next cycle, delivery slot {slot}"
            )
        book = self._books[slot]
        if book.clearing is not None:
            raise PeergridError(f"order {order.id!r}: slot {slot} is already matched")
        older = book.by_agent.get(order.agent)
        if older is not None:
            book.orders.remove(older)
            message += f"; replaces order {older.id!r}"
        # An order is immutable: one on time is kept as it came (a copy per order was a third
        # of a long run's time); a rolled one is copied with its new slot.
        kept = order if order.slot == slot else dataclasses.replace(order, slot=slot)
        book.orders.append(kept)
        book.by_agent[order.agent] = kept
        book.ids.add(order.id)
        self._ids.add(order.id)
        self._slot_of[order.id] = slot
        return Submission(order.id, slot, rolled, message, older.id if older else None)

    def withdraw(self, order_id: str) -> Order:
        """Take back an order whose slot is not matched yet; returns it."""
        slot = self._slot_of.get(order_id)
        book = self._books.get(slot) if slot is not None else None
        order = next((o for o in book.orders if o.id == order_id), None) if book else None
        if book is None or order is None:
            raise PeergridError(f"order {order_id!r}: no such order in an open book")
        if book.clearing is not None:
            raise PeergridError(f"order {order_id!r}: slot {slot} is already matched")
        book.orders.remove(order)
        del book.by_agent[order.agent]
        return order

    # -- matching --------------------------------------------------------------------------
    def match(self, slot: int) -> Clearing:
        """Clear the orders for delivery ``slot`` (the matching phase of cycle ``slot − 1``)."""
        book = self._books[slot]
        if book.clearing is None:
            clearing = clear(self.mechanism, book.orders, self.params, distances=self.distances)
            if self.network_fee_per_kwh:
                clearing = _with_network_fee(clearing, self.network_fee_per_kwh)
            book.clearing = clearing
        return book.clearing

    def void(self, slot: int, trades: Sequence[Trade]) -> Clearing:
        """Remove ``trades`` from the matched ``slot`` before feedback and settlement: the
        market's authority (the ledger's verification) refused them, e.g. a DPDA price beyond
        a buyer's limit (003 §6 item 9). Their orders' quotes lose the trades' energy and
        charges; the clearing without them is returned."""
        book = self._books.get(slot)
        clearing = book.clearing if book is not None else None
        if book is None or clearing is None:
            raise PeergridError(f"slot {slot} has not been matched yet")
        if book.settlement is not None:
            raise PeergridError(f"slot {slot} is already settled")
        if not trades:
            return clearing
        remaining = list(clearing.trades)
        for t in trades:
            if t not in remaining:
                raise PeergridError(
                    f"slot {slot}: no such trade {t.buy_order!r} <- {t.sell_order!r}"
                )
            remaining.remove(t)
        allocations = dict(clearing.allocations)
        info = dict(clearing.info)
        quotes = {k: dict(v) for k, v in (info.get("quotes") or {}).items()}
        price = clearing.price or 0.0
        for t in trades:
            for order_id in (t.buy_order, t.sell_order):
                allocations[order_id] = max(0.0, allocations.get(order_id, 0.0) - t.quantity_kwh)
                if order_id in quotes:
                    _shift_quote(quotes[order_id], -t.quantity_kwh, -t.grid_fee / 2.0, price)
        if quotes:
            info["quotes"] = quotes
        if "dso_income" in info:
            info["dso_income"] = float(sum(t.grid_fee for t in remaining))
        info["voided_trades"] = int(info.get("voided_trades", 0)) + len(trades)
        book.clearing = dataclasses.replace(
            clearing, trades=tuple(remaining), allocations=allocations, info=info
        )
        return book.clearing

    # -- feedback --------------------------------------------------------------------------
    def feedback(self, slot: int) -> list[Feedback]:
        """Winners receive their quotes; losers are told, with the price to aim for."""
        clearing = self._matched(slot)
        quotes = clearing.info.get("quotes", {})
        traded: dict[str, float] = defaultdict(float)
        for trade in clearing.trades:
            traded[trade.buy_order] += trade.quantity_kwh
            traded[trade.sell_order] += trade.quantity_kwh
        messages = []
        for order in self._books[slot].orders:
            won = traded.get(order.id, 0.0) > 0
            quote = quotes.get(order.id)
            if won and quote is None:
                value = traded[order.id] * (clearing.price or 0.0)
                quote = {"energy_kwh": traded[order.id], "value": value}
            if won:
                text = f"matched {traded[order.id]:.3f} kWh at {clearing.price}"
            elif clearing.price is None:
                text = "not matched: no trade cleared in this slot"
            else:
                direction = "lower" if order.side.value == "sell" else "higher"
                text = (
                    f"not matched: the clearing price was {clearing.price}; a {direction} "
                    "reserved price, closer to it, would have traded"
                )
            messages.append(
                Feedback(order.agent, order.id, won, clearing.price, quote if won else None, text)
            )
        return messages

    # -- settlement ------------------------------------------------------------------------
    def settle(self, slot: int, metered_kwh: Mapping[str, float]) -> list[MeteredSettlement]:
        """Settle delivery ``slot`` against meter readings (by order id), eqs. 4.8/4.9."""
        clearing = self._matched(slot)
        book = self._books[slot]
        if book.settlement is not None:
            raise PeergridError(f"slot {slot} is already settled")
        quotes = clearing.info.get("quotes") or plain_quotes(clearing.trades)
        if clearing.price is None or not quotes:
            book.settlement = []
            return []
        book.settlement = settle_against_meters(
            clearing.price, quotes, metered_kwh, self.penalty_per_kwh
        )
        return book.settlement

    # -- the DSO's channel -------------------------------------------------------------------
    def dso_view(self, slot: int) -> DsoView:
        clearing = self._matched(slot)
        trades = tuple(
            {
                "buyer": t.buyer,
                "seller": t.seller,
                "quantity_kwh": t.quantity_kwh,
                "price": t.price,
                "grid_fee": t.grid_fee,
            }
            for t in clearing.trades
        )
        info = self.spec.info(clearing)
        return DsoView(
            slot=slot,
            price=clearing.price,
            case=info.case,
            traded_kwh=sum(t.quantity_kwh for t in clearing.trades),
            trades=trades,
            dso_income=sum(t.grid_fee for t in clearing.trades),
            oversupply_kwh=info.oversupply_kwh,
        )

    def forget(self, slot: int) -> None:
        """Drop delivery ``slot``'s book once its results are kept elsewhere, so that a long run
        holds only the slots in flight. Its order ids may then be used again."""
        book = self._books.pop(slot, None)
        if book is None:
            return
        if book.settlement is None and book.orders:
            self._books[slot] = book
            raise PeergridError(f"slot {slot} is not settled yet: its book cannot be dropped")
        for order_id in book.ids:
            self._ids.discard(order_id)
            self._slot_of.pop(order_id, None)

    def orders(self, slot: int) -> Sequence[Order]:
        """The prosumers' channel: the orders for delivery ``slot``."""
        return tuple(self._books[slot].orders)

    def _matched(self, slot: int) -> Clearing:
        clearing = self._books[slot].clearing if slot in self._books else None
        if clearing is None:
            raise PeergridError(f"slot {slot} has not been matched yet")
        return clearing


def plain_quotes(trades: Sequence[Trade]) -> dict[str, dict[str, float]]:
    """Quotes for mechanisms without their own: energy and half the DSO's fee per side."""
    quotes: dict[str, dict[str, float]] = {}
    for t in trades:
        for order_id, key in ((t.buy_order, "bill"), (t.sell_order, "income")):
            q = quotes.setdefault(order_id, {"energy_kwh": 0.0, "charge": 0.0, key: 0.0})
            q["energy_kwh"] += t.quantity_kwh
            q["charge"] += t.grid_fee / 2.0
    for q in quotes.values():
        key = "bill" if "bill" in q else "income"
        q[key] = 0.0  # recomputed from the meter readings by settle_against_meters
    return quotes


def _with_network_fee(clearing: Clearing, fee_per_kwh: float) -> Clearing:
    """The clearing with the DSO's per-kWh fee added to trades, quotes and its income."""
    trades = [
        dataclasses.replace(t, grid_fee=t.grid_fee + t.quantity_kwh * fee_per_kwh)
        for t in clearing.trades
    ]
    info = dict(clearing.info)
    if info.get("quotes"):
        quotes = {k: dict(v) for k, v in info["quotes"].items()}
        for t in clearing.trades:
            for order_id in (t.buy_order, t.sell_order):
                if order_id in quotes:
                    _shift_quote(quotes[order_id], 0.0, t.quantity_kwh * fee_per_kwh / 2.0, 0.0)
        info["quotes"] = quotes
    if "dso_income" in info:
        info["dso_income"] = float(sum(t.grid_fee for t in trades))
    return dataclasses.replace(clearing, trades=tuple(trades), info=info)


def _shift_quote(quote: dict[str, float], energy_kwh: float, charge: float, price: float) -> None:
    """Change a quote by ``energy_kwh`` at ``price`` and by ``charge`` of the DSO's: a bill
    (4.6) moves by price·E + charge, an income (4.7) by price·E − charge."""
    quote["energy_kwh"] += energy_kwh
    quote["charge"] = quote.get("charge", 0.0) + charge
    if "bill" in quote:
        quote["bill"] += price * energy_kwh + charge
    elif "income" in quote:
        quote["income"] += price * energy_kwh - charge
