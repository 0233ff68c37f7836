"""Security of the market contracts: roles, money conservation, replays, bounds, reentrancy.

* Every state-changing function checks its role in the contract, and a wrong caller changes
  nothing.
* Random call sequences (hypothesis) keep money constant and every balance non-negative, every
  escrow equal to what the open orders can still cost, the books sorted and never crossed, and
  trade exactly as a reference continuous double auction written in Python.
* Replayed reveals and commitments, reveals in another slot and duplicate order ids are refused.
* Values that would overflow are refused with a reason, raised as :class:`LedgerError` naming
  the call.
* Reentrancy through a hostile token is refused (pull payments, checks and effects first,
  ``@nonreentrant``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from peergrid.core.errors import LedgerError
from peergrid.ledger import (
    BatchMarketLedger,
    EmbeddedChain,
    Fill,
    Pool,
    Role,
    RoleGrant,
    SealedOrder,
)
from peergrid.ledger.chain.compile import compile_contract
from peergrid.ledger.markets.batch_market import clear
from peergrid.ledger.markets.escrow import fill_payment, lock_micro
from peergrid.ledger.markets.orderbook import pack_ticket

from .helpers import reverts
from .market_helpers import (
    FEE,
    FUNDS_MICRO,
    ORDERS,
    PENALTY,
    SLOT,
    Batch,
    Book,
    make_batch,
    make_book,
    revealed_slot,
    sealed,
)

SENDERS = ("operator", "dso", "prosumer", "meter", "outsider")


def sender_of(market: Batch | Book, label: str) -> str:
    if label == "prosumer":
        return market.members[0]
    if label == "another prosumer":
        return market.members[1]
    return str(getattr(market, label))


def state_of(market: Batch | Book) -> tuple[Any, ...]:
    """Everything a wrong caller could have changed."""
    return (market.balances(), market.locked(), market.escrow.total_internal_balance())


# --- roles ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Guarded:
    function: str
    args: Callable[[Any], tuple[Any, ...]]
    allowed: str
    reason: str


BATCH_GUARDS = [
    Guarded("set_rates", lambda m: (1, 1, 1), "dso", "caller is not the dso"),
    Guarded("open_slot", lambda m: (SLOT + 1,), "operator", "caller is not the operator"),
    Guarded("start_reveal", lambda m: (SLOT,), "operator", "caller is not the operator"),
    Guarded(
        "commit",
        lambda m: (SLOT, b"\x09" * 32, b"\x09" * 32),
        "prosumer",
        "caller is not a prosumer",
    ),
    Guarded(
        "reveal",
        lambda m: (SLOT, ORDERS[0].order_id, False, 3000, 100_000, ORDERS[0].salt),
        "prosumer",
        "caller is not a prosumer",
    ),
    Guarded("post_clearing", lambda m: (SLOT, [], True), "operator", "caller is not the operator"),
    Guarded("post_readings", lambda m: (SLOT, []), "meter", "caller is not a meter"),
]


@pytest.mark.parametrize("guard", BATCH_GUARDS, ids=lambda g: g.function)
def test_every_batch_market_function_checks_its_role(guard: Guarded) -> None:
    market = make_batch(fee_micro_per_kwh=FEE, clearing_deadline_s=60)
    market.ledger.open_slot(SLOT)
    market.ledger.commit(market.members[0], SLOT, ORDERS[0])
    if guard.function == "reclaim":
        # The owner of order 0 is the first prosumer; the deadline has passed.
        market.ledger.start_reveal(SLOT)
        market.ledger.reveal(market.members[0], SLOT, ORDERS[0])
        market.chain.advance_time(60)
    before = (state_of(market), market.ledger.slot_info(SLOT))
    others = [s for s in SENDERS if s != guard.allowed]
    if guard.allowed == "owner":  # the order's owner is the prosumer; any other account fails
        others = [s for s in SENDERS if s != "prosumer"] + ["another prosumer"]
    for label in others:
        with reverts(f"BatchMarket.{guard.function}", guard.reason):
            market.chain.transact(
                sender_of(market, label), market.ledger.market, guard.function, *guard.args(market)
            )
    assert (state_of(market), market.ledger.slot_info(SLOT)) == before


BOOK_GUARDS = [
    Guarded("set_fee_rate", lambda m: (1,), "dso", "caller is not the dso"),
    Guarded("set_nodes", lambda m: ([(m.members[0], 1)],), "dso", "caller is not the dso"),
    Guarded("set_distances", lambda m: ([(1, 2, 3)],), "dso", "caller is not the dso"),
    Guarded("open_session", lambda m: (2, False), "operator", "caller is not the operator"),
    Guarded("close_session", lambda m: (1,), "operator", "caller is not the operator"),
    Guarded(
        "place",
        lambda m: (pack_ticket(1, Pool.UP, False, 100, 1, max_fills=8),),
        "prosumer",
        "caller is not a prosumer",
    ),
]


@pytest.mark.parametrize("guard", BOOK_GUARDS, ids=lambda g: g.function)
def test_every_order_book_function_checks_its_role(guard: Guarded) -> None:
    market = make_book()
    before = (state_of(market), market.ledger.book(1, Pool.UP))
    for label in SENDERS:
        if label == guard.allowed:
            continue
        with reverts(f"OrderBook.{guard.function}", guard.reason):
            market.chain.transact(
                sender_of(market, label), market.ledger.market, guard.function, *guard.args(market)
            )
    assert (state_of(market), market.ledger.book(1, Pool.UP)) == before


def test_only_members_deposit_and_nobody_withdraws_anothers_money() -> None:
    market = make_batch(n_members=2)
    a, b = market.members
    market.escrow.fund(market.outsider, 1000)
    with reverts("BatchMarket.deposit", "caller is not a member"):
        market.escrow.deposit(market.outsider, 1000)
    # the contract holds 2 000 currency units, a holds half: a cannot take b's half
    with reverts("BatchMarket.withdraw", "free balance too low"):
        market.escrow.withdraw(a, FUNDS_MICRO + 1)
    with reverts("BatchMarket.withdraw", "free balance too low"):
        market.escrow.withdraw(market.outsider, 1)
    with reverts("BatchMarket.withdraw", "zero amount"):
        market.escrow.withdraw(a, 0)
    assert market.escrow.balance_of(b) == FUNDS_MICRO
    # no function pays out to another account: the one withdrawal takes an amount only
    for name in ("BatchMarket", "OrderBook"):
        functions = [f for f in compile_contract(name).abi if f.get("type") == "function"]
        payouts = [f for f in functions if "withdraw" in f["name"]]
        assert [(f["name"], [i["type"] for i in f["inputs"]]) for f in payouts] == [
            ("withdraw", ["uint256"])
        ]


def test_a_prosumer_cannot_post_a_clearing_that_pays_itself() -> None:
    market = revealed_slot(make_batch(fee_micro_per_kwh=FEE))
    for last in (False, True):
        with reverts("BatchMarket.post_clearing", "caller is not the operator"):
            market.chain.transact(
                market.members[0],
                market.ledger.market,
                "post_clearing",
                SLOT,
                [Fill(2, 0, 2500, 200_000).packed()],
                last,
            )


# --- replays and duplicates ---------------------------------------------------------------------


def test_replays_across_calls_and_slots_are_refused() -> None:
    market = make_batch()
    ledger, a, b = market.ledger, *market.members[:2]
    order = sealed("x", True, 1000, 100_000)
    ledger.open_slot(SLOT)
    ledger.open_slot(SLOT + 1)
    ledger.commit(a, SLOT, order)
    with reverts("BatchMarket.commit", "order id already committed"):
        ledger.commit(a, SLOT, order)  # the same transaction again
    ledger.commit(b, SLOT + 1, sealed("x", False, 5, 5))  # ids are per slot and member
    # a's commitment of SLOT sent again in SLOT + 1: accepted, but it cannot be revealed there
    market.chain.transact(
        a, ledger.market, "commit", SLOT + 1, order.order_id, order.commitment(SLOT, a)
    )
    ledger.start_reveal(SLOT)
    ledger.start_reveal(SLOT + 1)
    ledger.reveal(a, SLOT, order)
    with reverts("BatchMarket.reveal", "no commitment under this order id"):
        ledger.reveal(a, SLOT, order)
    with reverts("BatchMarket.reveal", "reveal does not match the commitment"):
        ledger.reveal(a, SLOT + 1, order)  # the commitment binds its slot
    assert ledger.slot_info(SLOT).order_count == 1
    assert ledger.slot_info(SLOT + 1).order_count == 0


# --- bounds: overflow is refused with a reason --------------------------------------------------


def test_values_that_would_overflow_are_refused_with_a_reason() -> None:
    market = make_batch(fee_micro_per_kwh=FEE)
    ledger, (a, b, c, _) = market.ledger, market.members
    huge_q = SealedOrder(b"\x01" * 32, True, 2**32, 1, b"\x02" * 32)
    huge_p = SealedOrder(b"\x03" * 32, False, 1, 2**32, b"\x04" * 32)
    buy, sell = sealed("buy", True, 10, 10), sealed("sell", False, 10, 5)
    ledger.open_slot(SLOT)
    for member, order in ((a, huge_q), (b, huge_p), (c, buy), (b, sell)):
        ledger.commit(member, SLOT, order)
    ledger.start_reveal(SLOT)
    cases: list[tuple[Callable[[], object], str, str]] = [
        (lambda: ledger.reveal(a, SLOT, huge_q), "BatchMarket.reveal", "quantity out of range"),
        (lambda: ledger.reveal(b, SLOT, huge_p), "BatchMarket.reveal", "price out of range"),
        (lambda: ledger.open_slot(2**32 - 1), "BatchMarket.open_slot", "slot out of range"),
        (lambda: ledger.set_rates(2**32, 0, 0), "BatchMarket.set_rates", "fee rate out of range"),
        (
            lambda: ledger.set_rates(0, 2**32, 0),
            "BatchMarket.set_rates",
            "penalty rate out of range",
        ),
        (
            lambda: ledger.set_rates(0, 0, 2**32),
            "BatchMarket.set_rates",
            "distance charge rate out of range",
        ),
    ]
    for action, call, reason in cases:
        with pytest.raises(LedgerError) as info:
            action()
        assert (info.value.call, info.value.reason) == (call, reason)
        assert str(info.value) == f"{call}: {reason}"
    ledger.reveal(c, SLOT, buy)
    ledger.reveal(b, SLOT, sell)
    # fills whose products would overflow are refused by the checks before any product
    with reverts("BatchMarket.post_clearing", "price above the buyer's limit"):
        ledger.post_clearing(SLOT, [Fill(0, 1, 1, 2**256 - 1)])
    with reverts("BatchMarket.post_clearing", "energy out of range"):
        ledger.post_clearing(SLOT, [Fill(0, 1, 2**256 - 1, 10)])
    with reverts("BatchMarket.post_clearing", "fill names an unknown order"):
        ledger.post_clearing(SLOT, [Fill(0, 2**256 - 1, 1, 10)])
    # a negative amount never reaches the chain: the ABI refuses it, naming the call
    with pytest.raises(LedgerError, match=r"^BatchMarket.withdraw: bad argument"):
        market.escrow.withdraw(a, -1)


def test_the_vault_refuses_a_deposit_beyond_its_capacity() -> None:
    chain = EmbeddedChain()
    operator, dso, issuer, whale = (chain.new_account(n) for n in ("op", "dso", "issuer", "w"))
    ledger = BatchMarketLedger.deploy(
        chain, operator=operator, dso=dso, issuer=issuer, supply_micro=2**95
    )
    ledger.consortium.bootstrap([RoleGrant(whale, Role.PROSUMER)])
    ledger.escrow.fund(whale, 2**94)
    ledger.escrow.deposit(whale, 2**92 - 1)
    with reverts("BatchMarket.deposit", "deposit exceeds the vault's capacity"):
        ledger.escrow.deposit(whale, 1)
    assert ledger.escrow.balance_of(whale) == 2**92 - 1


def test_order_book_bounds_are_refused_with_a_reason() -> None:
    book = make_book()
    with reverts("OrderBook.open_session", "session out of range"):
        book.ledger.open_session(2**32)
    with reverts("OrderBook.set_nodes", "node out of range"):
        book.ledger.set_nodes({book.members[0]: 2**32})
    book.ledger.place(book.members[0], 1, Pool.UP, True, 1, 5)
    with reverts("OrderBook.place", "hint is not in this book"):
        book.ledger.place(book.members[0], 1, Pool.UP, True, 1, 1, hint=2**64 - 1)
    with reverts("OrderBook.place", "hint is not an order id"):
        book.ledger.place(book.members[0], 1, Pool.UP, True, 1, 1, hint=2**64)


# --- reentrancy -----------------------------------------------------------------------------------

EVIL_TOKEN = """
# pragma version ~=0.4.3
interface Hook:
    def on_tokens(amount: uint256): nonpayable

balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
hook: public(address)

@deploy
def __init__(supply: uint256):
    self.balanceOf[msg.sender] = supply

@external
def set_hook(hook: address):
    self.hook = hook

@external
def transfer(to: address, amount: uint256) -> bool:
    self.balanceOf[msg.sender] -= amount
    self.balanceOf[to] += amount
    if to == self.hook:
        extcall Hook(to).on_tokens(amount)
    return True

@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    self.allowance[owner][msg.sender] -= amount
    self.balanceOf[owner] -= amount
    self.balanceOf[to] += amount
    return True

@external
def approve(spender: address, amount: uint256) -> bool:
    self.allowance[msg.sender][spender] = amount
    return True
"""

ATTACKER = """
# pragma version ~=0.4.3
interface Market:
    def deposit(amount: uint256): nonpayable
    def withdraw(amount: uint256): nonpayable

interface Token:
    def approve(spender: address, amount: uint256) -> bool: nonpayable

market: public(address)
token: public(address)
reentered: public(bool)
reentry_succeeded: public(bool)

@deploy
def __init__(market: address, token: address):
    self.market = market
    self.token = token

@external
def join(amount: uint256):
    extcall Token(self.token).approve(self.market, amount)
    extcall Market(self.market).deposit(amount)

@external
def attack(amount: uint256):
    extcall Market(self.market).withdraw(amount)

