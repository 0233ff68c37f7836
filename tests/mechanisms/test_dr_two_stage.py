"""The two-stage DR settlement (001a_book.md §2.3–2.5): a hand-worked slot with exact numbers,
a reference two-pointer walk, and the invariants as properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peergrid.mechanisms.dr.two_stage import (
    Bids,
    DemandResponseError,
    final_settlement,
    first_settlement,
    merit_order,
)

UP = 300_000  # 0.30 per kWh, micro-currency
ALPHA = 1_200_000  # 1.2
PENALTY = 500_000  # 0.50 per kWh

# A, B, C buy; D, E, F sell (demand Wh, supply Wh, price micro-currency/kWh).
WORKED = {
    "A": (5000, 0, 250_000),
    "B": (3000, 1000, 200_000),
    "C": (3000, 0, 100_000),
    "D": (0, 4000, 80_000),
    "E": (1000, 4000, 150_000),
    "F": (0, 2000, 220_000),
}


def bids_of(rows: dict[str, tuple[int, int, int]]) -> Bids:
    d, r, p = (np.array([[row[k] for row in rows.values()]], dtype=np.int64) for k in range(3))
    return Bids(d, r, p)


def test_worked_slot_first_settlement() -> None:
    first = first_settlement(bids_of(WORKED), np.array([UP]), np.array([ALPHA]))
    # A takes D's 4000 and 1000 of E; B takes E's other 2000; C (0.10) does not cross F (0.22).
    assert first.cleared_wh.tolist() == [7000]
    assert first.price.tolist() == [175_000]  # mid-point of B (0.20) and E (0.15)
    assert first.bought_wh.tolist() == [[5000, 2000, 0, 0, 0, 0]]
    assert first.sold_wh.tolist() == [[0, 0, 0, 4000, 3000, 0]]
    assert first.deficit_wh.tolist() == [1000]  # 10 000 Wh net demand, 9 000 net supply
    assert first.dr_price.tolist() == [210_000]  # 1.2 x 0.175 < 0.30


def test_worked_slot_final_settlement() -> None:
    bids = bids_of(WORKED)
    first = first_settlement(bids, np.array([UP]), np.array([ALPHA]))
    new_demand = np.array([[5000, 2500, 2000, 0, 1000, 0]])
    delivered = np.array([[0, 0, 0, 3500, 3000, 0]])
    final = final_settlement(
        bids,
        first,
        np.array([UP]),
        np.array([PENALTY]),
        new_demand_wh=new_demand,
        delivered_wh=delivered,
    )
    assert final.local_wh.tolist() == [[5000, 1500, 0, 0, 0, 0]]
    assert final.import_wh.tolist() == [[0, 0, 2000, 0, 0, 0]]
    assert final.sold_wh.tolist() == [[0, 0, 0, 3500, 3000, 0]]
    assert final.shortfall_wh.tolist() == [[0, 0, 0, 500, 0, 0]]
    assert final.dr_wh.tolist() == [[0, 500, 1000, 0, 0, 0]]
    # 1 500 Wh of DR against a 1 000 Wh deficit: paid pro rata, rounded down.
    assert final.dr_paid_wh.tolist() == [[0, 333, 666, 0, 0, 0]]
    assert final.penalty.tolist() == [[0, 0, 0, 250_000, 0, 0]]
    assert final.money.tolist() == [[-875_000, -192_570, -460_140, 362_500, 525_000, 0]]
    # Imports 600 000 + penalty 250 000 - DR 209 790.
    assert final.operator.tolist() == [640_210]


def test_no_deficit_no_dr_price_and_no_dr_payment() -> None:
    rows = dict(WORKED, C=(2000, 0, 100_000))
    bids = bids_of(rows)
    first = first_settlement(bids, np.array([UP]), np.array([ALPHA]))
    assert first.deficit_wh.tolist() == [0] and first.dr_price.tolist() == [0]
    new = bids.demand_wh.copy()
    new[0, 1] = 2000
    final = final_settlement(bids, first, np.array([UP]), np.array([PENALTY]), new_demand_wh=new)
    assert final.dr_wh[0, 1] == 1000 and final.dr_paid_wh.sum() == 0  # AC-29


@pytest.mark.parametrize(
    ("rows", "price", "cleared"),
    [
        ({"a": (2000, 0, 100_000)}, UP, 0),  # demand only: served upstream
        ({"s": (0, 2000, 90_000), "t": (0, 1000, 70_000)}, 70_000, 0),  # supply only: lowest
        ({"a": (2000, 0, 100_000), "s": (0, 2000, 120_000)}, UP, 0),  # no crossing
        ({}, 0, 0),
    ],
)
def test_no_crossing(rows: dict[str, tuple[int, int, int]], price: int, cleared: int) -> None:
    rows = rows or {"x": (1000, 1000, 50_000)}  # a prosumer exactly balanced trades nothing
    first = first_settlement(bids_of(rows), np.array([UP]), np.array([ALPHA]))
    assert first.price.tolist() == [price] and first.cleared_wh.tolist() == [cleared]


def test_ties_keep_prosumer_order_and_the_margin_fills_partially() -> None:
    rows = {"a": (3000, 0, 100_000), "b": (3000, 0, 100_000), "s": (0, 4000, 50_000)}
    first = first_settlement(bids_of(rows), np.array([UP]), np.array([ALPHA]))
    assert first.bought_wh.tolist() == [[3000, 1000, 0]]
    assert first.price.tolist() == [75_000]


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("alpha", "field 'alpha' must be at least 1"),
        ("price", "prosumer 0, slot 0: field 'price' 400000 is above the upstream price"),
        ("demand", "prosumer 0, slot 0: field 'demand_wh' out of range"),
    ],
)
def test_bad_input_names_the_field(field: str, message: str) -> None:
    d, r, p, alpha = [[1000]], [[0]], [[100_000]], [ALPHA]
    if field == "alpha":
        alpha = [999_999]
    elif field == "price":
        p = [[400_000]]
    else:
        d = [[-1]]
    bids = Bids(np.array(d), np.array(r), np.array(p))
    with pytest.raises(DemandResponseError, match=message):
        first_settlement(bids, np.array([UP]), np.array(alpha))


def test_rescheduled_demand_above_the_bid_is_refused() -> None:
    bids = bids_of(WORKED)
    first = first_settlement(bids, np.array([UP]), np.array([ALPHA]))
    new = bids.demand_wh + 1
    with pytest.raises(DemandResponseError, match="prosumer 0, slot 0: field 'new_demand_wh'"):
        final_settlement(bids, first, np.array([UP]), np.array([PENALTY]), new_demand_wh=new)


def walk(d: np.ndarray, r: np.ndarray, p: np.ndarray) -> tuple[int, int | None]:
    """The contract's two-pointer walk, written plainly."""
    buy, sell = np.maximum(d - r, 0), np.maximum(r - d, 0)
    bo, so = merit_order(buy, p, descending=True), merit_order(sell, p, descending=False)
    rb, rs = buy.copy(), sell.copy()
    i = j = q = 0
    last = None
    while i < len(bo) and j < len(so) and p[bo[i]] >= p[so[j]]:
        t = min(rb[bo[i]], rs[so[j]])
        rb[bo[i]] -= t
        rs[so[j]] -= t
        q += t
        last = (int(p[bo[i]]) + int(p[so[j]])) // 2
        i += rb[bo[i]] == 0
        j += rs[so[j]] == 0
    return q, last


