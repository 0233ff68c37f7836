"""OTC contracts in the cycle: refused at registration when the grid check finds a violation
(nothing sent), netted off the meters before the pool, settled against the meters."""

from __future__ import annotations

import pytest

from peergrid.core.errors import GridError
from peergrid.grid.feeders import load_feeder
from peergrid.ledger import EmbeddedChain
from peergrid.ledger.markets.otc import OtcLedger, OtcState
from peergrid.platform.otc import (
    OtcProposal,
    contract_kw,
    grid_check,
    pool_residual,
    register_otc,
    settle_otc_slot,
)

SLOT_S = 900


@pytest.fixture(scope="module")
def feeder():  # type: ignore[no-untyped-def]
    return load_feeder("cigre-lv")


def make_ledger() -> tuple[EmbeddedChain, OtcLedger, list[str]]:
    chain = EmbeddedChain()
    operator, dso, issuer = (chain.new_account(n) for n in ("operator", "dso", "issuer"))
    ledger = OtcLedger.deploy(
        chain,
        operator=operator,
        dso=dso,
        issuer=issuer,
        supply_micro=10**12,
        fee_micro_per_kwh=20_000,
        slot_seconds=SLOT_S,
    )
    members = [chain.new_account(f"m{i}") for i in range(3)]
    for account in [*members, dso]:
        if account != dso:
            ledger.set_member(account)
        ledger.fund(account, 10**9)
        ledger.deposit(account, 10**9)
    return chain, ledger, members


def proposal(members: list[str], feeder, kw: float) -> OtcProposal:  # type: ignore[no-untyped-def]
    return OtcProposal(
        seller=members[0],
        buyer=members[1],
        seller_bus=feeder.household_buses[0],
        buyer_bus=feeder.household_buses[-1],
        price_micro_per_kwh=120_000,
        wh_per_slot=int(kw * 1000 * SLOT_S / 3600),
        first_slot=2,
        last_slot=3,
    )


def test_contract_kw() -> None:
    assert contract_kw(500, 900) == pytest.approx(2.0)
    assert contract_kw(2000, 3600) == pytest.approx(2.0)


def test_a_contract_that_breaks_a_limit_is_refused(feeder) -> None:  # type: ignore[no-untyped-def]
    _, ledger, members = make_ledger()
    big = proposal(members, feeder, 120)
    assert not grid_check(feeder, big, SLOT_S).passed
    with pytest.raises(GridError, match="refused: undervoltage at bus"):
        register_otc(ledger, feeder, big, proposer=members[0])
    assert ledger.contract_count() == 0
    small = proposal(members, feeder, 5)
    # alone it passes; on top of a heavy background at the buyer's end it does not
    assert grid_check(feeder, small, SLOT_S).passed
    with pytest.raises(GridError, match="undervoltage"):
        register_otc(
            ledger, feeder, small, proposer=members[1], background_kw={small.buyer_bus: 85.0}
        )
    assert ledger.contract_count() == 0
    with pytest.raises(GridError, match="has no bus 9999"):
        register_otc(ledger, feeder, small, proposer=members[0], background_kw={9999: 1.0})
    cid = register_otc(ledger, feeder, small, proposer=members[1])
    c = ledger.contract(cid)
    assert (c.seller, c.buyer, c.proposer, c.state) == (
        members[0],
        members[1],
        members[1],
        OtcState.PROPOSED,
    )


def test_netted_before_the_pool_and_settled_against_the_meters(feeder) -> None:  # type: ignore[no-untyped-def]
    chain, ledger, members = make_ledger()
    p = proposal(members, feeder, 2)  # 500 Wh a slot
    cid = register_otc(ledger, feeder, p, proposer=members[0])
    ledger.accept(members[1], cid)
    due = ledger.active_in(2)
    assert [c.id for c in due] == [cid]
    production = {members[0]: 800, members[2]: 300}
    consumption = {members[1]: 400, members[2]: 100}
    residual = pool_residual(due, production, consumption)
    # the seller brings 300 Wh beyond its contract to the pool; the buyer, short of 500, none
    assert residual.production_wh == {members[0]: 300, members[2]: 300}
    assert residual.consumption_wh == {members[1]: 0, members[2]: 100}
    chain.advance_time(3 * SLOT_S)
    before = ledger.balance_of(members[1])
    (receipt,) = settle_otc_slot(ledger, 2, 100_000, production, consumption)
    (event,) = receipt.events_named("Settled")
    assert (event.args["seller_to_dso"], event.args["dso_to_buyer"]) == (0, 10_000)
    assert ledger.balance_of(members[1]) - before == -(60_000 + 10_000) + 10_000
    assert settle_otc_slot(ledger, 2, 100_000, production, consumption) == ()
    assert ledger.contract(cid).next_slot == 3
