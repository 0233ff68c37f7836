"""A typed client of ``BatchMarket.vy``: a sealed-bid batch auction per slot, verified on chain.

The cycle of one delivery slot (003_dpda.md §1.5), each phase started by the operator (the
contract reads no clock: the platform's clock drives it, and the chain records when each phase
began; so it runs the same on the embedded chain, whose block time stands still, and on anvil):

1. :meth:`BatchMarketLedger.open_slot` (quotation, minutes 0–3): the DSO's rates (fee per kWh,
   penalty per kWh, distance charge per km per matched pair) are frozen for the slot;
   prosumers :meth:`~BatchMarketLedger.commit` the hash of their order and a secret salt
   (:func:`commitment`). Bids are hidden (003 §1.4).
2. :meth:`~BatchMarketLedger.start_reveal` (matching, minutes 3–10): commitments close, bids are
   frozen; prosumers :meth:`~BatchMarketLedger.reveal` (a buy order locks its most cost in
   escrow). One order per member per slot; a replayed reveal or a second commitment under an
   order id already used in the slot reverts.
3. :meth:`~BatchMarketLedger.post_clearing` (by minute 10): the operator clears off chain with
   any mechanism and posts the fills with the order-set hash (:func:`order_set_hash`); the
   contract verifies every fill against the revealed orders (prices within both limits,
   quantities within both orders, no order used beyond its quantity) before any money moves,
   pays sellers and the DSO's fee, and releases every buy order's escrow. With a distance charge
   rate (Score Matching's C_d), each fill also costs its pair ``C_d × d`` on the DSO's feeder map
   (:meth:`~peergrid.ledger.markets.base.MarketLedger.set_nodes`,
   :meth:`~peergrid.ledger.markets.base.MarketLedger.set_distances`), half each, paid from free
   balances (what a member cannot pay is logged as a shortfall). A clearing that fails
   verification reverts and changes nothing. A clearing with no fills cancels the slot.
4. The meter posts the metered energy of every position (:mod:`peergrid.ledger.markets.meters`):
   true-ups and deviation penalties move between members and the DSO (eqs. 4.8/4.9).

Transactions per slot: 2 per order (commit, reveal) and 4 more (open, start reveal, clearing,
readings). Units are integers: Wh, micro-currency per kWh, micro-currency. :func:`clear` states
the contract's clearing arithmetic in Python; :func:`sealed_order` and :func:`fills_from_trades`
convert from :mod:`peergrid.core` orders and trades.

The contract's price rule is stated once, in :func:`within_price_limits`: a fill's price is at
least the sell order's limit and at most the buy order's. :func:`fill_within_limits` applies it
to a fill and :func:`refused_trades` to core trades, so that a caller can void beforehand what
the contract would refuse (a DPDA Case 4 price can exceed a buyer's limit, 003 §6 item 9).
"""

from __future__ import annotations

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
from peergrid.ledger.markets.base import MAX_QUANTITY_WH, UNKNOWN_DISTANCE, MarketLedger
from peergrid.ledger.markets.consortium import (
    DEFAULT_QUORUM_BPS,
    DEFAULT_VOTING_PERIOD_S,
)
from peergrid.ledger.markets.escrow import distance_charge_shares, fill_payment, lock_micro
from peergrid.ledger.markets.meters import MeterClient, Position, positions_hash

MAX_ORDERS_PER_SLOT = 256
"""Most orders one slot can reveal and clear (the contract's ``MAX_ORDERS``)."""

MAX_FILLS_PER_CLEARING = 256
"""Most fills one clearing carries (``MAX_FILLS``)."""

MAX_RATE_MICRO_PER_KWH = 2**48 - 1
MAX_SLOT = 2**32 - 2


class Phase(IntEnum):
    NONE = 0
    OPEN = 1
    """Commitments accepted (quotation)."""
    REVEAL = 2
    """Commitments closed, reveals accepted (matching)."""
    CLEARED = 3
    """Fills verified and paid; waiting for the meter readings."""
    SETTLED = 4
    """Metered settlement done."""


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
        return RevealedOrder(
            self.order_id, owner, self.is_buy, self.quantity_wh, self.price_micro_per_kwh
        )


