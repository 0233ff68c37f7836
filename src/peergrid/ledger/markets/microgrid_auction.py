"""A typed client of ``MicrogridAuction.vy``: an islanded microgrid's logs, audits and auction.

The chapter's smart-contract uses (001b_book.md §10.1–10.4) and who calls them:

* the operator (MGO, the deployer): :meth:`~MicrogridLedger.register` an entity (its rated
  production per step and its battery's maintenance threshold), :meth:`~MicrogridLedger.
  set_thresholds` of the anomaly events, :meth:`~MicrogridLedger.set_operator_price` of its
  permanent offer, :meth:`~MicrogridLedger.suspend` an entity it decides against;
* the meter (the device drivers EPA, ECA, BSA and the energy audit agent EAA):
  :meth:`~MicrogridLedger.log_step` (every entity's production, consumption, stored energy and
  maximum capacity of one step, in one transaction) and :meth:`~MicrogridLedger.
  record_deliveries` (the metered flow of each sold lot);
* an entity: :meth:`~MicrogridLedger.deposit`, :meth:`~MicrogridLedger.offer` (its sale agent),
  :meth:`~MicrogridLedger.bid`, :meth:`~MicrogridLedger.accept`, :meth:`~MicrogridLedger.refuse`
  and :meth:`~MicrogridLedger.buy_from_operator` (its buyer agent), :meth:`~MicrogridLedger.close`,
  :meth:`~MicrogridLedger.reoffer` and :meth:`~MicrogridLedger.withdraw_lot` (its sale agent).

Units on chain are integers: energy in Wh, prices in micro-tokens per kWh, money in micro-tokens;
a lot of q Wh at p is worth ``p * q // 1000`` (:func:`lot_value`), which leaves the buyer and
reaches the seller exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.base import Chain, Contract, Receipt
from peergrid.ledger.chain.compile import compile_contract

CONTRACT = "MicrogridAuction"
WH_PER_KWH = 1000
PRICE_UNITS = 10**6
"""Micro-tokens per token (prices per kWh, and money)."""
MAX_ENTITIES = 256
MAX_BIDS = 64
MAX_DELIVERIES = 256
MAX_LOG_WH = 2**48 - 1
"""Largest consumption or stored energy a log carries (the contract's 48-bit fields)."""


def wh(kwh: float) -> int:
    """Energy (kWh) in the contract's Wh (nearest)."""
    return round(kwh * WH_PER_KWH)


def price_units(per_kwh: float) -> int:
    """A price (tokens per kWh) in micro-tokens per kWh (nearest)."""
    return round(per_kwh * PRICE_UNITS)


def lot_value(price: int, quantity_wh: int) -> int:
    """What a lot of ``quantity_wh`` at ``price`` moves (micro-tokens, rounded down)."""
    return price * quantity_wh // WH_PER_KWH


def packed_log(produced_wh: int, consumed_wh: int, stored_wh: int, max_capacity_wh: int) -> int:
    """One entity's log of a step as the contract reads it: one word, 64 bits a field."""
    for name, value in (
        ("produced_wh", produced_wh),
        ("consumed_wh", consumed_wh),
        ("stored_wh", stored_wh),
        ("max_capacity_wh", max_capacity_wh),
    ):
        if not 0 <= value <= MAX_LOG_WH:
            raise LedgerError(f"{CONTRACT}.log_step", f"{name} {value} out of range")
    return produced_wh | (consumed_wh << 64) | (stored_wh << 128) | (max_capacity_wh << 192)


class LotStatus(IntEnum):
    NONE = 0
    OPEN = 1
    AWARDED = 2
    SOLD = 3
    DELIVERED = 4
    EXPIRED = 5
    WITHDRAWN = 6


@dataclass(frozen=True, slots=True)
class LotState:
    id: int
    seller: str
    quantity_wh: int
    price: int
    deadline: int
    status: LotStatus
    bid_count: int
    candidate: int
    buyer: str
    value: int


@dataclass(frozen=True, slots=True)
class BidState:
    bidder: str
    price: int


@dataclass(frozen=True, slots=True)
class EntityState:
    address: str
    index: int
    stored_wh: int
    locked_wh: int
    last_consumed_wh: int
    rated_production_wh: int
    maintenance_threshold_wh: int
    maintenance_flagged: bool
    suspended: bool
    balance: int


class MicrogridLedger:
    """The settlement token and the microgrid's ``MicrogridAuction`` contract, with the operator
    (its deployer), the meter and the issuer that funds entities' token accounts."""

    def __init__(
        self, chain: Chain, token: Contract, market: Contract, *, operator: str, meter: str
    ) -> None:
        self.chain = chain
        self.token = token
        self.market = market
        self.operator = operator
        self.meter = meter

    @classmethod
    def deploy(
        cls, chain: Chain, *, operator: str, meter: str, operator_price: int, supply_micro: int
    ) -> MicrogridLedger:
        """Deploy a settlement token (``supply_micro`` to the operator, who funds entities) and
        the contract (by the operator)."""
        token = chain.deploy(
            operator,
            compile_contract("SettlementToken"),
            "peergrid settlement token",
            "PGS",
            operator,
            supply_micro,
        )
        market = chain.deploy(
            operator, compile_contract(CONTRACT), token.address, meter, operator_price
        )
        return cls(chain, token, market, operator=operator, meter=meter)

    # --- operator ------------------------------------------------------------------------------

    def register(
        self, entity: str, rated_production_wh: int, maintenance_threshold_wh: int
    ) -> Receipt:
        return self.chain.transact(
            self.operator,
            self.market,
            "register",
            entity,
            rated_production_wh,
            maintenance_threshold_wh,
        )

    def set_thresholds(
        self, peak_ratio_percent: int, peak_margin_wh: int, imbalance_wh: int
    ) -> Receipt:
        return self.chain.transact(
            self.operator,
            self.market,
            "set_thresholds",
            peak_ratio_percent,
            peak_margin_wh,
            imbalance_wh,
        )

    def set_operator_price(self, price: int) -> Receipt:
        return self.chain.transact(self.operator, self.market, "set_operator_price", price)

    def suspend(self, entity: str, suspended: bool = True) -> Receipt:
        return self.chain.transact(self.operator, self.market, "suspend", entity, suspended)

    def fund(self, entity: str, amount_micro: int) -> None:
        """The operator gives ``entity`` tokens, which the entity deposits here."""
        self.chain.transact(self.operator, self.token, "transfer", entity, amount_micro)
        self.deposit(entity, amount_micro)

    # --- meter ---------------------------------------------------------------------------------

    def log_step(self, step: int, logs: Sequence[int]) -> Receipt:
        """Every entity's :func:`packed_log` of ``step``, in registration order."""
        return self.chain.transact(self.meter, self.market, "log_step", step, list(logs))

    def record_deliveries(self, metered: Sequence[tuple[int, int]]) -> list[Receipt]:
        """``(lot, metered Wh)`` pairs, :data:`MAX_DELIVERIES` to a transaction."""
        rows = list(metered)
        return [
            self.chain.transact(
                self.meter,
                self.market,
                "record_deliveries",
                [lot for lot, _ in rows[start : start + MAX_DELIVERIES]],
                [flow for _, flow in rows[start : start + MAX_DELIVERIES]],
            )
            for start in range(0, len(rows), MAX_DELIVERIES)
        ]

    # --- entities ------------------------------------------------------------------------------

    def deposit(self, entity: str, amount_micro: int) -> Receipt:
        self.chain.transact(entity, self.token, "approve", self.market.address, amount_micro)
        return self.chain.transact(entity, self.market, "deposit", amount_micro)

    def withdraw(self, entity: str, amount_micro: int) -> Receipt:
        return self.chain.transact(entity, self.market, "withdraw", amount_micro)

    def offer(self, seller: str, quantity_wh: int, price: int, duration_s: int) -> int:
        """Publish a lot; its id."""
        receipt = self.chain.transact(seller, self.market, "offer", quantity_wh, price, duration_s)
        return int(receipt.events_named("LotOffered")[0].args["lot"])

    def bid(self, bidder: str, lot: int, price: int) -> Receipt:
        return self.chain.transact(bidder, self.market, "bid", lot, price)

    def buy_from_operator(self, buyer: str, quantity_wh: int) -> Receipt:
        return self.chain.transact(buyer, self.market, "buy_from_operator", quantity_wh)

    def close(self, seller: str, lot: int) -> Receipt:
        return self.chain.transact(seller, self.market, "close", lot)

    def accept(self, buyer: str, lot: int) -> Receipt:
        return self.chain.transact(buyer, self.market, "accept", lot)

    def refuse(self, buyer: str, lot: int) -> Receipt:
        return self.chain.transact(buyer, self.market, "refuse", lot)

    def reoffer(self, seller: str, lot: int, price: int, duration_s: int) -> Receipt:
        return self.chain.transact(seller, self.market, "reoffer", lot, price, duration_s)

    def withdraw_lot(self, seller: str, lot: int) -> Receipt:
        return self.chain.transact(seller, self.market, "withdraw_lot", lot)

    # --- views ---------------------------------------------------------------------------------

    def lot(self, lot: int) -> LotState:
        row = self.chain.call(self.market, "lot", lot)
        seller, quantity, price, deadline, status, bids, candidate, buyer, value = row
        return LotState(
            id=lot,
            seller=str(seller),
            quantity_wh=int(quantity),
            price=int(price),
            deadline=int(deadline),
            status=LotStatus(int(status)),
            bid_count=int(bids),
            candidate=int(candidate),
            buyer=str(buyer),
            value=int(value),
        )

    def bids(self, lot: int) -> list[BidState]:
        return [BidState(str(b), int(p)) for b, p in self.chain.call(self.market, "bids", lot)]

    def lot_count(self) -> int:
        return int(self.chain.call(self.market, "lot_count"))

    def free_energy(self, entity: str) -> int:
        return int(self.chain.call(self.market, "free_energy", entity))

    def operator_offer(self) -> tuple[int, bool]:
        price, listed = self.chain.call(self.market, "operator_offer")
        return int(price), bool(listed)

    def balance(self, account: str) -> int:
        return int(self.chain.call(self.market, "balance_of", account))

    def token_balance(self, account: str) -> int:
        return int(self.chain.call(self.token, "balanceOf", account))

    def entity(self, address: str) -> EntityState:
        row = self.chain.call(self.market, "entity", address)
        return EntityState(
            address=address,
            index=int(row[0]),
            stored_wh=int(row[1]),
            locked_wh=int(row[2]),
            last_consumed_wh=int(row[3]),
            rated_production_wh=int(row[4]),
            maintenance_threshold_wh=int(row[5]),
            maintenance_flagged=bool(row[6]),
            suspended=bool(row[7]),
            balance=int(row[8]),
        )
