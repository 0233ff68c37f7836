"""The batch market's rules in Python: the mirror of ``BatchMarket.vy``'s verification and packing.

What the contract checks and computes, stated so that a client can check a clearing before it
sends it, void beforehand what the contract would refuse, and read the contract's packed words:
the orders and their commitments (:func:`commitment`, :func:`sealed_order`), fills
(:class:`Fill`, packed one word each for ``post_clearing``) and the ``Traded`` event's word
(:class:`TradeLog`), the clearing's arithmetic (:func:`clear`) and price rule
(:func:`within_price_limits`), the transactions a slot takes (:func:`slot_transactions`) and the
contract's packed slot and order words (:func:`decode_slot_record`, :func:`decode_order`). These
change with every change to the contract; the client (:mod:`peergrid.ledger.markets.batch_market`)
sends and reads, and re-exports every name here.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

from eth_utils import keccak

from peergrid.core.errors import LedgerError
from peergrid.core.orders import Order, Side
from peergrid.core.trades import Trade
from peergrid.core.units import kwh_to_wh, to_micro
from peergrid.ledger.chain.encoding import encoder_for
from peergrid.ledger.markets.base import UNKNOWN_DISTANCE
from peergrid.ledger.markets.escrow import distance_charge_shares, fill_payment, lock_micro
from peergrid.ledger.markets.meters import (
    MAX_READINGS_PER_CALL,
    Position,
)

MAX_ORDERS_PER_SLOT = 1000
"""Most orders one slot can reveal and clear: the largest community the contract takes, one
order per member (the contract's ``MAX_ORDERS``). The clearing's last part closes every order
in one transaction, which stays within 2**24 gas up to this many."""

MAX_FILLS_PER_CALL = 128
"""Most fills one part of a clearing carries (``MAX_FILLS_PER_CALL``)."""

MAX_FILLS_PER_SLOT = 2**32 - 1
"""Most fills one slot's clearing carries over all its parts (``MAX_FILLS_PER_SLOT``)."""

ORDERS_CLOSED_WITH_FILLS = 256
"""Most orders a clearing may have for :meth:`BatchMarketLedger.post_clearing` to close it in the
transaction that carries its fills; beyond, the closing is a transaction of its own, so that
neither exceeds the gas of one transaction."""

MAX_ORDERS_PER_VIEW = 256
"""Most orders one ``orders_of`` call returns."""

DEFAULT_CLEARING_DEADLINE_S = 1800
"""The clearing deadline a deployment gets unless told: 30 minutes after a slot's reveals start.
In the 15-minute cycle the clearing is due 7 minutes after (minute 10); the rest covers a late
operator (a restart, a congested chain), and a member's escrow is never held past two more
cycles."""

MAX_CLEARING_DEADLINE_S = 366 * 86400
"""Largest clearing deadline the contract takes (a year)."""

MAX_QUANTITY_WH = 2**32 - 1
"""Largest quantity an order, a fill or a reading may carry on the batch market (4.29 GWh)."""

MAX_PRICE_MICRO_PER_KWH = 2**32 - 1
"""Largest limit or fill price, micro-currency per kWh (4 294 currency units)."""

MAX_RATE_MICRO_PER_KWH = 2**32 - 1
"""Largest fee, penalty (per kWh) or distance charge (per km) rate, micro-currency."""

MAX_SLOT = 2**32 - 2

SLOT_RING = 32
"""Slots the contract holds at once (``SLOT_RING``): slot ``s`` is stored at ring position
``s % SLOT_RING``, reused by a later slot only once ``s`` is finished (settled, cleared without a
fill, void with every order reclaimed, or without orders); a slot older than the ring cannot be
read back."""

# The packed words the contract returns (see BatchMarket.vy).
_U16, _U32, _U40, _U48, _U56 = 2**16 - 1, 2**32 - 1, 2**40 - 1, 2**48 - 1, 2**56 - 1
_U96 = 2**96 - 1
_FILL_ENERGY_SHIFT, _FILL_PRICE_SHIFT = 32, 64


class Phase(IntEnum):
    NONE = 0
    OPEN = 1
    """Commitments accepted (quotation)."""
    REVEAL = 2
    """Commitments closed, reveals accepted (matching)."""
    CLEARING = 3
    """Parts of the clearing posted, the last one not yet; reveals are over."""
    CLEARED = 4
    """Fills verified and paid; waiting for the meter readings."""
    SETTLED = 5
    """Metered settlement done."""
    VOID = 6
    """The clearing deadline passed without the clearing: every lock is reclaimed."""


@dataclass(frozen=True, slots=True)
class SealedOrder:
    """An order before it is revealed: integers on chain, and the secret salt of its commitment.

    ``price_micro_per_kwh`` is the buyer's maximum or the seller's minimum.
    """

    order_id: bytes
    is_buy: bool
    quantity_wh: int
    price_micro_per_kwh: int
    salt: bytes

    def __post_init__(self) -> None:
        for name in ("order_id", "salt"):
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) != 32:
                raise ValueError(f"{name} must be 32 bytes, got {value!r}")
        for name in ("quantity_wh", "price_micro_per_kwh"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}")

    def commitment(self, slot: int, owner: str) -> bytes:
        """What the owner commits to (see :func:`commitment`)."""
        return commitment(slot, self, owner)

    def revealed(self, owner: str) -> RevealedOrder:
        return RevealedOrder(owner, self.is_buy, self.quantity_wh, self.price_micro_per_kwh)


