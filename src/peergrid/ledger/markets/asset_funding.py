"""A typed client of ``AssetFunding.vy``: a community asset financed by an equity crowdsale.

Who calls what:

1. The asset's operator deploys the sale (:meth:`AssetFundingLedger.deploy`: share price, target
   and cap in shares, deadline).
2. Members :meth:`~AssetFundingLedger.buy` shares before the deadline. After it, a failed sale
   (target missed) lets each buyer :meth:`~AssetFundingLedger.refund`; a successful one lets the
   operator :meth:`~AssetFundingLedger.withdraw_raised` and makes shares transferable
   (:meth:`~AssetFundingLedger.transfer`).
3. The operator :meth:`~AssetFundingLedger.distribute` s the asset's metered revenue; each holder
   :meth:`~AssetFundingLedger.claim` s its pro rata part when it likes (pull payments: a
   distribution costs the same whatever the number of holders).

Money in micro-currency (the settlement token's 6 decimals); the rules are the contract's
docstring.
"""

from __future__ import annotations

from enum import IntEnum

from peergrid.ledger.chain.base import Chain, Contract, Receipt
from peergrid.ledger.chain.compile import compile_contract

CONTRACT = "AssetFunding"
SCALE = 10**18


class SalePhase(IntEnum):
    OPEN = 0
    SUCCEEDED = 1
    FAILED = 2


class AssetFundingLedger:
    """The settlement token and one asset's ``AssetFunding`` contract."""

    def __init__(self, chain: Chain, token: Contract, sale: Contract, *, operator: str) -> None:
        self.chain = chain
        self.token = token
        self.sale = sale
        self.operator = operator

    @classmethod
    def deploy(
        cls,
        chain: Chain,
        token: Contract,
        *,
        operator: str,
        share_price: int,
        target: int,
        cap: int,
        deadline: int,
    ) -> AssetFundingLedger:
        """Deploy the sale (by the operator) paid in ``token``."""
        sale = chain.deploy(
            operator, compile_contract(CONTRACT), token.address, share_price, target, cap, deadline
        )
        return cls(chain, token, sale, operator=operator)

    # --- holders -----------------------------------------------------------------------------

    def buy(self, buyer: str, shares: int) -> Receipt:
        """``buyer`` approves the payment and buys (two transactions)."""
        price = self.share_price()
        self.chain.transact(buyer, self.token, "approve", self.sale.address, shares * price)
        return self.chain.transact(buyer, self.sale, "buy", shares)

    def refund(self, holder: str) -> Receipt:
        return self.chain.transact(holder, self.sale, "refund")

    def transfer(self, holder: str, receiver: str, shares: int) -> Receipt:
        return self.chain.transact(holder, self.sale, "transfer", receiver, shares)

    def claim(self, holder: str) -> Receipt:
        return self.chain.transact(holder, self.sale, "claim")

    # --- the operator ------------------------------------------------------------------------

    def withdraw_raised(self) -> Receipt:
        return self.chain.transact(self.operator, self.sale, "withdraw_raised")

    def distribute(self, amount_micro: int) -> Receipt:
        """The operator approves and pays in ``amount_micro`` of revenue (two transactions)."""
        self.chain.transact(self.operator, self.token, "approve", self.sale.address, amount_micro)
        return self.chain.transact(self.operator, self.sale, "distribute", amount_micro)

    # --- views -------------------------------------------------------------------------------

    def share_price(self) -> int:
        return int(self.chain.call(self.sale, "share_price"))

    def phase(self) -> SalePhase:
        return SalePhase(int(self.chain.call(self.sale, "phase")))

    def shares_of(self, holder: str) -> int:
        return int(self.chain.call(self.sale, "shares_of", holder))

    def total_shares(self) -> int:
        return int(self.chain.call(self.sale, "total_shares"))

    def claimable(self, holder: str) -> int:
        return int(self.chain.call(self.sale, "claimable", holder))

    def accrued(self, holder: str) -> int:
        """Unclaimed revenue in SCALE units (exact)."""
        return int(self.chain.call(self.sale, "accrued", holder))

    def carry(self) -> int:
        return int(self.chain.call(self.sale, "carry"))

    def distributed(self) -> int:
        return int(self.chain.call(self.sale, "distributed"))

    def raised_withdrawn(self) -> bool:
        return bool(self.chain.call(self.sale, "raised_withdrawn"))

    def token_balance(self, account: str) -> int:
        return int(self.chain.call(self.token, "balanceOf", account))
