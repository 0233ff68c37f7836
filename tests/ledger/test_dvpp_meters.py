"""The DVPP's meters contract: meter keys named by their households, signed reports in one batch.

A batch of signed reports must leave the DVPP exactly as the same reports sent one by one by the
households; a report the contract cannot trust (unknown meter, bad signature, another interval's
or another household's signature) reverts the whole batch with a named reason, nothing changed.
"""

from __future__ import annotations

import pytest

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.compile import compile_contract
from peergrid.ledger.markets.dvpp import Report
from peergrid.ledger.markets.dvpp_meters import (
    DvppMeters,
    MeterKey,
    SignedReport,
    report_digest,
    sign_report,
)

from .dvpp_helpers import Dvpp, make_dvpp
from .helpers import reverts

BATCH = "DvppMeters.report_batch"


def with_meters(n: int = 3, *, register: bool = True) -> tuple[Dvpp, DvppMeters]:
    d = make_dvpp(n, meters=True)
    assert d.meters is not None
    if register:
        for h in d.households:
            d.meters.register_meter(h)
    return d, d.meters


def settled(receipt: object) -> list[dict[str, object]]:
    return [dict(e.args) for e in receipt.events_named("Settled")]  # type: ignore[attr-defined]


def interval_reports(d: Dvpp, k: int) -> dict[str, Report]:
    """Interval ``k``'s reports: varied residual loads, each household measuring exactly the
    instruction it reads (so every one complies and Eq. 6 moves money)."""
    instructions = d.ledger.read_instructions_mw(d.households)
    return {
        h: Report(
            0.2 + 0.15 * i + 0.01 * k,
            (-1) ** (i + k) * (2500.0 + 700 * i),
            instructions[h] / 1000,
        )
        for i, h in enumerate(d.households)
    }


def test_meter_digest_and_key_match_the_contract() -> None:
    d, meters = with_meters(2)
    h = d.households[0]
    args = (h, 5, 42_000, -1_234_567, 3_000_000)
    on_chain = d.chain.call(meters.contract, "report_digest", *args)
    assert on_chain == report_digest(d.chain.chain_id, meters.contract.address, *args)
    assert meters.meter_of(h) == meters.meter_key(h).address
    assert meters.meter_of(d.contractor) is None
    assert d.ledger.meters() == meters.contract.address
    assert make_dvpp(1).ledger.meters() is None


def test_only_the_household_names_its_meter_and_only_the_operator_names_the_meters() -> None:
    d, meters = with_meters(2)
    a, b = d.households
    thief = MeterKey.from_seed("thief")
    with reverts("DvppMeters.register_meter", "meter for another household"):
        meters.register_meter(a, thief, sender=b)
    assert meters.meter_of(a) == meters.meter_key(a).address != thief.address
    with reverts("DvppMeters.register_meter", "meter is the zero address"):
        d.chain.transact(a, meters.contract, "register_meter", a, "0x" + "00" * 20)
    # A household replaces its meter: the old key's reports are refused from then on.
    old = meters.meter_key(a)
    d.ledger.advance_interval()
    stale = sign_report(
        old,
        chain_id=d.chain.chain_id,
        meters=meters.contract.address,
        household=a,
        interval=meters.current_interval(),
        report=Report(0.5, 0.0),
    )
    meters.register_meter(a, MeterKey.from_seed("new meter"))
    with reverts(BATCH, "bad signature"):
        meters.report_batch([stale], d.operator)
    # The meters are bound once, by their deployer, to the DVPP that names them.
    with reverts("DvppMeters.bind", "caller is not the deployer"):
        d.chain.transact(a, meters.contract, "bind", d.ledger.contract.address)
    with reverts("DvppMeters.bind", "already bound"):
        d.chain.transact(d.operator, meters.contract, "bind", d.ledger.contract.address)
    other = make_dvpp(1)
    loose = other.chain.deploy(other.operator, compile_contract("DvppMeters"))
    with reverts("DvppMeters.bind", "the DVPP does not name these meters"):
        other.chain.transact(other.operator, loose, "bind", other.ledger.contract.address)
    with reverts("DvppMeters.report_batch", "not bound to a DVPP"):
        other.chain.transact(other.operator, loose, "report_batch", [])


def test_a_batch_equals_the_same_reports_sent_one_by_one() -> None:
    """Same state, same balances, same settlements, interval after interval."""
    own = make_dvpp(4)
    batch, meters = with_meters(4)
    assert own.households == batch.households
    relayer = batch.chain.new_account("relayer")
    for k in range(1, 5):
        own.ledger.advance_interval()
        batch.ledger.advance_interval()
        reports = interval_reports(own, k)
        assert reports == interval_reports(batch, k)
        own_settled = [
            e for h in own.households for e in settled(own.ledger.set_state(h, reports[h]))
        ]
        receipt = meters.report_batch(meters.sign_all(reports, k), relayer)
        assert settled(receipt) == own_settled
        assert batch.state() == own.state()
    kinds = {e["kind"] for e in own_settled}
    assert kinds == {1}  # every report complied and was settled by Eq. 6
    assert sum(e["amount_micro"] for e in own_settled) > 0  # type: ignore[misc]


