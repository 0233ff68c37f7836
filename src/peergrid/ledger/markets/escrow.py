"""A typed client of the escrow (``vault`` module) of a market contract, and its arithmetic.

Money is the settlement token (``SettlementToken.vy``, micro-currency, the whole supply minted
once: no path creates or destroys money). A member approves the market contract and deposits;
the contract keeps an internal balance per account, of which a part may be locked in escrow for
the member's open buy orders; settlement moves internal balances only; every account withdraws
its own free balance (pull payments; no role needed, so a member removed by vote still gets its
money out). The sum of the internal balances is ``total_internal_balance``, which changes only
with deposits and withdrawals. It is capped at :data:`MAX_TOTAL_MICRO` (2**92 - 1), the width of
the packed balance fields.

The invariant is an inequality: the tokens the contract holds are **at least** the sum of the
internal balances. Anyone can send tokens to the contract without depositing them (a plain
token transfer, which the contract cannot refuse); those are credited to nobody, so they can
never be withdrawn and break nothing. :meth:`Escrow.surplus_micro` reports them.

The functions below state the contracts' integer arithmetic once in Python, for clients and
tests: Wh, micro-currency per kWh, micro-currency, every division a floor.
"""

from __future__ import annotations

from dataclasses import dataclass

from peergrid.ledger.chain.base import Chain, Contract, Receipt

WH_PER_KWH = 1000
MAX_TOTAL_MICRO = 2**92 - 1
"""Most micro-currency one market contract may hold."""


def value_micro(energy_wh: int, price_micro_per_kwh: int) -> int:
    """What ``energy_wh`` is worth at ``price_micro_per_kwh``: ``energy * price // 1000``."""
    return energy_wh * price_micro_per_kwh // WH_PER_KWH


def lock_micro(quantity_wh: int, price_micro_per_kwh: int, fee_micro_per_kwh: int) -> int:
    """Escrow of a buy order: ``q * price // 1000 + q * fee_rate // 1000``, its most cost.

    Any set of fills of at most ``q`` Wh at prices at most ``price`` costs no more (each floor
    of a sum is at least the sum of the floors), so the lock always covers what the order pays.
    """
    return value_micro(quantity_wh, price_micro_per_kwh) + value_micro(
        quantity_wh, fee_micro_per_kwh
    )


@dataclass(frozen=True, slots=True)
class FillPayment:
    """The money of one fill: value, the DSO's fee and who pays which part of it.

    ``fee = energy * fee_rate // 1000``; the seller pays ``min(fee // 2, value)``, the buyer the
    rest. So ``buyer_pays == seller_receives + fee_micro`` exactly: money is conserved, and a
    seller never pays more than the fill is worth.
    """

    energy_wh: int
    price_micro_per_kwh: int
    value_micro: int
    fee_micro: int
    seller_fee_micro: int

    @property
    def buyer_fee_micro(self) -> int:
        return self.fee_micro - self.seller_fee_micro

    @property
    def buyer_pays_micro(self) -> int:
        return self.value_micro + self.buyer_fee_micro

    @property
    def seller_receives_micro(self) -> int:
        return self.value_micro - self.seller_fee_micro


MM_PER_KM = 1_000_000


def distance_charge_shares(rate_micro_per_km: int, millimetres: int) -> tuple[int, int]:
    """The batch market's distance charge of one matched pair as (buyer's share, seller's share).

    ``rate_micro_per_km * millimetres // 1 000 000`` (C_d·d, per pair, independent of energy); the
    seller owes the smaller half, ``charge // 2``.
    """
    charge = rate_micro_per_km * millimetres // MM_PER_KM
    return charge - charge // 2, charge // 2


def fill_payment(energy_wh: int, price_micro_per_kwh: int, fee_micro_per_kwh: int) -> FillPayment:
    """The contracts' money of one fill of ``energy_wh`` at ``price_micro_per_kwh``."""
    value = value_micro(energy_wh, price_micro_per_kwh)
    fee = value_micro(energy_wh, fee_micro_per_kwh)
    return FillPayment(energy_wh, price_micro_per_kwh, value, fee, min(fee // 2, value))


class Escrow:
    """Deposits, withdrawals and balances of a market contract that embeds the ``vault`` module.

    ``issuer`` is the token account that funds members (:meth:`fund`), as in the demo and tests.
    """

    def __init__(self, chain: Chain, contract: Contract, token: Contract, *, issuer: str) -> None:
        self.chain = chain
        self.contract = contract
        self.token = token
        self.issuer = issuer

    def fund(self, account: str, amount_micro: int) -> Receipt:
        """The issuer transfers ``amount_micro`` tokens to ``account``'s own address."""
        return self.chain.transact(self.issuer, self.token, "transfer", account, amount_micro)

    def deposit(self, account: str, amount_micro: int) -> Receipt:
        """``account`` (a member) approves the contract and deposits (two transactions)."""
        self.chain.transact(account, self.token, "approve", self.contract.address, amount_micro)
        return self.chain.transact(account, self.contract, "deposit", amount_micro)

    def withdraw(self, account: str, amount_micro: int) -> Receipt:
        """``account`` withdraws ``amount_micro`` of its own free balance (no role needed)."""
        return self.chain.transact(account, self.contract, "withdraw", amount_micro)

    def balance_of(self, account: str) -> int:
        """Micro-currency held for ``account`` in the contract, locked part included."""
        return int(self.chain.call(self.contract, "balance_of", account))

    def locked_of(self, account: str) -> int:
        """Part of ``account``'s balance locked in escrow."""
        return int(self.chain.call(self.contract, "locked_of", account))

    def available_of(self, account: str) -> int:
        """What ``account`` may withdraw or lock: balance less locked."""
        return int(self.chain.call(self.contract, "available_of", account))

    def total_internal_balance(self) -> int:
        """Sum of every account's balance in the contract."""
        return int(self.chain.call(self.contract, "total_internal_balance"))

    def dso(self) -> str:
        """The account that receives fees and penalties."""
        return str(self.chain.call(self.contract, "dso"))

    def token_balance(self, account: str) -> int:
        """Token balance of any address (a member's own account, the contract, ...)."""
        return int(self.chain.call(self.token, "balanceOf", account))

    def held_tokens(self) -> int:
        """Tokens the contract holds."""
        return self.token_balance(self.contract.address)

    def surplus_micro(self) -> int:
        """Tokens the contract holds beyond the internal balances: sent to it without a deposit
        and credited to nobody. Never negative while the contract keeps its invariant (a
        negative value means it holds less than it owes)."""
        return self.held_tokens() - self.total_internal_balance()

    def conserved(self, deposited_micro: int) -> bool:
        """The money check: the internal balances sum to what was deposited (net of
        withdrawals, ``deposited_micro``) and the tokens held cover them (a donation is a
        surplus, not a failure)."""
        return self.total_internal_balance() == deposited_micro and self.surplus_micro() >= 0
