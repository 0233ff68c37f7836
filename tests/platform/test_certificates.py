"""Issuing certificates from the meters, and a consumer's hourly matching score from the chain's
cancellations and its metered consumption."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peergrid.core.errors import LedgerError
from peergrid.ledger import EmbeddedChain
from peergrid.ledger.markets.certificates import CertificateRegistry
from peergrid.platform.certificates import hourly_matching, issue_from_meters, matching_by_hour

SLOT_S = 900  # four slots an hour


def test_matching_by_hour_counts_only_the_same_hour() -> None:
    # hour 0: 1000 consumed, 600 cancelled; hour 1: 500 consumed, 900 cancelled (400 surplus
    # that does not carry); hour 2: cancelled but nothing consumed.
    consumption = {0: 400, 3: 600, 4: 500}
    cancelled = {1: 600, 7: 900, 9: 300}
    m = matching_by_hour(consumption, cancelled, 4)
    assert m.consumed_wh == {0: 1000, 1: 500}
    assert m.cancelled_wh == {0: 600, 1: 900, 2: 300}
    assert m.covered_wh == 600 + 500
    assert m.score == pytest.approx(1100 / 1500)
    assert matching_by_hour({}, cancelled, 4).score is None
    with pytest.raises(ValueError, match="negative"):
        matching_by_hour({0: -1}, {}, 4)


@given(
    consumption=st.dictionaries(st.integers(0, 40), st.integers(0, 5000), max_size=12),
    cancelled=st.dictionaries(st.integers(0, 40), st.integers(0, 5000), max_size=12),
    per_hour=st.integers(1, 4),
)
def test_the_score_is_a_share(
    consumption: dict[int, int], cancelled: dict[int, int], per_hour: int
) -> None:
    m = matching_by_hour(consumption, cancelled, per_hour)
    assert m.covered_wh <= min(m.total_consumed_wh, sum(cancelled.values()))
    if m.score is not None:
        assert 0.0 <= m.score <= 1.0


def test_hourly_matching_from_the_chain() -> None:
    chain = EmbeddedChain()
    issuer, meter = chain.new_account("issuer"), chain.new_account("meter")
    pv, wind = chain.new_account("pv"), chain.new_account("wind")
    consumer, other = chain.new_account("consumer"), chain.new_account("other")
    registry = CertificateRegistry.deploy(chain, issuer=issuer, slot_seconds=SLOT_S)
    registry.register_device(pv, "solar", 5)
    registry.register_device(wind, "wind", 9)
    registry.set_meter(meter)
    chain.advance_time(8 * SLOT_S)
    for slot, production in {1: {pv: 800, wind: 0}, 5: {pv: 300, wind: 700}}.items():
        receipts = issue_from_meters(registry, meter, slot, production)
        issued = [e.args["wh"] for rc in receipts for e in rc.events_named("Issued")]
        assert sorted(issued) == sorted(wh for wh in production.values() if wh)
    assert registry.reading_of(1, wind) == (True, False, 0)
    # consumer: 500 cancelled in hour 0 (slot 1), 700 + 100 in hour 1 (slot 5)
    registry.cancel(pv, registry.token_id(1, pv), 500, consumer, (0, 3))
    registry.cancel(wind, registry.token_id(5, wind), 700, consumer, (4, 7))
    registry.cancel(pv, registry.token_id(5, pv), 100, consumer, (4, 7))
    registry.cancel(pv, registry.token_id(5, pv), 200, other, (4, 7))  # not the consumer's
    consumption = {0: 300, 2: 400, 4: 200, 6: 300}  # hour 0: 700, hour 1: 500
    m = hourly_matching(registry, consumer, consumption)
    assert m.cancelled_wh == {0: 500, 1: 800}
    assert m.covered_wh == 500 + 500
    assert m.score == pytest.approx(1000 / 1200)
    with pytest.raises(LedgerError, match="does not divide an hour"):
        hourly_matching(registry, consumer, consumption, slot_seconds=7 * 60)
