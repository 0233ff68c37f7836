"""Households' agents and meters: orders as the simulation forms them, signed; a slot traded
through the API on a hand-set clock; refusals; the ``peergrid agent`` command's errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from peergrid.api.agent import Community, HouseholdAgent, Meter, NetProfile
from peergrid.api.auth import Domain, recover
from peergrid.api.client import ServiceClient, ServiceError, Signer, read_key
from peergrid.api.server import free_port
from peergrid.cli.main import app
from peergrid.core.orders import Order, Side
from peergrid.core.units import kwh_to_wh, to_micro
from peergrid.mechanisms.registry import clear
from peergrid.sim.behaviour import PriceModel, order_terms
from tests.service.test_api import BOOK, METERED

PRICES = PriceModel(reference_price=0.19, feed_in=0.08, retail=0.30)
KEY = "0x" + "11" * 32
DOMAIN = Domain(1337, "0x" + "22" * 20)


def _agent(forecast: list[float], first_slot: int = 0, seed: int = 5) -> HouseholdAgent:
    profile = NetProfile(np.array(forecast), np.array(forecast), first_slot)
    return HouseholdAgent("H7", "34", Signer.of(KEY), profile, PRICES, np.random.default_rng(seed))


def test_an_agents_order_is_the_simulations_signed() -> None:
    agent = _agent([0.0, 0.5, -0.3, 0.0004])
    body = agent.order_for(DOMAIN, 1)
    assert body is not None
    # the same draw as the simulation's households (peergrid.sim.behaviour)
    _, selling, reserved = order_terms(np.array([0.5]), PRICES, np.random.default_rng(5), 0.001)
    assert (body["side"], body["quantity_wh"], body["bus"]) == ("sell", 500, "34")
    assert bool(selling[0]) and body["price_micro_per_kwh"] == to_micro(round(reserved[0], 6))
    assert 80_000 <= body["price_micro_per_kwh"] <= 300_000
    message = {
        "agent": body["agent"],
        "slot": 1,
        "side": "sell",
        "quantityWh": 500,
        "priceMicroPerKwh": body["price_micro_per_kwh"],
        "bus": "34",
        "nonce": body["nonce"],
    }
    assert recover(DOMAIN, "Order", message, str(body["signature"])) == Signer.of(KEY).address
    buy = agent.order_for(DOMAIN, 2)
    assert buy is not None and (buy["side"], buy["quantity_wh"]) == ("buy", 300)
    assert int(str(buy["nonce"])) > int(str(body["nonce"]))  # strictly increasing
    assert agent.order_for(DOMAIN, 3) is None  # 0.4 Wh: below the smallest order
    assert agent.order_for(DOMAIN, 4) is None  # slot 4 wraps to the profile's slot 0


def test_the_profile_starts_at_its_hour() -> None:
    profile = NetProfile(np.arange(96.0), np.arange(96.0) * 2, first_slot=40)
    assert profile.forecast(0) == 40.0 and profile.actual(1) == 82.0
    assert profile.forecast(56) == 0.0  # a day later


def _community(harness: Any, **kwargs: Any) -> Community:
    """The BOOK's households as agents (one price for all, so that the book clears the same
    way every time) and their meters reading METERED."""
    client = ServiceClient("http://testserver", http=harness.client)
    keys = harness.service.keys
    same_price = PriceModel(0.2, 0.2, 0.2)
    metered = dict(METERED)
    agents, meters = [], []
    for k, side, q, _ in BOOK:
        m = harness.member(k)
        net = (q if side == "sell" else -q) / 1000
        profile = NetProfile(np.full(4, net), np.full(4, metered[k] / 1000))
        agents.append(
            HouseholdAgent(
                m.agent, m.bus, Signer.of(keys.members[m.agent]), profile, same_price,
                np.random.default_rng(k),
            )
        )  # fmt: skip
        meters.append(Meter(m.agent, Signer.of(keys.meters[m.agent]), profile))
    return Community(client, agents, meters, **kwargs)


def test_a_community_trades_and_settles_a_slot_through_the_api(harness: Any) -> None:
    said: list[str] = []
    community = _community(
        harness, say=said.append, report=True, observer=Signer.of(harness.service.keys.dso)
    )
    assert len(community.check_members()) == 6
    for minute in (0.5, 4.0, 15.5, 30.5, 43.5, 45.5):
        harness.clock.set(minute)
        harness.market.advance()
        community.tick()
    assert community.orders_sent == 6 * 4  # slots 1 to 4, one order per household
    assert community.readings_sent == 6 * 2  # slots 1 and 2
    trades = harness.client.get("/trades?slot=1", headers=harness.token(0)).json()["items"]
    market = harness.market
    orders = [
        Order(str(k), harness.member(k).agent, Side(side), q / 1000, 0.2, 1, harness.member(k).bus)
        for k, side, q, _ in BOOK
    ]
    clearing = clear(
        market.config.mechanism, orders, market.config.params, distances=market.config.distances
    )
    assert sorted((t["buyer"], t["seller"], t["energy_wh"]) for t in trades) == sorted(
        (t.buyer, t.seller, kwh_to_wh(t.quantity_kwh)) for t in clearing.trades
    )
    assert trades and {t["price_micro_per_kwh"] for t in trades} == {200_000}
    bills = harness.client.get("/me/bills", headers=harness.token(4)).json()
    assert bills[0]["reading"]["metered_wh"] == 1000  # H5 took 1 000 of its 1 200 Wh
    h1 = harness.member(0).agent
    assert f"{h1} slot 1: sell 2.000 kWh at 0.2000/kWh (order 1-{h1}-" in "\n".join(said)
    sold = sum(t["energy_wh"] for t in trades if t["seller"] == h1) / 1000
    assert any(line.startswith(f"{h1} slot 1 settled: sold {sold:.3f} kWh") for line in said)
    assert any(line.startswith("slot 1 cleared on chain: ") for line in said)


def test_refusals_are_told_and_a_bad_key_stops_the_agent(harness: Any) -> None:
    said: list[str] = []
    community = _community(harness, say=said.append)

    def refuse(status: int) -> Any:
        def post(_: dict[str, object]) -> dict[str, object]:
            raise ServiceError(f"POST /orders: {status} no", status)

        return post

    community.client.post_order = refuse(409)  # type: ignore[method-assign]
    community.tick()
    assert community.orders_sent == 0 and len(said) == 6 and "409" in said[0]
    harness.clock.set(15.5)
    community.client.post_order = refuse(403)  # type: ignore[method-assign]
    with pytest.raises(ServiceError, match="403"):
        community.tick()


def test_an_unreachable_service_is_tried_again_then_given_up() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    said: list[str] = []
    community = Community(ServiceClient(url, timeout_s=1), [], say=said.append, max_failures=2)
    assert community.tick() == 1.0
    assert said == [f"the service at {url} does not answer" + said[0].split("answer")[1]]
    with pytest.raises(ServiceError, match="does not answer"):
        community.tick()


def test_read_key(tmp_path: Path) -> None:
    path = tmp_path / "h.key"
    path.write_text(KEY + "\n", encoding="utf-8")
    assert read_key(path).address == Signer.of(KEY).address
    path.write_text("not a key", encoding="utf-8")
    with pytest.raises(Exception, match="not a private key"):
        read_key(path)


def _one_line_exit_2(args: list[str], reason: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert reason in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_the_agent_command_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    key = tmp_path / "h.key"
    key.write_text(KEY, encoding="utf-8")
    url = f"http://127.0.0.1:{free_port()}"
    base = ["agent", "--service", url, "--profile", "H0-A"]
    _one_line_exit_2([*base, "--key", str(tmp_path / "none.key")], "cannot read the key file")
    (tmp_path / "bad.key").write_text("0x1234", encoding="utf-8")
    _one_line_exit_2([*base, "--key", str(tmp_path / "bad.key")], "not a private key")
    _one_line_exit_2([*base, "--key", str(key)], f"the service at {url} does not answer")
    _one_line_exit_2(
        ["agent", "--service", url, "--key", str(key), "--profile", "X9"], "no such household"
    )
    _one_line_exit_2([*base, "--key", str(key), "--pv", "PV3", "--pv-kwp", "0"], "--pv-kwp")
    _one_line_exit_2(["serve", "--port", "8000"], "--scenario")
