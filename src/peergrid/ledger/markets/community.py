"""A typed client of the Community contract: members, deposits, slot settlement, withdrawals.

Units. The Python side of the platform speaks kWh and currency; the contract speaks integers: Wh
and micro-currency (1e-6). :func:`settlement_trades` converts with :mod:`peergrid.core.units`:
energy to the nearest Wh, price and fee to the nearest micro-unit. A trade that rounds to 0 Wh
cannot be settled (the contract refuses zero energy); it is dropped and reported, by
:func:`split_settleable` to the caller and by a log warning. :func:`refused_trades` names those
trades beforehand, so that the cycle can void them.

Money. For each trade the contract computes ``value = energy_wh * price_micro_per_kwh // 1000``
(floor). The DSO's fee is split in two integer halves: the buyer pays the larger half
(``fee - fee // 2``), the seller the smaller (``fee // 2``). So the buyer pays
``value + fee - fee // 2``, the seller receives ``value - fee // 2`` and the DSO ``fee``: the
buyer's debit equals the seller's credit plus the DSO's, and rounding never creates or destroys
money. :meth:`SettlementTrade.buyer_pays_micro` and friends state the same arithmetic in Python.

Transactions. Every call goes through a :class:`~peergrid.ledger.chain.Chain` and its gas is
recorded in ``chain.gas_log`` (reachable as :attr:`CommunityLedger.gas_log`). Members are
registered 128 to a transaction. A slot's trades go in one transaction up to
:data:`MAX_TRADES_PER_TX` (256, the contract's array bound; 256 trades between fresh accounts
cost about 9.6 million gas, well below the 2**24 per-transaction cap), so a 55-household slot
always fits in one. Beyond that the settlement is split into parts that carry the same order-set
hash; the contract closes the slot with the last part. Each part is atomic; if a later part
fails, the earlier ones stand and the slot stays open until a part with ``last`` closes it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

from eth_utils import keccak

from peergrid.core.errors import LedgerError
from peergrid.core.orders import Order
from peergrid.core.trades import Trade
from peergrid.core.units import kwh_to_wh, payment_micro, to_micro
from peergrid.ledger.chain.base import Chain, Contract, Receipt
from peergrid.ledger.chain.compile import compile_contract
from peergrid.ledger.chain.gas import GasLog

logger = logging.getLogger(__name__)

MAX_TRADES_PER_TX = 256
"""Most trades one settlement transaction carries (the contract's ``MAX_TRADES``)."""

MAX_MEMBERS_PER_TX = 128
"""Most members one registration transaction carries (``MAX_MEMBERS_PER_CALL``)."""


@dataclass(frozen=True, slots=True)
class SettlementTrade:
    """One trade as the contract settles it: integer Wh and micro-currency."""

    buyer: str
    seller: str
    energy_wh: int
    price_micro_per_kwh: int
    fee_micro: int = 0

    def __post_init__(self) -> None:
        for name in ("energy_wh", "price_micro_per_kwh", "fee_micro"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}")

    @property
    def value_micro(self) -> int:
        """What the energy is worth: ``energy_wh * price // 1000``, floored."""
        return payment_micro(self.energy_wh, self.price_micro_per_kwh)

    @property
    def buyer_fee_micro(self) -> int:
        """The buyer's share of the fee: the larger half."""
        return self.fee_micro - self.fee_micro // 2

    @property
    def seller_fee_micro(self) -> int:
        """The seller's share of the fee: the smaller half."""
        return self.fee_micro // 2

    @property
    def buyer_pays_micro(self) -> int:
        return self.value_micro + self.buyer_fee_micro

    @property
    def seller_receives_micro(self) -> int:
        """Net credit to the seller; negative if its fee share exceeds the value."""
        return self.value_micro - self.seller_fee_micro

    def as_tuple(self) -> tuple[str, str, int, int, int]:
        """The contract's ``Trade`` struct, in field order."""
        return (self.buyer, self.seller, self.energy_wh, self.price_micro_per_kwh, self.fee_micro)


class SlotStatus(IntEnum):
    NONE = 0
    OPEN = 1
    """Some parts are settled; the last part is still to come."""
    SETTLED = 2


@dataclass(frozen=True, slots=True)
class SlotRecord:
    """What the contract stored for one slot."""

    slot: int
    order_set_hash: bytes
    trade_count: int
    energy_wh: int
    value_micro: int
    fee_micro: int
    status: SlotStatus

    @property
    def settled(self) -> bool:
        return self.status is SlotStatus.SETTLED


def order_set_hash(canonical_json: bytes) -> bytes:
    """Keccak-256 of an order set's canonical JSON bytes: the 32 bytes posted on chain."""
    if not isinstance(canonical_json, bytes | bytearray):
        raise TypeError(f"canonical_json must be bytes, got {type(canonical_json).__name__}")
    return bytes(keccak(bytes(canonical_json)))


def refused_trades(orders: Sequence[Order], trades: Sequence[Trade]) -> list[Trade]:
    """The trades the community contract would not settle: those whose energy rounds to 0 Wh.

    The contract refuses zero energy and checks neither prices nor quantities against orders,
    so ``orders`` (the slot's orders) decide nothing here; the trades keep their order.
    """
    return [t for t in trades if kwh_to_wh(t.quantity_kwh) <= 0]


def split_settleable(
    trades: Sequence[Trade], address_of: Mapping[str, str]
) -> tuple[list[SettlementTrade], list[Trade]]:
    """Convert trades to on-chain integers: (settleable trades, trades dropped at 0 Wh).

    ``address_of`` maps each trade's agent id to its ledger address. A missing agent, a negative
    price or a negative fee raises :class:`LedgerError` naming the trade.
    """
    settleable: list[SettlementTrade] = []
    dropped: list[Trade] = []
    for index, trade in enumerate(trades):
        where = f"trade #{index} ({trade.buyer} <- {trade.seller}, slot {trade.slot})"
        try:
            buyer = address_of[trade.buyer]
            seller = address_of[trade.seller]
        except KeyError as exc:
            raise LedgerError("settlement_trades", f"{where}: no address for {exc}") from exc
        try:
            energy_wh = kwh_to_wh(trade.quantity_kwh)
            price = to_micro(trade.price)
            fee = to_micro(trade.grid_fee)
        except ValueError as exc:
            raise LedgerError("settlement_trades", f"{where}: {exc}") from exc
        if energy_wh < 0 or price < 0 or fee < 0:
            raise LedgerError(
                "settlement_trades", f"{where}: energy, price and fee must not be negative"
            )
        if energy_wh == 0:
            dropped.append(trade)
            continue
        settleable.append(SettlementTrade(buyer, seller, energy_wh, price, fee))
    return settleable, dropped


def settlement_trades(
    trades: Sequence[Trade], address_of: Mapping[str, str]
) -> list[SettlementTrade]:
    """:func:`split_settleable`, logging a warning for each trade dropped at 0 Wh."""
    settleable, dropped = split_settleable(trades, address_of)
    for trade in dropped:
        logger.warning(
            "dropped a trade of %r kWh (%s <- %s, slot %d): rounds to 0 Wh",
            trade.quantity_kwh,
            trade.buyer,
            trade.seller,
            trade.slot,
        )
    return settleable


class CommunityLedger:
    """The settlement token and Community contract of one energy community on one chain."""

    def __init__(
        self,
        chain: Chain,
        token: Contract,
        community: Contract,
        *,
        operator: str,
        dso: str,
        issuer: str,
    ) -> None:
        self.chain = chain
        self.token = token
        self.community = community
        self.operator = operator
        self.dso = dso
        self.issuer = issuer

    @classmethod
    def deploy(
        cls,
        chain: Chain,
        *,
        operator: str,
        dso: str,
        issuer: str,
        supply_micro: int,
        token_name: str = "peergrid settlement token",
        token_symbol: str = "PGS",
    ) -> CommunityLedger:
        """Deploy the token (whole supply to ``issuer``) and the Community contract."""
        token = chain.deploy(
            issuer,
            compile_contract("SettlementToken"),
            token_name,
            token_symbol,
            issuer,
            supply_micro,
        )
        community = chain.deploy(
            operator, compile_contract("Community"), token.address, operator, dso
        )
        return cls(chain, token, community, operator=operator, dso=dso, issuer=issuer)

    @property
    def gas_log(self) -> GasLog:
        return self.chain.gas_log

    # --- members and money -------------------------------------------------------------------

    def register_members(self, addresses: Sequence[str]) -> list[Receipt]:
        """Register members, :data:`MAX_MEMBERS_PER_TX` to a transaction (operator)."""
        return [
            self.chain.transact(
                self.operator,
                self.community,
                "register_members",
                list(addresses[start : start + MAX_MEMBERS_PER_TX]),
            )
            for start in range(0, len(addresses), MAX_MEMBERS_PER_TX)
        ]

    def remove_member(self, member: str) -> Receipt:
        """Remove a member whose internal balance is zero (operator)."""
        return self.chain.transact(self.operator, self.community, "remove_member", member)

    def fund(self, member: str, amount_micro: int) -> Receipt:
        """The issuer transfers ``amount_micro`` tokens to ``member``'s own account."""
        return self.chain.transact(self.issuer, self.token, "transfer", member, amount_micro)

    def deposit(self, member: str, amount_micro: int) -> Receipt:
        """``member`` approves the contract and deposits ``amount_micro`` (two transactions)."""
        self.chain.transact(member, self.token, "approve", self.community.address, amount_micro)
        return self.chain.transact(member, self.community, "deposit", amount_micro)

    def withdraw(self, member: str, amount_micro: int) -> Receipt:
        """``member`` withdraws ``amount_micro`` of its own internal balance."""
        return self.chain.transact(member, self.community, "withdraw", amount_micro)

    def withdraw_fees(self, amount_micro: int) -> Receipt:
        """The DSO withdraws ``amount_micro`` of its collected fees."""
        return self.chain.transact(self.dso, self.community, "withdraw_fees", amount_micro)

    # --- settlement --------------------------------------------------------------------------

    def settle_slot(
        self,
        slot: int,
        order_set_hash: bytes,
        trades: Sequence[SettlementTrade],
        *,
        max_trades_per_tx: int = MAX_TRADES_PER_TX,
    ) -> tuple[Receipt, ...]:
        """Settle ``slot``'s trades (operator): one receipt per transaction, in order.

        Up to ``max_trades_per_tx`` trades go in one ``settle_slot`` transaction; more are split
        into ``settle_slot_part`` transactions, the last one closing the slot.
        """
        if not 1 <= max_trades_per_tx <= MAX_TRADES_PER_TX:
            raise ValueError(
                f"max_trades_per_tx must be in 1..{MAX_TRADES_PER_TX}, got {max_trades_per_tx}"
            )
        if not isinstance(order_set_hash, bytes) or len(order_set_hash) != 32:
            raise LedgerError(
                "Community.settle_slot",
                f"bad argument: order_set_hash must be 32 bytes, got {order_set_hash!r}",
            )
        rows = [t.as_tuple() for t in trades]
        if len(rows) <= max_trades_per_tx:
            receipt = self.chain.transact(
                self.operator,
                self.community,
                "settle_slot",
                slot,
                order_set_hash,
                rows,
                slot=slot,
            )
            return (receipt,)
        receipts = []
        for start in range(0, len(rows), max_trades_per_tx):
            part = rows[start : start + max_trades_per_tx]
            last = start + max_trades_per_tx >= len(rows)
            receipts.append(
                self.chain.transact(
                    self.operator,
                    self.community,
                    "settle_slot_part",
                    slot,
                    order_set_hash,
                    part,
                    last,
                    slot=slot,
                )
            )
        return tuple(receipts)

    # --- views -------------------------------------------------------------------------------

    @staticmethod
    def trades_in(receipt: Receipt) -> tuple[SettlementTrade, ...]:
        """The trades a settlement receipt logged (``TradeSettled``, whose energy, price and fee
        are packed in one word: 0..63, 64..127, 128..255)."""
        return tuple(
            SettlementTrade(
                str(e.args["buyer"]),
                str(e.args["seller"]),
                int(e.args["trade"]) & (2**64 - 1),
                (int(e.args["trade"]) >> 64) & (2**64 - 1),
                int(e.args["trade"]) >> 128,
            )
            for e in receipt.events_named("TradeSettled")
        )

    def balance_of(self, member: str) -> int:
        """``member``'s internal balance in the Community contract, micro-currency."""
        return int(self.chain.call(self.community, "balance_of", member))

    def dso_balance(self) -> int:
        return int(self.chain.call(self.community, "dso_balance"))

    def total_internal_balance(self) -> int:
        """Sum of every member balance plus the DSO balance."""
        return int(self.chain.call(self.community, "total_internal_balance"))

    def is_member(self, address: str) -> bool:
        return bool(self.chain.call(self.community, "is_member", address))

    def member_count(self) -> int:
        return int(self.chain.call(self.community, "member_count"))

    def slot_record(self, slot: int) -> SlotRecord:
        raw = self.chain.call(self.community, "slot_record", slot)
        order_hash, count, energy, value, fee, status = raw
        return SlotRecord(
            slot=slot,
            order_set_hash=bytes(order_hash),
            trade_count=int(count),
            energy_wh=int(energy),
            value_micro=int(value),
            fee_micro=int(fee),
            status=SlotStatus(int(status)),
        )

    def token_balance(self, address: str) -> int:
        """Token balance of any address (a member's own account, the contract, ...)."""
        return int(self.chain.call(self.token, "balanceOf", address))

    def token_total_supply(self) -> int:
        return int(self.chain.call(self.token, "totalSupply"))
