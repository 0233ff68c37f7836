"""Community asset financing (``AssetFunding.vy``): the crowdsale, refunds, transferable shares
and pro rata revenue by pull payments; roles and refusals named reverts that change nothing;
money conserved exactly under random sequences of operations."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peergrid.core.errors import LedgerError
from peergrid.ledger import Chain, EmbeddedChain
from peergrid.ledger.chain.compile import compile_contract
from peergrid.ledger.markets.asset_funding import SCALE, AssetFundingLedger, SalePhase

from .helpers import reverts

PRICE = 1_000_000  # one currency unit per share
DAY = 86_400


@dataclass
class Sale:
    chain: Chain
    ledger: AssetFundingLedger
    operator: str
    members: list[str]
    outsider: str

    def state(self) -> tuple[object, ...]:
        lg = self.ledger
        people = [*self.members, self.operator, self.outsider]
        return (
            lg.total_shares(),
            tuple((lg.shares_of(a), lg.accrued(a), lg.token_balance(a)) for a in people),
            lg.carry(),
            lg.raised_withdrawn(),
            lg.token_balance(lg.sale.address),
        )

    def check_money(self) -> None:
        """tokens * SCALE == (raised still held) * SCALE + holders' revenue + carry, exactly."""
        lg = self.ledger
        held = 0 if lg.raised_withdrawn() else lg.total_shares() * PRICE
        revenue = sum(lg.accrued(a) for a in [*self.members, self.outsider, self.operator])
        assert lg.token_balance(lg.sale.address) * SCALE == held * SCALE + revenue + lg.carry()


def open_sale(n: int = 3, *, target: int = 10, cap: int = 20, chain: Chain | None = None) -> Sale:
    chain = chain or EmbeddedChain()
    operator, issuer = chain.new_account("operator"), chain.new_account("issuer")
    token = chain.deploy(
        issuer,
        compile_contract("SettlementToken"),
        "peergrid settlement token",
        "PGS",
        issuer,
        10**18,
    )
    ledger = AssetFundingLedger.deploy(
        chain,
        token,
        operator=operator,
        share_price=PRICE,
        target=target,
        cap=cap,
        deadline=chain.timestamp() + DAY,
    )
    members = [chain.new_account(f"member-{i}") for i in range(n)]
    outsider = chain.new_account("outsider")
    for account in [operator, *members, outsider]:
        chain.transact(issuer, token, "transfer", account, 10**12)
    return Sale(chain, ledger, operator, members, outsider)


def test_successful_sale_and_revenue() -> None:
    successful_sale(open_sale())


@pytest.mark.slow
def test_successful_sale_on_anvil(rpc_chain: Chain) -> None:
    successful_sale(open_sale(chain=rpc_chain))


def successful_sale(sale: Sale) -> None:
    lg, (a, b, c) = sale.ledger, sale.members
    lg.buy(a, 6)
    lg.buy(b, 3)
    lg.buy(c, 3)
    assert lg.phase() == SalePhase.OPEN
    sale.chain.advance_time(DAY)
    assert lg.phase() == SalePhase.SUCCEEDED
    lg.withdraw_raised()
    assert lg.token_balance(sale.operator) == 10**12 + 12 * PRICE
    lg.distribute(1_200_001)  # 12 shares: 100 000.08333 each
    assert lg.claimable(a) == 600_000 and lg.claimable(b) == 300_000
    lg.transfer(b, c, 3)  # b's earned revenue stays with b; the shares' future revenue moves
    lg.distribute(1_199_999)  # with the carried remainder: exactly 100 000 per share more
    assert lg.claimable(b) == 300_000
    # c: 3 shares of the first (300 000.25) and 6 of the second (599 999.75)
    assert lg.claimable(c) == 899_999
    assert lg.accrued(b) + lg.accrued(c) == (300_000 + 900_000) * SCALE  # no rounding lost
    assert lg.claimable(a) == 1_200_000
    lg.claim(a)
    assert lg.token_balance(a) == 10**12 - 6 * PRICE + 1_200_000
    assert lg.claimable(a) == 0
    assert lg.carry() == 0
    sale.check_money()


