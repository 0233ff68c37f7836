"""A typed client of ``BatchMarket.vy``: a sealed-bid batch auction per slot, verified on chain.

The cycle of one delivery slot (003_dpda.md §1.5), each phase started by the operator (the
platform's clock drives it; the chain records when the reveals began, which starts the clearing
deadline):

1. :meth:`BatchMarketLedger.open_slot` (quotation, minutes 0–3): the DSO's rates (fee per kWh,
   penalty per kWh, distance charge per km per matched pair) are frozen for the slot;
   prosumers :meth:`~BatchMarketLedger.commit` the hash of their order and a secret salt
   (:func:`commitment`) under an order id of their own. Bids are hidden (003 §1.4).
   Commitments are kept per slot, member and id: nobody can take or block another's id.
2. :meth:`~BatchMarketLedger.start_reveal` (matching, minutes 3–10): commitments close, bids are
   frozen; prosumers :meth:`~BatchMarketLedger.reveal` (a buy order locks its most cost in
   escrow). One order per member per slot; the contract stores every revealed order in reveal
   order (:meth:`~BatchMarketLedger.revealed` reads them back, so a restarted client knows
   them).
3. :meth:`~BatchMarketLedger.post_clearing` (by minute 10): the operator clears off chain with
   any mechanism and posts the fills, naming orders by their index in reveal order; the
   contract verifies every fill against the stored orders (prices within both limits,
   quantities within both orders, no order used beyond its quantity) and tallies it; with the
   last part the clearing closes: sellers and the DSO's fee are paid and every buy order's
   escrow released. A large clearing goes in several transactions (:func:`clearing_calls`).
   With a distance charge rate (Score Matching's C_d), each fill also costs its pair ``C_d × d``
   on the DSO's feeder map (:meth:`~peergrid.ledger.markets.base.MarketLedger.set_nodes`,
   :meth:`~peergrid.ledger.markets.base.MarketLedger.set_distances`), half each, paid from free
   balances when the clearing closes (what a member cannot pay is logged as a shortfall). A part
   that fails verification reverts and changes nothing. A clearing with no fills cancels the
   slot.
4. The meter posts the metered energy of every position (:mod:`peergrid.ledger.markets.meters`):
   true-ups and deviation penalties move between members and the DSO (eqs. 4.8/4.9).

A silent operator: the contract's clearing deadline (:data:`DEFAULT_CLEARING_DEADLINE_S` by
default, set at deployment) runs from the start of the reveals; once it has passed without the
clearing's last part, any member :meth:`~BatchMarketLedger.reclaim` s the lock of its own order
and the slot is void: no part of its clearing can be posted any more.

Transactions per slot (:func:`slot_transactions`): 2 per order (commit, reveal), 2 phases (open,
start of the reveals), the clearing's :func:`clearing_calls` and the readings'
:func:`readings_calls`; 2 N + 4 up to 128 fills, 256 orders and 256 positions. Units are
integers: Wh, micro-currency per kWh, micro-currency. :func:`clear` states the contract's
clearing arithmetic in Python; :func:`sealed_order` and :func:`fills_from_trades` convert from
:mod:`peergrid.core` orders and trades.

The contract's price rule is stated once, in :func:`within_price_limits`: a fill's price is at
least the sell order's limit and at most the buy order's. :func:`fill_within_limits` applies it
to a fill and :func:`refused_trades` to core trades, so that a caller can void beforehand what
the contract would refuse (a DPDA Case 4 price can exceed a buyer's limit, 003 §6 item 9).
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

from eth_abi import encode
from eth_utils import keccak

from peergrid.core.errors import LedgerError
from peergrid.core.orders import Order, Side
from peergrid.core.trades import Trade
from peergrid.core.units import kwh_to_wh, to_micro
from peergrid.ledger.chain.base import Chain, Contract, Receipt
from peergrid.ledger.markets.base import UNKNOWN_DISTANCE, MarketLedger
from peergrid.ledger.markets.consortium import (
    DEFAULT_QUORUM_BPS,
    DEFAULT_VOTING_PERIOD_S,
)
from peergrid.ledger.markets.escrow import distance_charge_shares, fill_payment, lock_micro
from peergrid.ledger.markets.meters import (
    MAX_READINGS_PER_CALL,
    MeterClient,
    Position,
    positions_hash,
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
    """A ``Traded`` event of the contract: one per fill, its data packed in one word."""

    slot: int
    fill: Fill
    charge_micro: int
    """The pair's distance charge, C_d·d (0 without one)."""

    @classmethod
    def from_word(cls, word: int) -> TradeLog:
        """Unpack ``Traded.trade``: the fill 0..95, the charge 96..191, the slot 192..223."""
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
    fills posted so far; ``metered_orders`` how many orders, in order, the meter's readings have
    passed.
    """

    slot: int
    phase: Phase
    order_count: int
    fee_micro_per_kwh: int
    penalty_micro_per_kwh: int
    distance_charge_micro_per_km: int
    reveal_started_at: int
    trade_count: int
    metered_orders: int
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
            encode(
                ["uint256", "bytes32", "bool", "uint256", "uint256", "bytes32", "address"],
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
    """A :class:`SlotInfo` from the contract's packed slot record and positions hash."""
    return SlotInfo(
        slot=slot,
        phase=Phase(record & 255),
        order_count=(record >> 8) & _U16,
        fee_micro_per_kwh=(record >> 24) & _U48,
        penalty_micro_per_kwh=(record >> 72) & _U48,
        distance_charge_micro_per_km=(record >> 120) & _U48,
        reveal_started_at=(record >> 168) & _U40,
        trade_count=(record >> 208) & _U32,
        metered_orders=record >> 240,
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


class BatchMarketLedger(MarketLedger):
    """The settlement token and a ``BatchMarket`` contract on one chain, with its roles.

    Everything a slot needs is read back from the contract when asked: the revealed orders
    (:meth:`revealed`), what the clearing tallied (:meth:`order_states`) and the positions
    (:meth:`positions`). So a client started after a crash, attached to the deployed contracts
    with :meth:`at`, finishes any slot the one before it left.
    """

    def __init__(
        self,
        chain: Chain,
        token: Contract,
        market: Contract,
        *,
        operator: str,
        dso: str,
        issuer: str,
    ) -> None:
        super().__init__(chain, token, market, operator=operator, dso=dso, issuer=issuer)
        self.meters = MeterClient(chain, market)
        self._positions: dict[int, tuple[Position, ...]] = {}
        self._members: dict[int, str] = {}  # member index -> address: kept for ever on chain

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
        penalty_micro_per_kwh: int = 0,
        distance_charge_micro_per_km: int = 0,
        clearing_deadline_s: int = DEFAULT_CLEARING_DEADLINE_S,
        quorum_bps: int = DEFAULT_QUORUM_BPS,
        voting_period_s: int = DEFAULT_VOTING_PERIOD_S,
        token: Contract | None = None,
    ) -> BatchMarketLedger:
        """Deploy the market (and a settlement token with ``supply_micro`` to ``issuer``,
        unless ``token`` is given). The consortium is in bootstrap: see
        :meth:`ConsortiumClient.bootstrap`. ``clearing_deadline_s``: seconds after a slot's
        reveals start by which its clearing must be closed (1 to a year)."""
        token, market = cls.deploy_contracts(
            chain,
            "BatchMarket",
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
                penalty_micro_per_kwh,
                distance_charge_micro_per_km,
                clearing_deadline_s,
            ),
        )
        return cls(chain, token, market, operator=operator, dso=dso, issuer=issuer)

    @classmethod
    def at(
        cls, chain: Chain, *, token: str, market: str, operator: str, dso: str, issuer: str
    ) -> BatchMarketLedger:
        """A client of the token and ``BatchMarket`` already deployed at ``token`` and
        ``market``, acting with the roles' accounts (which ``chain`` must sign for)."""
        token_contract, market_contract = cls.attach_contracts(
            chain, "BatchMarket", token=token, market=market
        )
        return cls(
            chain, token_contract, market_contract, operator=operator, dso=dso, issuer=issuer
        )

    # --- DSO ---------------------------------------------------------------------------------

    def set_rates(
        self, fee_micro_per_kwh: int, penalty_micro_per_kwh: int, distance_charge_micro_per_km: int
    ) -> Receipt:
        """Fee, penalty and distance charge rates for slots opened from now on (DSO)."""
        return self.chain.transact(
            self.dso,
            self.market,
            "set_rates",
            fee_micro_per_kwh,
            penalty_micro_per_kwh,
            distance_charge_micro_per_km,
        )

    # --- phases --------------------------------------------------------------------------------

    def open_slot(self, slot: int) -> Receipt:
        """Open ``slot`` for commitments and freeze its rates (operator)."""
        return self.chain.transact(self.operator, self.market, "open_slot", slot, slot=slot)

    def start_reveal(self, slot: int) -> Receipt:
        """Close ``slot``'s commitments and open its reveals (operator); the clearing deadline
        runs from now."""
        return self.chain.transact(self.operator, self.market, "start_reveal", slot, slot=slot)

    # --- prosumers -----------------------------------------------------------------------------

    def commit(self, member: str, slot: int, order: SealedOrder) -> Receipt:
        """``member`` commits to ``order`` in ``slot``."""
        return self.chain.transact(
            member,
            self.market,
            "commit",
            slot,
            order.order_id,
            order.commitment(slot, member),
            slot=slot,
        )

    def reveal(self, member: str, slot: int, order: SealedOrder) -> Receipt:
        """``member`` reveals ``order`` in ``slot``; the contract stores it."""
        return self.chain.transact(
            member,
            self.market,
            "reveal",
            slot,
            order.order_id,
            order.is_buy,
            order.quantity_wh,
            order.price_micro_per_kwh,
            order.salt,
            slot=slot,
        )

    def reclaim(self, member: str, slot: int) -> Receipt:
        """``member`` takes back the lock of its order in ``slot`` once the slot's clearing
        deadline has passed without the clearing (the first reclaim voids the slot)."""
        for state in self.order_states(slot):
            if state.order.owner == member:
                return self.chain.transact(
                    member, self.market, "reclaim", slot, state.index, slot=slot
                )
        raise LedgerError(
            f"{self.market.name}.reclaim", f"{member} revealed no order in slot {slot}"
        )

    # --- what the contract holds of a slot ------------------------------------------------------

    def revealed(self, slot: int) -> tuple[RevealedOrder, ...]:
        """The orders revealed in ``slot`` so far, in reveal order (read from the contract)."""
        return tuple(s.order for s in self.order_states(slot))

    def order_states(self, slot: int) -> tuple[OrderState, ...]:
        """Every revealed order of ``slot`` with its tallies, in reveal order."""
        count = self.slot_info(slot).order_count
        states: list[OrderState] = []
        while len(states) < count:
            start = len(states)
            page = self.chain.call(self.market, "orders_of", slot, start, MAX_ORDERS_PER_VIEW)
            if not page:
                break
            for offset, (packed, owed) in enumerate(page):
                owner = self._member_address(int(packed) & _U32)
                states.append(decode_order(start + offset, owner, int(packed), int(owed)))
        return tuple(states)

    def _member_address(self, index: int) -> str:
        address = self._members.get(index)
        if address is None:
            address = str(self.chain.call(self.market, "address_of", index))
            self._members[index] = address
        return address

    # --- operator: the clearing ---------------------------------------------------------------

    def post_clearing(self, slot: int, fills: Sequence[Fill]) -> tuple[Receipt, ...]:
        """Post ``slot``'s whole clearing (operator): its receipts, in order.

        In one transaction, or in parts of :data:`MAX_FILLS_PER_CALL` fills and a last one that
        closes (:func:`clearing_calls`). Before sending several, the whole clearing is checked
        with :func:`clear`, so that a fill the contract would refuse does not leave the earlier
        parts posted (a pair off the feeder map is only found by the contract). Fills already
        posted (the slot's ``trade_count``, by a client that stopped midway) are not sent again,
        once checked to be the first of ``fills``. The positions the contract records must be
        the client's (else :class:`LedgerError`).
        """
        call = f"{self.market.name}.post_clearing"
        fills = list(fills)
        info = self.slot_info(slot)
        orders = self.revealed(slot)
        fee = info.fee_micro_per_kwh
        posted = info.trade_count if info.phase is Phase.CLEARING else 0
        if posted:
            self._check_posted(slot, orders, fills, posted, fee)
        rest = fills[posted:]
        receipts: list[Receipt] = []
        if not posted and clearing_calls(len(orders), len(fills)) == 1:
            receipts.append(self._post_part(slot, fills, last=True))
            outcome = clear(orders, fills, fee)
        else:
            outcome = clear(orders, fills, fee)
            for start in range(0, len(rest), MAX_FILLS_PER_CALL):
                part = rest[start : start + MAX_FILLS_PER_CALL]
                receipts.append(self._post_part(slot, part, last=False))
            receipts.append(self._post_part(slot, [], last=True))
        if positions_hash(outcome.positions) != self.slot_info(slot).positions_hash:
            raise LedgerError(
                call, "the contract's positions hash differs from the client's positions"
            )
        self._positions[slot] = outcome.positions
        return tuple(receipts)

    def _post_part(self, slot: int, fills: Sequence[Fill], *, last: bool) -> Receipt:
        return self.chain.transact(
            self.operator,
            self.market,
            "post_clearing",
            slot,
            [f.packed() for f in fills],
            last,
            slot=slot,
        )

    def _check_posted(
        self,
        slot: int,
        orders: Sequence[RevealedOrder],
        fills: Sequence[Fill],
        posted: int,
        fee: int,
    ) -> None:
        """The tallies on chain are those of the first ``posted`` of ``fills``: the parts
        already posted were these."""
        mine: list[tuple[int, int, int]] = []
        if posted <= len(fills):
            expected = clear(orders, fills[:posted], fee)
            mine = list(
                zip(expected.filled_wh, expected.value_micro, expected.paid_micro, strict=True)
            )
        tallies = [(s.filled_wh, s.value_micro, s.money_micro) for s in self.order_states(slot)]
        if tallies != mine:
            raise LedgerError(
                f"{self.market.name}.post_clearing",
                f"slot {slot} has {posted} fills posted that are not the first of these",
            )

    @staticmethod
    def trades_in(receipt: Receipt) -> tuple[TradeLog, ...]:
        """The fills a ``post_clearing`` receipt logged, with their distance charges."""
        return tuple(
            TradeLog.from_word(int(e.args["trade"])) for e in receipt.events_named("Traded")
        )

    def positions(self, slot: int) -> tuple[Position, ...]:
        """The positions of a cleared slot (in the contract's order), read from the contract
        unless this client cleared it; they must hash to the contract's positions hash."""
        cached = self._positions.get(slot)
        if cached is not None:
            return cached
        call = f"{self.market.name}.positions"
        info = self.slot_info(slot)
        if info.phase not in (Phase.CLEARED, Phase.SETTLED):
            raise LedgerError(call, f"slot {slot} is not cleared")
        positions = tuple(p for s in self.order_states(slot) if (p := s.position) is not None)
        if positions_hash(positions) != info.positions_hash:
            raise LedgerError(call, "the orders' tallies differ from the contract's positions hash")
        self._positions[slot] = positions
        return positions

    # --- meter ---------------------------------------------------------------------------------

    def post_readings(
        self, meter: str, slot: int, metered_wh: Mapping[str, int] | Sequence[int]
    ) -> tuple[Receipt, ...]:
        """The meter posts ``slot``'s readings (by member, or in position order), as many
        transactions as :func:`readings_calls` says; positions the meter already passed (a
        client that stopped midway) are not posted again."""
        positions = self.positions(slot)
        passed = self.slot_info(slot).metered_orders
        done = 0
        if passed:
            done = sum(1 for s in self.order_states(slot)[:passed] if s.filled_wh)
        readings = self.meters.readings_for(slot, positions, metered_wh)
        return self.meters.post_readings(meter, slot, positions[done:], readings[done:])

    # --- views ---------------------------------------------------------------------------------

    def slot_info(self, slot: int) -> SlotInfo:
        record, positions = self.chain.call(self.market, "slot_info", slot)
        return decode_slot_record(slot, int(record), bytes(positions))

    def clearing_deadline(self) -> int:
        """Seconds after a slot's reveals start by which its clearing must be closed."""
        return int(self.chain.call(self.market, "clearing_deadline"))

    def deadline_of(self, slot: int) -> int | None:
        """The block time from which ``slot`` can be voided (``None`` before its reveals)."""
        started = self.slot_info(slot).reveal_started_at
        return started + self.clearing_deadline() if started else None

    def max_orders(self) -> int:
        """The most orders one slot takes (the contract's ``MAX_ORDERS``)."""
        return int(self.chain.call(self.market, "MAX_ORDERS"))

    def commitment_of(self, slot: int, member: str, order_id: bytes) -> bytes:
        """``member``'s commitment under ``order_id`` in ``slot`` (32 zero bytes once
        revealed)."""
        return bytes(self.chain.call(self.market, "commitment_of", slot, member, order_id))

    def fee_rate(self) -> int:
        return int(self.chain.call(self.market, "fee_rate"))

    def available_of_many(self, accounts: Sequence[str]) -> list[int]:
        """What each of ``accounts`` may withdraw or lock, 256 to a call."""
        free: list[int] = []
        for start in range(0, len(accounts), 256):
            chunk = list(accounts[start : start + 256])
            free += [int(v) for v in self.chain.call(self.market, "available_of_many", chunk)]
        return free

    def penalty_rate(self) -> int:
        return int(self.chain.call(self.market, "penalty_rate"))

    def distance_charge_rate(self) -> int:
        return int(self.chain.call(self.market, "distance_charge_rate"))
