"""Settling a simulated market on the ledger: one member account per household.

This is where the simulation wires the ledger to the mechanisms' output; neither knows the
other. The operator posts each slot's trades with the hash of the slot's order set; the
community contract moves money from buyers to sellers and the DSO's fee to the DSO.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from peergrid.core.orders import Order, canonical_order_set
from peergrid.core.trades import Trade
from peergrid.core.units import to_micro
from peergrid.ledger.chain import EmbeddedChain, Receipt
from peergrid.ledger.community import CommunityLedger, order_set_hash, split_settleable


@dataclass
class LedgerSettlement:
    ledger: CommunityLedger
    address_of: dict[str, str]
    deposits_micro: int
    dropped_trades: int = 0
    settled_slots: list[int] = field(default_factory=list)

    @classmethod
    def open(cls, agents: Sequence[str], deposit_per_member: float) -> LedgerSettlement:
        """Deploy the community, register every household and fund its deposit."""
        chain = EmbeddedChain()
        operator = chain.new_account("operator")
        dso = chain.new_account("dso")
        issuer = chain.new_account("issuer")
        deposit = to_micro(deposit_per_member)
        ledger = CommunityLedger.deploy(
            chain,
            operator=operator,
            dso=dso,
            issuer=issuer,
            supply_micro=deposit * len(agents),
        )
        address_of = {agent: chain.new_account(agent) for agent in agents}
        ledger.register_members(list(address_of.values()))
        for address in address_of.values():
            ledger.fund(address, deposit)
            ledger.deposit(address, deposit)
        return cls(ledger=ledger, address_of=address_of, deposits_micro=deposit * len(agents))

    def settle(
        self, slot: int, orders: Sequence[Order], trades: Sequence[Trade]
    ) -> tuple[Receipt, ...]:
        """Post the slot's trades; a slot without trades sends nothing."""
        on_chain, dropped = split_settleable(trades, self.address_of)
        self.dropped_trades += len(dropped)
        if not on_chain:
            return ()
        receipts = self.ledger.settle_slot(
            slot, order_set_hash(canonical_order_set(orders)), on_chain
        )
        self.settled_slots.append(slot)
        return receipts

    def money_conserved(self) -> bool:
        """Members' and DSO's balances add up to the deposits, and to the contract's tokens."""
        ledger = self.ledger
        internal = ledger.total_internal_balance()
        held = ledger.token_balance(ledger.community.address)
        members = sum(self.balances_micro().values())
        return internal == held == self.deposits_micro == members + ledger.dso_balance()

    def balances_micro(self) -> dict[str, int]:
        return {agent: self.ledger.balance_of(addr) for agent, addr in self.address_of.items()}