def test_failed_sale_refunds() -> None:
    sale = open_sale()
    lg, (a, b, _) = sale.ledger, sale.members
    lg.buy(a, 4)
    lg.buy(b, 5)
    with reverts("AssetFunding.refund", "sale still open"):
        lg.refund(a)
    sale.chain.advance_time(DAY)
    assert lg.phase() == SalePhase.FAILED
    lg.refund(a)
    assert lg.token_balance(a) == 10**12
    assert lg.shares_of(a) == 0 and lg.total_shares() == 5
    before = sale.state()
    with reverts("AssetFunding.refund", "no shares to refund"):
        lg.refund(a)
    with reverts("AssetFunding.withdraw_raised", "sale has not succeeded"):
        lg.withdraw_raised()
    with reverts("AssetFunding.transfer", "shares move only after a successful sale"):
        lg.transfer(b, a, 1)
    with reverts("AssetFunding.distribute", "sale has not succeeded"):
        lg.distribute(10)
    assert sale.state() == before
    sale.check_money()


def test_refusals_and_roles() -> None:
    sale = open_sale(target=2, cap=5)
    lg, (a, b, _) = sale.ledger, sale.members
    lg.buy(a, 4)
    before = sale.state()
    with reverts("AssetFunding.buy", "above the share cap"):
        lg.buy(b, 2)
    with reverts("AssetFunding.buy", "zero shares"):
        lg.buy(b, 0)
    with reverts("AssetFunding.transfer", "shares move only after a successful sale"):
        lg.transfer(a, b, 1)
    with reverts("AssetFunding.withdraw_raised", "sale has not succeeded"):
        lg.withdraw_raised()
    assert sale.state() == before
    sale.chain.advance_time(DAY)
    before = sale.state()
    with reverts("AssetFunding.buy", "sale closed"):
        lg.buy(b, 1)
    with reverts("AssetFunding.refund", "target reached: no refunds"):
        lg.refund(a)
    for caller in (a, sale.outsider):
        with reverts("AssetFunding.withdraw_raised", "caller is not the operator"):
            sale.chain.transact(caller, lg.sale, "withdraw_raised")
        with reverts("AssetFunding.distribute", "caller is not the operator"):
            sale.chain.transact(caller, lg.sale, "distribute", 10)
    with reverts("AssetFunding.transfer", "transfer above the balance"):
        lg.transfer(a, b, 5)
    with reverts("AssetFunding.transfer", "receiver is the zero address"):
        lg.transfer(a, "0x" + "00" * 20, 1)
    with reverts("AssetFunding.claim", "nothing to claim"):
        lg.claim(a)
    with reverts("AssetFunding.distribute", "zero amount"):
        sale.chain.transact(sale.operator, lg.sale, "distribute", 0)
    assert sale.state() == before
    lg.withdraw_raised()
    with reverts("AssetFunding.withdraw_raised", "raised funds already withdrawn"):
        lg.withdraw_raised()


def test_bad_deployment() -> None:
    chain = EmbeddedChain()
    operator = chain.new_account("operator")
    token = chain.deploy(operator, compile_contract("SettlementToken"), "t", "T", operator, 10**18)
    with pytest.raises(LedgerError, match="cap below the target"):
        AssetFundingLedger.deploy(
            chain,
            token,
            operator=operator,
            share_price=1,
            target=5,
            cap=4,
            deadline=chain.timestamp() + 10,
        )


operations = st.lists(
    st.tuples(
        st.sampled_from(["buy", "time", "refund", "withdraw", "transfer", "distribute", "claim"]),
        st.integers(0, 3),
        st.integers(0, 3),
        st.integers(1, 10**7),
    ),
    max_size=25,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_money_conserved(ops: list[tuple[str, int, int, int]]) -> None:
    sale = open_sale(n=4, target=6, cap=12)
    lg = sale.ledger
    people = sale.members
    claimed = 0
    for op, i, j, x in ops:
        who, other = people[i], people[j]
        try:
            if op == "buy":
                lg.buy(who, x % 5)
            elif op == "time":
                sale.chain.advance_time(DAY // 2)
            elif op == "refund":
                lg.refund(who)
            elif op == "withdraw":
                lg.withdraw_raised()
            elif op == "transfer":
                lg.transfer(who, other, x % 4)
            elif op == "distribute":
                lg.distribute(x)
            else:
                before = lg.token_balance(who)
                lg.claim(who)
                claimed += lg.token_balance(who) - before
        except LedgerError:
            pass
        sale.check_money()
    # every holder's claimable revenue is its pro rata share, never more than was paid in
    total_claimable = sum(lg.claimable(p) for p in people)
    assert claimed + total_claimable <= lg.distributed()
    assert lg.distributed() - claimed - total_claimable <= len(people)