def refused(d: Dvpp, meters: DvppMeters, reports: list[SignedReport], reason: str) -> None:
    before = d.state()
    with reverts(BATCH, reason):
        meters.report_batch(reports, d.operator)
    assert d.state() == before


def test_a_bad_signature_reverts_the_whole_batch() -> None:
    d, meters = with_meters(3)
    d.ledger.advance_interval()
    a, b, c = d.households
    good = meters.sign(a, 1, Report(0.5, 100.0))
    forged = sign_report(
        MeterKey.from_seed("forger"),
        chain_id=d.chain.chain_id,
        meters=meters.contract.address,
        household=b,
        interval=1,
        report=Report(0.5, 100.0),
    )
    refused(d, meters, [good, forged], "bad signature")
    # The signature of one report on other values.
    signed = meters.sign(c, 1, Report(0.5, 100.0))
    tampered = SignedReport(c, 1, signed.soc_mpct, 99_000, 0, signed.v, signed.r, signed.s)
    refused(d, meters, [good, tampered], "bad signature")
    # The other form of the same signature (s above half the curve's order).
    order = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    high_s = (order - int.from_bytes(signed.s, "big")).to_bytes(32, "big")
    flipped = SignedReport(
        c, 1, signed.soc_mpct, signed.p_res_mw, 0, 55 - signed.v, signed.r, high_s
    )
    refused(d, meters, [flipped], "bad signature")
    refused(
        d, meters, [SignedReport(c, 1, 50_000, 0, 0, 29, bytes(32), bytes(32))], "bad signature"
    )
    meters.report_batch([good, signed], d.operator)  # the honest ones pass


def test_a_signature_of_another_interval_or_contract_is_refused() -> None:
    d, meters = with_meters(2)
    a, _ = d.households
    d.ledger.advance_interval()
    old = meters.sign(a, 1, Report(0.5, 100.0))
    d.ledger.advance_interval()
    refused(d, meters, [old], "report for another interval")
    moved = SignedReport(a, 2, old.soc_mpct, old.p_res_mw, old.p_measured_mw, old.v, old.r, old.s)
    refused(d, meters, [moved], "bad signature")
    # A signature for another deployment (its address in the digest) is worthless here.
    elsewhere = sign_report(
        meters.meter_key(a),
        chain_id=d.chain.chain_id,
        meters=d.ledger.contract.address,
        household=a,
        interval=2,
        report=Report(0.5, 100.0),
    )
    refused(d, meters, [elsewhere], "bad signature")
    other_chain = sign_report(
        meters.meter_key(a),
        chain_id=d.chain.chain_id + 1,
        meters=meters.contract.address,
        household=a,
        interval=2,
        report=Report(0.5, 100.0),
    )
    refused(d, meters, [other_chain], "bad signature")


def test_an_unregistered_meter_and_another_households_report_are_refused() -> None:
    d, meters = with_meters(3, register=False)
    a, b, c = d.households
    meters.register_meter(a)
    meters.register_meter(b)
    d.ledger.advance_interval()
    refused(d, meters, [meters.sign(c, 1, Report(0.5, 0.0))], "meter not registered")
    # a's meter signs a report naming b: b's meter did not sign it.
    for_b = sign_report(
        meters.meter_key(a),
        chain_id=d.chain.chain_id,
        meters=meters.contract.address,
        household=b,
        interval=1,
        report=Report(0.5, 0.0),
    )
    refused(d, meters, [for_b], "bad signature")
    # A household still cannot report for another one directly.
    before = d.state()
    with reverts("Dvpp.set_state", "report for another household"):
        d.ledger.set_state(b, Report(0.5, 0.0), sender=a)
    assert d.state() == before


def test_the_dvpp_s_rules_hold_for_relayed_reports() -> None:
    d, meters = with_meters(3)
    a, b, c = d.households
    d.ledger.advance_interval()
    refused(d, meters, [meters.sign(a, 1, Report(1.2, 0.0))], "soc_mpct above 100 000")
    refused(
        d,
        meters,
        [meters.sign(a, 1, Report(0.5, 60_000.0))],
        "p_res_mw beyond the household's p_max",
    )
    twice = [meters.sign(a, 1, Report(0.5, 0.0)), meters.sign(a, 1, Report(0.6, 0.0))]
    refused(d, meters, twice, "second report in one interval")
    # A household that left is not reported for, whatever its meter signs.
    d.ledger.deregister(c)
    refused(
        d, meters, [meters.sign(c, 1, Report(0.5, 0.0))], "caller is not a registered household"
    )
    # The neighbour check runs for a relayed report: a silent for more than two intervals.
    meters.report_batch([meters.sign(b, 1, Report(0.5, 0.0))], d.operator)
    d.ledger.advance_interval(3)
    receipt = meters.report_batch([meters.sign(b, 4, Report(0.5, 0.0))], d.operator)
    gone = [dict(e.args) for e in receipt.events_named("Deregistered")]
    assert gone == [{"household": a, "by": b, "reason": 1, "interval": 4}]
    assert d.ledger.households() == [b]


def test_a_batch_of_more_than_the_dvpp_s_households_is_refused_here() -> None:
    d, meters = with_meters(1)
    report = meters.sign(d.households[0], 0, Report(0.5, 0.0))
    with pytest.raises(LedgerError, match="at most 64"):
        meters.report_batch([report] * 65, d.operator)
