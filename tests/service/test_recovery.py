"""Restart and rebuild: the chain and the database are all a restarted service needs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select

import peergrid.platform.service.readmodel as db
from peergrid.ledger.chain.persisted import PersistedEmbeddedChain
from peergrid.platform.service import ManualClock, open_database, rebuild
from peergrid.platform.service.events import contract_events
from tests.service.conftest import NewDatabase, open_harness
from tests.service.test_api import BOOK, METERED, run_slot


def read_model(engine: Any) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as c:
        return {t.name: sorted(tuple(row) for row in c.execute(select(t))) for t in db.READ_MODEL}


def cleared_events(market: Any, slot: int) -> int:
    events = contract_events(market.chain, market.ledger.market)
    return sum(1 for e in events if e.name == "Cleared" and int(e.args["slot"]) == slot)


def test_rebuild_from_events_gives_the_same_rows(harness: Any, database: NewDatabase) -> None:
    run_slot(harness, 1)
    run_slot(harness, 4)
    market = harness.market
    before = read_model(market.engine)
    assert len(before["slots"]) == 2 and before["trades"] and before["readings"]
    assert rebuild(market.engine, market.ledger, market.settlement.address_of) == 2
    assert read_model(market.engine) == before
    # a new, empty database (the old one dropped) rebuilt from the chain alone
    fresh = open_database(database())
    try:
        rebuild(fresh, market.ledger, market.settlement.address_of)
        assert read_model(fresh) == before
    finally:
        fresh.dispose()


def test_restart_mid_cycle_loses_nothing_and_doubles_nothing(
    tmp_path: Path, database: NewDatabase
) -> None:
    run_dir, db_url = tmp_path / "run", database()
    reference = open_harness(tmp_path / "reference", ManualClock(0.0))
    try:
        run_slot(reference, 1)
        expected = read_model(reference.market.engine)["trades"]
    finally:
        reference.service.close()

    first = open_harness(run_dir, ManualClock(0.0), db_url)
    for k, side, q, p in BOOK:
        assert first.client.post("/orders", json=first.order(k, 1, side, q, p)).status_code == 201
    first.clock.set(4.0)
    first.market.advance()  # matched, then the service stops without shutting down
    nonce = first.nonce
    first.service.close()  # releases the files only: every change was on disk already

    second = open_harness(run_dir, ManualClock(4.0), db_url)
    try:
        second.nonce = nonce
        assert second.market.feedback(second.member(3).agent)  # the book is back, matched
        reused = second.order(0, 2, "sell", 10, 1, nonce=1)  # member 0 signed nonce 1
        assert second.client.post("/orders", json=reused).status_code == 409
        second.clock.set(31.0)
        for k, net in METERED:
            assert (
                second.client.post("/readings", json=second.reading(k, 1, net)).status_code == 201
            )
        second.clock.set(43.5)
        assert second.market.advance() == [1]
        assert read_model(second.market.engine)["trades"] == expected
        assert cleared_events(second.market, 1) == 1
    finally:
        second.service.close()


def test_a_slot_settled_on_chain_but_not_written_is_not_sent_again(
    tmp_path: Path, database: NewDatabase
) -> None:
    run_dir, db_url = tmp_path / "run", database()
    first = open_harness(run_dir, ManualClock(0.0), db_url)
    run_slot(first, 1)
    rows = read_model(first.market.engine)
    with first.market.engine.begin() as c:  # the database lost the slot's write
        for table in db.READ_MODEL:
            c.execute(delete(table))
    first.service.close()

    second = open_harness(run_dir, ManualClock(first.clock.now), db_url)
    try:
        assert read_model(second.market.engine) == rows
        second.clock.set(60.0)
        second.market.advance()
        assert cleared_events(second.market, 1) == 1
        assert read_model(second.market.engine) == rows
    finally:
        second.service.close()


def test_the_journal_replays_and_drops_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "chain.jsonl"
    chain = PersistedEmbeddedChain(path)
    a = chain.new_account("a")
    chain.advance_time(60)
    stamp = chain.timestamp()
    chain.close()
    with path.open("a", encoding="utf-8") as f:
        f.write('{"kind":"tx","sender"')  # a write cut short by a kill
    again = PersistedEmbeddedChain(path)
    try:
        assert again.replayed == 2
        assert again.timestamp() == stamp
        assert again.accounts == {a: "a"}
        assert path.read_text(encoding="utf-8").endswith("\n")
    finally:
        again.close()


def test_a_fast_clock_run_clears_a_slot(tmp_path: Path) -> None:
    """On a wall clock at 600× (a 15-minute slot in 1.5 s), with the clock thread of the app."""
    from fastapi.testclient import TestClient

    from peergrid.api.app import create_app
    from peergrid.platform.service import WallClock

    h = open_harness(tmp_path / "run", ManualClock(0.0))
    market = h.market
    market.clock = WallClock(time.time(), 600.0)
    try:
        with TestClient(create_app(market, tick_s=0.02)) as client:
            for k, side, q, p in BOOK:  # for slot 2: its quotation closes at minute 18 (1.8 s)
                r = client.post("/orders", json=h.order(k, 2, side, q, p))
                assert r.status_code == 201, r.text
            while market.clock.minute() < 45.5:  # slot 2 delivered; its meters read from 45
                time.sleep(0.05)
            for k, net in METERED:
                assert client.post("/readings", json=h.reading(k, 2, net)).status_code == 201
            deadline = time.time() + 20
            slots: list[Any] = []
            while not slots and time.time() < deadline:
                time.sleep(0.1)
                slots = client.get("/slots", headers=h.token(0)).json()["items"]
            assert [s["slot"] for s in slots] == [2]
            trades = client.get("/trades?slot=2", headers=h.token(0)).json()["items"]
            assert sum(t["energy_wh"] for t in trades) == slots[0]["energy_wh"] > 0
    finally:
        h.service.close()


class Killed(BaseException):
    """The process dying: nothing after the cut runs (not an error anything catches)."""


@pytest.mark.parametrize("cut_after", [1, 4, 9, 14, 15])
def test_a_settlement_cut_between_its_transactions_is_resumed(
    tmp_path: Path, cut_after: int
) -> None:
    """Slot 1 takes 16 transactions (opening, 6 commits, the reveals' start, 6 reveals, the
    clearing, the readings): cut after the opening, in the commits, in the reveals, before the
    clearing and before the readings, then restart: the slot is settled once, as without the
    cut."""
    reference = open_harness(tmp_path / "reference", ManualClock(0.0))
    try:
        run_slot(reference, 1)
        expected = read_model(reference.market.engine)
    finally:
        reference.service.close()

    run_dir = tmp_path / "run"
    first = open_harness(run_dir, ManualClock(0.0))
    for k, side, q, p in BOOK:
        assert first.client.post("/orders", json=first.order(k, 1, side, q, p)).status_code == 201
    first.clock.set(31.0)
    for k, net in METERED:
        assert first.client.post("/readings", json=first.reading(k, 1, net)).status_code == 201
    first.clock.set(43.5)
    chain = first.market.chain
    execute, sent = chain._execute, []

    def dying(*args: Any) -> Any:
        if len(sent) == cut_after:
            raise Killed
        sent.append(args)
        return execute(*args)

    chain._execute = dying
    with pytest.raises(Killed):
        first.market.advance()
    assert len(sent) == cut_after
    first.service.close()

    second = open_harness(run_dir, ManualClock(43.5))  # settles what fell due on opening
    try:
        assert cleared_events(second.market, 1) == 1
        assert read_model(second.market.engine) == expected
        second.clock.set(60.0)
        assert second.market.advance() == []  # nothing sent again
        assert read_model(second.market.engine) == expected
    finally:
        second.service.close()
