"""Settling on the community contract: the operator posts each slot's trades.

One transaction per slot with trades: the contract moves every trade's value from buyer to
seller and the DSO's fee to the DSO. It checks parties and balances, not price limits, and has
no meter: deviations from the contracts are settled off chain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from peergrid.core.orders import Order, canonical_order_set
from peergrid.core.trades import Trade
from peergrid.core.units import to_micro
from peergrid.ledger import (
    Chain,
    CommunityLedger,
    GasLog,
    Receipt,
    community_refused_trades,
    order_set_hash,
    split_settleable,
)
from peergrid.platform.settlement.base import MarketSetup


@dataclass
class CommunitySettlement:
    ledger: CommunityLedger
    address_of: dict[str, str]
    deposits_micro: int
    dropped_trades: int = 0
    refused_fills: int = 0  # the community contract checks parties and balances, not limits
    unpaid_micro: int = 0  # a member short of its fee share reverts the slot instead
    settled_slots: list[int] = field(default_factory=list)

    @classmethod
    def open(cls, chain: Chain, setup: MarketSetup) -> CommunitySettlement:
        """Deploy the community on ``chain``, register every member and fund its deposit."""
        operator = chain.new_account("operator")
        dso = chain.new_account("dso")
        issuer = chain.new_account("issuer")
        deposit = to_micro(setup.deposit_per_member)
        ledger = CommunityLedger.deploy(
            chain,
            operator=operator,
            dso=dso,
            issuer=issuer,
            supply_micro=deposit * len(setup.agents),
        )
        address_of = {agent: chain.new_account(agent) for agent in setup.agents}
        with chain.pipeline():
            ledger.register_members(list(address_of.values()))
            for address in address_of.values():
                ledger.fund(address, deposit)
                ledger.deposit(address, deposit)
        return cls(ledger=ledger, address_of=address_of, deposits_micro=deposit * len(setup.agents))

    @property
    def gas_log(self) -> GasLog:
        return self.ledger.gas_log

    def dso_balance(self) -> int:
        return self.ledger.dso_balance()

    def member_deposit_micro(self) -> int:
        return self.deposits_micro // len(self.address_of)

    def refused(self, orders: Sequence[Order], trades: Sequence[Trade]) -> list[Trade]:
        return community_refused_trades(orders, trades)

    def settle(
        self,
        slot: int,
        orders: Sequence[Order],
        trades: Sequence[Trade],
        metered_kwh: Mapping[str, float] | None = None,
    ) -> tuple[Receipt, ...]:
        """Post the slot's trades; a slot without trades sends nothing. The community contract
        has no meter: ``metered_kwh`` is not used (deviations are settled off chain)."""
        on_chain, dropped = split_settleable(trades, self.address_of)
        self.dropped_trades += len(dropped)
        if not on_chain:
            return ()
        # A slot of many trades is several transactions: one block.
        with self.ledger.chain.pipeline():
            receipts = self.ledger.settle_slot(
                slot, order_set_hash(canonical_order_set(orders)), on_chain
            )
        self.settled_slots.append(slot)
        return receipts

    def money_conserved(self) -> bool:
        """Members' and DSO's balances add up to the deposits, and the contract's tokens cover
        them (tokens sent to it without a deposit are a surplus, not a failure)."""
        ledger = self.ledger
        internal = ledger.total_internal_balance()
        members = sum(self.balances_micro().values())
        return internal == self.deposits_micro == members + ledger.dso_balance() and (
            self.surplus_micro() >= 0
        )

    def surplus_micro(self) -> int:
        """Tokens the contract holds beyond every balance (sent without a deposit)."""
        ledger = self.ledger
        return ledger.token_balance(ledger.community.address) - ledger.total_internal_balance()

    def balances_micro(self) -> dict[str, int]:
        return {agent: self.ledger.balance_of(addr) for agent, addr in self.address_of.items()}