@dataclass(frozen=True, slots=True)
class RevealedOrder:
    """An order as revealed on chain, in the contract's ``RevealedOrder`` field order."""

    order_id: bytes
    owner: str
    is_buy: bool
    quantity_wh: int
    price_micro_per_kwh: int

    def as_tuple(self) -> tuple[bytes, str, bool, int, int]:
        return (self.order_id, self.owner, self.is_buy, self.quantity_wh, self.price_micro_per_kwh)


@dataclass(frozen=True, slots=True)
class Fill:
    """One trade of a clearing: indices of its buy and sell orders in the slot's reveal order."""

    buy: int
    sell: int
    energy_wh: int
    price_micro_per_kwh: int

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.buy, self.sell, self.energy_wh, self.price_micro_per_kwh)


@dataclass(frozen=True, slots=True)
class SlotInfo:
    """What the contract holds for one slot."""

    slot: int
    phase: Phase
    order_count: int
    fee_micro_per_kwh: int
    penalty_micro_per_kwh: int
    distance_charge_micro_per_km: int
    order_set_hash: bytes
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


def order_set_hash(orders: Sequence[RevealedOrder]) -> bytes:
    """The order-set hash of a slot: a keccak chain over its reveals, in reveal order.

    ``h = 0x00…00``; for each order ``h = keccak256(abi.encode(h, order_id, owner, is_buy,
    quantity_wh, price_micro_per_kwh))``. Anyone holding the ``Revealed`` events can check it.
    """
    digest = b"\x00" * 32
    for o in orders:
        digest = keccak(
            encode(
                ["bytes32", "bytes32", "address", "bool", "uint256", "uint256"],
                [digest, *o.as_tuple()],
            )
        )
    return bytes(digest)


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


