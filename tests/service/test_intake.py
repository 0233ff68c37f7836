"""The intake's group commit: orders taken from many threads at once are each recorded once,
in their books in the order taken, with their nonces; a database that refuses a group leaves
none of it taken."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select

import peergrid.platform.service.readmodel as db
from peergrid.platform.service.market import ConflictError


def submit(h: Any, k: int, slot: int, nonce: int, side: str = "sell", wh: int = 1000) -> Any:
    m = h.member(k)
    return h.market.submit(
        m,
        slot=slot,
        side=side,
        quantity_wh=wh,
        price_micro_per_kwh=150_000,
        bus=m.bus,
        nonce=nonce,
        signature="0x" + "00" * 65,  # the API checks signatures; the intake stores them
    )


def test_concurrent_orders_are_each_recorded_once_with_their_nonces(harness: Any) -> None:
    members = len(harness.market.config.members)
    start = threading.Barrier(members)

    def member_sends(k: int) -> list[Any]:
        # each member's agent sends its orders one after another; the members all at once
        start.wait()
        return [submit(harness, k, slot, nonce=10 + slot) for slot in (1, 2, 3)]

    with ThreadPoolExecutor(members) as pool:
        accepted = [a for sent in pool.map(member_sends, range(members)) for a in sent]
    expected = [
        f"{s}-{harness.member(k).agent}-{10 + s}" for k in range(members) for s in (1, 2, 3)
    ]
    assert sorted(a.order_id for a in accepted) == sorted(expected)
    with harness.market.engine.connect() as c:
        rows = c.execute(select(db.orders.c.id)).scalars().all()
        nonces = dict(c.execute(select(db.nonces.c.signer, db.nonces.c.last_nonce)).all())
    assert sorted(rows) == sorted(expected)  # each once
    assert all(nonces[harness.member(k).signer.lower()] == 13 for k in range(members))
    booked = {o.id for slot in (1, 2, 3) for o in harness.market.cycle.orders(slot)}
    assert booked == set(expected)
    with pytest.raises(ConflictError, match="above 13"):
        submit(harness, 0, 3, nonce=13)


def test_a_nonce_waiting_for_its_commit_is_not_taken_twice(harness: Any) -> None:
    submit(harness, 0, 1, nonce=3)
    with pytest.raises(ConflictError, match="nonce 3"):
        submit(harness, 0, 2, nonce=3)
    # a newer order of the member for the same slot replaces the older one, once
    replacing = submit(harness, 0, 1, nonce=4)
    assert replacing.replaced == "1-H1-3"
    assert [o.id for o in harness.market.cycle.orders(1)] == ["1-H1-4"]


def test_a_group_the_database_refuses_is_not_taken(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    market = harness.market
    real_begin = market.engine.begin

    def refusing_begin() -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(market.engine, "begin", refusing_begin)
    with pytest.raises(RuntimeError, match="disk full"):
        submit(harness, 0, 1, nonce=7)
    assert list(market.cycle.orders(1)) == []
    monkeypatch.setattr(market.engine, "begin", real_begin)
    # the refused nonce was not used: the same order goes through now
    assert submit(harness, 0, 1, nonce=7).order_id == "1-H1-7"
    assert [o.id for o in market.cycle.orders(1)] == ["1-H1-7"]
