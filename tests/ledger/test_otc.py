"""OTC bilateral contracts (``OtcContracts.vy``): both parties sign, each slot is settled
against the meters with deviations at the pool price and the DSO's fee, each role and bad input
is a named revert that changes nothing, and money is conserved under random sequences."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peergrid.core.errors import LedgerError
from peergrid.ledger import Chain, EmbeddedChain
from peergrid.ledger.markets.otc import OtcLedger, OtcState, otc_settlement

from .helpers import reverts

SLOT_S = 900
FEE = 20_000  # micro-currency per kWh
CALL = "OtcContracts"
FUNDS = 10**9


@dataclass
class Setup:
    chain: Chain
    ledger: OtcLedger
    operator: str
    dso: str
    members: list[str]
    stranger: str

    @property
    def accounts(self) -> list[str]:
        return [*self.members, self.dso, self.stranger]


def make_setup(deposit: int = FUNDS, chain: Chain | None = None) -> Setup:
    chain = chain if chain is not None else EmbeddedChain()
    operator, dso, issuer = (chain.new_account(n) for n in ("operator", "dso", "issuer"))
    ledger = OtcLedger.deploy(
        chain,
        operator=operator,
        dso=dso,
        issuer=issuer,
        supply_micro=10**13,
        fee_micro_per_kwh=FEE,
        slot_seconds=SLOT_S,
    )
    members = [chain.new_account(f"member {i}") for i in range(3)]
    for account in [*members, dso]:
        if account != dso:
            ledger.set_member(account)
        ledger.fund(account, 2 * FUNDS)
        ledger.deposit(account, deposit)
    return Setup(chain, ledger, operator, dso, members, chain.new_account("stranger"))


@pytest.fixture
def s() -> Setup:
    return make_setup()


def signed(s: Setup, first: int = 2, last: int = 5, wh: int = 500, price: int = 150_000) -> int:
    seller, buyer = s.members[0], s.members[1]
    cid = s.ledger.propose(
        seller,
        buyer,
        as_seller=True,
        price_micro_per_kwh=price,
        wh_per_slot=wh,
        first_slot=first,
        last_slot=last,
    )
    s.ledger.accept(buyer, cid)
    return cid


def end_of(s: Setup, slot: int) -> None:
    behind = s.ledger.epoch() + (slot + 1) * SLOT_S - s.chain.timestamp()
    if behind > 0:
        s.chain.advance_time(behind)


def balances(s: Setup) -> dict[str, int]:
    return {a: s.ledger.balance_of(a) for a in s.accounts}


def test_sign_settle_and_end(s: Setup) -> None:
    seller, buyer = s.members[0], s.members[1]
    cid = signed(s)
    c = s.ledger.contract(cid)
    assert (c.seller, c.buyer, c.state, c.fee_micro_per_kwh) == (
        seller,
        buyer,
        OtcState.ACTIVE,
        FEE,
    )
    # escrow: 4 slots of 500 Wh * (0.15 + 0.02) per kWh
    assert c.escrow_micro == 4 * (75_000 + 10_000) == s.ledger.locked(buyer)
    before = balances(s)
    end_of(s, 2)
    (receipt,) = s.ledger.settle(2, 100_000, [(cid, 300, 400)])
    (event,) = receipt.events_named("Settled")
    expected = otc_settlement(c, 300, 400, 100_000)
    assert (
        (
            event.args["paid_to_seller"],
            event.args["fee"],
            event.args["seller_to_dso"],
            event.args["seller_shortfall"],
            event.args["dso_to_buyer"],
        )
        == (75_000, 10_000, 20_000, 0, 10_000)
        == tuple(getattr(expected, f) for f in expected.__slots__)
    )
    after = balances(s)
    assert after[seller] - before[seller] == 75_000 - 20_000
    assert after[buyer] - before[buyer] == -85_000 + 10_000
    assert after[s.dso] - before[s.dso] == 10_000 + 20_000 - 10_000
    assert s.ledger.locked(buyer) == 3 * 85_000
    for slot in (3, 4, 5):
        end_of(s, slot)
        s.ledger.settle(slot, 100_000, [(cid, 500, 600)])
    c = s.ledger.contract(cid)
    assert (c.state, c.escrow_micro, s.ledger.locked(buyer)) == (OtcState.ENDED, 0, 0)
    assert (
        sum(balances(s).values()) == s.ledger.total_balance() == s.ledger.token_balance_of_market()
    )


@pytest.mark.slow
def test_the_same_on_a_node(rpc_chain: Chain) -> None:
    """Sign, settle, a refused non-member and conservation on anvil."""
    s = make_setup(chain=rpc_chain)
    total = s.ledger.total_balance()
    cid = signed(s, first=3, last=3)
    with reverts(f"{CALL}.propose", "counterparty is not a member"):
        s.ledger.propose(s.members[0], s.stranger, as_seller=True, price_micro_per_kwh=1,
                         wh_per_slot=1, first_slot=9, last_slot=9)  # fmt: skip
    end_of(s, 3)
    s.ledger.settle(3, 100_000, [(cid, 300, 400)])
    assert s.ledger.contract(cid).state == OtcState.ENDED
    assert sum(balances(s).values()) == total == s.ledger.token_balance_of_market()


def test_a_contract_with_a_non_member_reverts(s: Setup) -> None:
    member = s.members[0]
    with reverts(f"{CALL}.propose", "counterparty is not a member"):
        s.ledger.propose(member, s.stranger, as_seller=True, price_micro_per_kwh=1,
                         wh_per_slot=1, first_slot=5, last_slot=5)  # fmt: skip
    with reverts(f"{CALL}.propose", "caller is not a member"):
        s.ledger.propose(s.stranger, member, as_seller=False, price_micro_per_kwh=1,
                         wh_per_slot=1, first_slot=5, last_slot=5)  # fmt: skip
    # a member removed between the proposal and the acceptance
    cid = s.ledger.propose(member, s.members[1], as_seller=True, price_micro_per_kwh=1,
                           wh_per_slot=1, first_slot=5, last_slot=5)  # fmt: skip
    s.ledger.set_member(member, False)
    with reverts(f"{CALL}.accept", "a party is not a member"):
        s.ledger.accept(s.members[1], cid)
    assert s.ledger.contract(cid).state == OtcState.PROPOSED
    assert s.ledger.contract_count() == 1


def test_roles(s: Setup) -> None:
    seller, buyer, third = s.members
    for caller in (seller, s.dso, s.stranger):
        with reverts(f"{CALL}.set_member", "caller is not the operator"):
            s.chain.transact(caller, s.ledger.market, "set_member", s.stranger, True)
    for caller in (s.operator, seller):
        with reverts(f"{CALL}.set_fee_rate", "caller is not the DSO"):
            s.chain.transact(caller, s.ledger.market, "set_fee_rate", 1)
    with reverts(f"{CALL}.set_member", "the operator and the DSO are not members"):
        s.ledger.set_member(s.dso)
    cid = s.ledger.propose(seller, buyer, as_seller=True, price_micro_per_kwh=100_000,
                           wh_per_slot=100, first_slot=3, last_slot=4)  # fmt: skip
    for caller in (seller, third, s.operator):  # only the counterparty signs
        with reverts(f"{CALL}.accept", "caller is not the counterparty"):
            s.ledger.accept(caller, cid)
    with reverts(f"{CALL}.withdraw_proposal", "caller is not a party"):
        s.ledger.withdraw_proposal(third, cid)
    s.ledger.accept(buyer, cid)
    end_of(s, 3)
    for caller in (seller, buyer, s.dso):
        with reverts(f"{CALL}.settle", "caller is not the operator"):
            s.chain.transact(caller, s.ledger.market, "settle", 3, 1, [cid], [100], [100])
    with reverts(f"{CALL}.release", "caller is not the buyer"):
        s.ledger.release(seller, cid)
    with reverts(f"{CALL}.release", "settlement deadline not passed"):
        s.ledger.release(buyer, cid)
    # the way out: slot 4 never settled; after the deadline the buyer unlocks its escrow
    s.ledger.settle(3, 100_000, [(cid, 100, 100)])
    s.chain.advance_time(2 * SLOT_S + 86_400)
    s.ledger.release(buyer, cid)
    assert s.ledger.locked(buyer) == 0 and s.ledger.contract(cid).state == OtcState.ENDED


def test_the_fee_is_frozen_at_proposal(s: Setup) -> None:
    cid = s.ledger.propose(s.members[0], s.members[1], as_seller=True,
                           price_micro_per_kwh=100_000, wh_per_slot=1000,
                           first_slot=3, last_slot=3)  # fmt: skip
    s.ledger.set_fee_rate(50_000)
    assert s.ledger.fee_rate() == 50_000
    s.ledger.accept(s.members[1], cid)
    assert s.ledger.contract(cid).escrow_micro == 100_000 + FEE


def test_bad_inputs(s: Setup) -> None:
    seller, buyer, _ = s.members
    base = {"price_micro_per_kwh": 100_000, "wh_per_slot": 100, "first_slot": 3, "last_slot": 4}
    for change, reason in [
        ({"price_micro_per_kwh": 0}, "price not in 1..2**32-1"),
        ({"price_micro_per_kwh": 2**32}, "price not in 1..2**32-1"),
        ({"wh_per_slot": 0}, "energy not in 1..2**32-1 Wh"),
        ({"first_slot": 5}, "last slot before the first"),
        ({"first_slot": 0}, "first slot has started"),
        ({"last_slot": 2**48 - 1}, "slot out of range"),
        ({"last_slot": 3 + 2**20}, "too many slots"),
    ]:
        with reverts(f"{CALL}.propose", reason):
            s.ledger.propose(seller, buyer, as_seller=True, **{**base, **change})
    with reverts(f"{CALL}.propose", "counterparty is the caller"):
        s.ledger.propose(seller, seller, as_seller=True, **base)
    assert s.ledger.contract_count() == 0
    # the buyer's escrow must be free
    poor = make_setup(deposit=1000)
    cid = poor.ledger.propose(poor.members[0], poor.members[1], as_seller=True, **base)
    with reverts(f"{CALL}.accept", "buyer's free balance too low"):
        poor.ledger.accept(poor.members[1], cid)
    cid = signed(s, first=3, last=4, wh=100, price=100_000)
    with reverts(f"{CALL}.accept", "contract is not proposed"):
        s.ledger.accept(buyer, cid)
    with reverts(f"{CALL}.settle", "slot has not ended"):
        s.ledger.settle(3, 1, [(cid, 1, 1)])
    end_of(s, 4)
    with reverts(f"{CALL}.settle", "slot is not the contract's next"):
        s.ledger.settle(4, 1, [(cid, 1, 1)])
    with reverts(f"{CALL}.settle", "slot is not the contract's next"):
        s.ledger.settle(3, 1, [(cid, 1, 1), (cid, 1, 1)])  # once per slot
    with reverts(f"{CALL}.settle", "readings do not match the contracts"):
        s.chain.transact(s.operator, s.ledger.market, "settle", 3, 1, [cid], [1, 2], [1])
    with reverts(f"{CALL}.settle", "reading out of range"):
        s.ledger.settle(3, 1, [(cid, 2**32, 1)])
    with reverts(f"{CALL}.settle", "contract is not active"):
        s.ledger.settle(3, 1, [(99, 1, 1)])
    with reverts(f"{CALL}.withdraw", "amount above the free balance"):
        s.ledger.withdraw(buyer, FUNDS)
    with reverts(f"{CALL}.deposit", "caller is not a member"):
        s.chain.transact(s.stranger, s.ledger.market, "deposit", 1)
    assert s.ledger.contract(cid).next_slot == 3


def test_the_dso_must_cover_the_deviations() -> None:
    s = make_setup()
    cid = signed(s, first=3, last=3, wh=1000, price=100_000)
    s.ledger.withdraw(s.dso, FUNDS)
    end_of(s, 3)
    # the buyer consumed nothing: the DSO owes it 1 kWh at the pool price, beyond its fee
    with reverts(f"{CALL}.settle", "dso balance too low for the deviations"):
        s.ledger.settle(3, 10**6, [(cid, 1000, 0)])
    s.ledger.settle(3, 10_000, [(cid, 1000, 0)])
    assert s.ledger.balance_of(s.dso) == FEE - 10_000


def test_a_seller_that_cannot_pay_leaves_a_shortfall() -> None:
    s = make_setup()
    seller = s.members[0]
    cid = signed(s, first=3, last=3, wh=1000, price=100_000)
    s.ledger.withdraw(seller, FUNDS)
    end_of(s, 3)
    (receipt,) = s.ledger.settle(3, 500_000, [(cid, 0, 1000)])
    (event,) = receipt.events_named("Settled")
    # it received 100 000 and owes 500 000: pays what it has, the rest is logged
    assert (event.args["seller_to_dso"], event.args["seller_shortfall"]) == (100_000, 400_000)
    assert s.ledger.balance_of(seller) == 0


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    contracts=st.lists(
        st.tuples(
            st.integers(0, 2),  # seller
            st.integers(1, 2),  # buyer offset
            st.integers(1, 400_000),  # price
            st.integers(1, 5000),  # Wh per slot
            st.integers(0, 2),  # length - 1
        ),
        min_size=1,
        max_size=4,
    ),
    readings=st.lists(
        st.tuples(st.integers(0, 8000), st.integers(0, 8000)), min_size=12, max_size=12
    ),
    pool_prices=st.lists(st.integers(0, 600_000), min_size=3, max_size=3),
    deposit=st.integers(10**6, 10**9),
)
def test_money_is_conserved(
    contracts: list[tuple[int, int, int, int, int]],
    readings: list[tuple[int, int]],
    pool_prices: list[int],
    deposit: int,
) -> None:
    s = make_setup(deposit=deposit)
    total = s.ledger.total_balance()
    ids = []
    for seller, offset, price, wh, length in contracts:
        buyer = (seller + offset) % 3
        try:
            cid = s.ledger.propose(s.members[seller], s.members[buyer], as_seller=True,
                                   price_micro_per_kwh=price, wh_per_slot=wh,
                                   first_slot=2, last_slot=2 + length)  # fmt: skip
            s.ledger.accept(s.members[buyer], cid)
            ids.append(cid)
        except LedgerError:
            pass  # a buyer that cannot lock its escrow
    k = 0
    for slot, pool in zip((2, 3, 4), pool_prices, strict=True):
        end_of(s, slot)
        due = [c.id for c in s.ledger.active_in(slot)]
        batch = []
        for cid in due:
            batch.append((cid, *readings[k % len(readings)]))
            k += 1
        if batch:
            terms = {cid: s.ledger.contract(cid) for cid, _, _ in batch}
            try:
                (receipt,) = s.ledger.settle(slot, pool, batch)
            except LedgerError as exc:
                assert exc.reason == "dso balance too low for the deviations"
            else:
                # the Python mirror gives the contract's figures
                for event, (cid, seller_wh, buyer_wh) in zip(
                    receipt.events_named("Settled"), batch, strict=True
                ):
                    want = otc_settlement(terms[cid], seller_wh, buyer_wh, pool)
                    got = event.args
                    assert (got["paid_to_seller"], got["fee"], got["dso_to_buyer"]) == (
                        want.paid_to_seller,
                        want.fee,
                        want.dso_to_buyer,
                    )
                    owed = got["seller_to_dso"] + got["seller_shortfall"]
                    assert owed == want.seller_to_dso + want.seller_shortfall
        assert sum(balances(s).values()) == s.ledger.total_balance() == total
        assert s.ledger.token_balance_of_market() == total
        for account in s.accounts:
            assert 0 <= s.ledger.locked(account) <= s.ledger.balance_of(account)
