"""The batch market charges Score Matching's C_d·d per matched pair on the DSO's feeder map.

The thesis's figures (003_dpda.md §1.3, Appendix B): C_d = 0.002 per metre, and the pair buyer
39 – seller 4 is 121.332 m apart, so the pair pays 0.242664, 0.121332 each side.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peergrid.ledger import DistanceRow, Fill, SealedOrder, millimetres
from peergrid.ledger.markets.base import UNKNOWN_DISTANCE
from peergrid.ledger.markets.batch_market import clear
from peergrid.ledger.markets.escrow import distance_charge_shares

from .helpers import reverts
from .market_helpers import (
    FEE,
    FILLS,
    FUNDS_MICRO,
    ORDERS,
    PENALTY,
    SLOT,
    Batch,
    make_batch,
    revealed_slot,
    sealed,
)

C_D = 2_000_000  # micro-currency per km per pair: 0.002 per metre
D_39_4 = millimetres(121.332)


def mapped_market(rate: int = C_D, deposit_micro: int = FUNDS_MICRO) -> Batch:
    """The worked example's four members on nodes 1..4; S1–B1 121.332 m, S1–B2 40 m."""
    market = make_batch(
        fee_micro_per_kwh=FEE,
        penalty_micro_per_kwh=PENALTY,
        distance_charge_micro_per_km=rate,
        deposit_micro=deposit_micro,
    )
    s1, s2, b1, b2 = market.members
    market.ledger.set_nodes({s1: 1, s2: 2, b1: 3, b2: 4})
    market.ledger.set_distances([DistanceRow(1, 3, D_39_4), DistanceRow(4, 1, millimetres(40.0))])
    return market


def test_the_thesis_pair_charge() -> None:
    assert D_39_4 == 121_332
    assert distance_charge_shares(C_D, D_39_4) == (121_332, 121_332)
    assert distance_charge_shares(C_D, 40_001) == (40_001, 40_001)
    assert distance_charge_shares(3, 1_000_000) == (2, 1)  # the seller owes the smaller half
    # The thesis's text says 0.002 per km: 121.332 m costs 242 micro-units.
    assert distance_charge_shares(2_000, D_39_4) == (121, 121)
    # 1.25e-5 per metre is 12 500 micro-units per km: no rounding of the rate.
    assert distance_charge_shares(12_500, 100_000) == (625, 625)


def test_each_pair_pays_its_distance_charge_half_each() -> None:
    market = revealed_slot(mapped_market())
    s1, s2, b1, b2 = market.members
    before = market.balances()
    (receipt,) = market.ledger.post_clearing(SLOT, FILLS)
    delta = {a: market.balances()[a] - before[a] for a in before}
    # Energy and per-kWh fee as without charges (test_batch_market), then the pairs' charges:
    # B1–S1 121.332 m: 242 664 (121 332 each); B2–S1 40 m: 80 000 (40 000 each).
    assert delta[b1] == -375_000 - 121_332
    assert delta[b2] == -62_500 - 40_000
    assert delta[s1] == 407_500 - 121_332 - 40_000
    assert delta[s2] == 0
    assert delta[market.dso] == 30_000 + 242_664 + 80_000
    assert market.locked() == dict.fromkeys(market.accounts, 0)
    market.assert_conserved(4 * FUNDS_MICRO)
    assert [t.charge_micro for t in market.ledger.trades_in(receipt)] == [242_664, 80_000]
    (cleared,) = receipt.events_named("Cleared")
    assert (cleared.args["fee_micro"], cleared.args["charge_micro"]) == (30_000, 322_664)
    assert not receipt.events_named("ChargeShortfall")
    # The positions, and so the metered settlement, do not depend on the charges.
    assert [p.value_micro for p in market.ledger.positions(SLOT)] == [422_500, 362_500, 60_000]


def test_the_python_clearing_states_the_charges() -> None:
    market = revealed_slot(mapped_market())
    outcome = clear(market.ledger.revealed(SLOT), FILLS, FEE, C_D, market.ledger.member_distance)
    assert outcome.fill_charge_micro == (242_664, 80_000)
    assert outcome.owed_charge_micro == (161_332, 0, 121_332, 40_000)
    assert outcome.charge_micro == 322_664


