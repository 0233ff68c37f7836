"""The service's HTTP API: signatures, windows, roles, pagination, and a slot through it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

import peergrid.platform.service.readmodel as db

# A book that clears with DPDA + Score Matching: three sellers, three buyers (Wh, micro/kWh).
BOOK = (
    (0, "sell", 2000, 100_000),
    (1, "sell", 1500, 120_000),
    (2, "sell", 1000, 140_000),
    (3, "buy", 1800, 300_000),
    (4, "buy", 1200, 250_000),
    (5, "buy", 1000, 200_000),
)
METERED = ((0, 2000), (1, 1500), (2, 1000), (3, -1800), (4, -1000), (5, -1000))


def leaves(document: Any, key: str = "") -> list[tuple[str, Any]]:
    """Every (key, value) at the leaves of a JSON document."""
    if isinstance(document, dict):
        return [leaf for k, v in document.items() for leaf in leaves(v, k)]
    if isinstance(document, list):
        return [leaf for v in document for leaf in leaves(v, key)]
    return [(key, document)]


def orders_recorded(h: Any) -> int:
    with h.market.engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(db.orders)).scalar() or 0)


def run_slot(h: Any, slot: int = 1) -> None:
    """Quote ``BOOK`` for ``slot``, match, meter and settle it."""
    start = (slot - 1) * 15.0
    h.clock.set(max(h.clock.now, start))
    for k, side, q, p in BOOK:
        assert h.client.post("/orders", json=h.order(k, slot, side, q, p)).status_code == 201
    h.clock.set(start + 4.0)
    h.market.advance()
    h.clock.set(start + 31.0)
    for k, net in METERED:
        assert h.client.post("/readings", json=h.reading(k, slot, net)).status_code == 201
    h.clock.set(start + 43.5)
    assert h.market.advance() == [slot]


def test_a_good_order_is_accepted_and_recorded(harness: Any) -> None:
    r = harness.client.post("/orders", json=harness.order(0, 1, "sell", 2000, 100_000))
    assert r.status_code == 201, r.text
    assert r.json()["order_id"] == "1-H1-1"
    assert orders_recorded(harness) == 1
    mine = harness.client.get("/me/orders", headers=harness.token(0)).json()
    assert [o["order_id"] for o in mine] == ["1-H1-1"]


@pytest.mark.parametrize(
    "change, status, reason",
    [
        ({"quantity_wh": 9999}, 401, "signature is"),  # a field changed after signing
        ({"slot": 2}, 401, "signature is"),  # replay over another slot
        ({"signature": "0x1234"}, 401, "does not recover"),
        ({"signature": ""}, 401, "does not recover"),
    ],
)
def test_a_wrongly_signed_order_is_refused(
    harness: Any, change: dict[str, Any], status: int, reason: str
) -> None:
    body = harness.order(0, 1, "sell", 2000, 100_000) | change
    r = harness.client.post("/orders", json=body)
    assert r.status_code == status
    assert reason in r.json()["detail"]
    assert orders_recorded(harness) == 0


def test_an_order_signed_by_another_member_is_refused(harness: Any) -> None:
    r = harness.client.post("/orders", json=harness.order(0, 1, "sell", 2000, 100_000, key_of=1))
    assert r.status_code == 401
    assert orders_recorded(harness) == 0


def test_an_order_from_a_stranger_is_refused(harness: Any) -> None:
    from eth_account import Account

    from peergrid.api.auth import sign

    stranger = Account.create()
    m = harness.member(0)
    message = {
        "agent": stranger.address,
        "slot": 1,
        "side": "sell",
        "quantityWh": 1000,
        "priceMicroPerKwh": 1,
        "bus": m.bus,
        "nonce": 1,
    }
    body = {
        "agent": stranger.address,
        "slot": 1,
        "side": "sell",
        "quantity_wh": 1000,
        "price_micro_per_kwh": 1,
        "bus": m.bus,
        "nonce": 1,
        "signature": sign(harness.domain, "Order", message, "0x" + bytes(stranger.key).hex()),
    }
    r = harness.client.post("/orders", json=body)
    assert r.status_code == 403
    assert "not a member" in r.json()["detail"]
    assert orders_recorded(harness) == 0


def test_a_reused_nonce_is_refused(harness: Any) -> None:
    first = harness.order(0, 1, "sell", 2000, 100_000, nonce=5)
    assert harness.client.post("/orders", json=first).status_code == 201
    for nonce in (5, 4):
        again = harness.order(0, 2, "sell", 1000, 100_000, nonce=nonce)
        r = harness.client.post("/orders", json=again)
        assert r.status_code == 409
        assert "nonce" in r.json()["detail"]
    assert orders_recorded(harness) == 1


def test_an_order_outside_the_quotation_window_is_refused(harness: Any) -> None:
    harness.clock.set(3.0)  # slot 1 quoted in cycle 0, minutes [0, 3)
    r = harness.client.post("/orders", json=harness.order(0, 1, "sell", 2000, 100_000))
    assert r.status_code == 409
    assert "outside the quotation window" in r.json()["detail"]
    far = harness.order(0, 200, "sell", 2000, 100_000)
    assert harness.client.post("/orders", json=far).status_code == 409
    assert orders_recorded(harness) == 0
    # slot 2 is still open (cycle 1's quotation window ends at minute 18)
    assert harness.client.post("/orders", json=harness.order(0, 2, "sell", 1, 1)).status_code == 201


def test_unknown_bus_and_malformed_json_are_refused(harness: Any) -> None:
    body = harness.order(0, 1, "sell", 2000, 100_000)
    assert harness.client.post("/orders", json=body | {"bus": "nowhere"}).status_code == 401
    # signed with the unknown bus: the signature is good, the bus is not
    from peergrid.api.auth import sign

    m = harness.member(0)
    message = {
        "agent": m.signer,
        "slot": 1,
        "side": "sell",
        "quantityWh": 10,
        "priceMicroPerKwh": 1,
        "bus": "nowhere",
        "nonce": 1,
    }
    key = harness.service.keys.members[m.agent]
    signed = {
        "agent": m.signer,
        "slot": 1,
        "side": "sell",
        "quantity_wh": 10,
        "price_micro_per_kwh": 1,
        "bus": "nowhere",
        "nonce": 1,
        "signature": sign(harness.domain, "Order", message, key),
    }
    r = harness.client.post("/orders", json=signed)
    assert r.status_code == 422
    assert "unknown bus" in r.json()["detail"]
    r = harness.client.post(
        "/orders", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    assert orders_recorded(harness) == 0


def test_withdraw_inside_the_window_only(harness: Any) -> None:
    from peergrid.api.auth import sign

    r = harness.client.post("/orders", json=harness.order(0, 1, "sell", 2000, 100_000))
    order_id = r.json()["order_id"]
    m = harness.member(0)
    key = harness.service.keys.members[m.agent]

    def withdrawal(nonce: int) -> dict[str, Any]:
        message = {"agent": m.signer, "orderId": order_id, "nonce": nonce}
        sig = sign(harness.domain, "Withdrawal", message, key)
        return {"agent": m.signer, "nonce": nonce, "signature": sig}

    harness.clock.set(3.5)
    r = harness.client.request("DELETE", f"/orders/{order_id}", json=withdrawal(10))
    assert r.status_code == 409
    harness.clock.now = 1.0  # back inside the window (tests only: a real clock never goes back)
    bad = withdrawal(11) | {"nonce": 12}
    assert harness.client.request("DELETE", f"/orders/{order_id}", json=bad).status_code == 401
    r = harness.client.request("DELETE", f"/orders/{order_id}", json=withdrawal(11))
    assert r.status_code == 204, r.text
    assert harness.client.get("/me/orders", headers=harness.token(0)).json() == []


def test_readings_only_from_the_households_own_meter(harness: Any) -> None:
    harness.clock.set(31.0)
    r = harness.client.post("/readings", json=harness.reading(0, 1, 500, key_of=1))
    assert r.status_code == 401  # signed by another meter's key
    assert harness.client.post("/readings", json=harness.reading(0, 1, 500)).status_code == 201
    assert harness.client.post("/readings", json=harness.reading(0, 1, 500)).status_code == 409
    harness.clock.set(44.0)
    assert harness.client.post("/readings", json=harness.reading(1, 1, 500)).status_code == 409


def test_the_dso_never_sees_bids(harness: Any) -> None:
    run_slot(harness, 1)
    harness.clock.set(45.0)
    for k, side, q, p in BOOK:  # slot 4's book, matched, not settled
        assert (
            harness.client.post("/orders", json=harness.order(k, 4, side, q, p)).status_code == 201
        )
    harness.clock.set(49.0)
    harness.market.advance()
    dso = harness.token(None)
    bid_prices = {p for *_, p in BOOK} | {p / 1e6 for *_, p in BOOK}
    for path in ("/dso/results", "/dso/trades", "/dso/feeder", "/dso/balance", "/slots", "/trades"):
        r = harness.client.get(path, headers=dso)
        assert r.status_code == 200, path
        for key, value in leaves(r.json()):
            assert key not in ("order_id", "buy_order", "sell_order", "side"), (path, key)
            if "price" in key:
                assert value not in bid_prices, (path, key, value)
    # the members' own views are closed to the DSO, the DSO's to members
    for path in ("/me/orders", "/me/quotes", "/me/trades", "/me/bills", "/me/balance"):
        assert harness.client.get(path, headers=dso).status_code == 403, path
    for path in ("/dso/results", "/dso/trades", "/dso/feeder", "/dso/balance"):
        assert harness.client.get(path, headers=harness.token(0)).status_code == 403, path
        assert harness.client.get(path).status_code == 401, path


def test_pagination_of_trades(harness: Any) -> None:
    run_slot(harness, 1)
    token = harness.token(3)
    whole = harness.client.get("/trades", headers=token).json()
    assert whole["total"] == len(whole["items"]) >= 2
    pages, offset = [], 0
    while offset is not None:
        page = harness.client.get(f"/trades?limit=1&offset={offset}", headers=token).json()
        pages += page["items"]
        offset = page["next_offset"]
    assert pages == whole["items"]
    assert harness.client.get("/trades?limit=0", headers=token).status_code == 422


def test_the_apis_trades_are_the_mechanisms(harness: Any) -> None:
    from peergrid.core.orders import Order, Side
    from peergrid.core.units import kwh_to_wh
    from peergrid.mechanisms.registry import clear

    run_slot(harness, 1)
    market = harness.market
    members = market.config.members
    orders = [
        Order(
            id=f"{k}",
            agent=members[k].agent,
            side=Side(side),
            quantity_kwh=q / 1000,
            price=p / 1e6,
            slot=1,
            bus=members[k].bus,
        )
        for k, side, q, p in BOOK
    ]
    clearing = clear(
        market.config.mechanism, orders, market.config.params, distances=market.config.distances
    )
    expected = sorted(
        (t.buyer, t.seller, kwh_to_wh(t.quantity_kwh), round(t.price * 1e6))
        for t in clearing.trades
    )
    got = harness.client.get("/trades", headers=harness.token(0)).json()["items"]
    assert (
        sorted((t["buyer"], t["seller"], t["energy_wh"], t["price_micro_per_kwh"]) for t in got)
        == expected
    )
    assert expected  # the book clears
    slots = harness.client.get("/slots", headers=harness.token(None)).json()["items"]
    assert [s["slot"] for s in slots] == [1]
    assert slots[0]["energy_wh"] == sum(e[2] for e in expected)


def test_health_and_openapi(harness: Any) -> None:
    assert harness.client.get("/health").json()["healthy"] is True
    paths = harness.client.get("/openapi.json").json()["paths"]
    assert {
        "/orders",
        "/orders/{order_id}",
        "/slots",
        "/trades",
        "/readings",
        "/dso/results",
    } <= set(paths)
    assert harness.client.get("/docs").status_code == 200
