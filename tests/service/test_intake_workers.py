"""Intake processes in front of the market's (``peergrid serve --intake-workers N``): orders
checked in the workers land once, in their books, with the market's answers; refused ones leave
nothing; a worker killed loses no accepted order and is started again; every process stops
with the service, and a market killed takes its workers with it."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select

import peergrid.platform.service.readmodel as db
from peergrid.api.auth import access_token
from peergrid.api.intake import ChannelServer
from peergrid.api.server import free_port
from tests.service.live import Households, Serve, write_scenario
from tests.service.test_api import BOOK
from tests.service.test_faults import SLOT_MINUTES, minute, settles_at, wait_until

# a slot in 3 s, orders for the slot six ahead: 15 s at least to send them on a loaded machine
CLOCK, AHEAD = "fast:300", 6


def workers_of(pid: int) -> list[int]:
    """The child processes of ``pid`` (the intake workers), from /proc."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        children += [int(c) for c in task.read_text().split()]
    return children


def json_config_of(worker: int) -> dict[str, Any]:
    """The configuration a worker was started with (its command line names the file)."""
    args = Path(f"/proc/{worker}/cmdline").read_bytes().split(b"\0")
    return dict(json.loads(Path(args[-3].decode()).read_text(encoding="utf-8")))


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def order_rows(run_dir: Path) -> list[str]:
    engine = create_engine(f"sqlite:///{run_dir / 'service.db'}")
    try:
        with engine.connect() as c:
            return list(c.execute(select(db.orders.c.id)).scalars())
    finally:
        engine.dispose()


