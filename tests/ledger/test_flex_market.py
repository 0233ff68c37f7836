"""The DSO's flexibility market (``FlexMarket.vy``) on chain.

The worked need of ``tests/mechanisms/test_flexibility.py`` in the contract's integers; every
role check and refusal a named revert that changes nothing; the on-chain clearing equal to the
off-chain mechanism on random books; money conserved under random sequences of operations.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peergrid.core.errors import LedgerError
from peergrid.ledger import Chain, EmbeddedChain
from peergrid.ledger.markets.flex_market import DOWN, UP, FlexMarketLedger, NeedPhase
from peergrid.mechanisms.flexibility import FlexNeed, FlexOffer, clear_need

from .helpers import reverts

DEPOSIT = 10**9
PENALTY = 100_000  # micro-currency per kWh
WEIGHTS = {1: 1_000_000, 2: 500_000}
FAR = 2**40  # a settlement deadline far ahead


@dataclass
class Market:
    chain: Chain
    ledger: FlexMarketLedger
    dso: str
    meter: str
    members: dict[str, str]  # name -> address
    outsider: str

    def accounts(self) -> list[str]:
        return [*self.members.values(), self.dso]

    def state(self, need: int = 1) -> tuple[object, ...]:
        ledger = self.ledger
        return (
            ledger.need(need),
            tuple(ledger.offers(need)),
            tuple((ledger.balance_of(a), ledger.locked(a)) for a in self.accounts()),
            ledger.total_balance(),
        )

    def check_money(self) -> None:
        ledger = self.ledger
        balances = [ledger.balance_of(a) for a in self.accounts()]
        assert sum(balances) == ledger.total_balance()
        assert ledger.total_balance() == ledger.token_balance(ledger.market.address)
        for a, b in zip(self.accounts(), balances, strict=True):
            assert ledger.locked(a) <= b


def open_market(buses: dict[str, int], *, chain: Chain | None = None) -> Market:
    chain = chain or EmbeddedChain()
    dso, meter, issuer = (chain.new_account(n) for n in ("dso", "meter", "issuer"))
    ledger = FlexMarketLedger.deploy(
        chain, dso=dso, meter_operator=meter, issuer=issuer, supply_micro=10**18
    )
    members = {name: chain.new_account(f"member-{name}") for name in buses}
    for name, account in members.items():
        ledger.register(account, buses[name])
    for account in [dso, *members.values()]:
        ledger.fund(account, 10 * DEPOSIT)
        ledger.deposit(account, DEPOSIT)
    return Market(chain, ledger, dso, meter, members, chain.new_account("outsider"))


def post(market: Market, *, need_wh: int = 2500, max_price: int = 300_000) -> int:
    need, _ = market.ledger.post_need(
        slot=72,
        direction=DOWN,
        need_wh=need_wh,
        max_price=max_price,
        penalty_rate=PENALTY,
        weights=WEIGHTS,
    )
    return need


@pytest.fixture
def market() -> Market:
    return open_market({"A": 1, "B": 2, "far": 9})


def test_worked_need(market: Market) -> None:
    worked_need(market)


@pytest.mark.slow
def test_worked_need_on_anvil(rpc_chain: Chain) -> None:
    worked_need(open_market({"A": 1, "B": 2, "far": 9}, chain=rpc_chain))


def worked_need(market: Market) -> None:
    ledger, m = market.ledger, market.members
    need = post(market)
    # 8 kW over a quarter hour each: A at bus 1 (weight 1), B at bus 2 (weight 0.5)
    a, _ = ledger.offer(m["A"], need, wh=2000, price=200_000, kind="battery")
    b, _ = ledger.offer(m["B"], need, wh=2000, price=80_000, kind="ev")
    assert ledger.locked(m["A"]) == 2000 * PENALTY // 1000
    ledger.award(need)
    # B first (160 000 per effective kWh): 1000 effective Wh; A the remaining 1500 in part
    assert ledger.offer_of(need, b).awarded_wh == 2000
    assert ledger.offer_of(need, a).awarded_wh == 1500
    state = ledger.need(need)
    assert (state.phase, state.covered_wh) == (NeedPhase.AWARDED, 2500)
    assert state.escrow == 2000 * 80_000 // 1000 + 1500 * 200_000 // 1000 == 460_000  # 0.46
    assert ledger.locked(market.dso) == 460_000
    assert ledger.locked(m["A"]) == 1500 * PENALTY // 1000  # the rest released at the award
    # B delivers in full; A only 1000 of its 1500 Wh
    ledger.settle(need, {a: (2000, 1000), b: (3000, 1000)})
    assert ledger.offer_of(need, b).payment == 160_000
    assert ledger.offer_of(need, a).payment == 200_000
    assert ledger.offer_of(need, a).penalty == 500 * PENALTY // 1000 == 50_000
    assert ledger.balance_of(m["A"]) == DEPOSIT + 200_000 - 50_000
    assert ledger.balance_of(m["B"]) == DEPOSIT + 160_000
    assert ledger.balance_of(market.dso) == DEPOSIT - 360_000 + 50_000
    assert all(ledger.locked(x) == 0 for x in market.accounts())
    assert ledger.need(need).phase == NeedPhase.SETTLED
    market.check_money()


def test_up_need_counts_more_drawn(market: Market) -> None:
    ledger, m = market.ledger, market.members
    need, _ = ledger.post_need(
        slot=1, direction=UP, need_wh=1000, max_price=10, penalty_rate=0, weights={1: 10**6}
    )
    k, _ = ledger.offer(m["A"], need, wh=1000, price=10, kind="battery")
    ledger.award(need)
    ledger.settle(need, {k: (500, 1300)})
    assert ledger.offer_of(need, k).delivered_wh == 800


def test_roles(market: Market) -> None:
    ledger, m, out = market.ledger, market.members, market.outsider
    need = post(market)
    k, _ = ledger.offer(m["A"], need, wh=1000, price=100_000, kind="battery")
    before = market.state()
    chain, contract = market.chain, ledger.market
    for caller in (out, m["A"], market.meter):
        with reverts("FlexMarket.register", "caller is not the DSO"):
            chain.transact(caller, contract, "register", out, 3)
        with reverts("FlexMarket.post_need", "caller is not the DSO"):
            chain.transact(caller, contract, "post_need", 1, 0, 10, 10, 10, FAR, [1], [10**6])
        with reverts("FlexMarket.award", "caller is not the DSO"):
            chain.transact(caller, contract, "award", need, [k])
    for caller in (out, m["A"], market.dso):
        with reverts("FlexMarket.settle", "caller is not the meter operator"):
            chain.transact(caller, contract, "settle", need, [], [], [])
    for caller in (out, market.dso, market.meter):
        with reverts("FlexMarket.offer", "caller is not a member"):
            chain.transact(caller, contract, "offer", need, 1000, 10, 0)
    with reverts("FlexMarket.deposit", "caller is not a participant"):
        chain.transact(out, contract, "deposit", 10)
    assert market.state() == before


def test_refusals(market: Market) -> None:
    ledger, m = market.ledger, market.members
    need = post(market)
    chain, contract, dso = market.chain, ledger.market, market.dso
    before = market.state()
    with reverts("FlexMarket.offer", "bus outside the need's area"):
        ledger.offer(m["far"], need, wh=1000, price=1, kind="ev")
    with reverts("FlexMarket.offer", "price above the need's maximum"):
        ledger.offer(m["A"], need, wh=1000, price=300_001, kind="ev")
    with reverts("FlexMarket.offer", "zero offer"):
        ledger.offer(m["A"], need, wh=0, price=1, kind="ev")
    with reverts("FlexMarket.offer", "unknown asset kind"):
        chain.transact(m["A"], contract, "offer", need, 10, 1, 3)
    with reverts("FlexMarket.offer", "collateral above the free balance"):
        ledger.offer(m["A"], need, wh=2**47, price=1, kind="ev")
    with reverts("FlexMarket.offer", "need not open for offers"):
        ledger.offer(m["A"], 99, wh=10, price=1, kind="ev")
    with reverts("FlexMarket.register", "member already registered"):
        ledger.register(m["A"], 4)
    with reverts("FlexMarket.register", "bus out of range"):
        ledger.register(market.outsider, 2**64 - 1)
    with reverts("FlexMarket.post_need", "weight not in 0.5..1"):
        chain.transact(dso, contract, "post_need", 1, 0, 10, 10, 10, FAR, [1], [499_999])
    with reverts("FlexMarket.post_need", "bus listed twice"):
        chain.transact(dso, contract, "post_need", 1, 0, 10, 10, 10, FAR, [1, 1], [10**6, 10**6])
    with reverts("FlexMarket.post_need", "direction not down or up"):
        chain.transact(dso, contract, "post_need", 1, 2, 10, 10, 10, FAR, [1], [10**6])
    with reverts("FlexMarket.settle", "need not awarded"):
        chain.transact(market.meter, contract, "settle", need, [], [], [])
    assert market.state() == before
    a, _ = ledger.offer(m["A"], need, wh=1000, price=200_000, kind="battery")
    b, _ = ledger.offer(m["B"], need, wh=1000, price=50_000, kind="ev")  # key 100 000: first
    before = market.state()
    with reverts("FlexMarket.award", "order is not the merit order"):
        chain.transact(dso, contract, "award", need, [a, b])
    with reverts("FlexMarket.award", "order is not the merit order"):
        chain.transact(dso, contract, "award", need, [b, b])
    with reverts("FlexMarket.award", "order does not list every offer"):
        chain.transact(dso, contract, "award", need, [b])
    with reverts("FlexMarket.award", "no such offer"):
        chain.transact(dso, contract, "award", need, [b, 7])
    assert market.state() == before
    ledger.withdraw(dso, DEPOSIT)  # the DSO cannot fund the escrow any more
    before = market.state()
    with reverts("FlexMarket.award", "escrow above the DSO's free balance"):
        ledger.award(need)
    assert market.state() == before
    ledger.deposit(dso, DEPOSIT)
    ledger.award(need)
    before = market.state()
    with reverts("FlexMarket.settle", "settlement does not list every award"):
        ledger.settle(need, {a: (1000, 0)})
    with reverts("FlexMarket.settle", "offers not in increasing order"):
        chain.transact(market.meter, contract, "settle", need, [b, a], [0, 0], [0, 0])
    with reverts("FlexMarket.offer", "need not open for offers"):
        ledger.offer(m["A"], need, wh=10, price=1, kind="ev")
    with reverts("FlexMarket.withdraw", "amount above the free balance"):
        ledger.withdraw(m["A"], DEPOSIT)
    assert market.state() == before


def test_deadline_and_release(market: Market) -> None:
    ledger, m, chain = market.ledger, market.members, market.chain
    with reverts("FlexMarket.post_need", "settlement deadline passed"):
        ledger.post_need(
            slot=1, direction=DOWN, need_wh=10, max_price=10, penalty_rate=PENALTY,
            weights=WEIGHTS, settle_by=chain.timestamp(),
        )  # fmt: skip
    need = post(market)
    ledger.offer(m["A"], need, wh=2000, price=200_000, kind="battery")
    ledger.offer(m["B"], need, wh=2000, price=80_000, kind="ev")
    ledger.award(need)
    with reverts("FlexMarket.release", "settlement deadline not passed"):
        ledger.release(market.outsider, need)
    chain.advance_time(86_400)
    before = market.state()
    with reverts("FlexMarket.settle", "settlement deadline passed"):
        ledger.settle(need, {1: (0, 0), 2: (0, 0)})
    assert market.state() == before
    ledger.release(market.outsider, need)  # anyone
    assert ledger.need(need).phase == NeedPhase.RELEASED
    assert all(ledger.locked(x) == 0 for x in market.accounts())
    assert all(ledger.balance_of(x) == DEPOSIT for x in market.accounts())
    with reverts("FlexMarket.release", "need not open or awarded"):
        ledger.release(market.outsider, need)
    # an open need past its deadline: no award, its offers' collateral released
    need = post(market)
    ledger.offer(m["A"], need, wh=1000, price=1, kind="ev")
    chain.advance_time(86_400)
    with reverts("FlexMarket.award", "settlement deadline passed"):
        ledger.award(need)
    ledger.release(m["A"], need)
    assert ledger.locked(m["A"]) == 0
    market.check_money()


books = st.lists(
    st.tuples(st.sampled_from(["A", "B"]), st.integers(1, 5000), st.integers(0, 300_000)),
    max_size=8,
)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(books, st.integers(1, 12_000))
def test_clearing_equals_the_mechanism(book: list[tuple[str, int, int]], need_wh: int) -> None:
    market = open_market({"A": 1, "B": 2})
    ledger = market.ledger
    need = post(market, need_wh=need_wh)
    offers = []
    for i, (name, wh, price) in enumerate(book):
        ledger.offer(market.members[name], need, wh=wh, price=price, kind="battery")
        bus = 1 if name == "A" else 2
        offers.append(FlexOffer(str(i + 1), name, bus, wh, price / 1000, "battery"))
    ledger.award(need)
    expected = clear_need(
        FlexNeed("n", 72, "down", need_wh, 300.0, {b: w / 10**6 for b, w in WEIGHTS.items()}),
        offers,
    )
    on_chain = {k: o.awarded_wh for k, o in enumerate(ledger.offers(need), start=1)}
    off_chain = {int(a.offer.id): a.kw for a in expected.awards}
    # on chain each offer's effective Wh is rounded down (by less than 1 Wh), and the marginal
    # award too (by less than 1 / weight <= 2 Wh): the differences add up over the offers
    tol = 2.0 * (len(book) + 1)
    for k, wh in on_chain.items():
        assert wh == pytest.approx(off_chain.get(k, 0.0), abs=tol)
    covered = ledger.need(need).covered_wh
    assert covered <= need_wh
    assert covered == pytest.approx(expected.covered_kw, abs=len(book) + 1)


operations = st.lists(
    st.tuples(
        st.sampled_from(
            ["post", "offer", "award", "settle", "withdraw", "deposit", "time", "release"]
        ),
        st.sampled_from(["A", "B", "far"]),
        st.integers(0, 6000),
        st.integers(0, 400_000),
    ),
    max_size=20,
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_money_conserved(ops: list[tuple[str, str, int, int]]) -> None:
    market = open_market({"A": 1, "B": 2, "far": 9})
    ledger = market.ledger
    deposited = ledger.total_balance()
    for op, name, x, y in ops:
        member = market.members[name]
        need = ledger.chain.call(ledger.market, "need_count")
        try:
            if op == "post":
                post(market, need_wh=max(x, 1), max_price=y)
            elif op == "offer":
                ledger.offer(member, need, wh=x, price=y, kind="ev")
            elif op == "award":
                ledger.award(need)
            elif op == "settle":
                readings = {
                    k: (x, y % 7000)
                    for k, o in enumerate(ledger.offers(need), start=1)
                    if o.awarded_wh
                }
                ledger.settle(need, readings)
            elif op == "time":
                market.chain.advance_time(x * 30)
            elif op == "release":
                ledger.release(member, need)
            elif op == "withdraw":
                ledger.withdraw(member if y % 2 else market.dso, max(x, 1))
                deposited -= max(x, 1)
            else:
                ledger.deposit(member, max(x, 1))
                deposited += max(x, 1)
        except LedgerError:
            pass
        market.check_money()
        assert ledger.total_balance() == deposited
