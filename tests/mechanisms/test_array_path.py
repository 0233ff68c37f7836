"""The array path gives the very clearings the object path gave.

``object_path`` keeps the DAM and the DPDA as they were written on ``Order`` objects. On random
books (ties, equal prices across sides, explicit, repeated or absent ``submitted_at``, tiny and
huge quantities, one-sided and empty books) every clearing must be identical to it: the same
price, the same trades in the same order, the same allocations in the same order, the same info,
down to the type of every value (a NumPy float where a Python float was is a difference).

Two differences are deliberate, and each is pinned here: the merit-order pairing places a
stretch by its start, not its midpoint (:func:`reference`), and an allocation is always a float
(:func:`float_allocations`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peergrid.core.errors import OrderError
from peergrid.core.orders import MAX_QUANTITY_KWH, Order, Side
from peergrid.core.trades import Clearing
from peergrid.mechanisms import clear
from peergrid.mechanisms.arrays import ClearingArrays, OrderArrays
from peergrid.mechanisms.curves import sort_book
from peergrid.mechanisms.dpda import clear_dpda, clear_dpda_arrays, dpda_at
from peergrid.mechanisms.mcafee import clear_mcafee, clear_mcafee_arrays
from peergrid.mechanisms.score_matching import (
    clear_dpda_score,
    clear_mcafee_score,
    score_match,
)

from . import object_path as ref

PROPERTY = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

ARRAY_PATHS: dict[str, Callable[[OrderArrays], ClearingArrays]] = {
    "dpda": clear_dpda_arrays,
    "mcafee": clear_mcafee_arrays,
}
OBJECT_PATHS: dict[str, Callable[[Sequence[Order]], Clearing]] = {
    "dpda": clear_dpda,
    "mcafee": clear_mcafee,
}
REFERENCE: dict[str, Callable[[Sequence[Order]], Clearing]] = {
    "dpda": ref.clear_dpda,
    "mcafee": ref.clear_mcafee,
}
MECHANISMS = sorted(REFERENCE)


def reference(mechanism: str, orders: Sequence[Order]) -> Clearing:
    """The object path's clearing, with stretches of the pairing placed by their start.

    The object path placed them by their midpoint, which can round onto the next breakpoint
    (a one-ulp stretch beyond ~8 MWh): the stretch then went to the next buyer or seller, or past
    the last one (IndexError). Wherever no midpoint rounded so, the two clearings are identical,
    and that is asserted here on every book.
    """
    clear_ = REFERENCE[mechanism]
    rounded_before = ref.PAIRING.rounded
    as_it_was: Clearing | None = None
    with contextlib.suppress(IndexError):  # the defect: a stretch placed past the last buyer
        as_it_was = clear_(orders)
    rounded = ref.PAIRING.rounded > rounded_before
    ref.PAIRING.mode = "start"
    try:
        corrected = clear_(orders)
    finally:
        ref.PAIRING.mode = "midpoint"
    if not rounded:
        assert as_it_was is not None
        assert_identical(float_allocations(corrected), as_it_was)
    return corrected


# ------------------------------------------------------------------------------------------------
# strategies

PRICES = {
    "grid": st.integers(0, 8).map(lambda k: k / 4),  # many ties, 0 included
    "fine": st.floats(0.0, 1.0, allow_nan=False, allow_subnormal=False),
    "cents": st.integers(0, 40).map(lambda k: k / 100),
}
QUANTITIES = {
    "whole": st.integers(1, 60).map(float),
    "tenths": st.integers(1, 600).map(lambda k: k / 10),  # 0.1 + 0.2 != 0.3
    "tiny": st.sampled_from([1e-15, 1e-13, 1e-12, 5e-12, 1e-10, 1e-9, 3e-9, 1e-6]),
    "huge": st.sampled_from([1e6, 1e9, 1e11, 2e11, MAX_QUANTITY_KWH]),
    "any": st.floats(1e-12, 1e9, allow_nan=False, allow_infinity=False),
}


@st.composite
def order_books(draw: st.DrawFn, *, max_side: int = 10, with_bus: bool = False) -> list[Order]:
    """A random one-slot book in list order; either side may be empty."""
    n_sell = draw(st.integers(0, max_side))
    n_buy = draw(st.integers(0, max_side))
    n = n_sell + n_buy
    price = st.one_of(
        *(PRICES[k] for k in draw(st.sets(st.sampled_from(sorted(PRICES)), min_size=1)))
    )
    kinds = draw(st.sets(st.sampled_from(sorted(QUANTITIES)), min_size=1))
    quantity = st.one_of(*(QUANTITIES[k] for k in sorted(kinds)))
    stamps_kind = draw(st.sampled_from(["none", "distinct", "repeated"]))
    if stamps_kind == "none":
        stamps = [0] * n
    elif stamps_kind == "distinct":
        stamps = draw(st.permutations(list(range(n))))
    else:
        stamps = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    agents = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=n, max_size=n))
    slot = draw(st.integers(0, 95))
    orders = [
        Order(
            id=f"{'s' if k < n_sell else 'b'}{k}",
            agent=agents[k],
            side=Side.SELL if k < n_sell else Side.BUY,
            quantity_kwh=draw(quantity),
            price=draw(price),
            slot=slot,
            bus=f"n{draw(st.integers(0, 5))}" if with_bus else None,
            max_distance_m=draw(st.none() | st.floats(0, 10)) if with_bus else None,
            submitted_at=stamps[k],
        )
        for k in range(n)
    ]
    draw(st.randoms(use_true_random=False)).shuffle(orders)
    return orders


books = order_books()


# ------------------------------------------------------------------------------------------------
# identity, strictly


def strict(value: Any) -> Any:
    """A value with every leaf tagged by its type (and floats by their repr, so −0.0 ≠ 0.0)."""
    if isinstance(value, Clearing):
        return ("Clearing", strict(value.trades), strict(value.price))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, strict(dataclasses.asdict(value)))
    if isinstance(value, dict):
        return ("dict", [(strict(k), strict(v)) for k, v in value.items()])
    if isinstance(value, list | tuple):
        return (type(value).__name__, [strict(v) for v in value])
    if isinstance(value, float):
        return (type(value).__name__, repr(value))
    return (type(value).__name__, value)


def assert_identical(result: Clearing, expected: Clearing) -> None:
    assert strict(result.price) == strict(expected.price)
    assert strict(result.trades) == strict(expected.trades)
    assert strict(dict(result.allocations)) == strict(dict(float_allocations(expected).allocations))
    assert strict(dict(result.info)) == strict(dict(expected.info))
    assert result == expected


def float_allocations(clearing: Clearing) -> Clearing:
    """The object path's allocations, with the one int it could hold made a float.

    When every pair of a clearing was float dust (no trade at all), the object path's
    ``np.bincount`` of no trades came back as integers, so its winning buyers were allocated
    the int 0. The array path allocates 0.0, as ``allocations: Mapping[str, float]`` says;
    the two compare equal, and only JSON shows the difference (``0`` against ``0.0``).
    """
    if clearing.trades:
        return clearing
    allocations = {k: float(v) if type(v) is int else v for k, v in clearing.allocations.items()}
    return dataclasses.replace(clearing, allocations=allocations)


# ------------------------------------------------------------------------------------------------
# the property


@pytest.mark.parametrize("mechanism", MECHANISMS)
@PROPERTY
@given(orders=books)
def test_array_path_equals_object_path(mechanism: str, orders: list[Order]) -> None:
    expected = reference(mechanism, orders)
    assert_identical(OBJECT_PATHS[mechanism](orders), expected)
    assert_identical(clear(mechanism, orders), expected)
    arrays = ARRAY_PATHS[mechanism](OrderArrays.from_orders(orders))
    assert_identical(arrays.to_clearing(), expected)
    check_arrays_agree(arrays, expected)


def check_arrays_agree(arrays: ClearingArrays, clearing: Clearing) -> None:
    """The arrays say what the clearing says: trade by trade, order by order."""
    book = arrays.book
    assert len(arrays) == len(clearing.trades)
    for k, trade in enumerate(clearing.trades):
        b, s = int(arrays.buy[k]), int(arrays.sell[k])
        assert (book.ids[b], book.ids[s]) == (trade.buy_order, trade.sell_order)
        assert book.is_buy[b] and not book.is_buy[s]
        assert arrays.quantity_kwh[k] == trade.quantity_kwh
        assert arrays.trade_price[k] == trade.price == clearing.price
    for k, order_id in enumerate(book.ids.tolist()):
        assert arrays.allocation[k] == clearing.allocations[order_id]


@PROPERTY
@given(orders=books, data=st.data())
def test_dpda_at_equals_object_path(orders: list[Order], data: st.DataObject) -> None:
    book, expected_book = sort_book(orders), ref.sort_book(orders)
    assert book.buyers == expected_book.buyers and book.sellers == expected_book.sellers
    for name in ("buy_price", "buy_energy", "sell_price", "sell_energy", "cum_buy", "cum_sell"):
        np.testing.assert_array_equal(getattr(book, name), getattr(expected_book, name))
    if not book.buyers or not book.sellers:
        return
    x = data.draw(st.integers(1, len(book.buyers)))
    y = data.draw(st.integers(1, len(book.sellers)))
    ref.PAIRING.mode = "start"
    try:
        expected = ref.dpda_at(orders, expected_book, x, y)
    finally:
        ref.PAIRING.mode = "midpoint"
    assert_identical(dpda_at(orders, book, x, y), expected)


class LineDistances:
    """Buses ``n0``..``n5`` on a line 10 m apart."""

    def knows(self, bus: str) -> bool:
        return bus.startswith("n")

    def submatrix(self, rows: Sequence[str], cols: Sequence[str]) -> np.ndarray:
        r = np.array([int(b[1:]) for b in rows], dtype=float)
        c = np.array([int(b[1:]) for b in cols], dtype=float)
        return np.abs(r[:, None] - c[None, :]) * 10.0


@PROPERTY
@given(orders=order_books(with_bus=True))
def test_score_matching_equals_object_path(orders: list[Order]) -> None:
    table = LineDistances()
    assert_identical(
        clear_dpda_score(orders, table),
        score_match(orders, reference("dpda", orders), table, name="dpda+score"),
    )
    assert_identical(
        clear_mcafee_score(orders, table),
        score_match(orders, reference("mcafee", orders), table, name="mcafee+score"),
    )


# ------------------------------------------------------------------------------------------------
# books the strategy does not draw


def benchmark_like(n: int, seed: int) -> list[Order]:
    rng = np.random.default_rng(seed)
    sides = rng.random(n) < 0.5
    prices = np.round(0.2023 + rng.normal(0, 0.02, n), 4)
    energy = rng.uniform(15, 80, n).round(2)
    return [
        Order(str(i), f"a{i % 97}", Side.SELL if sides[i] else Side.BUY, energy[i], prices[i])
        for i in range(n)
    ]


@pytest.mark.parametrize("mechanism", MECHANISMS)
@pytest.mark.parametrize("n", [2_000, 20_000])
def test_large_books(mechanism: str, n: int) -> None:
    orders = benchmark_like(n, seed=n)
    assert_identical(OBJECT_PATHS[mechanism](orders), reference(mechanism, orders))


def test_a_midpoint_rounding_onto_a_breakpoint_no_longer_fails() -> None:
    """Found by the property above (at 10¹² kWh, before orders were bounded; here the same
    book scaled by 1/8, which keeps every binary relation): a stretch of one ulp has a midpoint
    that rounds up to the last buyer's breakpoint, and the object path failed."""
    sides_kwh = [("s", 1.0)] * 8 + [("b", 1.1527321934700012), ("s", 1e12), ("b", 1e12)]
    sides_kwh += [("b", 1.0)] * 6 + [("b", 6.103515625e-05), ("s", 1.0), ("b", 1.0)]
    orders = [
        Order(f"{side}{k}", "a", Side.SELL if side == "s" else Side.BUY, kwh / 8, 0.0)
        for k, (side, kwh) in enumerate(sides_kwh)
    ]
    with pytest.raises(IndexError):
        ref.clear_dpda(orders)
    result = clear_dpda(orders)
    assert_identical(result, reference("dpda", orders))
    # Every trade is a buyer's and a seller's; no order gets more than it asked, up to the
    # resolution of the cumulative energies (one ulp of the book's total).
    sides = {o.id: o.side for o in orders}
    assert all(sides[t.buy_order] is Side.BUY for t in result.trades)
    assert all(sides[t.sell_order] is Side.SELL for t in result.trades)
    ulp = float(np.spacing(2e12 / 8))
    for order in orders:
        assert result.allocations[order.id] <= order.quantity_kwh + ulp


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_repeated_ids_end_as_before(mechanism: str) -> None:
    """An id given twice (a book no order file passes) is overwritten in the same order."""
    orders = [
        Order("x", "a", Side.SELL, 5, 1),
        Order("y", "b", Side.SELL, 5, 2),
        Order("x", "c", Side.BUY, 4, 9),
        Order("y", "d", Side.BUY, 9, 8),
        Order("z", "e", Side.BUY, 9, 0.5),
    ]
    for book in (orders, orders[::-1]):
        assert_identical(OBJECT_PATHS[mechanism](book), reference(mechanism, book))


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_submitted_at_beyond_int64(mechanism: str) -> None:
    orders = [
        Order("s0", "s0", Side.SELL, 5, 1, submitted_at=2**70),
        Order("s1", "s1", Side.SELL, 5, 1, submitted_at=2**64),
        Order("s2", "s2", Side.SELL, 5, 1, submitted_at=-1),
        Order("b0", "b0", Side.BUY, 12, 3, submitted_at=2**80),
        Order("b1", "b1", Side.BUY, 1, 3, submitted_at=3),
    ]
    assert_identical(OBJECT_PATHS[mechanism](orders), reference(mechanism, orders))