@dataclass(frozen=True, slots=True)
class RevealedOrder:
    """An order as the contract stores it once revealed: owner, side, quantity, limit price.

    In a slot it is named by its index in reveal order; its order id only keyed the commitment
    (and is in the ``Revealed`` event, with the order word as stored, its index and its lock).
    """

    owner: str
    is_buy: bool
    quantity_wh: int
    price_micro_per_kwh: int


@dataclass(frozen=True, slots=True)
class OrderState:
    """A revealed order and what the clearing has tallied for it so far (``orders_of``).

    ``money_micro`` is what the order pays (a buy, fee share included) or receives (a sell, fee
    share deducted) when the clearing closes; ``owed_charge_micro`` its owner's share of its
    pairs' distance charges; ``reclaimed`` whether its lock was reclaimed in a void slot.
    """

    index: int
    order: RevealedOrder
    filled_wh: int
    value_micro: int
    money_micro: int
    owed_charge_micro: int
    reclaimed: bool

    @property
    def position(self) -> Position | None:
        """The position this order leaves once cleared (``None`` without a fill)."""
        if not self.filled_wh:
            return None
        return Position(self.order.owner, self.order.is_buy, self.filled_wh, self.value_micro)


@dataclass(frozen=True, slots=True)
class Fill:
    """One trade of a clearing: indices of its buy and sell orders in the slot's reveal order."""

    buy: int
    sell: int
    energy_wh: int
    price_micro_per_kwh: int

    def packed(self) -> int:
        """The fill as ``post_clearing`` takes it, one word: buy index 0..15, sell index
        16..31, energy 32..63, price 64..95. A field that does not fit is refused
        (:class:`LedgerError` of ``BatchMarket.post_clearing``) with the reason the contract
        gives for it: no order has such an index, energy or price limit."""
        call = "BatchMarket.post_clearing"
        if not (0 <= self.buy <= _U16 and 0 <= self.sell <= _U16):
            raise LedgerError(call, "fill names an unknown order")
        if not 0 <= self.energy_wh <= _U32:
            raise LedgerError(call, "energy out of range")
        if self.price_micro_per_kwh < 0:
            raise LedgerError(call, "price below the seller's limit")
        if self.price_micro_per_kwh > _U32:
            raise LedgerError(call, "price above the buyer's limit")
        return (
            self.buy
            | self.sell << 16
            | self.energy_wh << _FILL_ENERGY_SHIFT
            | self.price_micro_per_kwh << _FILL_PRICE_SHIFT
        )