def test_the_rate_is_frozen_with_the_slot() -> None:
    market = mapped_market(rate=0)
    market.ledger.open_slot(SLOT)
    market.ledger.set_rates(FEE, PENALTY, C_D)
    assert market.ledger.distance_charge_rate() == C_D
    assert market.ledger.slot_info(SLOT).distance_charge_micro_per_km == 0
    for member, order in zip(market.members, ORDERS, strict=True):
        market.ledger.commit(member, SLOT, order)
    market.ledger.start_reveal(SLOT)
    for member, order in zip(market.members, ORDERS, strict=True):
        market.ledger.reveal(member, SLOT, order)
    (receipt,) = market.ledger.post_clearing(SLOT, FILLS)
    assert [t.charge_micro for t in market.ledger.trades_in(receipt)] == [0, 0]
    market.ledger.open_slot(SLOT + 1)
    assert market.ledger.slot_info(SLOT + 1).distance_charge_micro_per_km == C_D


def test_without_a_rate_no_member_needs_a_node() -> None:
    market = revealed_slot(make_batch(fee_micro_per_kwh=FEE))
    market.ledger.post_clearing(SLOT, FILLS)
    assert market.ledger.member_distance(market.members[0], market.members[2]) == (UNKNOWN_DISTANCE)


def test_a_pair_off_the_map_refuses_the_clearing() -> None:
    market = mapped_market()
    b2 = market.members[3]
    market.ledger.set_nodes({b2: 0})  # B2 no longer placed
    revealed_slot(market)
    before = (market.balances(), market.locked())
    with reverts("BatchMarket.post_clearing", "no distance between the pair's nodes"):
        market.ledger.post_clearing(SLOT, FILLS)
    assert (market.balances(), market.locked()) == before
    with pytest.raises(Exception, match="no distance between the pair's nodes"):
        clear(market.ledger.revealed(SLOT), FILLS, FEE, C_D, market.ledger.member_distance)


def test_what_a_member_cannot_pay_is_a_logged_shortfall() -> None:
    # B2 keeps only its order's escrow (300 000); its 500 Wh cost 62 500, so 237 500 is free after
    # the clearing, short of its 400 000 half of the 400 m pair with S1 (800 000).
    market = make_batch(
        fee_micro_per_kwh=FEE, distance_charge_micro_per_km=C_D, deposit_micro=FUNDS_MICRO
    )
    s1, s2, b1, b2 = market.members
    market.ledger.set_nodes({s1: 1, s2: 2, b1: 3, b2: 4})
    market.ledger.set_distances([DistanceRow(1, 3, D_39_4), DistanceRow(1, 4, 400_000)])
    market.escrow.withdraw(b2, FUNDS_MICRO - 300_000)
    revealed_slot(market)
    before = market.balances()
    (receipt,) = market.ledger.post_clearing(SLOT, FILLS)
    delta = {a: market.balances()[a] - before[a] for a in before}
    (shortfall,) = receipt.events_named("ChargeShortfall")
    assert shortfall.args["member"] == b2
    assert (shortfall.args["owed_micro"], shortfall.args["paid_micro"]) == (400_000, 237_500)
    assert market.balances()[b2] == 0
    assert delta[market.dso] == 30_000 + 242_664 + 400_000 + 237_500
    (cleared,) = receipt.events_named("Cleared")
    assert cleared.args["charge_micro"] == 242_664 + 400_000 + 237_500
    market.assert_conserved(4 * FUNDS_MICRO - (FUNDS_MICRO - 300_000))


# --- property: the contract's money is the Python clearing's, and is conserved ------------------

N_MEMBERS = 4
ORDER = st.tuples(st.booleans(), st.integers(1, 5_000), st.integers(0, 300_000))


