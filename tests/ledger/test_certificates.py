"""The guarantees-of-origin registry (``Certificates.vy``): each role's checks, each bad input
as a named revert that changes nothing, and certificates conserved (issued = held + cancelled +
expired) under random sequences of operations."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from peergrid.core.errors import LedgerError
from peergrid.ledger import Chain, EmbeddedChain
from peergrid.ledger.markets.certificates import (
    MAX_BATCH,
    CertificateRegistry,
    slot_of,
    technology_code,
    token_id,
)

from .helpers import reverts

SLOT_S = 900
LIFETIME_S = 10 * SLOT_S
CALL = "Certificates"


@dataclass
class Registry:
    chain: Chain
    registry: CertificateRegistry
    issuer: str
    meter: str
    producers: list[str]
    consumer: str
    stranger: str


def make_registry(chain: Chain | None = None) -> Registry:
    chain = chain if chain is not None else EmbeddedChain()
    issuer = chain.new_account("issuer")
    meter = chain.new_account("meter")
    producers = [chain.new_account(f"producer {i}") for i in range(3)]
    registry = CertificateRegistry.deploy(
        chain, issuer=issuer, slot_seconds=SLOT_S, lifetime_seconds=LIFETIME_S
    )
    for i, producer in enumerate(producers):
        registry.register_device(producer, "solar" if i else "wind", 10 + i)
    registry.set_meter(meter)
    return Registry(
        chain,
        registry,
        issuer,
        meter,
        producers,
        chain.new_account("consumer"),
        chain.new_account("stranger"),
    )


@pytest.fixture
def r() -> Registry:
    return make_registry()


def issued(r: Registry, slot: int, production: dict[str, int]) -> None:
    elapsed = r.chain.timestamp() - r.registry.epoch()
    r.chain.advance_time(max(0, SLOT_S * (slot + 1) + 1 - elapsed))
    r.registry.post_production(r.meter, slot, production)
    r.registry.issue_slot(slot, [p for p, wh in production.items() if wh])


def test_issue_transfer_cancel_and_read_back(r: Registry) -> None:
    p0, p1, _ = r.producers
    issued(r, 0, {p0: 1200, p1: 300})
    a, b = r.registry.token_id(0, p0), r.registry.token_id(0, p1)
    assert (a, b) == (token_id(0, 1), token_id(0, 2)) and slot_of(a) == 0
    assert r.registry.balance_of(p0, a) == 1200 and r.registry.balance_of(p1, b) == 300
    state = r.registry.state_of(a)
    assert (state.producer, state.technology, state.bus, state.slot) == (p0, 2, 10, 0)
    assert state.expires_at == r.registry.epoch() + SLOT_S + LIFETIME_S
    r.registry.transfer(p0, r.consumer, a, 700)
    r.registry.cancel(r.consumer, a, 500, r.consumer, (0, 3))
    state = r.registry.state_of(a)
    assert (state.issued, state.cancelled, state.expired, state.held) == (1200, 500, 0, 700)
    assert r.registry.balance_of(r.consumer, a) == 200
    assert r.registry.cancelled_for(r.consumer, a) == 500
    assert r.registry.totals() == (1500, 500, 0)
    assert r.registry.reading_of(0, p0) == (True, True, 1200)


def test_a_cancelled_certificate_cannot_move(r: Registry) -> None:
    p0 = r.producers[0]
    issued(r, 0, {p0: 100})
    a = r.registry.token_id(0, p0)
    r.registry.cancel(p0, a, 100, r.consumer, (0, 0))
    before = r.registry.state_of(a)
    with reverts(f"{CALL}.transfer", "not enough certificates: some are cancelled"):
        r.registry.transfer(p0, r.consumer, a, 1)
    with reverts(f"{CALL}.cancel", "not enough certificates: some are cancelled"):
        r.registry.cancel(p0, a, 1, r.stranger, (0, 0))
    assert r.registry.state_of(a) == before
    with reverts(f"{CALL}.transfer", "not enough certificates"):
        r.registry.transfer(r.stranger, r.consumer, a, 1)


def test_nothing_is_issued_twice_or_without_a_reading(r: Registry) -> None:
    p0, p1, p2 = r.producers
    issued(r, 0, {p0: 100, p1: 0})
    with reverts(f"{CALL}.issue", "already issued"):
        r.registry.issue_slot(0, [p0])
    with reverts(f"{CALL}.issue", "no reading for the producer"):
        r.registry.issue_slot(0, [p2])
    with reverts(f"{CALL}.issue", "nothing to issue"):
        r.registry.issue_slot(0, [p1])
    with reverts(f"{CALL}.issue", "producer not registered"):
        r.registry.issue_slot(0, [r.stranger])
    with reverts(f"{CALL}.post_production", "reading already posted"):
        r.registry.post_production(r.meter, 0, {p0: 999})
    # a batch with one bad producer changes nothing
    r.registry.post_production(r.meter, 0, {p2: 50})
    with reverts(f"{CALL}.issue", "already issued"):
        r.registry.issue_slot(0, [p2, p0])
    assert r.registry.reading_of(0, p2) == (True, False, 50)
    assert r.registry.totals() == (100, 0, 0)


def test_roles(r: Registry) -> None:
    p0 = r.producers[0]
    for caller in (r.meter, p0, r.stranger):
        with reverts(f"{CALL}.register_device", "caller is not the issuer"):
            r.chain.transact(caller, r.registry.contract, "register_device", r.stranger, 1, 1)
        with reverts(f"{CALL}.set_meter", "caller is not the issuer"):
            r.chain.transact(caller, r.registry.contract, "set_meter", caller, True)
    r.chain.advance_time(2 * SLOT_S)
    for caller in (r.issuer, p0, r.stranger):
        with reverts(f"{CALL}.post_production", "caller is not a meter"):
            r.chain.transact(caller, r.registry.contract, "post_production", 0, [p0], [10])
    r.registry.post_production(r.meter, 0, {p0: 10})
    for caller in (r.meter, p0, r.stranger):
        with reverts(f"{CALL}.issue", "caller is not the issuer"):
            r.chain.transact(caller, r.registry.contract, "issue", 0, [p0])
    r.registry.issue_slot(0, [p0])
    a = r.registry.token_id(0, p0)
    # only the holder or its approved operator moves certificates
    with reverts(f"{CALL}.transfer_from", "caller is not approved"):
        r.registry.transfer_from(r.stranger, p0, r.stranger, a, 5)
    r.registry.set_approval_for_all(p0, r.stranger)
    r.registry.transfer_from(r.stranger, p0, r.consumer, a, 5)
    r.registry.set_approval_for_all(p0, r.stranger, False)
    with reverts(f"{CALL}.transfer_from", "caller is not approved"):
        r.registry.transfer_from(r.stranger, p0, r.consumer, a, 5)
    # a meter the issuer stops cannot post any more
    r.registry.set_meter(r.meter, False)
    with reverts(f"{CALL}.post_production", "caller is not a meter"):
        r.registry.post_production(r.meter, 1, {p0: 1})
    assert r.registry.balance_of(r.consumer, a) == 5 and r.registry.balance_of(p0, a) == 5


def test_bad_inputs(r: Registry) -> None:
    p0, p1, _ = r.producers
    c = r.registry.contract
    with reverts(f"{CALL}.register_device", "producer already registered"):
        r.registry.register_device(p0, 1, 3)
    with reverts(f"{CALL}.register_device", "technology not in 1..15"):
        r.registry.register_device(r.stranger, 16, 3)
    with reverts(f"{CALL}.register_device", "technology not in 1..15"):
        r.registry.register_device(r.stranger, 0, 3)
    with reverts(f"{CALL}.register_device", "producer is the zero address"):
        r.registry.register_device("0x" + "00" * 20, 1, 3)
    with pytest.raises(LedgerError, match="unknown technology 'coal'"):
        technology_code("coal")
    with reverts(f"{CALL}.post_production", "slot has not ended"):
        r.registry.post_production(r.meter, 0, {p0: 10})
    r.chain.advance_time(2 * SLOT_S)
    with reverts(f"{CALL}.post_production", "readings do not match the producers"):
        r.chain.transact(r.meter, c, "post_production", 0, [p0, p1], [10])
    with reverts(f"{CALL}.post_production", "producer not registered"):
        r.registry.post_production(r.meter, 0, {p0: 10, r.stranger: 5})
    with reverts(f"{CALL}.post_production", "reading out of range"):
        r.chain.transact(r.meter, c, "post_production", 0, [p0], [2**32])
    with pytest.raises(LedgerError, match=r"must be 0\.\.4294967295 Wh"):
        r.registry.post_production(r.meter, 0, {p0: -1})
    assert r.registry.reading_of(0, p0) == (False, False, 0)
    r.registry.post_production(r.meter, 0, {p0: 10})
    r.registry.issue_slot(0, [p0])
    a = r.registry.token_id(0, p0)
    with reverts(f"{CALL}.transfer", "amount is zero"):
        r.registry.transfer(p0, r.consumer, a, 0)
    with reverts(f"{CALL}.transfer", "receiver is the zero address"):
        r.registry.transfer(p0, "0x" + "00" * 20, a, 1)
    with reverts(f"{CALL}.transfer", "not enough certificates"):
        r.registry.transfer(p0, r.consumer, a, 11)
    with reverts(f"{CALL}.cancel", "period ends before it starts"):
        r.registry.cancel(p0, a, 1, r.consumer, (5, 4))
    with reverts(f"{CALL}.cancel", "beneficiary is the zero address"):
        r.registry.cancel(p0, a, 1, "0x" + "00" * 20, (0, 0))
    with reverts(f"{CALL}.cancel", "amount is zero"):
        r.registry.cancel(p0, a, 0, r.consumer, (0, 0))
    with reverts(f"{CALL}.expire", "certificate not expired"):
        r.registry.expire(r.stranger, p0, a)
    with reverts(f"{CALL}.set_approval_for_all", "operator is the zero address"):
        r.registry.set_approval_for_all(p0, "0x" + "00" * 20)
    assert r.registry.balance_of(p0, a) == 10 and r.registry.totals() == (10, 0, 0)


@pytest.mark.slow
def test_the_same_on_a_node(rpc_chain: Chain) -> None:
    """Issue, transfer, cancel, a refused move and expiry on anvil, as on the embedded chain."""
    r = make_registry(rpc_chain)
    p0 = r.producers[0]
    issued(r, 0, {p0: 300})
    a = r.registry.token_id(0, p0)
    r.registry.transfer(p0, r.consumer, a, 200)
    r.registry.cancel(r.consumer, a, 200, r.consumer, (0, 3))
    with reverts(f"{CALL}.transfer", "not enough certificates: some are cancelled"):
        r.registry.transfer(r.consumer, p0, a, 1)
    r.chain.advance_time(LIFETIME_S)
    r.registry.expire(r.stranger, p0, a)
    state = r.registry.state_of(a)
    assert (state.issued, state.cancelled, state.expired, state.held) == (300, 200, 100, 0)


def test_constructor_bounds() -> None:
    chain = EmbeddedChain()
    issuer = chain.new_account("issuer")
    with pytest.raises(LedgerError, match="slot length not in"):
        CertificateRegistry.deploy(chain, issuer=issuer, slot_seconds=0)
    with pytest.raises(LedgerError, match="lifetime not in"):
        CertificateRegistry.deploy(chain, issuer=issuer, slot_seconds=900, lifetime_seconds=0)


def test_expiry(r: Registry) -> None:
    p0, p1, _ = r.producers
    issued(r, 0, {p0: 40})
    a = r.registry.token_id(0, p0)
    r.registry.transfer(p0, r.consumer, a, 15)
    r.chain.advance_time(LIFETIME_S)
    with reverts(f"{CALL}.transfer", "certificate expired"):
        r.registry.transfer(p0, r.consumer, a, 1)
    with reverts(f"{CALL}.cancel", "certificate expired"):
        r.registry.cancel(p0, a, 1, r.consumer, (0, 0))
    r.registry.expire(r.stranger, p0, a)
    r.registry.expire(r.stranger, r.consumer, a)
    with reverts(f"{CALL}.expire", "nothing to expire"):
        r.registry.expire(r.stranger, p0, a)
    state = r.registry.state_of(a)
    assert (state.issued, state.held, state.expired) == (40, 0, 40)
    # a reading posted too late for its certificates to live cannot be issued
    r.registry.post_production(r.meter, 0, {p1: 5})
    with reverts(f"{CALL}.issue", "certificate expired"):
        r.registry.issue_slot(0, [p1])


def test_issuance_is_batched_per_slot() -> None:
    chain = EmbeddedChain()
    issuer, meter = chain.new_account("issuer"), chain.new_account("meter")
    registry = CertificateRegistry.deploy(chain, issuer=issuer, slot_seconds=SLOT_S)
    registry.set_meter(meter)
    producers = [chain.new_account(f"p{i}") for i in range(MAX_BATCH + 4)]
    for i, p in enumerate(producers):
        registry.register_device(p, "solar", i)
    chain.advance_time(SLOT_S + 1)
    posted = registry.post_production(meter, 0, {p: 100 + i for i, p in enumerate(producers)})
    receipts = registry.issue_slot(0, producers)
    assert len(posted) == len(receipts) == 2
    assert sum(len(rc.events_named("Issued")) for rc in receipts) == len(producers)
    assert registry.totals()[0] == sum(100 + i for i in range(len(producers)))


class Conservation(RuleBasedStateMachine):
    """Random issuance, transfers, cancellations, expiries and clock moves; after each step every
    id holds issued = held + cancelled + expired, on chain and in the totals."""

    def __init__(self) -> None:
        super().__init__()
        self.r = make_registry()
        self.holders = [*self.r.producers, self.r.consumer, self.r.stranger]
        self.ids: set[int] = set()
        self.slot = 0
        self.failures = 0

    @rule(production=st.lists(st.integers(0, 5000), min_size=3, max_size=3))
    def issue_next_slot(self, production: list[int]) -> None:
        r = self.r
        readings = dict(zip(r.producers, production, strict=True))
        issued(r, self.slot, readings)
        self.ids |= {r.registry.token_id(self.slot, p) for p, wh in readings.items() if wh}
        self.slot += 1

    def _pick(self, data: st.DataObject) -> tuple[str, int]:
        holder = data.draw(st.sampled_from(self.holders))
        certificate = data.draw(st.sampled_from(sorted(self.ids)))
        return holder, certificate

    @precondition(lambda self: self.ids)
    @rule(data=st.data(), wh=st.integers(1, 3000))
    def transfer(self, data: st.DataObject, wh: int) -> None:
        holder, certificate = self._pick(data)
        receiver = data.draw(st.sampled_from(self.holders))
        try:
            self.r.registry.transfer(holder, receiver, certificate, wh)
        except LedgerError:
            self.failures += 1

    @precondition(lambda self: self.ids)
    @rule(data=st.data(), wh=st.integers(1, 3000))
    def cancel(self, data: st.DataObject, wh: int) -> None:
        holder, certificate = self._pick(data)
        try:
            self.r.registry.cancel(holder, certificate, wh, self.r.consumer, (0, self.slot))
        except LedgerError:
            self.failures += 1

    @precondition(lambda self: self.ids)
    @rule(data=st.data())
    def expire(self, data: st.DataObject) -> None:
        holder, certificate = self._pick(data)
        try:
            self.r.registry.expire(self.r.stranger, holder, certificate)
        except LedgerError:
            self.failures += 1

    @rule(slots=st.integers(1, 12))
    def wait(self, slots: int) -> None:
        self.r.chain.advance_time(slots * SLOT_S)
        self.slot = max(self.slot, (self.r.chain.timestamp() - self.r.registry.epoch()) // SLOT_S)

    @invariant()
    def conserved(self) -> None:
        registry = self.r.registry
        totals = [0, 0, 0]
        for certificate in self.ids:
            state = registry.state_of(certificate)
            held = sum(registry.balance_of(h, certificate) for h in self.holders)
            assert state.issued == held + state.cancelled + state.expired
            totals = [
                totals[0] + state.issued,
                totals[1] + state.cancelled,
                totals[2] + state.expired,
            ]
        assert tuple(totals) == registry.totals()


TestConservation = Conservation.TestCase
TestConservation.settings = settings(
    max_examples=12,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