@dataclass(frozen=True, slots=True)
class TradeLog:
    """A fill as the contract logged it: one word of a ``Traded`` event (one event per part of a
    clearing, one word per fill)."""

    slot: int
    fill: Fill
    charge_micro: int
    """The pair's distance charge, C_d·d (0 without one)."""

    @classmethod
    def from_word(cls, word: int) -> TradeLog:
        """Unpack a word of ``Traded.trades``: the fill 0..95, the charge 96..191, the slot
        192..223."""
        return cls(
            slot=(word >> 192) & _U32,
            fill=Fill(
                buy=word & _U16,
                sell=(word >> 16) & _U16,
                energy_wh=(word >> _FILL_ENERGY_SHIFT) & _U32,
                price_micro_per_kwh=(word >> _FILL_PRICE_SHIFT) & _U32,
            ),
            charge_micro=(word >> 96) & _U96,
        )


@dataclass(frozen=True, slots=True)
class SlotInfo:
    """What the contract holds for one slot.

    ``reveal_started_at`` is the block time the reveals began (0 before); ``trade_count`` the
    fills posted so far; ``metered_positions`` how many positions, in order, the meter's readings
    have settled (in a void slot: how many orders were reclaimed).
    """

    slot: int
    phase: Phase
    order_count: int
    fee_micro_per_kwh: int
    penalty_micro_per_kwh: int
    distance_charge_micro_per_km: int
    reveal_started_at: int
    trade_count: int
    metered_positions: int
    positions_hash: bytes


@dataclass(frozen=True)
class ClearingOutcome:
    """The money of a clearing as the contract computes it (see :func:`clear`).

    ``paid_micro[i]`` is what order ``i``'s owner pays (a buy order) or receives (a sell order)
    for its energy, fee share included; ``released_micro[i]`` the escrow a buy order gets back
    unused; ``owed_charge_micro[i]`` its owner's share of the distance charges of its pairs, taken
    from its free balance after the clearing (``fill_charge_micro[k]``: fill ``k``'s whole
    charge).
    """

    filled_wh: tuple[int, ...]
    value_micro: tuple[int, ...]
    paid_micro: tuple[int, ...]
    released_micro: tuple[int, ...]
    fee_micro: int
    positions: tuple[Position, ...]
    owed_charge_micro: tuple[int, ...] = ()
    fill_charge_micro: tuple[int, ...] = ()

    @property
    def charge_micro(self) -> int:
        """Every pair's distance charge: what the DSO receives if every member can pay."""
        return sum(self.fill_charge_micro)

    @property
    def energy_wh(self) -> int:
        return sum(self.filled_wh) // 2


def commitment(slot: int, order: SealedOrder, owner: str) -> bytes:
    """``keccak256(abi.encode(slot, order_id, is_buy, quantity_wh, price, salt, owner))``."""
    return bytes(
        keccak(
            encoder_for(("uint256", "bytes32", "bool", "uint256", "uint256", "bytes32", "address"))(
                [
                    slot,
                    order.order_id,
                    order.is_buy,
                    order.quantity_wh,
                    order.price_micro_per_kwh,
                    order.salt,
                    owner,
                ],
            )
        )
    )


def order_id_for(order_id: str) -> bytes:
    """The 32-byte on-chain id of a :class:`~peergrid.core.orders.Order` id: its keccak."""
    return bytes(keccak(text=order_id))


def sealed_order(order: Order, *, salt: bytes | None = None) -> SealedOrder:
    """A core order (kWh, currency/kWh) as a sealed on-chain order (Wh, micro/kWh).

    Quantity rounds to the nearest Wh and price to the nearest micro-unit
    (:mod:`peergrid.core.units`); the salt is random unless given.
    """
    quantity = kwh_to_wh(order.quantity_kwh)
    if quantity <= 0:
        raise LedgerError("sealed_order", f"order {order.id!r}: rounds to {quantity} Wh")
    return SealedOrder(
        order_id=order_id_for(order.id),
        is_buy=order.side is Side.BUY,
        quantity_wh=quantity,
        price_micro_per_kwh=to_micro(order.price),
        salt=salt if salt is not None else secrets.token_bytes(32),
    )


