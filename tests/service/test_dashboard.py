"""The dashboard's state, page and event stream (in process; the browser test drives a real
server): the numbers are the API's, no bid is shown, voltages come from the meters."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, cast

import numpy as np
import pytest
from fastapi.testclient import TestClient

from peergrid.api.app import create_app
from peergrid.api.dashboard.feed import DashboardFeed
from peergrid.api.dashboard.routes import _stream
from peergrid.grid.feeders import load_feeder
from peergrid.grid.powerflow import PowerFlowCheck
from tests.service.test_api import BOOK, METERED, leaves, run_slot


@pytest.fixture
def dashboard(harness: Any) -> TestClient:
    return TestClient(create_app(harness.market, feeder=load_feeder("ieee-eu-lv")))


def test_the_dashboards_numbers_are_the_apis(harness: Any, dashboard: TestClient) -> None:
    run_slot(harness, 1)
    harness.clock.set(45.0)
    state = dashboard.get("/dashboard/state").json()
    slots = harness.client.get("/slots", headers=harness.token(None)).json()["items"]
    assert state["slots"] == slots
    shown = {b["account"]: b["balance_micro"] for b in state["balances"]}
    for k in range(len(BOOK)):
        mine = harness.client.get("/me/balance", headers=harness.token(k)).json()
        assert shown[harness.member(k).agent] == mine["balance_micro"]
    dso = harness.client.get("/dso/balance", headers=harness.token(None)).json()
    assert shown["dso"] == dso["balance_micro"]
    assert state["dso_income_micro"] == sum(s["dso_income_micro"] for s in slots) > 0
    trades = harness.client.get("/trades?slot=1", headers=harness.token(0)).json()["items"]
    assert state["map"]["slot"] == 1
    assert [(t["buyer"], t["seller"], t["energy_wh"]) for t in state["map"]["trades"]] == [
        (t["buyer"], t["seller"], t["energy_wh"]) for t in trades
    ]


def test_the_map_is_coloured_by_the_metered_voltages(harness: Any, dashboard: TestClient) -> None:
    run_slot(harness, 1)
    harness.clock.set(45.0)
    voltages = dashboard.get("/dashboard/state").json()["map"]["voltage_pu"]
    members = harness.market.config.members
    metered = dict(METERED)
    # load convention, kW over the 15-minute slot: an exporter draws negative power
    p_kw = np.array([[-metered.get(k, 0) / 1000 / 0.25 for k in range(len(members))]])
    check = PowerFlowCheck(load_feeder("ieee-eu-lv"), [int(m.bus) for m in members])
    expected = check.run(p_kw)
    for bus, vm in zip(expected.bus_ids, expected.vm_pu[0], strict=True):
        if np.isfinite(vm):
            assert voltages[str(bus)] == pytest.approx(float(vm), abs=1e-5)
    seller, buyer = members[0].bus, members[3].bus  # 2 kWh exported, 1.8 kWh taken
    assert voltages[seller] != voltages[buyer]


def test_depth_is_pooled_and_shown_only_after_the_quotation(
    harness: Any, dashboard: TestClient
) -> None:
    for k, side, q, p in BOOK:
        assert (
            harness.client.post("/orders", json=harness.order(k, 1, side, q, p)).status_code == 201
        )
    state = dashboard.get("/dashboard/state").json()
    assert state["depth"] is None  # sealed bids: no depth while they can still change
    harness.clock.set(4.0)
    harness.market.advance()
    state = dashboard.get("/dashboard/state").json()
    depth = state["depth"]
    assert depth["slot"] == 1
    # three asks (10, 12, 14 cents) pool into one level at the worst, 14 cents; bids likewise
    assert depth["asks"] == [{"price_micro_per_kwh": 140_000, "energy_wh": 4500, "orders": 3}]
    assert depth["bids"] == [{"price_micro_per_kwh": 200_000, "energy_wh": 4000, "orders": 3}]
    for key, _ in leaves(state):
        assert key not in ("order_id", "side", "nonce", "signature", "quantity_wh"), key
    matched = harness.client.get("/dso/results", headers=harness.token(None)).json()["matched"]
    assert [m["slot"] for m in state["matched"]] == [m["slot"] for m in matched] == [1]
    assert state["matched"][0]["energy_wh"] == round(matched[0]["traded_kwh"] * 1000)


def test_the_page_needs_nothing_from_the_network(harness: Any, dashboard: TestClient) -> None:
    page = dashboard.get("/")
    script = dashboard.get("/dashboard/app.js")
    assert page.status_code == script.status_code == 200
    assert '<script src="/dashboard/app.js">' in page.text
    assert script.headers["content-type"].startswith("text/javascript")
    for text in (page.text, script.text):
        # the only absolute URL is SVG's namespace, a name that is never fetched
        assert set(re.findall(r"https?://[^\s\"'`]+", text)) <= {"http://www.w3.org/2000/svg"}
    assert "/dashboard/events" in script.text and "EventSource" in script.text
    assert "/" not in dashboard.get("/openapi.json").json()["paths"]


def test_the_feeder_map(harness: Any, dashboard: TestClient) -> None:
    feeder = dashboard.get("/dashboard/feeder").json()
    assert len(feeder["buses"]) == 907 and feeder["geographic"]
    members = {m.bus for m in harness.market.config.members}
    assert set(feeder["member_buses"]) == members <= set(feeder["buses"])
    assert all(str(a) in feeder["buses"] and str(b) in feeder["buses"] for a, b in feeder["lines"])
    assert harness.client.get("/dashboard/feeder").status_code == 404  # started without it


class _Request:
    """A client that stays for ``polls`` looks, then goes."""

    def __init__(self, polls: int) -> None:
        self.polls = polls

    async def is_disconnected(self) -> bool:
        self.polls -= 1
        return self.polls < 0


def test_the_event_stream_sends_the_state_then_the_clock(harness: Any) -> None:
    run_slot(harness, 1)
    feed = DashboardFeed(harness.market, None)

    async def collect() -> list[str]:
        return [chunk async for chunk in _stream(feed, cast(Any, _Request(6)))]

    chunks = asyncio.run(collect())
    assert chunks[0].startswith("retry:")
    name, data = chunks[1].split("\n")[:2]
    assert name == "event: state"
    state = json.loads(data.removeprefix("data: "))
    assert state["slots"] == harness.client.get("/slots", headers=harness.token(0)).json()["items"]
    assert "event: clock" in chunks[-1]  # 6 looks of 0.25 s: one clock event after a second
    assert len([c for c in chunks if c.startswith("event: state")]) == 1  # nothing changed