@settings(max_examples=20, deadline=None)
@given(
    orders=st.lists(ORDER, min_size=N_MEMBERS, max_size=N_MEMBERS),
    fill_picks=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(1, 3_000)), max_size=6
    ),
    distances_m=st.lists(st.floats(0.0, 2_000.0), min_size=6, max_size=6),
    rate=st.integers(0, 50_000_000),
    deposits=st.lists(st.integers(0, 3_000_000), min_size=N_MEMBERS, max_size=N_MEMBERS),
)
def test_charges_are_the_python_clearings_and_money_is_conserved(
    orders: list[tuple[bool, int, int]],
    fill_picks: list[tuple[int, int, int]],
    distances_m: list[float],
    rate: int,
    deposits: list[int],
) -> None:
    market = make_batch(
        N_MEMBERS, fee_micro_per_kwh=FEE, distance_charge_micro_per_km=rate, deposit_micro=0
    )
    ledger, members = market.ledger, market.members
    ledger.set_nodes({m: i + 1 for i, m in enumerate(members)})
    pairs = [(a, b) for a in range(1, N_MEMBERS + 1) for b in range(a + 1, N_MEMBERS + 1)]
    ledger.set_distances(
        [DistanceRow(a, b, millimetres(d)) for (a, b), d in zip(pairs, distances_m, strict=True)]
    )
    sealed_orders: list[SealedOrder] = []
    for i, (is_buy, quantity, price) in enumerate(orders):
        order = sealed(f"o{i}", is_buy, quantity, price)
        sealed_orders.append(order)
        cost = quantity * price // 1000 + quantity * FEE // 1000
        deposit = deposits[i] + (cost if is_buy else 0)
        if deposit:
            market.escrow.fund(members[i], deposit)
            market.escrow.deposit(members[i], deposit)
    total = sum(market.balances().values())
    ledger.open_slot(SLOT)
    for member, order in zip(members, sealed_orders, strict=True):
        ledger.commit(member, SLOT, order)
    ledger.start_reveal(SLOT)
    for member, order in zip(members, sealed_orders, strict=True):
        ledger.reveal(member, SLOT, order)
    revealed = ledger.revealed(SLOT)

    # Valid fills only: a buy and a sell of different members, price within both limits,
    # quantities within both orders; each pair at most once (Score Matching's pairs).
    left = [o.quantity_wh for o in revealed]
    fills: list[Fill] = []
    seen: set[tuple[int, int]] = set()
    for b, s, energy in fill_picks:
        buy, sell = revealed[b], revealed[s]
        if not buy.is_buy or sell.is_buy or (b, s) in seen:
            continue
        if sell.price_micro_per_kwh > buy.price_micro_per_kwh:
            continue
        energy = min(energy, left[b], left[s])
        if energy == 0:
            continue
        seen.add((b, s))
        left[b] -= energy
        left[s] -= energy
        fills.append(Fill(b, s, energy, sell.price_micro_per_kwh))

    outcome = clear(revealed, fills, FEE, rate, ledger.member_distance)
    before = market.balances()
    (receipt,) = ledger.post_clearing(SLOT, fills)
    after = market.balances()
    short = {
        e.args["member"]: e.args["owed_micro"] - e.args["paid_micro"]
        for e in receipt.events_named("ChargeShortfall")
    }
    for i, o in enumerate(revealed):
        energy_money = -outcome.paid_micro[i] if o.is_buy else outcome.paid_micro[i]
        charged = outcome.owed_charge_micro[i] - short.get(o.owner, 0)
        assert after[o.owner] - before[o.owner] == energy_money - charged
        assert 0 <= charged <= outcome.owed_charge_micro[i]
        # A shortfall only where the member paid all it had free.
        assert o.owner not in short or market.escrow.available_of(o.owner) == 0
    (cleared,) = receipt.events_named("Cleared")
    assert cleared.args["charge_micro"] == outcome.charge_micro - sum(short.values())
    assert (
        after[market.dso] - before[market.dso] == outcome.fee_micro + cleared.args["charge_micro"]
    )
    assert market.locked() == dict.fromkeys(market.accounts, 0)
    market.assert_conserved(total)


def test_the_map_is_frozen_while_a_charged_slot_is_open() -> None:
    market = mapped_market()
    market.ledger.open_slot(SLOT)
    for call, args in (("set_distances", [(1, 3, 1)]), ("set_nodes", [(market.members[3], 0)])):
        with reverts(f"BatchMarket.{call}", "the feeder map is in use by an open slot"):
            market.chain.transact(market.dso, market.ledger.market, call, args)
    for member, order in zip(market.members, ORDERS, strict=True):
        market.ledger.commit(member, SLOT, order)
    market.ledger.start_reveal(SLOT)
    for member, order in zip(market.members, ORDERS, strict=True):
        market.ledger.reveal(member, SLOT, order)
    market.ledger.post_clearing(SLOT, FILLS)
    market.ledger.set_distances([DistanceRow(1, 3, 1)])  # cleared: the DSO may change it
    assert market.ledger.distance(1, 3) == 1
    # A slot without a distance charge does not hold the map.
    market.ledger.set_rates(FEE, PENALTY, 0)
    market.ledger.open_slot(SLOT + 1)
    market.ledger.set_distances([DistanceRow(1, 3, 2)])
    assert market.ledger.distance(1, 3) == 2
