"""The input loaders, fuzzed: any input ends in a result or a PeergridError, never another
exception, and what they accept clears to finite numbers.

Inputs: raw bytes, text, nested structures written as JSON or TOML (with extreme numbers, NaN
and infinity, deep nesting, duplicate keys), and valid documents with one field replaced.
"""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peergrid.core.errors import PeergridError
from peergrid.core.inputs import parse_json, parse_toml
from peergrid.core.orders import parse_order_book
from peergrid.grid.injections import read_injections
from peergrid.mechanisms import clear
from peergrid.sim.scenario import load_scenario

FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(),  # NaN and the infinities too
    st.sampled_from([0, -1, 1e-320, 1e308, -1e308, 1.7e308, 2**63, 2**64, 10**309]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=12))
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=20,
)
keys = st.sampled_from(
    ["orders", "params", "id", "side", "price", "quantity_kwh", "bus", "agent", "slot",
     "submitted_at", "max_distance_m", "buses", "p_kw", "q_kvar", "slots"]
)  # fmt: skip


def _json(value: Any) -> str:
    """JSON as Python writes it, integers of any size and NaN included."""
    return json.dumps(value)


def _deep(depth: int, kind: str) -> str:
    return ("[" * depth + "]" * depth) if kind == "list" else ('{"a":' * depth + "1" + "}" * depth)


@st.composite
def order_books(draw: st.DrawFn) -> str | bytes:
    """Text or bytes that might be an order book."""
    choice = draw(st.integers(0, 5))
    if choice == 0:
        return draw(st.binary(max_size=200))
    if choice == 1:
        return draw(st.text(max_size=200))
    if choice == 2:
        return _deep(draw(st.integers(1, 5000)), draw(st.sampled_from(["list", "object"])))
    order: dict[str, Any] = {"id": "a", "side": "sell", "price": 1, "quantity_kwh": 1}
    other: dict[str, Any] = {"id": "b", "side": "buy", "price": 2, "quantity_kwh": 1}
    for _ in range(draw(st.integers(1, 3))):
        target = draw(st.sampled_from([order, other]))
        target[draw(keys)] = draw(values)
    document: Any = {"orders": [order, other]}
    if choice == 4:
        document = draw(st.dictionaries(keys, values, max_size=3)) | document
    if choice == 5:
        document = {"orders": draw(st.lists(values, max_size=4))}
    return _json(document)


@FUZZ
@given(book=order_books())
def test_order_book_loader(book: str | bytes) -> None:
    try:
        orders, params = parse_order_book(book, "b.json")
    except PeergridError:
        return
    # What the loader accepts clears, for every plain mechanism, to finite numbers.
    for mechanism in ("dpda", "mcafee"):
        try:
            result = clear(mechanism, orders, params)
        except PeergridError:
            continue
        json.dumps(result.to_dict(), allow_nan=False)  # raises on NaN or infinity