def fills_from_trades(
    trades: Sequence[Trade], revealed: Sequence[RevealedOrder], address_of: Mapping[str, str]
) -> list[Fill]:
    """Core trades as fills of a clearing; ``address_of`` maps a trade's buyer and seller (core
    agents) to the accounts that revealed their orders.

    Each member reveals one order per slot, so a trade's buy order is its buyer's revealed
    order and its sell order its seller's. Energy rounds to the nearest Wh, price to the nearest
    micro-unit. Rounding never pushes an order beyond its quantity: a fill is cut to what its
    orders have left, and one that rounds to 0 Wh is dropped. A trade whose buyer or seller
    revealed no order raises :class:`LedgerError`.
    """
    index = {o.owner: i for i, o in enumerate(revealed)}
    legs: list[tuple[int, int]] = []
    for position, trade in enumerate(trades):
        try:
            legs.append((index[address_of[trade.buyer]], index[address_of[trade.seller]]))
        except KeyError as exc:
            raise LedgerError(
                "fills_from_trades",
                f"trade #{position} ({trade.buy_order!r} <- {trade.sell_order!r}) names an "
                f"order that was not revealed (no order of {exc.args[0]!r})",
            ) from exc
    energies = settled_wh(
        [kwh_to_wh(t.quantity_kwh) for t in trades], legs, [o.quantity_wh for o in revealed]
    )
    return [
        Fill(buy, sell, energy, to_micro(trade.price))
        for trade, (buy, sell), energy in zip(trades, legs, energies, strict=True)
        if energy > 0
    ]


def settled_wh(
    wanted_wh: Sequence[int], legs: Sequence[tuple[int, int]], quantity_wh: Sequence[int]
) -> list[int]:
    """The Wh each trade settles, in order: its energy (``wanted_wh``) cut to what its two
    orders (``legs``: indices into ``quantity_wh``) have left; 0 where nothing is left."""
    left = list(quantity_wh)
    settled: list[int] = []
    for wanted, (buy, sell) in zip(wanted_wh, legs, strict=True):
        energy = max(0, min(wanted, left[buy], left[sell]))
        left[buy] -= energy
        left[sell] -= energy
        settled.append(energy)
    return settled


def within_price_limits(
    price_micro_per_kwh: int, sell_limit_micro_per_kwh: int, buy_limit_micro_per_kwh: int
) -> bool:
    """The batch contract's price rule: ``sell_limit <= price <= buy_limit``, in micro-units.

    A fill's price must be at least the sell order's limit (the seller's minimum) and at most
    the buy order's (the buyer's maximum); a price at either limit is within.
    """
    return sell_limit_micro_per_kwh <= price_micro_per_kwh <= buy_limit_micro_per_kwh


def fill_within_limits(fill: Fill, revealed: Sequence[RevealedOrder]) -> bool:
    """Whether ``fill``'s price is within the limits of its two revealed orders.

    A DPDA Case 4 price can exceed a buyer's limit (003 §6 item 9), and rounding a uniform
    price to micro-units can push it one unit past one; the contract refuses such a fill.
    """
    buy, sell = revealed[fill.buy], revealed[fill.sell]
    return within_price_limits(
        fill.price_micro_per_kwh, sell.price_micro_per_kwh, buy.price_micro_per_kwh
    )


def refused_trades(orders: Sequence[Order], trades: Sequence[Trade]) -> list[Trade]:
    """The trades the batch market would not settle, so that the cycle voids them first.

    First, in trade order, every trade whose price, in micro-units, is outside either order's
    limit (:func:`within_price_limits`); then, in trade order, every other trade whose energy
    settles to 0 Wh once cut to what its two orders have left (:func:`settled_wh`, the orders'
    quantities in Wh, earlier trades first): a trade that rounds to 0 Wh, or one whose orders
    earlier trades used up. ``orders`` are the slot's orders, which every trade names.
    """
    by_id = {o.id: o for o in orders}
    refused: list[Trade] = []
    kept: list[Trade] = []
    for t in trades:
        within = within_price_limits(
            to_micro(t.price),
            to_micro(by_id[t.sell_order].price),
            to_micro(by_id[t.buy_order].price),
        )
        (kept if within else refused).append(t)
    position = {o.id: i for i, o in enumerate(orders)}
    legs = [(position[t.buy_order], position[t.sell_order]) for t in kept]
    energies = settled_wh(
        [kwh_to_wh(t.quantity_kwh) for t in kept], legs, [kwh_to_wh(o.quantity_kwh) for o in orders]
    )
    return refused + [t for t, energy in zip(kept, energies, strict=True) if energy <= 0]


