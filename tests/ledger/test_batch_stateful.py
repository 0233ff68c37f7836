"""Random multi-slot runs of the batch market (hypothesis, a rule-based state machine).

Between slots members deposit, withdraw, and someone sends tokens to the contract without a
deposit; each slot is cleared with fills drawn within the revealed orders' limits and metered,
or its operator falls silent and every member reclaims its lock after the deadline. After every
step: the balances sum to what was deposited less what was withdrawn, the contract holds that
plus the donations, no balance is negative, no lock exceeds its balance, and between slots
nothing is locked. Each clearing moves exactly what the Python statement of the contract
(:func:`~peergrid.ledger.markets.batch_market.clear`) says.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from peergrid.ledger import Fill, Phase, SealedOrder
from peergrid.ledger.markets.batch_market import clear

from .market_helpers import Batch, make_batch

pytestmark = pytest.mark.slow

N_MEMBERS = 4
DEPOSIT = 5_000_000
DSO_RESERVE = 100_000_000
FEE, PENALTY, DEADLINE = 10_000, 50_000, 600

order_specs = st.lists(
    st.tuples(st.booleans(), st.integers(1, 3000), st.integers(50_000, 250_000)),
    min_size=N_MEMBERS,
    max_size=N_MEMBERS,
)


class BatchMarketRuns(RuleBasedStateMachine):
    """The model: what was deposited net of withdrawals, and what was donated."""

    market: Batch
    deposited: int
    donated: int
    slot: int

    @initialize()
    def deploy(self) -> None:
        self.market = make_batch(
            N_MEMBERS,
            deposit_micro=DEPOSIT,
            fee_micro_per_kwh=FEE,
            penalty_micro_per_kwh=PENALTY,
            clearing_deadline_s=DEADLINE,
            dso_reserve_micro=DSO_RESERVE,
        )
        self.deposited = N_MEMBERS * DEPOSIT + DSO_RESERVE
        self.donated = 0
        self.slot = 0

    # --- between slots -------------------------------------------------------------------

    @rule(member=st.integers(0, N_MEMBERS - 1), amount=st.integers(1, 2_000_000))
    def deposit(self, member: int, amount: int) -> None:
        account = self.market.members[member]
        self.market.escrow.fund(account, amount)
        self.market.escrow.deposit(account, amount)
        self.deposited += amount

    @rule(member=st.integers(0, N_MEMBERS - 1), share=st.floats(0.0, 1.0))
    def withdraw(self, member: int, share: float) -> None:
        account = self.market.members[member]
        amount = int(self.market.escrow.available_of(account) * share)
        if amount:
            self.market.escrow.withdraw(account, amount)
            self.deposited -= amount

    @rule(amount=st.integers(1, 100_000))
    def donate(self, amount: int) -> None:
        market = self.market
        market.escrow.fund(market.outsider, amount)
        market.chain.transact(
            market.outsider, market.ledger.token, "transfer", market.ledger.market.address, amount
        )
        self.donated += amount

    # --- slots ---------------------------------------------------------------------------

    def _reveal(self, specs: list[tuple[bool, int, int]]) -> list[tuple[str, SealedOrder]]:
        """Open a slot; every member whose free balance covers its order commits and reveals."""
        market, ledger = self.market, self.market.ledger
        self.slot += 1
        slot = self.slot
        orders = [
            (
                member,
                SealedOrder(
                    bytes([slot % 256, i + 1]) * 16,
                    is_buy,
                    quantity,
                    price,
                    bytes([i + 7]) * 32,
                ),
            )
            for i, (member, (is_buy, quantity, price)) in enumerate(
                zip(market.members, specs, strict=True)
            )
        ]
        funded = [
            (m, o)
            for m, o in orders
            if not o.is_buy
            or market.escrow.available_of(m)
            >= o.quantity_wh * o.price_micro_per_kwh // 1000 + o.quantity_wh * FEE // 1000
        ]
        ledger.open_slot(slot)
        for member, order in funded:
            ledger.commit(member, slot, order)
        ledger.start_reveal(slot)
        for member, order in funded:
            ledger.reveal(member, slot, order)
        return funded

    @rule(specs=order_specs, data=st.data())
    def cleared_slot(self, specs: list[tuple[bool, int, int]], data: st.DataObject) -> None:
        market, ledger = self.market, self.market.ledger
        self._reveal(specs)
        revealed = ledger.revealed(self.slot)
        left = [o.quantity_wh for o in revealed]
        fills: list[Fill] = []
        buys = [i for i, o in enumerate(revealed) if o.is_buy]
        sells = [i for i, o in enumerate(revealed) if not o.is_buy]
        for _ in range(data.draw(st.integers(0, 4))):
            if not buys or not sells:
                break
            b, s = data.draw(st.sampled_from(buys)), data.draw(st.sampled_from(sells))
            low, high = revealed[s].price_micro_per_kwh, revealed[b].price_micro_per_kwh
            if low > high or not left[b] or not left[s]:
                continue
            energy = data.draw(st.integers(1, min(left[b], left[s])))
            left[b] -= energy
            left[s] -= energy
            fills.append(Fill(b, s, energy, data.draw(st.integers(low, high))))
        outcome = clear(revealed, fills, FEE)
        before = market.balances()
        ledger.post_clearing(self.slot, fills)
        after = market.balances()
        for i, order in enumerate(revealed):
            sign = -1 if order.is_buy else 1
            assert after[order.owner] - before[order.owner] == sign * outcome.paid_micro[i]
        assert after[market.dso] - before[market.dso] == outcome.fee_micro
        readings = {p.member: data.draw(st.integers(0, 2 * p.energy_wh)) for p in outcome.positions}
        if outcome.positions:
            ledger.post_readings(market.meter, self.slot, readings)
            assert ledger.slot_info(self.slot).phase is Phase.SETTLED

    @rule(specs=order_specs)
    def silent_slot(self, specs: list[tuple[bool, int, int]]) -> None:
        market, ledger = self.market, self.market.ledger
        funded = self._reveal(specs)
        before = market.balances()
        market.chain.advance_time(DEADLINE)
        for member, _ in funded:
            ledger.reclaim(member, self.slot)
        if funded:
            assert ledger.slot_info(self.slot).phase is Phase.VOID
        assert market.balances() == before

    # --- after every step ------------------------------------------------------------------

    @invariant()
    def money_is_conserved(self) -> None:
        market = self.market
        market.assert_conserved(self.deposited, surplus_micro=self.donated)
        assert all(b >= 0 for b in market.balances().values())
        assert market.locked() == dict.fromkeys(market.accounts, 0)


TestBatchMarketRuns = BatchMarketRuns.TestCase
TestBatchMarketRuns.settings = settings(
    max_examples=6,
    stateful_step_count=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
