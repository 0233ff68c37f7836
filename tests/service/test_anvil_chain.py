"""The service on a private anvil node (``peergrid serve --chain anvil``): orders placed, a slot
cleared and settled on the node, the journal replayed into a fresh node on restart, and either
chain replaying the other's journal. Skipped, saying why, where anvil is not installed (``npm
ci``), except under ``CI=true``, where they fail."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from peergrid.core.errors import PeergridError
from peergrid.ledger.chain.persisted import PersistedEmbeddedChain
from peergrid.ledger.chain.persisted_anvil import PersistedAnvilChain
from peergrid.platform.service import ManualClock
from tests.service.conftest import Harness, open_harness
from tests.service.test_api import BOOK, METERED, run_slot
from tests.service.test_faults import require_anvil
from tests.service.test_recovery import cleared_events, read_model


@pytest.fixture(scope="module", autouse=True)
def anvil_installed() -> None:
    require_anvil()


def chain_state(h: Harness) -> dict[str, Any]:
    """What the chain holds of the market: its slots, the escrow's balances, the clock."""
    market = h.market
    ledger = market.ledger
    return {
        "slots": {s: ledger.slot_info(s) for s in (1, 2, 4)},
        "balances": {
            a: ledger.escrow.balance_of(address)
            for a, address in market.settlement.address_of.items()
        },
        "time": market.chain.timestamp(),
        "logs": [(log.address, log.topics, log.data) for log in market.chain.logs()],
    }


def test_a_slot_settles_on_anvil_and_a_restart_replays_it(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    first = open_harness(run_dir, ManualClock(0.0), chain="anvil")
    try:
        chain = first.market.chain
        assert isinstance(chain, PersistedAnvilChain)
        node = chain.node
        run_slot(first, 1)
        for k, side, q, p in BOOK[:2]:  # a book for a later slot, not settled yet
            order = first.order(k, 4, side, q, p)
            assert first.client.post("/orders", json=order).status_code == 201
        health = first.client.get("/health").json()
        assert health == {"healthy": True, "chain": "PersistedAnvilChain", "error": None}
        assert cleared_events(first.market, 1) == 1
        before, trades = chain_state(first), read_model(first.market.engine)["trades"]
        assert trades and before["logs"]
        nonce = first.nonce
    finally:
        first.service.close()
    assert not node.running  # the service stopped its node
    assert (run_dir / "anvil.log").exists()

    second = open_harness(run_dir, ManualClock(43.5), chain="anvil")
    try:
        chain = second.market.chain
        assert isinstance(chain, PersistedAnvilChain) and chain.replayed > 0
        assert chain.node.pid != node.pid  # a fresh node, the journal replayed into it
        assert chain_state(second) == before
        assert read_model(second.market.engine)["trades"] == trades
        # the market goes on: slot 4's book, refilled from the database, is completed,
        # cleared and settled on the fresh node
        second.nonce = nonce
        for k, side, q, p in BOOK[2:]:
            order = second.order(k, 4, side, q, p)
            assert second.client.post("/orders", json=order).status_code == 201
        second.clock.set(49.0)
        second.market.advance()
        second.clock.set(76.0)
        for k, net in METERED:
            reading = second.reading(k, 4, net)
            assert second.client.post("/readings", json=reading).status_code == 201
        second.clock.set(88.5)
        assert second.market.advance() == [4]
        assert cleared_events(second.market, 1) == 1 and cleared_events(second.market, 4) == 1
        assert read_model(second.market.engine)["trades"][: len(trades)] == trades
    finally:
        second.service.close()


def test_either_chain_replays_the_others_journal(tmp_path: Path) -> None:
    states: dict[str, dict[str, Any]] = {}
    for first, second in (("embedded", "anvil"), ("anvil", "embedded")):
        run_dir = tmp_path / first
        h = open_harness(run_dir, ManualClock(0.0), chain=first)
        try:
            run_slot(h, 1)
            states[first] = chain_state(h)
        finally:
            h.service.close()
        h = open_harness(run_dir, ManualClock(43.5), chain=second)
        try:
            kind = PersistedAnvilChain if second == "anvil" else PersistedEmbeddedChain
            assert isinstance(h.market.chain, kind)
            assert chain_state(h) == states[first]
        finally:
            h.service.close()
    # the same transactions at the same times: the same logs, gas and balances on both
    embedded, anvil = states["embedded"], states["anvil"]
    assert embedded["balances"] == anvil["balances"]
    assert len(embedded["logs"]) == len(anvil["logs"])


def test_a_slot_uses_the_same_gas_on_both_chains(tmp_path: Path) -> None:
    # One market deployed, its run directory copied: the same keys, addresses and salts' seed
    # on both chains, so the same calldata.
    open_harness(tmp_path / "embedded", ManualClock(0.0)).service.close()
    shutil.copytree(tmp_path / "embedded", tmp_path / "anvil")
    gas: dict[str, list[tuple[str, str, int]]] = {}
    for chain in ("embedded", "anvil"):
        h = open_harness(tmp_path / chain, ManualClock(0.0), chain=chain)
        try:
            deployed = len(h.market.chain.gas_log)
            run_slot(h, 1)
            records = h.market.chain.gas_log.records[deployed:]
            gas[chain] = [(r.contract, r.function, r.gas) for r in records]
        finally:
            h.service.close()
    assert len(gas["anvil"]) > 10
    assert gas["embedded"] == gas["anvil"]


def test_rpc_and_anvil_exclude_each_other(tmp_path: Path) -> None:
    with pytest.raises(PeergridError, match="--rpc and --chain anvil"):
        open_harness(tmp_path / "run", ManualClock(0.0), rpc="http://127.0.0.1:1", chain="anvil")