def clear(
    orders: Sequence[RevealedOrder],
    fills: Sequence[Fill],
    fee_micro_per_kwh: int,
    distance_charge_micro_per_km: int = 0,
    millimetres_between: Callable[[str, str], int] | None = None,
) -> ClearingOutcome:
    """The contract's verification and money of a whole clearing, in Python.

    The same whether the fills come in one part or several: the contract checks every part's
    fills against what the earlier parts filled. With a distance charge rate,
    ``millimetres_between(buyer, seller)`` gives the path length between two owners on the
    feeder map (:data:`UNKNOWN_DISTANCE` if off the map). Raises :class:`LedgerError`
    (``call="BatchMarket.post_clearing"``) with the contract's reason for the first fill that
    fails verification.
    """
    call = "BatchMarket.post_clearing"
    n = len(orders)
    filled = [0] * n
    value = [0] * n
    paid = [0] * n
    owed = [0] * n
    fill_charges: list[int] = []
    fee_total = 0
    if distance_charge_micro_per_km and millimetres_between is None:
        raise LedgerError(call, "a distance charge rate needs the feeder map's distances")
    if len(fills) > MAX_FILLS_PER_SLOT:
        raise LedgerError(call, "too many fills for the slot")
    for f in fills:
        if not (0 <= f.buy < n and 0 <= f.sell < n):
            raise LedgerError(call, "fill names an unknown order")
        b, s = orders[f.buy], orders[f.sell]
        checks = (
            (b.is_buy, "fill's buy order is a sell order"),
            (not s.is_buy, "fill's sell order is a buy order"),
            (b.owner != s.owner, "buyer and seller are the same"),
            (f.energy_wh != 0, "zero energy"),
            (f.energy_wh <= MAX_QUANTITY_WH, "energy out of range"),
        )
        for ok, reason in checks:
            if not ok:
                raise LedgerError(call, reason)
        if not within_price_limits(
            f.price_micro_per_kwh, s.price_micro_per_kwh, b.price_micro_per_kwh
        ):
            below = f.price_micro_per_kwh < s.price_micro_per_kwh
            raise LedgerError(
                call, "price below the seller's limit" if below else "price above the buyer's limit"
            )
        filled[f.buy] += f.energy_wh
        filled[f.sell] += f.energy_wh
        if filled[f.buy] > b.quantity_wh:
            raise LedgerError(call, "buy order filled beyond its quantity")
        if filled[f.sell] > s.quantity_wh:
            raise LedgerError(call, "sell order filled beyond its quantity")
        money = fill_payment(f.energy_wh, f.price_micro_per_kwh, fee_micro_per_kwh)
        value[f.buy] += money.value_micro
        value[f.sell] += money.value_micro
        paid[f.buy] += money.buyer_pays_micro
        paid[f.sell] += money.seller_receives_micro
        fee_total += money.fee_micro
        charge = 0
        if distance_charge_micro_per_km and millimetres_between is not None:
            millimetres = millimetres_between(b.owner, s.owner)
            if millimetres == UNKNOWN_DISTANCE:
                raise LedgerError(call, "no distance between the pair's nodes")
            buyer_share, seller_share = distance_charge_shares(
                distance_charge_micro_per_km, millimetres
            )
            owed[f.buy] += buyer_share
            owed[f.sell] += seller_share
            charge = buyer_share + seller_share
        fill_charges.append(charge)
    released = [
        lock_micro(o.quantity_wh, o.price_micro_per_kwh, fee_micro_per_kwh) - paid[i]
        if o.is_buy
        else 0
        for i, o in enumerate(orders)
    ]
    positions = tuple(
        Position(o.owner, o.is_buy, filled[i], value[i]) for i, o in enumerate(orders) if filled[i]
    )
    return ClearingOutcome(
        tuple(filled),
        tuple(value),
        tuple(paid),
        tuple(released),
        fee_total,
        positions,
        tuple(owed),
        tuple(fill_charges),
    )


