"""A typed client of ``OtcContracts.vy``: bilateral (OTC) energy contracts between two members,
signed by both on chain and settled each slot against the meters (001a_book.md chapter 5).

Who does what:

1. the operator (the deployer) admits members (:meth:`OtcLedger.set_member`); the DSO sets its
   network fee rate (:meth:`OtcLedger.set_fee_rate`, frozen in each contract at proposal);
2. a member proposes a contract to another (:meth:`OtcLedger.propose`: fixed price, Wh per slot,
   first and last slot); the other signs it (:meth:`OtcLedger.accept`), which locks the buyer's
   escrow for every slot; before that either may withdraw it;
3. each slot, once it has ended, the operator settles the active contracts against the seller's
   metered production and the buyer's metered consumption, deviations at the pool's price
   (:meth:`OtcLedger.settle`; :func:`otc_settlement` is the same arithmetic in Python);
4. a buyer whose contract was not settled by the deadline releases its escrow
   (:meth:`OtcLedger.release`).

A contract with a non-member reverts (``"counterparty is not a member"``). The grid check of a
contract is the platform's, before the proposal (:mod:`peergrid.platform.otc`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.base import Chain, Contract, Receipt
from peergrid.ledger.chain.compile import compile_contract

CONTRACT = "OtcContracts"
MAX_BATCH = 128
"""Most contracts one ``settle`` transaction carries (the contract's ``MAX_BATCH``)."""
WH_PER_KWH = 1000
DEFAULT_SETTLE_DEADLINE_S = 86_400


class OtcState(IntEnum):
    NONE = 0
    PROPOSED = 1
    ACTIVE = 2
    ENDED = 3
    WITHDRAWN = 4


@dataclass(frozen=True, slots=True)
class OtcContract:
    """One contract as the chain holds it (energy Wh, prices micro-currency per kWh)."""

    id: int
    seller: str
    buyer: str
    proposer: str
    price_micro_per_kwh: int
    wh_per_slot: int
    first_slot: int
    last_slot: int
    fee_micro_per_kwh: int
    state: OtcState
    next_slot: int
    escrow_micro: int

    @property
    def slots(self) -> range:
        return range(self.first_slot, self.last_slot + 1)

    def per_slot_micro(self) -> int:
        """What the buyer's escrow pays each slot: the energy's value and the fee."""
        return value_micro(self.wh_per_slot, self.price_micro_per_kwh) + value_micro(
            self.wh_per_slot, self.fee_micro_per_kwh
        )


def value_micro(wh: int, price_micro_per_kwh: int) -> int:
    return wh * price_micro_per_kwh // WH_PER_KWH


@dataclass(frozen=True, slots=True)
class OtcSettlement:
    """One contract's settlement of one slot (micro-currency), as the contract computes it."""

    paid_to_seller: int
    fee: int
    seller_to_dso: int
    seller_shortfall: int
    dso_to_buyer: int


def otc_settlement(
    contract: OtcContract,
    seller_wh: int,
    buyer_wh: int,
    pool_price_micro_per_kwh: int,
    *,
    seller_free_micro: int | None = None,
) -> OtcSettlement:
    """The settlement of one slot: the buyer pays the contract's value and fee; a seller short
    of the contracted energy buys the rest at the pool price (from its free balance, the rest a
    shortfall); a buyer that consumed less sells the rest at the pool price to the DSO."""
    q = contract.wh_per_slot
    value = value_micro(q, contract.price_micro_per_kwh)
    fee = value_micro(q, contract.fee_micro_per_kwh)
    to_dso = shortfall = refund = 0
    if seller_wh < q:
        owed = value_micro(q - seller_wh, pool_price_micro_per_kwh)
        free = owed if seller_free_micro is None else seller_free_micro + value
        to_dso = min(owed, free)
        shortfall = owed - to_dso
    if buyer_wh < q:
        refund = value_micro(q - buyer_wh, pool_price_micro_per_kwh)
    return OtcSettlement(value, fee, to_dso, shortfall, refund)


class OtcLedger:
    """The settlement token and an ``OtcContracts`` contract, with the operator, the DSO and the
    issuer that funds members' token accounts."""

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
        self.chain = chain
        self.token = token
        self.market = market
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
        fee_micro_per_kwh: int,
        slot_seconds: int,
        epoch: int | None = None,
        settle_deadline_s: int = DEFAULT_SETTLE_DEADLINE_S,
        token: Contract | None = None,
    ) -> OtcLedger:
        """Deploy the contract (by the operator; slot 0 starts at ``epoch``, default now) and a
        settlement token with ``supply_micro`` to ``issuer`` unless ``token`` is given."""
        if token is None:
            token = chain.deploy(
                issuer,
                compile_contract("SettlementToken"),
                "peergrid settlement token",
                "PGS",
                issuer,
                supply_micro,
            )
        start = chain.timestamp() if epoch is None else epoch
        market = chain.deploy(
            operator,
            compile_contract(CONTRACT),
            token.address,
            dso,
            fee_micro_per_kwh,
            start,
            slot_seconds,
            settle_deadline_s,
        )
        return cls(chain, token, market, operator=operator, dso=dso, issuer=issuer)

    @property
    def address(self) -> str:
        return self.market.address

    def _call(self, fn_name: str, *args: object) -> Any:
        return self.chain.call(self.market, fn_name, *args)

    # --- operator and DSO -------------------------------------------------------------------

    def set_member(self, member: str, admitted: bool = True) -> Receipt:
        return self.chain.transact(self.operator, self.market, "set_member", member, admitted)

    def set_fee_rate(self, fee_micro_per_kwh: int) -> Receipt:
        return self.chain.transact(self.dso, self.market, "set_fee_rate", fee_micro_per_kwh)

    def settle(
        self,
        slot: int,
        pool_price_micro_per_kwh: int,
        readings: Sequence[tuple[int, int, int]],
    ) -> tuple[Receipt, ...]:
        """Settle ``slot`` of each contract in ``readings`` (id, seller Wh, buyer Wh), at most
        :data:`MAX_BATCH` to a transaction."""
        return tuple(
            self.chain.transact(
                self.operator,
                self.market,
                "settle",
                slot,
                pool_price_micro_per_kwh,
                [r[0] for r in readings[start : start + MAX_BATCH]],
                [r[1] for r in readings[start : start + MAX_BATCH]],
                [r[2] for r in readings[start : start + MAX_BATCH]],
                slot=slot,
            )
            for start in range(0, len(readings), MAX_BATCH)
        )

    # --- members ----------------------------------------------------------------------------

    def fund(self, account: str, amount_micro: int) -> Receipt:
        """The issuer transfers tokens to ``account``'s own token account."""
        return self.chain.transact(self.issuer, self.token, "transfer", account, amount_micro)

    def deposit(self, account: str, amount_micro: int) -> Receipt:
        """``account`` approves the contract and deposits (two transactions)."""
        self.chain.transact(account, self.token, "approve", self.market.address, amount_micro)
        return self.chain.transact(account, self.market, "deposit", amount_micro)

    def withdraw(self, account: str, amount_micro: int) -> Receipt:
        return self.chain.transact(account, self.market, "withdraw", amount_micro)

    def propose(
        self,
        proposer: str,
        counterparty: str,
        *,
        as_seller: bool,
        price_micro_per_kwh: int,
        wh_per_slot: int,
        first_slot: int,
        last_slot: int,
    ) -> int:
        """Propose a contract; its id."""
        receipt = self.chain.transact(
            proposer,
            self.market,
            "propose",
            counterparty,
            as_seller,
            price_micro_per_kwh,
            wh_per_slot,
            first_slot,
            last_slot,
        )
        events = receipt.events_named("Proposed")
        if not events:
            raise LedgerError(f"{CONTRACT}.propose", "no Proposed event in the receipt")
        return int(events[0].args["id"])

    def accept(self, member: str, contract_id: int) -> Receipt:
        return self.chain.transact(member, self.market, "accept", contract_id)

    def withdraw_proposal(self, member: str, contract_id: int) -> Receipt:
        return self.chain.transact(member, self.market, "withdraw_proposal", contract_id)

    def release(self, buyer: str, contract_id: int) -> Receipt:
        return self.chain.transact(buyer, self.market, "release", contract_id)

    # --- reads ------------------------------------------------------------------------------

    def contract(self, contract_id: int) -> OtcContract:
        c = self._call("contract_of", contract_id)
        return OtcContract(
            id=contract_id,
            seller=str(c[0]),
            buyer=str(c[1]),
            proposer=str(c[2]),
            price_micro_per_kwh=int(c[3]),
            wh_per_slot=int(c[4]),
            first_slot=int(c[5]),
            last_slot=int(c[6]),
            fee_micro_per_kwh=int(c[7]),
            state=OtcState(int(c[8])),
            next_slot=int(c[9]),
            escrow_micro=int(c[10]),
        )

    def contract_count(self) -> int:
        return int(self._call("contract_count"))

    def contracts(self) -> list[OtcContract]:
        return [self.contract(i) for i in range(1, self.contract_count() + 1)]

    def active_in(self, slot: int) -> list[OtcContract]:
        """The active contracts whose next slot to settle is ``slot``."""
        return [c for c in self.contracts() if c.state == OtcState.ACTIVE and c.next_slot == slot]

    def balance_of(self, account: str) -> int:
        return int(self._call("balance_of", account))

    def locked(self, account: str) -> int:
        return int(self._call("locked", account))

    def total_balance(self) -> int:
        return int(self._call("total_balance"))

    def token_balance_of_market(self) -> int:
        return int(self.chain.call(self.token, "balanceOf", self.market.address))

    def is_member(self, account: str) -> bool:
        return bool(self._call("is_member", account))

    def fee_rate(self) -> int:
        return int(self._call("fee_rate"))

    def slot_seconds(self) -> int:
        return int(self._call("slot_seconds"))

    def epoch(self) -> int:
        return int(self._call("epoch"))
