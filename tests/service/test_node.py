"""The service on a chain node (``--rpc`` to an anvil the test starts): restart with the
operator's keys kept in the run directory, the read model rebuilt from ``eth_getLogs``, the
node going away and coming back under a running ``peergrid serve``; and the DSO's feeder-map
update reaching the matching and the contract's charges."""

from __future__ import annotations

import signal
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from peergrid.ledger.chain.anvil import AnvilError, AnvilProcess, find_anvil, start_anvil
from peergrid.platform.service import ManualClock, open_database, rebuild
from tests.service.conftest import open_harness
from tests.service.live import Households, Serve, write_scenario
from tests.service.postgres import free_port
from tests.service.test_api import run_slot
from tests.service.test_faults import SLOT_MINUTES, minute, settles_at, submit_book, wait_until
from tests.service.test_recovery import cleared_events, read_model


@pytest.fixture
def anvil(tmp_path: Path) -> Iterator[AnvilProcess]:
    """A node of this test's own, its state dumped to a file on a graceful stop."""
    try:
        find_anvil()
    except AnvilError as exc:
        pytest.skip(str(exc))
    node = start_anvil(free_port(), state=tmp_path / "anvil-state.json", quiet=True)
    try:
        yield node
    finally:
        node.close()


@pytest.mark.slow
def test_a_restart_on_a_node_keeps_the_operators_keys(tmp_path: Path, anvil: AnvilProcess) -> None:
    run_dir = tmp_path / "run"
    first = open_harness(run_dir, ManualClock(0.0), rpc=anvil.url)
    try:
        run_slot(first, 1)
        rows = read_model(first.market.engine)
        nonce, now = first.nonce, first.clock.now
    finally:
        first.service.close()
    keys = run_dir / "keys" / "chain-accounts.json"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    assert stat.S_IMODE((run_dir / "market.json").stat().st_mode) == 0o600

    second = open_harness(run_dir, ManualClock(now), rpc=anvil.url)  # the same contracts
    try:
        assert read_model(second.market.engine) == rows  # rebuilt from eth_getLogs
        second.nonce = nonce
        run_slot(second, 4)  # the operator, meter and members sign with the kept keys
        assert cleared_events(second.market, 1) == cleared_events(second.market, 4) == 1
        market = second.market
        fresh = open_database(f"sqlite:///{tmp_path / 'fresh.db'}")
        try:
            assert rebuild(fresh, market.ledger, market.settlement.address_of) == 2
            assert read_model(fresh) == read_model(market.engine)
        finally:
            fresh.dispose()
    finally:
        second.service.close()


def test_the_dso_moves_a_path_length_for_the_next_slots(harness: Any) -> None:
    run_slot(harness, 1)
    dso = harness.token(None)
    first = harness.client.get("/trades?slot=1", headers=dso).json()["items"]
    pair = next(t for t in first if t["charge_micro"] > 0)
    bus = {m.agent: m.bus for m in harness.market.config.members}
    update = {"bus_a": bus[pair["buyer"]], "bus_b": bus[pair["seller"]], "metres": 0.0}
    r = harness.client.put("/dso/feeder/distances", json=update, headers=harness.token(0))
    assert r.status_code == 403  # a member may not
    r = harness.client.put("/dso/feeder/distances", json=update, headers=dso)
    assert r.status_code == 204, r.text
    bad = {**update, "bus_a": "no-such-bus"}
    assert harness.client.put("/dso/feeder/distances", json=bad, headers=dso).status_code == 400
    run_slot(harness, 4)
    later = harness.client.get("/trades?slot=4", headers=dso).json()["items"]
    same = [t for t in later if (t["buyer"], t["seller"]) == (pair["buyer"], pair["seller"])]
    assert same and all(t["charge_micro"] == 0 for t in same)  # the contract charges 0 m
    others = [t for t in later if t not in same]
    assert all(t["charge_micro"] > 0 for t in others)


def health(url: str) -> int:
    return httpx.get(f"{url}/health", timeout=10).status_code


def wait_for_health(url: str, status: int, timeout: float = 30.0) -> float:
    started = time.monotonic()
    while health(url) != status:
        assert time.monotonic() - started < timeout, f"/health did not turn {status}"
        time.sleep(0.1)
    return time.monotonic() - started


@pytest.mark.slow
def test_the_node_going_away_makes_the_service_unhealthy_not_dead(
    tmp_path: Path, anvil: AnvilProcess
) -> None:
    scenario, run_dir = write_scenario(tmp_path), tmp_path / "run"
    serve = Serve(scenario, run_dir, clock="fast:300", rpc=anvil.url).start()
    accepted: dict[str, int] = {}
    try:
        client = Households(serve.url, run_dir)
        assert health(serve.url) == 200
        slot = int(minute(serve.url) // SLOT_MINUTES) + 2
        submit_book(client, slot, accepted)
        anvil.stop()  # graceful: the node dumps its state to the file
        assert wait_for_health(serve.url, 503) < 5
        body = httpx.get(f"{serve.url}/health", timeout=10).json()
        assert not body["healthy"] and "does not answer" in body["error"]
        wait_until(serve.url, settles_at(slot) + 2.0)  # the slot fell due while the node was out
        assert serve.process is not None and serve.process.poll() is None  # still serving
        assert health(serve.url) == 503
        anvil.start()  # the same port, the state loaded
        wait_for_health(serve.url, 200)
        headers = client.dso_token()
        deadline = time.monotonic() + 30
        slots: list[Any] = []
        while not slots and time.monotonic() < deadline:
            slots = httpx.get(f"{serve.url}/slots", headers=headers, timeout=10).json()["items"]
            time.sleep(0.2)
        assert [s["slot"] for s in slots] == [slot]  # settled once the node came back
    finally:
        serve.kill(signal.SIGTERM)