@FUZZ
@given(text=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_json_and_toml_loaders_on_any_bytes(text: bytes) -> None:
    for parse in (parse_json, parse_toml):
        with contextlib.suppress(PeergridError):
            parse(text, "x")


SCENARIO_FIELDS = [
    ("name",),
    ("seed",),
    ("feeder", "name"),
    ("households", "count"),
    ("households", "pv_share"),
    ("households", "annual_consumption_kwh"),
    ("households", "pv_kwp"),
    ("households", "load_profiles"),
    ("time", "start"),
    ("time", "days"),
    ("time", "slot_minutes"),
    ("market", "mechanism"),
    ("market", "reference_price"),
    ("market", "min_order_kwh"),
    ("market", "forecast_error"),
    ("market", "penalty_per_kwh"),
    ("market", "params"),
    ("tariffs", "retail_per_kwh"),
    ("tariffs", "feed_in_per_kwh"),
    ("tariffs", "network_fee_per_kwh"),
    ("tariffs", "currency"),
    ("grid", "v_min_pu"),
    ("grid", "max_line_loading_pct"),
    ("ledger", "deposit_per_member"),
    ("ledger", "market"),
    ("ledger", "rpc"),
    ("output", "directory"),
]
toml_values = st.recursive(
    st.one_of(
        st.booleans(),
        st.integers(min_value=-(10**400), max_value=10**400),
        st.floats(),
        st.text(max_size=12),
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=10,
)


@st.composite
def scenario_files(draw: st.DrawFn) -> bytes:
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return draw(st.binary(max_size=300))
    if choice == 1:
        return draw(st.text(max_size=300)).encode()
    if choice == 2:
        depth = draw(st.integers(1, 5000))
        return b"x = " + b"[" * depth + b"]" * depth
    document: dict[str, Any] = {}
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(SCENARIO_FIELDS))
        target = document
        for section in path[:-1]:
            target = target.setdefault(section, {})
        target[path[-1]] = draw(toml_values)
    return tomli_w.dumps(document).encode()


@FUZZ
@given(data=scenario_files())
def test_scenario_loader(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_bytes(data)
    try:
        scenario = load_scenario(path)
    except PeergridError:
        return
    # Whatever loads has only finite numbers and a name that is a plain file name.
    assert "/" not in scenario.name and scenario.name not in (".", "..")
    for number in _numbers(scenario.model_dump()):
        assert math.isfinite(number)


def _numbers(value: Any) -> list[float]:
    if isinstance(value, dict):
        return [n for item in value.values() for n in _numbers(item)]
    if isinstance(value, list | tuple):
        return [n for item in value for n in _numbers(item)]
    if isinstance(value, float):
        return [value]
    return []


@st.composite
def injection_files(draw: st.DrawFn) -> tuple[str, bytes]:
    choice = draw(st.integers(0, 4))
    if choice == 0:
        return draw(st.sampled_from(["i.json", "i.csv"])), draw(st.binary(max_size=200))
    if choice == 1:
        return "i.json", _deep(draw(st.integers(1, 5000)), "list").encode()
    if choice == 2:
        cells = draw(st.lists(st.text(max_size=8), min_size=1, max_size=6))
        header = draw(st.sampled_from(["slot,p_kw:3", "slot,p_kw:3,q_kvar:3", "slot"]))
        return "i.csv", (header + "\n" + ",".join(cells) + "\n").encode()
    document: dict[str, Any] = {"buses": [3, 7], "p_kw": [[1.0, -1.0]]}
    for _ in range(draw(st.integers(1, 2))):
        document[draw(st.sampled_from(["buses", "p_kw", "q_kvar", "slots", "x"]))] = draw(values)
    return "i.json", _json(document).encode()


@FUZZ
@given(file=injection_files())
def test_injection_loader(file: tuple[str, bytes], tmp_path: Path) -> None:
    name, data = file
    path = tmp_path / name
    path.write_bytes(data)
    try:
        injections = read_injections(path)
    except PeergridError:
        return
    assert injections.n_slots > 0 and injections.buses
    for array in (injections.p_kw, injections.q_kvar):
        assert all(math.isfinite(float(v)) for v in array.ravel())


@pytest.mark.parametrize(
    "book",
    [
        # Prices and quantities at the bounds: every clearing stays finite.
        [("s1", "sell", 281_474_976, 281_474_976_710), ("b1", "buy", 281_474_976, 1)],
        [(f"s{i}", "sell", 0, 281_474_976_710) for i in range(50)]
        + [(f"b{i}", "buy", 281_474_976, 281_474_976_710) for i in range(50)],
    ],
)
def test_orders_at_the_bounds_clear_to_finite_numbers(
    book: list[tuple[str, str, int, int]],
) -> None:
    text = _json(
        {"orders": [{"id": i, "side": s, "price": p, "quantity_kwh": q} for i, s, p, q in book]}
    )
    orders, _ = parse_order_book(text)
    for mechanism in ("dpda", "mcafee"):
        result = clear(mechanism, orders)
        json.dumps(result.to_dict(), allow_nan=False)
