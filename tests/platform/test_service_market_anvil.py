"""One long stream on anvil: 2 000 orders placed on the managed anvil node give the engine's
trades, cancellations and books exactly, in a CDA session (its upward pool) and an NCDA one (its
downward pool). About 15 s; skipped where anvil is not installed (the embedded chain's property
tests are its fast sibling)."""

from __future__ import annotations

import pytest

from peergrid.ledger import open_chain
from peergrid.ledger.chain.anvil import AnvilError, find_anvil
from peergrid.platform.service_market import ServiceMarket

from .service_parity import BUSES, DISTANCES, assert_parity, random_stream

try:
    find_anvil()
except AnvilError:  # pragma: no cover - an installation without npm
    pytest.skip("no anvil binary (npm ci)", allow_module_level=True)


N_ORDERS = 2_000
MAX_FILLS = 2


def test_a_long_stream_on_anvil_is_the_engine_s() -> None:
    # 30 agents, two per bus (the last bus has one), so offers share buses and distances tie
    members = {f"brp{k}": BUSES[k // 2] for k in range(30)}
    hops = DISTANCES["hops"]
    with open_chain("anvil") as chain:
        market = ServiceMarket.open(chain, hops, members)
        for session, (ncda, pool) in enumerate([(False, "up"), (True, "down")], start=1):
            orders = random_stream(N_ORDERS // 2, seed=session, members=members)
            market.open_session(session, ncda=ncda)
            record = market.place_stream(session, pool, orders, max_fills=MAX_FILLS)
            resting = market.resting(session, pool)
            assert_parity(record, resting, orders, hops, ncda=ncda, max_fills=MAX_FILLS)
            reasons = {c.reason for c in record.cancellations}
            assert len(record.trades) > N_ORDERS // 4 and reasons == {"self-trade", "fill-limit"}