# ------------------------------------------------------------------------------------------------
# the array types


@PROPERTY
@given(orders=order_books(with_bus=True))
def test_orders_round_trip(orders: list[Order]) -> None:
    assert OrderArrays.from_orders(orders).to_orders() == orders


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_from_columns_equals_from_orders(mechanism: str) -> None:
    orders = benchmark_like(500, seed=3)
    columns = OrderArrays.from_columns(
        ids=[o.id for o in orders],
        agents=[o.agent for o in orders],
        is_buy=[o.side is Side.BUY for o in orders],
        quantity_kwh=[o.quantity_kwh for o in orders],
        price=[o.price for o in orders],
    )
    assert columns.to_orders() == [
        dataclasses.replace(o, submitted_at=k) for k, o in enumerate(orders)
    ]
    assert_identical(ARRAY_PATHS[mechanism](columns).to_clearing(), reference(mechanism, orders))


def test_empty_book() -> None:
    book = OrderArrays.from_orders([])
    assert len(book) == 0
    for mechanism in MECHANISMS:
        assert_identical(ARRAY_PATHS[mechanism](book).to_clearing(), reference(mechanism, []))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("quantity_kwh", 0.0, "must be a positive finite number, got 0.0"),
        ("quantity_kwh", math.inf, "must be a positive finite number, got inf"),
        ("quantity_kwh", math.nan, "must be a positive finite number, got nan"),
        ("price", -0.5, "must be a non-negative finite number, got -0.5"),
        ("price", math.nan, "must be a non-negative finite number, got nan"),
        ("max_distance_m", -1.0, "must be a non-negative finite number, got -1.0"),
        ("max_distance_m", math.inf, "must be a non-negative finite number, got inf"),
    ],
)
def test_arrays_refuse_what_orders_refuse(field: str, value: float, message: str) -> None:
    columns: dict[str, Any] = {
        "ids": ["a", "b", "c"],
        "is_buy": [True, False, True],
        "quantity_kwh": [1.0, 2.0, 3.0],
        "price": [0.1, 0.2, 0.3],
        "max_distance_m": [math.nan, 5.0, 6.0],
    }
    columns[field] = [*columns[field][:1], value, *columns[field][2:]]
    with pytest.raises(OrderError) as refused:
        OrderArrays.from_columns(**columns)
    assert refused.value.order_id == "b"
    assert refused.value.field == field
    assert message in str(refused.value)


def test_arrays_must_have_one_row_per_order() -> None:
    with pytest.raises(ValueError, match="price must be a 1-d array of 2 values"):
        OrderArrays.from_columns(
            ids=["a", "b"], is_buy=[True, False], quantity_kwh=[1, 2], price=[1]
        )
