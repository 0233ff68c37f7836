"""The dashboard in a real browser (Debian's chromium, driven by Playwright) during a fast-clock
run: the households' agents and meters trade over HTTP on a real server on 127.0.0.1; the page,
loaded before anything cleared, is updated by the event stream; once a slot clears on chain the
numbers it shows are the API's, and a screenshot is written.

``make test`` installs chromium (``make browser``); without it this test fails, naming the fix.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from peergrid.api.app import create_app
from peergrid.api.client import ServiceClient, Signer
from peergrid.api.demo import demo_community
from peergrid.api.server import free_port, serving
from peergrid.api.service import open_service
from peergrid.grid.feeders import load_feeder
from peergrid.platform.service import ManualClock, WallClock
from peergrid.sim.browser import headless_chromium
from peergrid.sim.scenario import scenario_from_dict
from tests.service.conftest import SCENARIO

SPEED = 300.0  # a 15-minute slot in 3 s: slot 1 settles 5.6 s after the start
HOUR = 11.0  # the profiles' hour at market minute 0: sun, sellers and trades


def _shown(page: Any) -> dict[str, Any]:
    return page.evaluate(
        """() => ({
        slot: document.getElementById('last-price').dataset.slot,
        price: document.getElementById('last-price').dataset.value,
        priceText: document.querySelector('#last-price .value').textContent,
        energy: document.getElementById('last-energy').dataset.value,
        energyText: document.querySelector('#last-energy .value').textContent,
        income: document.getElementById('dso-income').dataset.value,
        balances: Object.fromEntries([...document.querySelectorAll('#balances tr[data-account]')]
            .map(r => [r.dataset.account, r.querySelector('.balance').dataset.value])),
        trades: document.querySelectorAll('#map path[data-trade]').length,
        buses: document.querySelectorAll('#map circle[data-bus]').length,
    })"""
    )


@pytest.mark.slow
def test_the_dashboard_shows_the_apis_numbers_live(tmp_path: Path) -> None:
    scenario = scenario_from_dict(SCENARIO)
    service = open_service(scenario, run_dir=tmp_path / "run", clock=ManualClock(0.0))
    market = service.market
    app = create_app(market, tick_s=0.02, feeder=load_feeder(scenario.feeder.name))
    dso = Signer.of(service.keys.dso)
    stop = threading.Event()
    try:
        with (
            serving(app, "127.0.0.1", free_port()) as url,
            ServiceClient(url) as client,
            headless_chromium() as browser,
        ):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url + "/", wait_until="load")
            page.wait_for_selector("#status.live", timeout=10_000)
            assert _shown(page)["price"] == ""  # nothing cleared yet

            market.clock = WallClock(time.time(), SPEED)
            community = demo_community(service, scenario, client, hour=HOUR)
            households = threading.Thread(target=community.run, args=(stop,), daemon=True)
            households.start()
            page.wait_for_function(
                "document.getElementById('last-price').dataset.value !== ''", timeout=40_000
            )
            stop.set()
            households.join(timeout=10)
            with market.lock:  # the clock stops: nothing changes from here on
                market.clock = ManualClock(market.clock.minute())

            def api() -> dict[str, Any]:
                members = {m.agent: m for m in market.config.members}
                balances = {
                    agent: str(
                        client.read("/me/balance", Signer.of(service.keys.members[agent]))[
                            "balance_micro"
                        ]
                    )
                    for agent in members
                }
                balances["dso"] = str(client.read("/dso/balance", dso)["balance_micro"])
                return balances

            deadline = time.monotonic() + 10
            while True:  # the stream delivers the last change within a poll
                shown, balances = _shown(page), api()
                if shown["balances"] == balances or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            slots = client.read("/slots", dso)["items"]
            state = client.request("GET", "/dashboard/state")
            page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        households.join(timeout=10)
    finally:
        stop.set()
        service.close()

    assert errors == []
    last = slots[-1]
    assert shown["slot"] == str(last["slot"])
    assert shown["price"] == str(last["price_micro_per_kwh"])
    assert shown["priceText"] == f"{last['price_micro_per_kwh'] / 1e6:.4f}"
    assert shown["energy"] == str(last["energy_wh"]) != "0"
    assert shown["energyText"] == f"{last['energy_wh'] / 1000:.3f}"
    assert shown["income"] == str(sum(s["dso_income_micro"] for s in slots))
    assert shown["balances"] == balances
    assert shown["trades"] == len(state["map"]["trades"]) > 0
    assert shown["buses"] == 907  # every bus coloured by its voltage
    assert (tmp_path / "dashboard.png").stat().st_size > 20_000
    assert not households.is_alive()