slot = st.integers(1, 9).flatmap(
    lambda n: st.tuples(
        *(
            st.lists(st.integers(lo, hi), min_size=n, max_size=n)
            for lo, hi in ((0, 6000), (0, 6000), (1, UP), (0, 6000), (0, 6000))
        )
    )
)


@settings(max_examples=150, deadline=None)
@given(slot, st.integers(10**6, 3 * 10**6), st.integers(0, 10**6))
def test_invariants(rows: tuple[list[int], ...], alpha: int, rate: int) -> None:
    d, r, p, new_cut, delivered_seed = (np.array(x, dtype=np.int64) for x in rows)
    bids = Bids(d[None], r[None], p[None])
    first = first_settlement(bids, np.array([UP]), np.array([alpha]))
    q, last = walk(d, r, p)
    assert first.cleared_wh[0] == q
    if q:
        assert first.price[0] == last
    # Cleared quantity within both sides, and orders filled within their quantities.
    assert q <= min(bids.buy_wh.sum(), bids.sell_wh.sum())
    assert (first.bought_wh <= bids.buy_wh).all() and (first.sold_wh <= bids.sell_wh).all()
    assert first.bought_wh.sum() == first.sold_wh.sum() == q
    # DR price: 0 without a deficit, else within [clearing price, upstream price].
    if first.deficit_wh[0] > 0:
        assert first.price[0] <= first.dr_price[0] <= UP
    else:
        assert first.dr_price[0] == 0
    new = np.maximum(d - new_cut, 0)
    delivered = np.minimum(delivered_seed, first.sold_wh[0] + 1000)
    final = final_settlement(
        bids,
        first,
        np.array([UP]),
        np.array([rate]),
        new_demand_wh=new[None],
        delivered_wh=delivered[None],
    )
    # Money: conserved to the unit with the operator; balance of energy; DR paid within cap.
    assert final.money.sum() + final.operator.sum() == 0
    assert final.local_wh.sum() == final.sold_wh.sum()
    assert (final.local_wh + final.import_wh == final.new_buy_wh).all()
    assert final.dr_paid_wh.sum() <= max(first.deficit_wh[0], 0)
    assert (final.dr_paid_wh <= final.dr_wh).all()
    # Buyers' local payments cover sellers' receipts up to rounding (one unit per buyer).
    price = int(first.price[0])
    paid = (final.local_wh * price // 1000).sum()
    received = (final.sold_wh * price // 1000).sum()
    assert received - len(d) <= paid <= received + len(d)
