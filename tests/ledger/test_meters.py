"""Settlement against metered energy: deviation penalties and true-ups (003 §2.8, eqs. 4.8/4.9)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peergrid.core.errors import LedgerError
from peergrid.ledger import Chain, Fill, Phase, metered_settlement
from peergrid.ledger.markets.meters import Position, packed_positions

from .helpers import reverts
from .market_helpers import (
    FEE,
    FILLS,
    FUNDS_MICRO,
    PENALTY,
    SLOT,
    Batch,
    make_batch,
    revealed_slot,
    sealed,
)

POST = "BatchMarket.post_readings"


def cleared(chain: Chain | None = None, **kwargs: int) -> Batch:
    """The worked example of test_batch_market, cleared (fee 0.01/kWh, penalty 0.05/kWh)."""
    market = make_batch(fee_micro_per_kwh=FEE, penalty_micro_per_kwh=PENALTY, chain=chain, **kwargs)
    revealed_slot(market)
    market.ledger.post_clearing(SLOT, FILLS)
    return market


def test_the_worked_example_settles_eqs_4_8_and_4_9_exactly(backend_chain: Chain) -> None:
    """On both backends: the embedded chain and anvil."""
    market = cleared(backend_chain)
    s1, _, b1, b2 = market.members
    before = market.balances()
    # S1 produced 2800 of its 3000 Wh, B1 consumed 2600 of 2500, B2 400 of 500
    (receipt,) = market.ledger.post_readings(market.meter, SLOT, {s1: 2800, b1: 2600, b2: 400})
    delta = {a: b - before[a] for a, b in market.balances().items()}
    # S1: credit 200 Wh * 0.05 = 10 000; at meter 422 500 * 2800 // 3000 = 394 333;
    #     pays 422 500 - 394 333 + 10 000 = 38 167
    # B1: credit 5 000; at meter 362 500 * 2600 // 2500 = 377 000; pays 377 000 - 362 500 + 5 000
    # B2: credit 5 000; at meter 60 000 * 400 // 500 = 48 000; pays 48 000 - 60 000 + 5 000 < 0
    assert delta[s1] == -38_167
    assert delta[b1] == -19_500
    assert delta[b2] == +7_000
    assert delta[market.dso] == 38_167 + 19_500 - 7_000
    assert sum(delta.values()) == 0
    market.assert_conserved(4 * FUNDS_MICRO)

    # Eq. 4.8 (buyers): bill = p0 * E_meter + tariff + credit, over both stages
    assert FUNDS_MICRO - market.escrow.balance_of(b1) == 377_000 + 12_500 + 5_000
    assert FUNDS_MICRO - market.escrow.balance_of(b2) == 48_000 + 2_500 + 5_000
    # Eq. 4.9 (sellers): income = p0 * E_meter - tariff - credit
    assert market.escrow.balance_of(s1) - FUNDS_MICRO == 394_333 - 15_000 - 10_000
    # The DSO: fees 30 000 plus the metered settlement
    assert market.escrow.balance_of(market.dso) == 30_000 + 50_667

    events = receipt.events_named("MeterSettled")
    assert [
        (e.args["member"], e.args["credit_micro"], e.args["paid_to_dso_micro"]) for e in events
    ] == [(s1, 10_000, 38_167), (b1, 5_000, 19_500), (b2, 5_000, 0)]
    assert events[2].args["paid_by_dso_micro"] == 7_000
    (total,) = receipt.events_named("Metered")
    assert (total.args["dso_received_micro"], total.args["dso_paid_micro"]) == (57_667, 7_000)
    assert market.ledger.slot_info(SLOT).phase is Phase.SETTLED


def test_the_python_settlement_states_the_contracts_arithmetic() -> None:
    seller = Position("0x" + "11" * 20, False, 3000, 422_500)
    s = metered_settlement(seller, 2800, PENALTY)
    assert (s.credit_micro, s.at_meter_micro, s.to_dso_micro, s.from_dso_micro) == (
        10_000,
        394_333,
        38_167,
        0,
    )
    assert s.income_micro(15_000) == 369_333
    assert s.deviation_wh == 200
    buyer = Position("0x" + "22" * 20, True, 500, 60_000)
    b = metered_settlement(buyer, 400, PENALTY)
    assert (b.from_dso_micro, b.owed_to_dso_micro, b.bill_micro(2_500)) == (7_000, -7_000, 55_500)
    short = metered_settlement(buyer, 1000, PENALTY, free_balance_micro=30_000)
    # at meter 120 000, credit 25 000: owes 85 000, pays 30 000
    assert (short.to_dso_micro, short.shortfall_micro) == (30_000, 55_000)
    with pytest.raises(ValueError, match="metered_wh"):
        metered_settlement(buyer, -1, PENALTY)


def test_metering_exactly_the_traded_energy_moves_nothing() -> None:
    market = cleared()
    s1, _, b1, b2 = market.members
    before = market.balances()
    market.ledger.post_readings(market.meter, SLOT, {s1: 3000, b1: 2500, b2: 500})
    assert market.balances() == before


def test_a_member_that_cannot_pay_pays_what_it_has() -> None:
    market = make_batch(n_members=2, penalty_micro_per_kwh=PENALTY)
    ledger, buyer, seller = market.ledger, *market.members
    ledger.open_slot(SLOT)
    ledger.commit(buyer, SLOT, sealed("b", True, 1000, 100_000))
    ledger.commit(seller, SLOT, sealed("s", False, 1000, 100_000))
    ledger.start_reveal(SLOT)
    ledger.reveal(buyer, SLOT, sealed("b", True, 1000, 100_000))
    ledger.reveal(seller, SLOT, sealed("s", False, 1000, 100_000))
    ledger.post_clearing(SLOT, [Fill(0, 1, 1000, 100_000)])
    # the seller takes its money and leaves 30 000, then delivers nothing:
    # it owes 100 000 (the energy it did not deliver) + 1000 Wh * 0.05 = 150 000
    market.escrow.withdraw(seller, FUNDS_MICRO + 100_000 - 30_000)
    (receipt,) = ledger.post_readings(market.meter, SLOT, {buyer: 1000, seller: 0})
    (buyer_event, seller_event) = receipt.events_named("MeterSettled")
    assert seller_event.args["paid_to_dso_micro"] == 30_000
    assert seller_event.args["shortfall_micro"] == 120_000
    assert buyer_event.args["shortfall_micro"] == 0
    assert market.escrow.balance_of(seller) == 0
    assert market.escrow.balance_of(market.dso) == 30_000
    market.assert_conserved(2 * FUNDS_MICRO - (FUNDS_MICRO + 70_000))


def test_the_dso_must_hold_what_it_owes() -> None:
    market = cleared()
    s1, _, b1, b2 = market.members
    # everyone used or produced more than traded: the sellers and buyers... here the buyers
    # consumed far less, so the DSO owes them more than its 30 000 of fees
    readings = {s1: 3000, b1: 0, b2: 0}
    # B1: at meter 0, credit 2500 Wh * 0.05 = 125 000: owes 125 000 - 362 500 < 0 (237 500)
    with reverts(POST, "dso balance too low for the imbalance true-ups"):
        market.ledger.post_readings(market.meter, SLOT, readings)
    market.escrow.fund(market.dso, 300_000)
    market.escrow.deposit(market.dso, 300_000)
    market.ledger.post_readings(market.meter, SLOT, readings)
    # 30 000 fees + 300 000 reserve - 237 500 (B1) - 35 000 (B2: 60 000 - 25 000)
    assert market.escrow.balance_of(market.dso) == 57_500
    market.assert_conserved(4 * FUNDS_MICRO + 300_000)


def test_only_the_meter_posts_one_reading_per_position_in_any_number_of_calls() -> None:
    market = cleared()
    ledger, (s1, _, b1, b2) = market.ledger, market.members
    readings, positions = [3000, 2500, 500], list(ledger.positions(SLOT))

    def post(sender: str, readings: list[int], positions: list[Position]) -> None:
        # The positions not settled yet follow the arguments, 32 bytes each.
        market.chain.transact(
            sender, ledger.market, "post_readings", SLOT, readings, tail=packed_positions(positions)
        )

    for sender in (s1, market.operator, market.dso, market.outsider):
        with reverts(POST, "caller is not a meter"):
            post(sender, readings, positions)
    with reverts(POST, "more readings than positions"):
        post(market.meter, [*readings, 1], positions)
    with reverts(POST, "metered energy out of range"):
        post(market.meter, [3000, 2**32], positions)
    with pytest.raises(LedgerError, match="no reading for"):
        ledger.post_readings(market.meter, SLOT, {s1: 3000, b1: 2500})
    with pytest.raises(LedgerError, match="2 readings for 3 positions"):
        ledger.post_readings(market.meter, SLOT, [1, 2])
    # Readings may come in parts, each with the positions after the last one settled.
    post(market.meter, readings[:2], positions)
    info = ledger.slot_info(SLOT)
    assert (info.phase, info.metered_positions) == (Phase.CLEARED, 2)
    # A client resumes where the meter stopped: B2's reading only.
    (rest,) = ledger.post_readings(market.meter, SLOT, {s1: 1, b1: 1, b2: 500})
    assert [e.args["member"] for e in rest.events_named("MeterSettled")] == [b2]
    assert ledger.slot_info(SLOT).phase is Phase.SETTLED
    assert market.balances()[s1] == FUNDS_MICRO + 407_500  # metered as traded: no true-up
    with reverts(POST, "slot is not cleared"):
        ledger.post_readings(market.meter, SLOT, {s1: 3000, b1: 2500, b2: 500})


def test_positions_are_packed_32_bytes_each() -> None:
    member = "0x" + "ab" * 20
    packed = packed_positions([Position(member, True, 2500, 2**56 - 1)])
    assert packed == bytes.fromhex("ab" * 20 + "01" + "000009c4" + "ff" * 7)
    with pytest.raises(LedgerError, match="position out of range"):
        packed_positions([Position(member, False, 2**32, 0)])
    with pytest.raises(LedgerError, match="bad address"):
        packed_positions([Position("0x12", False, 1, 0)])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(readings=st.lists(st.integers(0, 6000), min_size=3, max_size=3))
def test_any_readings_conserve_money_and_match_the_python_settlement(readings: list[int]) -> None:
    market = cleared(dso_reserve_micro=5_000_000)
    positions = market.ledger.positions(SLOT)
    before = market.balances()
    (receipt,) = market.ledger.post_readings(market.meter, SLOT, readings)
    # every member's free balance covers what it could owe: no shortfall
    expected = [metered_settlement(p, m, PENALTY) for p, m in zip(positions, readings, strict=True)]
    for event, settlement in zip(receipt.events_named("MeterSettled"), expected, strict=True):
        assert event.args["credit_micro"] == settlement.credit_micro
        assert event.args["paid_to_dso_micro"] - event.args["paid_by_dso_micro"] == (
            settlement.to_dso_micro - settlement.from_dso_micro
        )
    after = market.balances()
    assert sum(after.values()) == sum(before.values())
    assert after[market.dso] - before[market.dso] == sum(s.owed_to_dso_micro for s in expected)
    market.assert_conserved(4 * FUNDS_MICRO + 5_000_000)
