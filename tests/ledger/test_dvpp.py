"""The DVPP contract (002_dvpp.md §1.3, §2; acceptance checks B.11–B.17).

Units: the digest's prices are wei per mW per interval; ours are micro-currency per kW per
interval with one currency unit read as one ether, so p_c = 5e8 wei/mW is 500 micro/kW and the
digest's 1.25e16 wei is 12 500 micro-currency (B.11).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peergrid.core.errors import LedgerError
from peergrid.ledger.markets.consortium import Role
from peergrid.ledger.markets.dvpp import (
    Kind,
    Parameters,
    Rating,
    Reason,
    Report,
    community_share_micro,
    complies,
    two_interval_need_micro,
)
from peergrid.mechanisms.dvpp import BatteryState, setpoints_mw

from .dvpp_helpers import DEPOSIT_MICRO, RATING, SUPPLY_MICRO, Dvpp, make_dvpp
from .helpers import reverts
from .test_gas_snapshot import numbered

P_MAX_MW = 50_000_000
P_C = 500
SNAPSHOT = Path(__file__).with_name("gas_snapshot_dvpp.json")


def settled(receipt: object) -> list[dict[str, int]]:
    return [dict(e.args) for e in receipt.events_named("Settled")]  # type: ignore[attr-defined]


def deregistered(receipt: object) -> list[dict[str, object]]:
    return [dict(e.args) for e in receipt.events_named("Deregistered")]  # type: ignore[attr-defined]


def comply_all(d: Dvpp, p_res_w: list[float] | None = None) -> list[int]:
    """Every household reads its instruction and reports it as measured; the instructions."""
    instructions = [d.ledger.read_instruction_mw(h) for h in d.households]
    for i, h in enumerate(d.households):
        p_res = p_res_w[i] if p_res_w else 0.0
        d.ledger.set_state(h, Report(0.5, p_res, instructions[i] / 1000))
    return instructions


# --- B.11, B.12: community settlement (Eq. 6) ---------------------------------------------------


def test_b11_the_digests_example_takes_12500_from_each_other_household() -> None:
    d = make_dvpp(3)
    a, b, c = d.households
    assert d.ledger.two_interval_need() == 150_000 == two_interval_need_micro(P_MAX_MW, P_C)
    d.ledger.advance_interval()
    assert d.ledger.read_instruction_mw(a) == 0
    receipt = d.ledger.set_state(a, Report(0.5, 0.0, 0.0))
    assert settled(receipt) == [
        {"household": a, "interval": 0, "kind": Kind.COMMUNITY, "amount_micro": 25_000}
    ]
    assert community_share_micro(0, 0, P_MAX_MW, 3, P_C) == 12_500
    assert [d.ledger.balance_of(h) for h in (a, b, c)] == [
        DEPOSIT_MICRO + 25_000,
        DEPOSIT_MICRO - 12_500,
        DEPOSIT_MICRO - 12_500,
    ]
    tokens, held, internal = d.money()
    assert tokens == SUPPLY_MICRO and held == internal == 3 * DEPOSIT_MICRO


def test_b12_a_complying_interval_is_zero_sum_and_producers_gain() -> None:
    p_res_w = [1500.0, -2500.0, 400.0, -100.0]
    d = make_dvpp(4, reports=[Report(0.9 - 0.2 * i, p) for i, p in enumerate(p_res_w)])
    before = [d.ledger.balance_of(h) for h in d.households]
    d.ledger.advance_interval()
    instructions = comply_all(d)
    after = [d.ledger.balance_of(h) for h in d.households]
    n = len(d.households)
    x = [instructions[i] - round(p_res_w[i] * 1000) for i in range(n)]
    shares = [
        community_share_micro(
            x[i] + round(p_res_w[i] * 1000), round(p_res_w[i] * 1000), P_MAX_MW, n, P_C
        )
        for i in range(n)
    ]
    for i in range(n):
        exact = (n - 1) * shares[i] - sum(shares[j] for j in range(n) if j != i)
        assert after[i] - before[i] == exact
        # The digest's closed form p_c (n x_i − X) / (n − 1), up to the floors.
        closed = P_C * (n * x[i] - sum(x)) / ((n - 1) * 10**6)
        assert abs((after[i] - before[i]) - closed) <= n
    assert sum(after) == sum(before)
    # The net producer (largest x) gains most, the net consumer loses.
    assert after[x.index(max(x))] - before[x.index(max(x))] > 0
    assert after[x.index(min(x))] - before[x.index(min(x))] < 0


# --- B.13: non-compliance and silence ------------------------------------------------------------


def _one_interval(comply: bool) -> tuple[int, list[dict[str, int]]]:
    d = make_dvpp(3, reports=[Report(0.8, 2000.0), Report(0.6, 2000.0), Report(0.4, 0.0)])
    d.ledger.advance_interval()
    a = d.households[0]
    instruction = d.ledger.read_instruction_mw(a)
    measured = instruction if comply else instruction - 500_000
    events = settled(d.ledger.set_state(a, Report(0.5, 0.0, measured / 1000)))
    for h in d.households[1:]:
        d.ledger.set_state(h, Report(0.5, 0.0, d.ledger.read_instruction_mw(h) / 1000))
    return d.ledger.balance_of(a), events


def test_b13_a_household_that_does_not_follow_gets_nothing_and_still_pays() -> None:
    complied, events_ok = _one_interval(comply=True)
    deviated, events_off = _one_interval(comply=False)
    assert events_ok[0]["kind"] == Kind.COMMUNITY
    assert events_off == [
        {
            "household": events_off[0]["household"],
            "interval": 0,
            "kind": Kind.NOT_COMPLIANT,
            "amount_micro": 0,
        }
    ]
    assert deviated < DEPOSIT_MICRO < complied


def test_compliance_tolerance_is_10_w_plus_one_percent_by_default() -> None:
    assert complies(3_040_000, 3_000_000, 10_000, 100)
    assert not complies(3_040_001, 3_000_000, 10_000, 100)
    assert complies(-10_000, 0, 10_000, 100)
    d = make_dvpp(2, reports=[Report(0.8, 3000.0), Report(0.6, 0.0)])
    d.ledger.advance_interval()
    a = d.households[0]
    assert d.ledger.read_instruction_mw(a) == 3_000_000
    kind = settled(d.ledger.set_state(a, Report(0.5, 0.0, 3040.0)))[0]["kind"]
    assert kind == Kind.COMMUNITY


def test_exact_compliance_when_deployed_without_tolerance() -> None:
    d = make_dvpp(
        2,
        parameters=Parameters(tolerance_mw=0, tolerance_bps=0),
        reports=[Report(0.8, 3000.0), Report(0.6, 0.0)],
    )
    d.ledger.advance_interval()
    receipt = d.ledger.set_state(d.households[0], Report(0.5, 0.0, 2999.999))
    assert settled(receipt)[0]["kind"] == Kind.NOT_COMPLIANT


# --- B.17: liveness ---------------------------------------------------------------------------


def test_b17_a_silent_household_is_deregistered_by_its_neighbour() -> None:
    ratings = [RATING, RATING, Rating(3000, 3000, 80_000)]
    d = make_dvpp(3, ratings=ratings)
    a, b, silent = d.households
    assert d.ledger.p_max_mw() == 80_000_000
    for _ in range(2):  # intervals 1 and 2: a and b report, the last report of c stays at 0
        d.ledger.advance_interval()
        for h in (a, b):
            events = deregistered(
                d.ledger.set_state(h, Report(0.5, 0.0, d.ledger.read_instruction_mw(h) / 1000))
            )
            assert events == []
    d.ledger.advance_interval()  # interval 3: silent for more than two intervals
    receipt = d.ledger.set_state(a, Report(0.5, 0.0, d.ledger.read_instruction_mw(a) / 1000))
    events = deregistered(receipt)
    assert [(e["household"], e["by"], e["reason"]) for e in events] == [(silent, a, Reason.SILENT)]
    assert d.ledger.households() == [a, b]
    assert d.ledger.p_max_mw() == P_MAX_MW  # recomputed without the 80 kW connection
    # The silent household was withdrawn from meanwhile, never paid.
    assert d.ledger.balance_of(silent) < DEPOSIT_MICRO


def test_b17_a_household_short_of_the_two_interval_need_is_deregistered() -> None:
    d = make_dvpp(2, deposit_micro=150_000)  # exactly the need at P_max = 50 kW
    a, b = d.households
    newcomer = d.chain.new_account("newcomer")
    d.ledger.consortium.bootstrap({newcomer: Role.PROSUMER})
    d.ledger.fund(newcomer, 10**7)
    d.ledger.register(newcomer, Rating(3000, 3000, 100_000), Report(0.5, 0.0), 10**6)
    assert d.ledger.two_interval_need() == 300_000
    d.ledger.advance_interval()
    receipt = d.ledger.set_state(newcomer, Report(0.5, 0.0, 0.0))
    events = deregistered(receipt)
    # The newcomer's neighbours: b before it, a after it (wrapping); both are short.
    assert {(e["household"], e["reason"]) for e in events} == {(a, Reason.FUNDS), (b, Reason.FUNDS)}
    assert d.ledger.households() == [newcomer]


def test_a_revoked_prosumer_is_refused_and_deregistered_by_its_neighbour() -> None:
    d = make_dvpp(3, end_bootstrap=True)
    a, b, c = d.households
    proposal, _ = d.ledger.consortium.propose_revoke(a, c, Role.PROSUMER)
    d.ledger.consortium.vote(b, proposal)
    d.ledger.consortium.vote(d.operator, proposal)
    assert d.ledger.consortium.roles_of(c) == Role.NONE
    d.ledger.advance_interval()
    with reverts("Dvpp.set_state", "admission revoked"):
        d.ledger.set_state(c, Report(0.5, 0.0, 0.0))
    events = deregistered(d.ledger.set_state(a, Report(0.5, 0.0, 0.0)))
    assert [(e["household"], e["reason"]) for e in events] == [(c, Reason.REVOKED)]


# --- admission by the consortium -----------------------------------------------------------------


def test_registration_needs_the_consortiums_vote() -> None:
    d = make_dvpp(2, end_bootstrap=True)
    a, b = d.households
    newcomer = d.chain.new_account("newcomer")
    d.ledger.fund(newcomer, 10**7)
    with reverts("Dvpp.register", "caller is not admitted as a prosumer"):
        d.ledger.register(newcomer, RATING, Report(0.5, 0.0), DEPOSIT_MICRO)
    proposal, _ = d.ledger.consortium.propose_grant(a, newcomer, Role.PROSUMER)
    d.ledger.consortium.vote(b, proposal)
    d.ledger.consortium.vote(d.dso, proposal)
    d.ledger.register(newcomer, RATING, Report(0.5, 0.0), DEPOSIT_MICRO)
    assert d.ledger.households() == [a, b, newcomer]


# --- B.14, B.15: flexibility (Eq. 7) ----------------------------------------------------------


def test_b14_b15_flexibility_pays_the_compliant_share_and_suspends_sharing() -> None:
    d = make_dvpp(3, reports=[Report(0.8, 0.0), Report(0.6, 0.0), Report(0.4, 0.0)])
    a = d.households[0]
    ledger = d.ledger
    assert ledger.flexibility_available(6000)
    ledger.contract_flexibility(d.contractor, 6000, intervals=2)
    flex = ledger.flexibility()
    assert flex is not None and (flex.start, flex.end, flex.per_interval_micro) == (0, 2, 6000)
    assert ledger.escrow.locked_of(d.contractor) == 12_000
    ledger.advance_interval()
    assert ledger.target_mw() == 6_000_000
    instructions = [ledger.read_instruction_mw(h) for h in d.households]
    assert instructions == [3_000_000, 3_000_000, 0]  # the paper's rule: two at P_opt
    before = {h: ledger.balance_of(h) for h in (*d.households, d.contractor)}
    paid = []
    for h, instruction in zip(d.households, instructions, strict=True):
        receipt = ledger.set_state(h, Report(0.5, 0.0, instruction / 1000))
        paid.append(settled(receipt)[0])
    assert [p["kind"] for p in paid] == [Kind.FLEXIBILITY] * 3
    assert [p["amount_micro"] for p in paid] == [3000, 3000, 0]
    # Σ r_f = |P_flex|·p_f for the interval; the contractor pays exactly that; no sharing.
    assert before[d.contractor] - ledger.balance_of(d.contractor) == 6000
    assert [ledger.balance_of(h) - before[h] for h in d.households] == [3000, 3000, 0]
    # Interval 2: household a does not follow; its share stays with the contractor.
    ledger.advance_interval()
    instructions = [ledger.read_instruction_mw(h) for h in d.households]
    ledger.set_state(a, Report(0.5, 0.0, 0.0))
    for h, instruction in zip(d.households[1:], instructions[1:], strict=True):
        ledger.set_state(h, Report(0.5, 0.0, instruction / 1000))
    # Interval 3: the contract (intervals 0 and 1) is over; closing refunds the rest.
    ledger.advance_interval()
    assert not ledger.contracted()
    receipt = ledger.close_flexibility(a)
    spent = 6000 + sum(6000 * abs(i) // 6_000_000 for i in instructions[1:])
    assert receipt.events_named("FlexibilityClosed")[0].args["refund_micro"] == 12_000 - spent
    assert ledger.escrow.locked_of(d.contractor) == 0
    ledger.withdraw(d.contractor, ledger.available_of(d.contractor))
    tokens, held, internal = d.money()
    assert tokens == SUPPLY_MICRO and held == internal


def test_cancel_ends_the_contract_from_this_interval() -> None:
    d = make_dvpp(2, reports=[Report(0.8, 0.0), Report(0.6, 0.0)])
    ledger = d.ledger
    ledger.contract_flexibility(d.contractor, -3000, intervals=10)
    ledger.advance_interval()
    ledger.cancel_flexibility(d.contractor)
    assert not ledger.contracted()
    flex = ledger.flexibility()
    assert flex is not None and flex.end == 1
    # Interval 0 is still paid (contracted), interval 1 is shared again.
    a = d.households[0]
    receipt = ledger.set_state(a, Report(0.5, 0.0, ledger.read_instruction_mw(a) / 1000))
    assert settled(receipt)[0]["kind"] == Kind.FLEXIBILITY
    with reverts("Dvpp.close_flexibility", "the contract is still being settled"):
        ledger.close_flexibility(a)
    ledger.advance_interval()
    receipt = ledger.set_state(a, Report(0.5, 0.0, ledger.read_instruction_mw(a) / 1000))
    assert settled(receipt)[0]["kind"] == Kind.COMMUNITY
    ledger.close_flexibility(d.contractor)
    assert ledger.flexibility() is None


# --- B.16: rights, each refused whole ----------------------------------------------------------


def test_b16_every_right_is_enforced_and_a_refusal_changes_nothing() -> None:
    d = make_dvpp(3)
    a, b, _ = d.households
    ledger = d.ledger
    outsider = d.chain.new_account("outsider")

    def refused(call: str, reason: str, action: object) -> None:
        before = d.state()
        with reverts(call, reason):
            action()  # type: ignore[operator]
        assert d.state() == before

    refused(
        "Dvpp.contract_flexibility",
        "a registered household cannot contract flexibility",
        lambda: ledger.contract_flexibility(a, 3000, 2),
    )
    ledger.contract_flexibility(d.contractor, 3000, 2)
    ledger.fund(outsider, 10**7)
    refused(
        "Dvpp.contract_flexibility",
        "flexibility is already contracted",
        lambda: ledger.contract_flexibility(outsider, 3000, 2),
    )
    refused(
        "Dvpp.cancel_flexibility",
        "caller is not the contractor",
        lambda: ledger.cancel_flexibility(a),
    )
    refused(
        "Dvpp.set_flexibility_price",
        "flexibility is contracted",
        lambda: ledger.set_flexibility_price(2000),
    )
    refused(
        "Dvpp.set_flexibility_price",
        "caller is not the operator",
        lambda: ledger.set_flexibility_price(2000, sender=a),
    )
    refused(
        "Dvpp.register",
        "already registered",
        lambda: ledger.register(a, RATING, Report(0.5, 0.0), 0),
    )
    refused(
        "Dvpp.deregister",
        "caller is not a registered household",
        lambda: ledger.deregister(outsider),
    )
    refused(
        "Dvpp.set_state",
        "second report in one interval",  # registration was the report
        lambda: ledger.set_state(a, Report(0.5, 0.0)),
    )
    ledger.advance_interval()
    ledger.set_state(a, Report(0.5, 0.0, ledger.read_instruction_mw(a) / 1000))
    refused(
        "Dvpp.set_state",
        "second report in one interval",
        lambda: ledger.set_state(a, Report(0.5, 0.0)),
    )
    refused(
        "Dvpp.set_state",
        "caller is not a registered household",
        lambda: ledger.set_state(outsider, Report(0.5, 0.0)),
    )
    refused(
        "Dvpp.withdraw",
        "would leave less than the two-interval need",
        lambda: ledger.withdraw(b, ledger.balance_of(b) - 149_999),
    )
    # A node reads its own instruction; an account outside the DVPP reads none.
    with reverts("Dvpp.read_instruction", "caller is not in the interval's snapshot"):
        ledger.read_instruction_mw(outsider)
    ledger.advance_interval(2)  # the contract's two intervals are over
    ledger.close_flexibility(outsider)
    ledger.set_flexibility_price(2000)
    assert ledger.price_flexibility() == 2000


def test_bad_input_is_a_named_revert_that_changes_nothing() -> None:
    d = make_dvpp(2)
    a, b = d.households
    ledger = d.ledger
    newcomer = d.chain.new_account("newcomer")
    ledger.consortium.bootstrap({newcomer: Role.PROSUMER})
    ledger.fund(newcomer, 10**7)
    ledger.advance_interval()
    cases = [
        ("Dvpp.set_state", "soc_mpct above 100 000", lambda: ledger.set_state(a, Report(1.2, 0.0))),
        (
            "Dvpp.set_state",
            "report for another household",
            lambda: ledger.set_state(a, Report(0.5, 0.0), sender=b),
        ),
        (
            "Dvpp.set_state",
            "p_res_mw beyond the household's p_max",
            lambda: ledger.set_state(a, Report(0.5, 50_000.0)),
        ),
        (
            "Dvpp.set_state",
            "p_measured_mw beyond the household's p_max",
            lambda: ledger.set_state(a, Report(0.5, 0.0, -50_001.0)),
        ),
        (
            "Dvpp.register",
            "p_opt_discharge_mw not in 1..2**31-1",
            lambda: ledger.register(newcomer, Rating(-3000, 3000, 50_000), Report(0.5, 0.0), 10**6),
        ),
        (
            "Dvpp.register",
            "p_max_mw not in 1..2**31-1",
            lambda: ledger.register(newcomer, Rating(3000, 3000, 0), Report(0.5, 0.0), 10**6),
        ),
        (
            "Dvpp.register",
            "soc_mpct above 100 000",
            lambda: ledger.register(newcomer, RATING, Report(1.5, 0.0), 10**6),
        ),
        (
            "Dvpp.register",
            "deposit below the two-interval need",
            lambda: ledger.register(newcomer, RATING, Report(0.5, 0.0), 149_999),
        ),
        (
            "Dvpp.contract_flexibility",
            "p_flex_mw is zero",
            lambda: ledger.contract_flexibility(d.contractor, 0.0, 2),
        ),
        (
            "Dvpp.contract_flexibility",
            "intervals out of range",
            lambda: ledger.contract_flexibility(d.contractor, 1000.0, 0),
        ),
    ]
    for call, reason, action in cases:
        before = d.state()
        with reverts(call, reason):
            action()
        assert d.state() == before, reason
    with pytest.raises(LedgerError, match="soc must be a state of charge from 0 to 1"):
        ledger.set_state(a, Report(-0.1, 0.0))
    # The newcomer's approval of the refused deposit is all that changed; it registers now.
    ledger.register(newcomer, RATING, Report(0.5, 0.0), 150_000)


def test_a_household_that_left_registers_again_from_the_next_interval() -> None:
    d = make_dvpp(3)
    a, b, c = d.households
    ledger = d.ledger
    ledger.advance_interval()
    ledger.deregister(b)
    assert ledger.households() == [a, c]
    # b is still in interval 0's snapshot: a's instruction and settlement count it.
    receipt = ledger.set_state(a, Report(0.5, 0.0, 0.0))
    assert settled(receipt)[0]["amount_micro"] == 2 * 12_500
    with reverts("Dvpp.register", "left in this interval"):
        ledger.register(b, RATING, Report(0.5, 0.0), 0)
    ledger.advance_interval()
    ledger.register(b, RATING, Report(0.5, 0.0), 0)
    assert ledger.households() == [a, c, b]
    # Deregistered money is withdrawable in full.
    ledger.deregister(c)
    ledger.withdraw(c, ledger.balance_of(c))
    assert ledger.balance_of(c) == 0
    tokens, held, internal = d.money()
    assert tokens == SUPPLY_MICRO and held == internal


# --- parity of read_instruction with the off-chain heuristic --------------------------------------

battery = st.tuples(
    st.integers(0, 100_000),  # soc, m%
    st.integers(1, 8_000_000),  # p_opt discharge, mW
    st.integers(1, 8_000_000),  # p_opt charge, mW
    st.integers(-20_000_000, 20_000_000),  # p_res, mW
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batteries=st.lists(battery, min_size=1, max_size=8),
    rule=st.sampled_from(["paper", "code"]),
    flex_mw=st.integers(-30_000_000, 30_000_000).filter(lambda f: f == 0 or abs(f) >= 1000),
)
def test_read_instruction_equals_the_off_chain_setpoints(
    batteries: list[tuple[int, int, int, int]], rule: str, flex_mw: int
) -> None:
    ratings = [Rating(dis / 1000, ch / 1000, 50_000) for _, dis, ch, _ in batteries]
    reports = [Report(soc / 100_000, p_res / 1000) for soc, _, _, p_res in batteries]
    d = make_dvpp(
        len(batteries),
        parameters=Parameters(rule=rule),
        ratings=ratings,
        reports=reports,
        deposit_micro=200_000,
    )
    contracted = flex_mw != 0 and d.ledger.flexibility_available(flex_mw / 1000)
    if contracted:
        d.ledger.contract_flexibility(d.contractor, flex_mw / 1000, intervals=1)
    d.ledger.advance_interval()
    target = sum(p for *_, p in batteries) + (flex_mw if contracted else 0)
    assert d.ledger.target_mw() == target
    states = [
        BatteryState(f"b{i}", soc / 100_000, dis / 1000, ch / 1000)
        for i, (soc, dis, ch, _) in enumerate(batteries)
    ]
    expected = setpoints_mw(states, target, rule)  # type: ignore[arg-type]
    assert [d.ledger.read_instruction_mw(h) for h in d.households] == expected
    assert list(d.ledger.read_instructions_mw(d.households).values()) == expected


@pytest.mark.parametrize(
    ("target_w", "rule", "expected_w"),
    [
        (7000, "paper", [3500, 3500, 0, 0]),
        (7000, "code", [2333.333, 2333.333, 2333.333, 0]),
        (-4000, "paper", [0, 0, 0, -4000]),
        (-4000, "code", [0, 0, -2000, -2000]),
        (1000, "paper", [1000, 0, 0, 0]),
        (15000, "paper", [3750] * 4),
    ],
)
def test_digest_a_examples_on_chain(target_w: int, rule: str, expected_w: list[float]) -> None:
    """A.2, A.4, A.7, A.9: four batteries at 80/60/40/20 %, P_opt 3 kW; the residual load of
    the first household carries the target."""
    reports = [Report(0.8 - 0.2 * i, target_w if i == 0 else 0.0) for i in range(4)]
    d = make_dvpp(4, parameters=Parameters(rule=rule), reports=reports)
    d.ledger.advance_interval()
    assert [d.ledger.read_instruction_w(h) for h in d.households] == expected_w


# --- gas of a fixed scenario against its snapshot ------------------------------------------------


def dvpp_scenario_gas() -> dict[str, int]:
    d = make_dvpp(3, reports=[Report(0.8, 1000.0), Report(0.6, -500.0), Report(0.4, 0.0)])
    ledger = d.ledger
    ledger.advance_interval()
    comply_all(d)
    ledger.contract_flexibility(d.contractor, 3000, intervals=1)
    ledger.advance_interval()
    comply_all(d)
    ledger.advance_interval()
    ledger.close_flexibility(d.contractor)
    ledger.withdraw(d.households[0], 1000)
    ledger.deregister(d.households[2])
    ledger.withdraw(d.households[2], ledger.balance_of(d.households[2]))
    return numbered(ledger.gas_log, "dvpp/")


def test_dvpp_gas_matches_its_snapshot() -> None:
    """Regenerate after a deliberate change: PEERGRID_UPDATE_GAS_SNAPSHOT=1."""
    measured = dvpp_scenario_gas()
    if os.environ.get("PEERGRID_UPDATE_GAS_SNAPSHOT"):
        SNAPSHOT.write_text(json.dumps(measured, indent=2) + "\n")
    expected = json.loads(SNAPSHOT.read_text())
    assert measured == expected
