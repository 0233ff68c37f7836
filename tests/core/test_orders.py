"""The JSON order format: parsing, validation errors that name the order and the field, round trips.

Format: ``{"orders": [{"id", "side", "price", "quantity_kwh", "bus"?, "max_distance_m"?,
"submitted_at"?, "agent"?, "slot"?}], "params": {}}``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peergrid.core.errors import OrderError, PeergridError
from peergrid.core.orders import Order, Side, parse_order_book
from peergrid.mechanisms.curves import sort_book

PROPERTY = settings(max_examples=100, deadline=None, database=None)


def base_order(**changes: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "id": "ord-17",
        "side": "sell",
        "price": 0.21,
        "quantity_kwh": 4.5,
    }
    order.update(changes)
    return order


def book_text(*orders: dict[str, Any], params: dict[str, Any] | None = None) -> str:
    document: dict[str, Any] = {"orders": list(orders)}
    if params is not None:
        document["params"] = params
    return json.dumps(document)  # allow_nan: NaN and Infinity are written as JSON literals


def to_json_dict(order: Order) -> dict[str, Any]:
    """The JSON form of an order with every field explicit."""
    raw: dict[str, Any] = {
        "id": order.id,
        "agent": order.agent,
        "side": order.side.value,
        "quantity_kwh": order.quantity_kwh,
        "price": order.price,
        "slot": order.slot,
        "submitted_at": order.submitted_at,
    }
    if order.bus is not None:
        raw["bus"] = order.bus
    if order.max_distance_m is not None:
        raw["max_distance_m"] = order.max_distance_m
    return raw


# ------------------------------------------------------------------------------------------------
# valid input


def test_parse_full_document() -> None:
    text = book_text(
        {
            "id": "s1",
            "agent": "house-4",
            "side": "sell",
            "price": 0.198,
            "quantity_kwh": 80.0,
            "bus": "v76",
            "max_distance_m": 120.5,
            "submitted_at": 7,
            "slot": 3,
        },
        {"id": "b1", "side": "buy", "price": 0.199, "quantity_kwh": 40.0},
        params={"note": "P-50"},
    )
    orders, params = parse_order_book(text)
    assert params == {"note": "P-50"}
    assert orders == [
        Order("s1", "house-4", Side.SELL, 80.0, 0.198, 3, "v76", 120.5, 7),
        Order("b1", "b1", Side.BUY, 40.0, 0.199, 0, None, None, 1),
    ]


def test_defaults() -> None:
    orders, params = parse_order_book(book_text(base_order()))
    assert params == {}
    (order,) = orders
    assert order.agent == "ord-17"  # agent defaults to the order id
    assert order.slot == 0
    assert order.bus is None
    assert order.max_distance_m is None
    assert order.submitted_at == 0


def test_ints_are_accepted_as_floats() -> None:
    text = book_text(base_order(price=3, quantity_kwh=5, max_distance_m=100))
    (order,) = parse_order_book(text)[0]
    for value, expected in (
        (order.price, 3.0),
        (order.quantity_kwh, 5.0),
        (order.max_distance_m, 100.0),
    ):
        assert type(value) is float
        assert value == expected


def test_direct_construction_stores_floats() -> None:
    order = Order("o", "o", Side.BUY, 5, 2)
    assert type(order.quantity_kwh) is float and order.quantity_kwh == 5.0
    assert type(order.price) is float and order.price == 2.0


def test_zero_price_is_allowed() -> None:
    (order,) = parse_order_book(book_text(base_order(price=0)))[0]
    assert order.price == 0.0


def test_submitted_at_defaults_to_file_position() -> None:
    orders, _ = parse_order_book(
        book_text(
            base_order(id="a"),
            base_order(id="b", side="buy"),
            base_order(id="c", submitted_at=42),
            base_order(id="d"),
        )
    )
    assert [o.submitted_at for o in orders] == [0, 1, 42, 3]


def test_equal_prices_keep_file_order() -> None:
    # Five sellers and five buyers at one price, in a scrambled id order.
    ids = ["e", "a", "d", "b", "c"]
    text = book_text(
        *[base_order(id=f"s-{i}", price=0.2) for i in ids],
        *[base_order(id=f"b-{i}", side="buy", price=0.2) for i in ids],
    )
    book = sort_book(parse_order_book(text)[0])
    assert [o.id for o in book.sellers] == [f"s-{i}" for i in ids]
    assert [o.id for o in book.buyers] == [f"b-{i}" for i in ids]


def test_explicit_submitted_at_overrides_file_order() -> None:
    text = book_text(
        base_order(id="late", submitted_at=9),
        base_order(id="early", submitted_at=1),
    )
    book = sort_book(parse_order_book(text)[0])
    assert [o.id for o in book.sellers] == ["early", "late"]


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_sides(side: str) -> None:
    (order,) = parse_order_book(book_text(base_order(side=side)))[0]
    assert order.side is Side(side)


# ------------------------------------------------------------------------------------------------
# round trips


finite = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
orders_strategy = st.builds(
    Order,
    id=st.text(min_size=1, max_size=8),
    agent=st.text(max_size=8),
    side=st.sampled_from(Side),
    quantity_kwh=st.floats(min_value=1e-6, max_value=1e6) | st.integers(1, 10**6),
    price=finite | st.integers(0, 1000),
    slot=st.integers(0, 96),
    bus=st.none() | st.text(max_size=6),
    max_distance_m=st.none() | finite,
    submitted_at=st.integers(0, 10**6),
)


@PROPERTY
@given(orders=st.lists(orders_strategy, max_size=6, unique_by=lambda o: o.id))
def test_round_trip(orders: list[Order]) -> None:
    text = json.dumps({"orders": [to_json_dict(o) for o in orders], "params": {"k": [1, 2]}})
    parsed, params = parse_order_book(text)
    assert parsed == orders
    assert params == {"k": [1, 2]}
    # And once more through the parsed orders: a fixed point.
    again = json.dumps({"orders": [to_json_dict(o) for o in parsed]})
    assert parse_order_book(again)[0] == parsed


def test_round_trip_of_minimal_file_makes_defaults_explicit() -> None:
    text = book_text(base_order(id="x"), base_order(id="y", side="buy", price=1))
    parsed, _ = parse_order_book(text)
    assert parse_order_book(book_text(*[to_json_dict(o) for o in parsed]))[0] == parsed


# ------------------------------------------------------------------------------------------------
# invalid input: each names the order id and the field


def assert_names(exc: OrderError, order_id: str, field: str) -> None:
    message = str(exc)
    assert order_id in message, message
    assert field in message, message
    assert exc.order_id == order_id
    assert exc.field == field


BAD_ORDERS = [
    # (changes to the base order, offending field)
    pytest.param({"quantity_kwh": 0}, "quantity_kwh", id="zero-quantity"),
    pytest.param({"quantity_kwh": 0.0}, "quantity_kwh", id="zero-float-quantity"),
    pytest.param({"quantity_kwh": -3}, "quantity_kwh", id="negative-quantity"),
    pytest.param({"quantity_kwh": math.nan}, "quantity_kwh", id="nan-quantity"),
    pytest.param({"quantity_kwh": math.inf}, "quantity_kwh", id="infinite-quantity"),
    pytest.param({"quantity_kwh": "5"}, "quantity_kwh", id="string-quantity"),
    pytest.param({"quantity_kwh": True}, "quantity_kwh", id="bool-quantity"),
    pytest.param({"side": "hold"}, "side", id="unknown-side"),
    pytest.param({"side": ""}, "side", id="empty-side"),
    pytest.param({"side": 1}, "side", id="numeric-side"),
    pytest.param({"side": None}, "side", id="null-side"),
    pytest.param({"price": math.nan}, "price", id="nan-price"),
    pytest.param({"price": -0.01}, "price", id="negative-price"),
    pytest.param({"price": math.inf}, "price", id="infinite-price"),
    pytest.param({"price": "cheap"}, "price", id="string-price"),
    pytest.param({"price": None}, "price", id="null-price"),
    pytest.param({"max_distance_m": -1}, "max_distance_m", id="negative-distance"),
    pytest.param({"max_distance_m": math.nan}, "max_distance_m", id="nan-distance"),
    pytest.param({"submitted_at": -1}, "submitted_at", id="negative-submitted-at"),
    pytest.param({"submitted_at": 1.5}, "submitted_at", id="fractional-submitted-at"),
    pytest.param({"slot": -2}, "slot", id="negative-slot"),
    pytest.param({"colour": "green"}, "colour", id="unknown-field"),
]


@pytest.mark.parametrize(("changes", "field"), BAD_ORDERS)
def test_bad_order_is_named(changes: dict[str, Any], field: str) -> None:
    text = book_text(base_order(id="fine-1"), base_order(**changes), base_order(id="fine-2"))
    with pytest.raises(OrderError) as caught:
        parse_order_book(text)
    assert_names(caught.value, "ord-17", field)


@pytest.mark.parametrize("missing", ["side", "price", "quantity_kwh"])
def test_missing_field_is_named(missing: str) -> None:
    order = base_order()
    del order[missing]
    with pytest.raises(OrderError) as caught:
        parse_order_book(book_text(order))
    assert_names(caught.value, "ord-17", missing)


def test_missing_id_names_the_field() -> None:
    order = base_order()
    del order["id"]
    with pytest.raises(OrderError) as caught:
        parse_order_book(book_text(base_order(id="first"), order))
    assert caught.value.field == "id"
    assert "id" in str(caught.value)
    assert "#2" in str(caught.value)  # no id to name: the position is given instead


def test_duplicate_id_is_named() -> None:
    text = book_text(base_order(id="dup-9"), base_order(id="other"), base_order(id="dup-9"))
    with pytest.raises(OrderError) as caught:
        parse_order_book(text)
    assert_names(caught.value, "dup-9", "id")
    assert "duplicate" in str(caught.value)


def test_duplicate_id_across_sides_is_rejected() -> None:
    text = book_text(base_order(id="x"), base_order(id="x", side="buy"))
    with pytest.raises(OrderError) as caught:
        parse_order_book(text)
    assert_names(caught.value, "x", "id")


@pytest.mark.parametrize(
    "text",
    [
        '{"orders": [',
        '{"orders": [{"id": "a", "side": "sell", "price": 1, "quantity_kwh": 2,}]}',
        "",
        "orders",
    ],
    ids=["truncated", "trailing-comma", "empty", "bare-word"],
)
def test_malformed_json(text: str) -> None:
    with pytest.raises(OrderError, match="JSON") as caught:
        parse_order_book(text)
    assert type(caught.value) is OrderError
    assert isinstance(caught.value, PeergridError)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        pytest.param("[]", None, id="top-level-list"),
        pytest.param('{"params": {}}', "orders", id="no-orders"),
        pytest.param('{"orders": {}}', "orders", id="orders-not-list"),
        pytest.param('{"orders": [], "params": []}', "params", id="params-not-object"),
        pytest.param('{"orders": [5]}', None, id="order-not-object"),
    ],
)
def test_malformed_document(text: str, field: str | None) -> None:
    with pytest.raises(OrderError) as caught:
        parse_order_book(text)
    assert caught.value.field == field


def test_empty_book_is_valid() -> None:
    assert parse_order_book('{"orders": []}') == ([], {})


def test_nan_literal_in_file_is_rejected_by_name() -> None:
    text = '{"orders": [{"id": "n1", "side": "buy", "price": NaN, "quantity_kwh": 1}]}'
    with pytest.raises(OrderError) as caught:
        parse_order_book(text)
    assert_names(caught.value, "n1", "price")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        pytest.param({"quantity_kwh": 0}, "quantity_kwh", id="zero-quantity"),
        pytest.param({"quantity_kwh": -1}, "quantity_kwh", id="negative-quantity"),
        pytest.param({"price": math.nan}, "price", id="nan-price"),
        pytest.param({"price": -1}, "price", id="negative-price"),
        pytest.param({"side": "buy"}, "side", id="side-not-enum"),
        pytest.param({"max_distance_m": -5}, "max_distance_m", id="negative-distance"),
    ],
)
def test_direct_construction_validates(kwargs: dict[str, Any], field: str) -> None:
    values: dict[str, Any] = {
        "id": "direct-1",
        "agent": "a",
        "side": Side.SELL,
        "quantity_kwh": 1.0,
        "price": 1.0,
    }
    values.update(kwargs)
    with pytest.raises(OrderError) as caught:
        Order(**values)
    assert_names(caught.value, "direct-1", field)


# ------------------------------------------------------------------------------------------------
# bounds: what the ledger can settle, and what no sum or mean overflows


def test_the_bounds_mirror_the_ledger() -> None:
    from peergrid.core import orders
    from peergrid.ledger.markets.base import MAX_QUANTITY_WH
    from peergrid.ledger.markets.batch_market import MAX_SLOT
    from peergrid.ledger.markets.orderbook import MAX_PRICE_MICRO_PER_KWH

    # An order's bounds are the widest a ledger market takes (the order book's and the
    # community contract's); the batch market's narrower ones are checked where a scenario
    # chooses it (sim/scenario.py).
    assert orders.LEDGER_MAX_QUANTITY_WH == MAX_QUANTITY_WH
    assert orders.LEDGER_MAX_PRICE_MICRO_PER_KWH == MAX_PRICE_MICRO_PER_KWH
    assert orders.MAX_SLOT == MAX_SLOT
    # The largest order converts to integers the contracts take.
    assert round(orders.MAX_QUANTITY_KWH * 1000) <= MAX_QUANTITY_WH
    assert round(orders.MAX_PRICE_PER_KWH * 1_000_000) <= MAX_PRICE_MICRO_PER_KWH


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"quantity_kwh": 1e308}, "quantity_kwh", "at most 281474976710 kWh"),
        ({"price": 1.7e308}, "price", "at most 281474976 currency/kWh"),
        ({"max_distance_m": 1e300}, "max_distance_m", "from 0 to 1000000"),
        ({"slot": 2**32}, "slot", "from 0 to 4294967294"),
        ({"submitted_at": 2**70}, "submitted_at", "from 0 to 9223372036854775807"),
        ({"bus": ["4"]}, "bus", "a string or an integer"),
        ({"agent": {"x": 1}}, "agent", "a string or an integer"),
        ({"agent": "a" * 200}, "agent", "at most 128 characters"),
    ],
)
def test_out_of_bounds_is_named(changes: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(OrderError) as caught:
        parse_order_book(book_text(base_order(**changes)), "b.json")
    assert_names(caught.value, "ord-17", field)
    assert str(caught.value).startswith("b.json: ")
    assert words in str(caught.value)


@pytest.mark.parametrize("field", ["quantity_kwh", "price"])
def test_an_integer_beyond_the_float_range_is_refused_by_name(field: str) -> None:
    values: dict[str, Any] = {"id": "big", "agent": "a", "side": Side.BUY}
    values |= {"quantity_kwh": 1, "price": 1} | {field: 10**400}
    with pytest.raises(OrderError) as caught:
        Order(**values)
    assert_names(caught.value, "big", field)
    # In a file, the loader names where it stands.
    with pytest.raises(OrderError, match=rf"b.json: orders\[0\].{field}: the integer"):
        parse_order_book(book_text(base_order(**{field: 10**400})), "b.json")


def test_orders_at_the_bounds_are_accepted() -> None:
    from peergrid.core.orders import MAX_PRICE_PER_KWH, MAX_QUANTITY_KWH

    (order,) = parse_order_book(
        book_text(base_order(price=MAX_PRICE_PER_KWH, quantity_kwh=MAX_QUANTITY_KWH))
    )[0]
    assert order.price == MAX_PRICE_PER_KWH and order.quantity_kwh == MAX_QUANTITY_KWH


def test_a_book_has_a_largest_size() -> None:
    from peergrid.core.orders import MAX_ORDERS

    text = book_text(*(base_order(id=str(i)) for i in range(MAX_ORDERS + 1)))
    with pytest.raises(OrderError, match=f"at most {MAX_ORDERS}"):
        parse_order_book(text)