def fills_from_trades(trades: Sequence[Trade], revealed: Sequence[RevealedOrder]) -> list[Fill]:
    """Core trades (``buy_order``/``sell_order`` naming core order ids) as fills of a clearing.

    Energy rounds to the nearest Wh, price to the nearest micro-unit. Rounding never pushes an
    order beyond its quantity: a fill is cut to what its orders have left, and one that rounds
    to 0 Wh is dropped. A trade naming an order that was not revealed raises
    :class:`LedgerError`.
    """
    index = {o.order_id: i for i, o in enumerate(revealed)}
    legs: list[tuple[int, int]] = []
    for position, trade in enumerate(trades):
        try:
            legs.append(
                (index[order_id_for(trade.buy_order)], index[order_id_for(trade.sell_order)])
            )
        except KeyError as exc:
            raise LedgerError(
                "fills_from_trades",
                f"trade #{position} ({trade.buy_order!r} <- {trade.sell_order!r}) names an "
                "order that was not revealed",
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
    """The contract's verification and money of a clearing, in Python.

    With a distance charge rate, ``millimetres_between(buyer, seller)`` gives the path length
    between two owners on the feeder map (:data:`UNKNOWN_DISTANCE` if off the map). Raises
    :class:`LedgerError` (``call="BatchMarket.post_clearing"``) with the contract's reason for
    the first fill that fails verification.
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


class BatchMarketLedger(MarketLedger):
    """The settlement token and a ``BatchMarket`` contract on one chain, with its roles.

    Reveals are recorded as the client sends them (:meth:`reveal`) or from their receipts
    (:meth:`record_reveals`, for reveals sent elsewhere), so that the operator can post the
    clearing with the revealed orders in reveal order.
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
        self._revealed: dict[int, list[RevealedOrder]] = {}
        self._positions: dict[int, tuple[Position, ...]] = {}

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
        quorum_bps: int = DEFAULT_QUORUM_BPS,
        voting_period_s: int = DEFAULT_VOTING_PERIOD_S,
        token: Contract | None = None,
    ) -> BatchMarketLedger:
        """Deploy the market (and a settlement token with ``supply_micro`` to ``issuer``,
        unless ``token`` is given). The consortium is in bootstrap: see
        :meth:`ConsortiumClient.bootstrap`."""
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
            ),
        )
        return cls(chain, token, market, operator=operator, dso=dso, issuer=issuer)

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
        """Close ``slot``'s commitments and open its reveals (operator)."""
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
        """``member`` reveals ``order`` in ``slot``; the client records it for the clearing."""
        receipt = self.chain.transact(
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
        self.record_reveals([receipt])
        return receipt

    def record_reveals(self, receipts: Sequence[Receipt]) -> None:
        """Record the ``Revealed`` events of ``receipts`` (in order) for :meth:`post_clearing`."""
        for receipt in receipts:
            for event in receipt.events_named("Revealed"):
                if event.address != self.market.address:
                    continue
                args = event.args
                self._revealed.setdefault(int(args["slot"]), []).append(
                    RevealedOrder(
                        order_id=bytes(args["order_id"]),
                        owner=args["owner"],
                        is_buy=bool(args["is_buy"]),
                        quantity_wh=int(args["quantity_wh"]),
                        price_micro_per_kwh=int(args["price_micro_per_kwh"]),
                    )
                )

    def revealed(self, slot: int) -> tuple[RevealedOrder, ...]:
        """The orders revealed in ``slot`` so far, in reveal order."""
        return tuple(self._revealed.get(slot, ()))

    # --- operator: the clearing ---------------------------------------------------------------

    def post_clearing(self, slot: int, fills: Sequence[Fill]) -> Receipt:
        """Post ``slot``'s fills with its revealed orders and order-set hash (operator).

        The positions the contract records are kept for :meth:`post_readings`; a mismatch with
        the contract's positions hash raises :class:`LedgerError` (the client's arithmetic and
        the contract's must agree).
        """
        orders = self.revealed(slot)
        receipt = self.chain.transact(
            self.operator,
            self.market,
            "post_clearing",
            slot,
            order_set_hash(orders),
            [o.as_tuple() for o in orders],
            [f.as_tuple() for f in fills],
            slot=slot,
        )
        info = self.slot_info(slot)
        outcome = clear(orders, fills, info.fee_micro_per_kwh)
        if positions_hash(outcome.positions) != info.positions_hash:
            raise LedgerError(
                f"{self.market.name}.post_clearing",
                "the contract's positions hash differs from the client's positions",
            )
        self._positions[slot] = outcome.positions
        return receipt

    def positions(self, slot: int) -> tuple[Position, ...]:
        """The positions of a slot this client cleared (in the contract's order)."""
        try:
            return self._positions[slot]
        except KeyError as exc:
            raise LedgerError(
                f"{self.market.name}.positions", f"slot {slot} was not cleared by this client"
            ) from exc

    # --- meter ---------------------------------------------------------------------------------

    def post_readings(
        self, meter: str, slot: int, metered_wh: Mapping[str, int] | Sequence[int]
    ) -> Receipt:
        """The meter posts ``slot``'s readings (by member, or in position order)."""
        return self.meters.post_readings(meter, slot, self.positions(slot), metered_wh)

    # --- views ---------------------------------------------------------------------------------

    def slot_info(self, slot: int) -> SlotInfo:
        raw = self.chain.call(self.market, "slot_info", slot)
        phase, count, fee, penalty, distance_charge, order_hash, pos_hash = raw
        return SlotInfo(
            slot=slot,
            phase=Phase(int(phase)),
            order_count=int(count),
            fee_micro_per_kwh=int(fee),
            penalty_micro_per_kwh=int(penalty),
            distance_charge_micro_per_km=int(distance_charge),
            order_set_hash=bytes(order_hash),
            positions_hash=bytes(pos_hash),
        )

    def commitment_of(self, slot: int, order_id: bytes) -> bytes:
        return bytes(self.chain.call(self.market, "commitment_of", slot, order_id))

    def fee_rate(self) -> int:
        return int(self.chain.call(self.market, "fee_rate"))

    def available_of_many(self, accounts: Sequence[str]) -> list[int]:
        """What each of ``accounts`` may withdraw or lock, 256 to a call."""
        free: list[int] = []
        for start in range(0, len(accounts), MAX_ORDERS_PER_SLOT):
            chunk = list(accounts[start : start + MAX_ORDERS_PER_SLOT])
            free += [int(v) for v in self.chain.call(self.market, "available_of_many", chunk)]
        return free

    def penalty_rate(self) -> int:
        return int(self.chain.call(self.market, "penalty_rate"))

    def distance_charge_rate(self) -> int:
        return int(self.chain.call(self.market, "distance_charge_rate"))