def post(url: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{url}/orders", json=body, timeout=30)


def test_a_batch_from_the_channel_is_answered_in_order_and_refusals_leave_nothing(
    harness: Any,
) -> None:
    """The market's end of the channel, in process: one group commit for the batch; the
    refused orders get the API's status and reason, and nothing of them is recorded."""
    h = harness
    m0, m1 = h.member(0), h.member(1)
    server = ChannelServer.__new__(ChannelServer)  # its answer() alone, without a socket
    server.market = h.market

    def item(m: Any, slot: int, nonce: int, bus: str | None = None) -> list[Any]:
        return [m.agent, slot, "sell", 1000, 150_000, bus or m.bus, nonce, "0x" + "00" * 65]

    answers = server.answer(
        [
            item(m0, 1, 5),
            item(m0, 1, 5),  # the same nonce again: 409
            item(m1, 1, 7, bus=m0.bus if m0.bus != m1.bus else "no-such-bus"),  # 422
            item(m1, 1, 8),
            item(m0, 1, 6),  # replaces the first
        ]
    )
    assert answers[0] == [201, f"1-{m0.agent}-5", 1, None]
    assert answers[1][0] == 409 and "nonce 5 is used" in answers[1][1]
    assert answers[2][0] == 422
    assert answers[3] == [201, f"1-{m1.agent}-8", 1, None]
    assert answers[4] == [201, f"1-{m0.agent}-6", 1, f"1-{m0.agent}-5"]
    with h.market.engine.connect() as c:
        rows = dict(c.execute(select(db.orders.c.id, db.orders.c.withdrawn)).all())
    assert rows == {f"1-{m0.agent}-5": 2, f"1-{m1.agent}-8": 0, f"1-{m0.agent}-6": 0}
    booked = {o.id for o in h.market.cycle.orders(1)}
    assert booked == {f"1-{m1.agent}-8", f"1-{m0.agent}-6"}


@pytest.mark.slow
def test_orders_through_intake_workers_land_once_and_refusals_leave_nothing(
    tmp_path: Path,
) -> None:
    scenario, run_dir = write_scenario(tmp_path), tmp_path / "run"
    serve = Serve(scenario, run_dir, intake_workers=2, clock=CLOCK).start()
    try:
        assert serve.process is not None
        wait_for(lambda: len(workers_of(serve.process.pid)) == 2, 30, "two workers")
        client = Households(serve.url, run_dir)
        slot = int(minute(serve.url) // SLOT_MINUTES) + AHEAD
        accepted: set[str] = set()  # every order answered 201, replaced ones too
        for k, side, q, p in BOOK:
            r = post(serve.url, client.order(k, slot, side, q, p))
            assert r.status_code == 201, r.text
            body = r.json()
            assert body["slot"] == slot and body["replaced"] is None
            accepted.add(body["order_id"])
        newer = client.order(1, slot, "sell", 500, 100_000)
        r = post(serve.url, newer)
        assert r.status_code == 201 and r.json()["replaced"] in accepted
        accepted.add(r.json()["order_id"])

        # refusals: the API's statuses and reasons, nothing recorded
        r = post(serve.url, newer)  # the same signed order again: its nonce is used
        assert r.status_code == 409 and "nonce" in r.json()["detail"], r.text
        forged = {**client.order(0, slot, "sell", 500, 100_000), "quantity_wh": 900}
        assert post(serve.url, forged).status_code == 401
        r = post(serve.url, client.order(2, slot, "sell", 500, 100_000, bus="no-such-bus"))
        assert r.status_code == 422 and "unknown bus" in r.json()["detail"], r.text
        r = post(serve.url, client.order(3, 1, "buy", 500, 300_000))
        assert r.status_code == 409 and "outside the quotation window" in r.json()["detail"]
        r = httpx.post(f"{serve.url}/orders", content=b"{not json", timeout=30)
        assert r.status_code == 422 and isinstance(r.json()["detail"], list)
        r = httpx.post(f"{serve.url}/orders", json={**newer, "extra": 1}, timeout=30)
        assert r.status_code == 422
        recorded = Counter(order_rows(run_dir))
        assert set(recorded) == accepted and all(n == 1 for n in recorded.values())

        # everything else is the market's own app, passed on
        assert httpx.get(f"{serve.url}/docs", timeout=30).status_code == 200
        assert httpx.get(f"{serve.url}/slots", timeout=30).status_code == 401
        token = access_token(
            client.domain, client.key(client.member(0)["agent"]), int(time.time()) + 600
        )
        mine = httpx.get(
            f"{serve.url}/me/orders", headers={"Authorization": f"Peergrid {token}"}, timeout=30
        )
        assert mine.status_code == 200 and [o["slot"] for o in mine.json()] == [slot]

        wait_until(serve.url, settles_at(slot) + 0.5)
        headers = client.dso_token()
        wait_for(
            lambda: (
                slot
                in {
                    s["slot"]
                    for s in httpx.get(f"{serve.url}/slots", headers=headers, timeout=30).json()[
                        "items"
                    ]
                }
            ),
            60,
            f"slot {slot} settled",
        )
        trades = httpx.get(f"{serve.url}/trades?slot={slot}", headers=headers, timeout=30).json()
        assert trades["total"] > 0
    finally:
        serve.kill(signal.SIGTERM)


@pytest.mark.slow
def test_the_intake_workers_stop_with_the_service_and_with_a_killed_market(
    tmp_path: Path,
) -> None:
    scenario, run_dir = write_scenario(tmp_path), tmp_path / "run"
    serve = Serve(scenario, run_dir, intake_workers=2).start()
    assert serve.process is not None
    wait_for(lambda: len(workers_of(serve.process.pid)) == 2, 30, "two workers")
    workers = workers_of(serve.process.pid)
    serve.kill(signal.SIGTERM)
    assert serve.process.returncode == 0
    wait_for(lambda: not any(running(w) for w in workers), 10, "the workers stopped")

    # SIGKILL: the market cannot stop them; they see the channel close and exit, and the
    # port is free for the restart at once
    again = Serve(scenario, run_dir, intake_workers=2, port=serve.port).start()
    assert again.process is not None
    wait_for(lambda: len(workers_of(again.process.pid)) == 2, 30, "two workers")
    workers = workers_of(again.process.pid)
    sockets = Path(
        json_config_of(workers[0])["channel"]
    ).parent  # the market's private folder of sockets
    again.kill(signal.SIGKILL)
    wait_for(lambda: not any(running(w) for w in workers), 10, "the workers exited")
    assert not sockets.exists()  # removed by the workers, as the market could not
    third = Serve(scenario, run_dir, intake_workers=2, port=serve.port).start()
    third.kill(signal.SIGTERM)


@pytest.mark.slow
def test_a_worker_killed_loses_no_accepted_order_and_is_replaced(tmp_path: Path) -> None:
    scenario, run_dir = write_scenario(tmp_path), tmp_path / "run"
    serve = Serve(scenario, run_dir, intake_workers=2, clock=CLOCK).start()
    try:
        assert serve.process is not None
        wait_for(lambda: len(workers_of(serve.process.pid)) == 2, 30, "two workers")
        client = Households(serve.url, run_dir)
        slot = int(minute(serve.url) // SLOT_MINUTES) + AHEAD
        accepted: set[str] = set()
        victim = workers_of(serve.process.pid)[0]
        sent = 0
        for round_ in range(4):
            if round_ == 2:
                os.kill(victim, signal.SIGKILL)
            for k, side, q, p in BOOK:
                body = client.order(k, slot, side, q, p)
                sent += 1
                try:
                    r = post(serve.url, body)
                except httpx.TransportError:
                    continue  # the connection the killed worker held: no answer, no promise
                assert r.status_code == 201, r.text
                accepted.add(r.json()["order_id"])
        assert len(accepted) >= sent - 2
        wait_for(
            lambda: (
                len(workers_of(serve.process.pid)) == 2
                and victim not in workers_of(serve.process.pid)
            ),
            30,
            "the killed worker replaced",
        )
        recorded = set(order_rows(run_dir))
        assert accepted <= recorded  # nothing answered 201 is lost
        engine = create_engine(f"sqlite:///{run_dir / 'service.db'}")
        try:
            with engine.connect() as c:
                live = c.execute(
                    select(func.count()).select_from(db.orders).where(db.orders.c.withdrawn == 0)
                ).scalar()
        finally:
            engine.dispose()
        assert live == len(BOOK)  # each member's last order stands, the others replaced
        r = post(serve.url, client.order(0, slot, "sell", 700, 100_000))
        assert r.status_code == 201, r.text
    finally:
        serve.kill(signal.SIGTERM)


def test_the_intake_workers_flag_is_checked() -> None:
    from typer.testing import CliRunner

    from peergrid.cli.main import app

    for bad in ("-1", "33"):
        result = CliRunner().invoke(
            app,
            ["serve", "--scenario", "examples/demo.toml", "--intake-workers", bad, "--port",
             str(free_port())],
        )  # fmt: skip
        assert result.exit_code == 2
        assert "--intake-workers must be from 0 to 32" in result.output
