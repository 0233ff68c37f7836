"""Helpers shared by the ledger tests: a deployed community and a revert assertion."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from peergrid.core.errors import LedgerError
from peergrid.ledger import CommunityLedger, EmbeddedChain

SUPPLY_MICRO = 10**15
FUNDS_MICRO = 1_000_000_000  # 1 000 currency units per member
N_MEMBERS = 4


@dataclass
class Community:
    chain: EmbeddedChain
    ledger: CommunityLedger
    operator: str
    dso: str
    issuer: str
    members: list[str]
    outsider: str

    def balances(self) -> dict[str, int]:
        """Every internal balance, the DSO's, the running total and the contract's tokens."""
        snapshot = {m: self.ledger.balance_of(m) for m in self.members}
        snapshot["dso"] = self.ledger.dso_balance()
        snapshot["total"] = self.ledger.total_internal_balance()
        snapshot["escrow"] = self.ledger.token_balance(self.ledger.community.address)
        return snapshot


def make_community(
    n_members: int = N_MEMBERS, deposit_micro: int = FUNDS_MICRO, fund_micro: int = FUNDS_MICRO
) -> Community:
    """A chain with token and community deployed; members registered, funded and deposited."""
    chain = EmbeddedChain()
    operator = chain.new_account("operator")
    dso = chain.new_account("dso")
    issuer = chain.new_account("issuer")
    ledger = CommunityLedger.deploy(
        chain, operator=operator, dso=dso, issuer=issuer, supply_micro=SUPPLY_MICRO
    )
    members = [chain.new_account(f"member{i}") for i in range(n_members)]
    ledger.register_members(members)
    for member in members:
        if fund_micro:
            ledger.fund(member, fund_micro)
        if deposit_micro:
            ledger.deposit(member, deposit_micro)
    outsider = chain.new_account("outsider")
    return Community(chain, ledger, operator, dso, issuer, members, outsider)


@contextmanager
def reverts(call: str, reason: str) -> Iterator[None]:
    """Expect a :class:`LedgerError` for ``call`` with exactly ``reason``."""
    with pytest.raises(LedgerError) as info:
        yield
    assert (info.value.call, info.value.reason) == (call, reason)