def clearing_calls(n_orders: int, n_fills: int) -> int:
    """How many transactions :meth:`BatchMarketLedger.post_clearing` sends for a clearing.

    One when the fills fit one part (at most :data:`MAX_FILLS_PER_CALL`) and the slot has at most
    :data:`ORDERS_CLOSED_WITH_FILLS` orders: the fills and the closing together. Otherwise
    ``ceil(n_fills / MAX_FILLS_PER_CALL)`` parts of fills and one more that closes.
    """
    if n_fills <= MAX_FILLS_PER_CALL and n_orders <= ORDERS_CLOSED_WITH_FILLS:
        return 1
    return math.ceil(n_fills / MAX_FILLS_PER_CALL) + 1


def readings_calls(n_positions: int) -> int:
    """How many transactions the meter sends for ``n_positions`` readings (one at least)."""
    return max(1, math.ceil(n_positions / MAX_READINGS_PER_CALL))


def slot_transactions(n_orders: int, n_fills: int, n_positions: int) -> int:
    """Transactions of one slot on the batch market: open, ``n_orders`` commits, start of the
    reveals, ``n_orders`` reveals, the clearing (:func:`clearing_calls`) and, when the clearing
    left positions, the readings (:func:`readings_calls`).

    ``2 N + 4`` for a slot of at most 256 orders, 128 fills and 256 positions.
    """
    readings = readings_calls(n_positions) if n_positions else 0
    return 2 * n_orders + 2 + clearing_calls(n_orders, n_fills) + readings


def decode_slot_record(slot: int, record: int, positions: bytes) -> SlotInfo:
    """A :class:`SlotInfo` from the packed record at ``slot``'s ring position and the positions
    hash. The record names its slot: an earlier slot there means ``slot`` is not opened yet (no
    phase); a later one, that ``slot`` is older than the ring (:class:`LedgerError`)."""
    held = record >> 224
    if record and held != slot:
        if held > slot:
            raise LedgerError(
                "BatchMarket.slot_info",
                f"slot {slot} is older than the ring of {SLOT_RING} slots the contract holds "
                f"(its place holds slot {held})",
            )
        record, positions = 0, bytes(32)
    return SlotInfo(
        slot=slot,
        phase=Phase(record & 255),
        order_count=(record >> 8) & _U16,
        fee_micro_per_kwh=(record >> 24) & _U32,
        penalty_micro_per_kwh=(record >> 56) & _U32,
        distance_charge_micro_per_km=(record >> 88) & _U32,
        reveal_started_at=(record >> 120) & _U40,
        trade_count=(record >> 160) & _U32,
        metered_positions=(record >> 192) & _U16,
        positions_hash=bytes(positions),
    )


def decode_order(index: int, owner: str, packed: int, owed_micro: int) -> OrderState:
    """An :class:`OrderState` from the contract's packed word of an order and the distance
    charges owed for it; ``owner`` is the address of the member index in its low 32 bits."""
    return OrderState(
        index=index,
        order=RevealedOrder(
            owner=owner,
            is_buy=bool((packed >> 32) & 1),
            quantity_wh=(packed >> 33) & _U32,
            price_micro_per_kwh=(packed >> 65) & _U32,
        ),
        filled_wh=(packed >> 98) & _U32,
        value_micro=(packed >> 130) & _U56,
        money_micro=packed >> 186,
        owed_charge_micro=owed_micro,
        reclaimed=bool((packed >> 97) & 1),
    )
