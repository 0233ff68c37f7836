"""The two-stage DR contract (``DrSettlement.vy``, 001a_book.md chapter 7) on chain.

The hand-worked slot of ``tests/mechanisms/test_dr_two_stage.py`` with its exact numbers; both
settlements equal to the off-chain mechanism on random books; every function's role; every
refusal a named revert that changes nothing; money conserved; the way out after the deadline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peergrid.ledger import Chain, EmbeddedChain
from peergrid.ledger.markets.dr_settlement import DrSettlementLedger, SlotPhase, merit_order
from peergrid.mechanisms.dr.two_stage import Bids, final_settlement, first_settlement

from .helpers import reverts

UP, ALPHA, PENALTY = 300_000, 1_200_000, 500_000
SLOT = 7
DEPOSIT = 10**9
WORKED = {
    "A": (5000, 0, 250_000),
    "B": (3000, 1000, 200_000),
    "C": (3000, 0, 100_000),
    "D": (0, 4000, 80_000),
    "E": (1000, 4000, 150_000),
    "F": (0, 2000, 220_000),
}


@dataclass
class Market:
    chain: Chain
    ledger: DrSettlementLedger
    operator: str
    prosumers: dict[str, str]
    outsider: str

    def state(self) -> tuple[object, ...]:
        accounts = [*self.prosumers.values(), self.operator]
        return (
            self.ledger.slot(SLOT),
            tuple(self.ledger.bid_of(SLOT, a) for a in accounts),
            tuple((self.ledger.balance_of(a), self.ledger.locked(a)) for a in accounts),
            self.ledger.total_balance(),
        )

    def tokens(self) -> int:
        accounts = [*self.prosumers.values(), self.operator, self.ledger.market.address]
        return sum(self.ledger.token_balance(a) for a in accounts)


def open_market(names: list[str], *, chain: Chain | None = None, deposit: int = DEPOSIT) -> Market:
    chain = chain or EmbeddedChain()
    operator, issuer = chain.new_account("operator"), chain.new_account("issuer")
    ledger = DrSettlementLedger.deploy(chain, operator=operator, issuer=issuer, supply_micro=10**18)
    prosumers = {name: chain.new_account(f"prosumer-{name}") for name in names}
    for account in [operator, *prosumers.values()]:
        if account != operator:
            ledger.register(account)
        ledger.fund(account, 10 * DEPOSIT)
        if deposit:
            ledger.deposit(account, deposit)
    ledger.open_slot(
        SLOT,
        upstream_price=UP,
        alpha=ALPHA,
        penalty_rate=PENALTY,
        settle_by=chain.timestamp() + 3600,
    )
    return Market(chain, ledger, operator, prosumers, chain.new_account("outsider"))


def place(market: Market, rows: dict[str, tuple[int, int, int]]) -> None:
    for name, (demand, supply, price) in rows.items():
        market.ledger.bid(market.prosumers[name], SLOT, demand=demand, price=price, supply=supply)


def test_worked_slot_on_chain() -> None:
    market = open_market(list(WORKED))
    place(market, WORKED)
    tokens = market.tokens()
    market.ledger.settle_first(SLOT)
    slot = market.ledger.slot(SLOT)
    assert (slot.phase, slot.price, slot.dr_price, slot.cleared) == (
        SlotPhase.RESCHEDULE,
        175_000,
        210_000,
        7000,
    )
    p = market.prosumers
    assert [market.ledger.bid_of(SLOT, p[n]).bought for n in "ABC"] == [5000, 2000, 0]
    assert [market.ledger.bid_of(SLOT, p[n]).sold for n in "DEF"] == [4000, 3000, 0]
    market.ledger.reschedule(p["B"], SLOT, 2500)
    market.ledger.reschedule(p["C"], SLOT, 2000)
    market.ledger.settle_final(SLOT, {p["D"]: 3500})
    changes = [market.ledger.bid_of(SLOT, p[n]).change for n in WORKED]
    assert changes == [-875_000, -192_570, -460_140, 362_500, 525_000, 0]
    assert market.ledger.slot(SLOT).operator_change == 640_210
    assert market.ledger.balance_of(market.operator) == DEPOSIT + 640_210
    assert market.ledger.bid_of(SLOT, p["D"]).penalty == 250_000
    assert [market.ledger.bid_of(SLOT, p[n]).dr_paid for n in "BC"] == [333, 666]
    # Money conserved; every reserve unlocked; the contract holds exactly the balances.
    assert market.tokens() == tokens
    assert all(market.ledger.locked(a) == 0 for a in p.values())
    assert market.ledger.total_balance() == market.ledger.token_balance(
        market.ledger.market.address
    )
    # Pull withdrawal of the whole free balance.
    before = market.ledger.token_balance(p["E"])
    market.ledger.withdraw(p["E"], DEPOSIT + 525_000)
    assert market.ledger.token_balance(p["E"]) == before + DEPOSIT + 525_000


book = st.integers(2, 7).flatmap(
    lambda n: st.tuples(
        *(
            st.lists(st.integers(lo, hi), min_size=n, max_size=n)
            for lo, hi in ((0, 5000), (0, 5000), (1, UP), (0, 5000), (0, 5000))
        )
    )
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book, st.integers(10**6, 2 * 10**6))
def test_both_settlements_equal_off_chain(rows: tuple[list[int], ...], alpha: int) -> None:
    d, r, p, cut, delivered_seed = (np.array(x, dtype=np.int64) for x in rows)
    names = [f"p{i}" for i in range(len(d))]
    market = open_market(names)
    market.ledger.set_alpha(SLOT, alpha)
    place(market, {n: (int(d[i]), int(r[i]), int(p[i])) for i, n in enumerate(names)})
    market.ledger.settle_first(SLOT)

    bids = Bids(d[None], r[None], p[None])
    first = first_settlement(bids, np.array([UP]), np.array([alpha]))
    slot = market.ledger.slot(SLOT)
    assert (slot.price, slot.dr_price, slot.cleared) == (
        first.price[0],
        first.dr_price[0],
        first.cleared_wh[0],
    )
    on_chain = [market.ledger.bid_of(SLOT, market.prosumers[n]) for n in names]
    assert [b.bought for b in on_chain] == first.bought_wh[0].tolist()
    assert [b.sold for b in on_chain] == first.sold_wh[0].tolist()

    new = d.copy()
    for i, n in enumerate(names):
        if d[i] > r[i]:
            new[i] = max(d[i] - cut[i], 0)
            market.ledger.reschedule(market.prosumers[n], SLOT, int(new[i]))
    delivered = np.minimum(delivered_seed, first.sold_wh[0])
    market.ledger.settle_final(
        SLOT,
        {
            market.prosumers[n]: int(delivered[i])
            for i, n in enumerate(names)
            if first.sold_wh[0, i] or r[i] > d[i]
        },
    )
    final = final_settlement(
        bids,
        first,
        np.array([UP]),
        np.array([PENALTY]),
        new_demand_wh=new[None],
        delivered_wh=delivered[None],
    )
    on_chain = [market.ledger.bid_of(SLOT, market.prosumers[n]) for n in names]
    assert [b.change for b in on_chain] == final.money[0].tolist()
    assert [b.dr_paid for b in on_chain] == final.dr_paid_wh[0].tolist()
    assert [b.imported for b in on_chain] == final.import_wh[0].tolist()
    assert market.ledger.slot(SLOT).operator_change == final.operator[0]


def test_roles_per_function() -> None:
    market = open_market(["A", "D"])
    ledger, a, out = market.ledger, market.prosumers["A"], market.outsider
    chain = market.chain
    before = market.state()
    operator_only = [
        ("register", (out,)),
        ("open_slot", (SLOT + 1, UP, ALPHA, PENALTY, chain.timestamp() + 10)),
        ("set_alpha", (SLOT, ALPHA)),
        ("settle_first", (SLOT, [], [])),
        ("settle_final", (SLOT, [], [], [])),
    ]
    for function, args in operator_only:
        for caller in (a, out):
            with reverts(f"DrSettlement.{function}", "caller is not the operator"):
                chain.transact(caller, ledger.market, function, *args)
    with reverts("DrSettlement.bid", "caller is not a registered prosumer"):
        chain.transact(out, ledger.market, "bid", SLOT, 1000, 1, 0)
    with reverts("DrSettlement.bid", "caller is not a registered prosumer"):
        chain.transact(market.operator, ledger.market, "bid", SLOT, 1000, 1, 0)
    with reverts("DrSettlement.deposit", "caller is not a participant"):
        chain.transact(out, ledger.market, "deposit", 1)
    assert market.state() == before


def test_named_reverts_change_nothing() -> None:
    market = open_market(["A", "B", "D"], deposit=0)
    ledger, p, chain = market.ledger, market.prosumers, market.chain
    ledger.deposit(p["A"], 10**6)
    ledger.deposit(p["D"], DEPOSIT)
    before = market.state()
    cases: list[tuple[str, str, tuple[object, ...], str]] = [
        (
            "open_slot",
            market.operator,
            (SLOT, UP, ALPHA, 0, chain.timestamp() + 10),
            "slot already open",
        ),
        (
            "open_slot",
            market.operator,
            (9, UP, 999_999, 0, chain.timestamp() + 10),
            "alpha below 1",
        ),
        (
            "open_slot",
            market.operator,
            (9, UP, ALPHA, -1, chain.timestamp() + 10),
            "penalty rate is negative",
        ),
        (
            "open_slot",
            market.operator,
            (9, 0, ALPHA, 0, chain.timestamp() + 10),
            "zero upstream price",
        ),
        ("set_alpha", market.operator, (SLOT, 999_999), "alpha below 1"),
        ("bid", p["A"], (SLOT, 1000, UP + 1, 0), "price above the upstream price"),
        ("bid", p["A"], (SLOT, 5000, 1, 0), "deposit does not cover the bid"),
        ("bid", p["B"], (SLOT, 1000, 1, 0), "deposit does not cover the bid"),
        ("bid", p["A"], (SLOT, 2**48, 1, 0), "quantity out of range"),
        ("withdraw", p["A"], (10**6 + 1,), "amount above the free balance"),
        ("withdraw", p["A"], (0,), "zero amount"),
        ("reschedule", p["A"], (SLOT, 0), "slot not open for rescheduling"),
        (
            "settle_final",
            market.operator,
            (SLOT, [], [], []),
            "slot not awaiting its final settlement",
        ),
        ("release", p["A"], (SLOT,), "caller has no bid in this slot"),
    ]
    for function, caller, args, reason in cases:
        with reverts(f"DrSettlement.{function}", reason):
            chain.transact(caller, ledger.market, function, *args)
    assert market.state() == before

    ledger.bid(p["A"], SLOT, demand=3000, price=200_000, supply=0)  # locks 900 000
    ledger.bid(p["D"], SLOT, demand=0, price=100_000, supply=4000)
    assert ledger.locked(p["A"]) == 900_000 and ledger.locked(p["D"]) == 2_000_000
    before = market.state()
    for function, caller, args, reason in [
        ("bid", p["A"], (SLOT, 1000, 1, 0), "prosumer already bid in this slot"),
        ("withdraw", p["A"], (100_001,), "amount above the free balance"),
        ("settle_first", market.operator, (SLOT, [], [p["D"]]), "buyer list incomplete"),
        ("settle_first", market.operator, (SLOT, [p["D"]], [p["D"]]), "not a buyer in this slot"),
        ("settle_first", market.operator, (SLOT, [p["A"]], [p["A"]]), "not a seller in this slot"),
        ("release", p["A"], (SLOT,), "settlement deadline not reached"),
    ]:
        with reverts(f"DrSettlement.{function}", reason):
            chain.transact(caller, ledger.market, function, *args)
    assert market.state() == before
    ledger.settle_first(SLOT)
    before = market.state()
    for function, caller, args, reason in [
        ("reschedule", p["A"], (SLOT, 3001), "rescheduled demand above the bid"),
        ("reschedule", p["D"], (SLOT, 0), "caller is not a buyer in this slot"),
        (
            "settle_final",
            market.operator,
            (SLOT, [p["A"]], [p["D"]], []),
            "one delivery per seller",
        ),
        ("bid", p["B"], (SLOT, 1000, 1, 0), "slot not open for bids"),
    ]:
        with reverts(f"DrSettlement.{function}", reason):
            chain.transact(caller, ledger.market, function, *args)
    assert market.state() == before


def test_sorting_is_checked() -> None:
    rows = {"A": (2000, 0, 100_000), "B": (2000, 0, 200_000), "C": (2000, 0, 200_000)}
    market = open_market(list(rows))
    place(market, rows)
    p = market.prosumers
    for order in ([p["A"], p["B"], p["C"]], [p["C"], p["B"], p["A"]], [p["B"], p["B"], p["A"]]):
        with reverts("DrSettlement.settle_first", "buyers out of order"):
            market.chain.transact(
                market.operator, market.ledger.market, "settle_first", SLOT, order, []
            )
    assert merit_order(market.ledger.bids(SLOT), buying=True) == [p["B"], p["C"], p["A"]]


def test_the_operator_must_fund_dr_payments() -> None:
    rows = {"A": (3000, 0, 200_000), "D": (0, 1000, 100_000)}
    market = open_market(list(rows), deposit=0)
    ledger, p = market.ledger, market.prosumers
    for name in rows:
        ledger.deposit(p[name], DEPOSIT)
    place(market, rows)
    ledger.settle_first(SLOT)
    ledger.reschedule(p["A"], SLOT, 1000)  # 2000 Wh of DR against a 2000 Wh deficit
    # D delivers its 1000 Wh to A: no import, no penalty; the operator owes 2000 Wh x 0.18 of DR
    # payments and has deposited nothing.
    before = market.state()
    with reverts("DrSettlement.settle_final", "operator cannot fund the settlement"):
        market.chain.transact(
            market.operator, ledger.market, "settle_final", SLOT, [p["A"]], [p["D"]], [1000]
        )
    assert market.state() == before


def test_release_after_the_deadline() -> None:
    market = open_market(["A"])
    a = market.prosumers["A"]
    market.ledger.bid(a, SLOT, demand=2000, price=100_000, supply=0)
    assert market.ledger.free_balance(a) == DEPOSIT - 600_000
    market.chain.advance_time(3600)
    with reverts("DrSettlement.settle_first", "settlement deadline passed"):
        market.ledger.settle_first(SLOT)
    market.ledger.release(a, SLOT)
    assert market.ledger.free_balance(a) == DEPOSIT
    with reverts("DrSettlement.release", "reserve already released"):
        market.ledger.release(a, SLOT)
    market.ledger.withdraw(a, DEPOSIT)
    assert market.ledger.balance_of(a) == 0


@pytest.mark.slow
def test_worked_slot_on_anvil() -> None:
    from peergrid.ledger.chain.anvil import AnvilError
    from peergrid.ledger.chain.managed import ManagedAnvilChain

    try:
        chain = ManagedAnvilChain()
    except AnvilError as exc:
        pytest.skip(str(exc))
    with chain:
        market = open_market(list(WORKED), chain=chain)
        place(market, WORKED)
        market.ledger.settle_first(SLOT)
        assert market.ledger.slot(SLOT).price == 175_000
        p = market.prosumers
        market.ledger.reschedule(p["B"], SLOT, 2500)
        market.ledger.reschedule(p["C"], SLOT, 2000)
        market.ledger.settle_final(SLOT, {p["D"]: 3500})
        assert market.ledger.slot(SLOT).operator_change == 640_210