@external
def on_tokens(amount: uint256):
    self.reentered = True
    self.reentry_succeeded = raw_call(
        self.market,
        abi_encode(amount, method_id=method_id("withdraw(uint256)")),
        revert_on_failure=False,
    )
"""


def test_a_reentrant_withdrawal_through_a_hostile_token_is_refused(tmp_path: Path) -> None:
    (tmp_path / "EvilToken.vy").write_text(EVIL_TOKEN)
    (tmp_path / "Attacker.vy").write_text(ATTACKER)
    cache = tmp_path / "cache"
    chain = EmbeddedChain()
    operator, dso, issuer, eoa, honest = (
        chain.new_account(n) for n in ("op", "dso", "issuer", "eoa", "honest")
    )
    token = chain.deploy(
        issuer, compile_contract("EvilToken", contracts_dir=tmp_path, cache_dir=cache), 10**12
    )
    ledger = BatchMarketLedger.deploy(
        chain, operator=operator, dso=dso, issuer=issuer, supply_micro=0, token=token
    )
    attacker = chain.deploy(
        eoa,
        compile_contract("Attacker", contracts_dir=tmp_path, cache_dir=cache),
        ledger.market.address,
        token.address,
    )
    ledger.consortium.bootstrap(
        [RoleGrant(attacker.address, Role.PROSUMER), RoleGrant(honest, Role.PROSUMER)]
    )
    ledger.escrow.fund(attacker.address, 1000)
    chain.transact(eoa, attacker, "join", 1000)
    ledger.escrow.fund(honest, 5000)
    ledger.escrow.deposit(honest, 5000)
    chain.transact(issuer, token, "set_hook", attacker.address)

    chain.transact(eoa, attacker, "attack", 1000)
    assert chain.call(attacker, "reentered")
    assert not chain.call(attacker, "reentry_succeeded")
    assert chain.call(token, "balanceOf", attacker.address) == 1000  # paid once
    assert ledger.escrow.held_tokens() == ledger.escrow.total_internal_balance() == 5000
    assert ledger.escrow.balance_of(honest) == 5000
    assert ledger.escrow.balance_of(attacker.address) == 0


# --- random call sequences: the batch market -----------------------------------------------------


@st.composite
def batch_rounds(draw: st.DrawFn) -> tuple[list[SealedOrder], list[Fill], list[int]]:
    """Orders of 5 members (one each); fills that mostly respect the orders, and sometimes break
    a rule (a price outside the limits, an overfill, a wrong side or index); readings."""
    sides = [draw(st.booleans()) for _ in range(5)]
    orders = [
        SealedOrder(
            bytes([i + 1]) * 32,
            is_buy,
            draw(st.integers(1, 5000)),
            draw(st.integers(100_000, 300_000) if is_buy else st.integers(50_000, 150_000)),
            bytes([i + 100]) * 32,
        )
        for i, is_buy in enumerate(sides)
    ]
    buys = [i for i, o in enumerate(orders) if o.is_buy]
    sells = [i for i, o in enumerate(orders) if not o.is_buy]
    fills: list[Fill] = []
    for _ in range(draw(st.integers(1, 6))):
        if not buys or not sells:
            break
        b, s = draw(st.sampled_from(buys)), draw(st.sampled_from(sells))
        low, high = orders[s].price_micro_per_kwh, orders[b].price_micro_per_kwh
        if low > high:
            continue
        energy = draw(st.integers(1, min(orders[b].quantity_wh, orders[s].quantity_wh)))
        fills.append(Fill(b, s, energy, draw(st.integers(low, high))))
    if fills and draw(st.booleans()):
        i = draw(st.integers(0, len(fills) - 1))
        f = fills[i]
        fills[i] = draw(
            st.sampled_from(
                [
                    Fill(f.buy, f.sell, f.energy_wh, orders[f.buy].price_micro_per_kwh + 1),
                    Fill(f.buy, f.sell, f.energy_wh, orders[f.sell].price_micro_per_kwh - 1),
                    Fill(f.buy, f.sell, orders[f.buy].quantity_wh + 1, f.price_micro_per_kwh),
                    Fill(f.sell, f.buy, f.energy_wh, f.price_micro_per_kwh),
                    Fill(f.buy, 5, f.energy_wh, f.price_micro_per_kwh),
                ]
            )
        )
    readings = draw(st.lists(st.integers(0, 8000), min_size=5, max_size=5))
    return orders, fills, readings


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch_rounds())
def test_random_clearings_conserve_money_or_change_nothing(
    rounds: tuple[list[SealedOrder], list[Fill], list[int]],
) -> None:
    orders, fills, readings = rounds
    market = make_batch(
        n_members=5,
        deposit_micro=3_000_000,
        fee_micro_per_kwh=FEE,
        penalty_micro_per_kwh=PENALTY,
        dso_reserve_micro=2_000_000,
    )
    total = 5 * 3_000_000 + 2_000_000
    ledger = market.ledger
    ledger.open_slot(SLOT)
    for member, order in zip(market.members, orders, strict=True):
        ledger.commit(member, SLOT, order)
    ledger.start_reveal(SLOT)
    for member, order in zip(market.members, orders, strict=True):
        ledger.reveal(member, SLOT, order)
    market.assert_conserved(total)
    revealed = ledger.revealed(SLOT)
    for i, order in enumerate(orders):
        expected = (
            lock_micro(order.quantity_wh, order.price_micro_per_kwh, FEE) if order.is_buy else 0
        )
        assert market.escrow.locked_of(market.members[i]) == expected

    before = market.balances()
    try:
        outcome = clear(revealed, fills, FEE)
    except LedgerError as error:
        event("clearing refused")
        with reverts("BatchMarket.post_clearing", error.reason):
            ledger.post_clearing(SLOT, fills)
        assert market.balances() == before
        return
    ledger.post_clearing(SLOT, fills)
    event(f"clearing settled with {len(fills)} fills")
    after = market.balances()
    for i, order in enumerate(revealed):
        sign = -1 if order.is_buy else 1
        assert after[order.owner] - before[order.owner] == sign * outcome.paid_micro[i]
    assert after[market.dso] - before[market.dso] == outcome.fee_micro
    assert market.locked() == dict.fromkeys(market.accounts, 0)
    market.assert_conserved(total)

    metered = {p.member: readings[i] for i, p in enumerate(outcome.positions)}
    ledger.post_readings(market.meter, SLOT, metered)
    market.assert_conserved(total)
    assert all(b >= 0 for b in market.balances().values())


# --- random call sequences: the order book against a reference CDA ----------------------------


@dataclass
class RefOrder:
    order_id: int
    owner: int
    is_buy: bool
    remaining: int
    price: int
    seq: int


@dataclass
class ReferenceBook:
    """A continuous double auction in Python: price-time priority, strict crossing, mid price,
    self-trade prevention by cancelling the resting order, at most ``max_fills`` touched."""

    fee_rate: int
    buys: list[RefOrder] = field(default_factory=list)
    sells: list[RefOrder] = field(default_factory=list)
    seq: int = 0

    def side(self, is_buy: bool) -> list[RefOrder]:
        return self.buys if is_buy else self.sells

    def sort(self) -> None:
        self.buys.sort(key=lambda o: (-o.price, o.seq))
        self.sells.sort(key=lambda o: (o.price, o.seq))

    def place(
        self, order_id: int, owner: int, is_buy: bool, qty: int, price: int, max_fills: int
    ) -> list[tuple[int, int, int, int]]:
        """Trades as (buy id, sell id, energy, price)."""
        trades = []
        opposite = self.side(not is_buy)
        touched = 0
        remaining = qty
        while remaining and opposite and touched < max_fills:
            best = opposite[0]
            crosses = price > best.price if is_buy else best.price > price
            if not crosses:
                break
            touched += 1
            if best.owner == owner:
                opposite.pop(0)
                continue
            energy = min(remaining, best.remaining)
            mid = (price + best.price) // 2
            trades.append(
                (order_id, best.order_id, energy, mid)
                if is_buy
                else (best.order_id, order_id, energy, mid)
            )
            remaining -= energy
            best.remaining -= energy
            if best.remaining == 0:
                opposite.pop(0)
        still = bool(opposite) and (
            price > opposite[0].price if is_buy else opposite[0].price > price
        )
        if remaining and not still:
            self.seq += 1
            self.side(is_buy).append(RefOrder(order_id, owner, is_buy, remaining, price, self.seq))
            self.sort()
        return trades

    def cancel(self, order_id: int) -> None:
        for side in (self.buys, self.sells):
            side[:] = [o for o in side if o.order_id != order_id]


placements = st.lists(
    st.tuples(
        st.sampled_from(["place", "place", "place", "cancel"]),
        st.integers(0, 3),  # member
        st.booleans(),  # buy?
        st.integers(1, 3000),  # Wh
        st.integers(80_000, 120_000).map(lambda p: p - p % 5_000),  # few price levels: ties
        st.integers(1, 4),  # max fills
    ),
    min_size=8,
    max_size=24,
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(placements)
def test_random_order_flow_matches_a_reference_cda_and_conserves_money(
    actions: list[tuple[str, int, bool, int, int, int]],
) -> None:
    book = make_book(fee_micro_per_kwh=FEE, deposit_micro=5_000_000)
    ledger, members = book.ledger, book.members
    reference = ReferenceBook(FEE)
    fees = traded = 0
    for action, who, is_buy, qty, price, max_fills in actions:
        if action == "cancel":
            own = [o for o in reference.buys + reference.sells if o.owner == who]
            if not own:
                continue
            ledger.cancel(members[who], own[0].order_id)
            reference.cancel(own[0].order_id)
        else:
            placement = ledger.place(
                members[who], 1, Pool.UP, is_buy, qty, price, max_fills=max_fills
            )
            expected = reference.place(placement.order_id, who, is_buy, qty, price, max_fills)
            got = [
                (t.buy_order, t.sell_order, t.energy_wh, t.price_micro_per_kwh)
                for t in placement.trades
            ]
            assert got == expected
            traded += len(got)
            fees += sum(fill_payment(e, p, FEE).fee_micro for _, _, e, p in expected)

        # the books are the reference's, sorted and not crossed
        chain_buys = [(o.order_id, o.remaining_wh) for o in ledger.orders(1, Pool.UP, True)]
        chain_sells = [(o.order_id, o.remaining_wh) for o in ledger.orders(1, Pool.UP, False)]
        assert chain_buys == [(o.order_id, o.remaining) for o in reference.buys]
        assert chain_sells == [(o.order_id, o.remaining) for o in reference.sells]
        if reference.buys and reference.sells:
            assert reference.buys[0].price <= reference.sells[0].price
        # each escrow is exactly what the member's resting buy orders can still cost
        for i, member in enumerate(members):
            owed = sum(
                lock_micro(o.remaining, o.price, FEE) for o in reference.buys if o.owner == i
            )
            assert book.escrow.locked_of(member) == owed
    book.assert_conserved(4 * 5_000_000)
    assert book.escrow.balance_of(book.dso) == fees
    event(f"trades: {min(traded, 5)}{'+' if traded >= 5 else ''}")
