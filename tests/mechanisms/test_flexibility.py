"""The need's clearing (the aggregator auction of chapter 5), by hand and by property."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peergrid.mechanisms.flexibility import (
    MIN_RELATIVE_SENSITIVITY,
    FlexibilityError,
    FlexNeed,
    FlexOffer,
    clear_need,
    is_suitable,
    merit_order,
    relative_sensitivity,
)

NEED = FlexNeed(
    "n1", slot=72, direction="down", kw=10.0, max_price=0.30, sensitivity={1: 1.0, 2: 0.5, 3: 0.4}
)


def offer(id: str, bus: int, kw: float, price: float, **kw_args: object) -> FlexOffer:
    return FlexOffer(id, f"m-{id}", bus, kw, price, "battery", **kw_args)  # type: ignore[arg-type]


def test_worked_need() -> None:
    offers = [
        offer("A", 1, 8.0, 0.20),  # 0.20 per effective kW
        offer("B", 2, 8.0, 0.08),  # 0.08 / 0.5 = 0.16 per effective kW: first
        offer("C", 3, 5.0, 0.01),  # relative sensitivity 0.4 < 0.5: unsuitable
        offer("D", 1, 3.0, 0.35),  # above the maximum price
        offer("E", 9, 3.0, 0.01),  # outside the area
        offer("F", 1, 3.0, 0.01, direction="up"),  # the other direction
    ]
    clearing = clear_need(NEED, offers)
    assert [(a.offer.id, a.kw, a.effective_kw) for a in clearing.awards] == [
        ("B", 8.0, 4.0),
        ("A", 6.0, 6.0),  # the marginal offer in part: 6 of the 10 effective kW left
    ]
    assert clearing.covered_kw == pytest.approx(10.0)
    assert clearing.bought_kw == pytest.approx(14.0)
    assert clearing.uncovered_kw == 0.0
    # 8 kW * 0.08 + 6 kW * 0.20 = 1.84 per hour; a 15-minute slot: 0.46
    assert clearing.cost(0.25) == pytest.approx(0.46)


def test_offers_run_out() -> None:
    clearing = clear_need(NEED, [offer("A", 1, 3.0, 0.1), offer("B", 2, 4.0, 0.1)])
    # A first (0.1 per effective kW before 0.2), then all of B: 3 + 2 effective kW
    assert [a.offer.id for a in clearing.awards] == ["A", "B"]
    assert clearing.covered_kw == pytest.approx(5.0)
    assert clearing.uncovered_kw == pytest.approx(5.0)


def test_ties_keep_the_order_given() -> None:
    offers = [offer("X", 2, 4.0, 0.10), offer("Y", 1, 4.0, 0.20), offer("Z", 1, 4.0, 0.20)]
    assert [o.id for o in merit_order(NEED, offers)] == ["X", "Y", "Z"]


def test_suitability_threshold_is_inclusive() -> None:
    need = FlexNeed("n", 0, "down", 1.0, 1.0, {5: MIN_RELATIVE_SENSITIVITY})
    assert is_suitable(offer("a", 5, 1.0, 1.0), need)
    assert not is_suitable(offer("b", 5, 0.0, 1.0), need)


def test_relative_sensitivity() -> None:
    assert relative_sensitivity({1: 0.8, 2: 0.4, 3: -0.1, 4: 0.0}) == {1: 1.0, 2: 0.5}
    assert relative_sensitivity({1: -1.0}) == {}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: FlexNeed("n", 0, "left", 1, 1, {}), "direction"),  # type: ignore[arg-type]
        (lambda: FlexNeed("n", 0, "down", -1, 1, {}), "kw"),
        (lambda: FlexNeed("n", 0, "down", 1, 1, {1: 1.5}), "bus 1"),
        (lambda: FlexOffer("o", "m", 1, 1, 1, "heat pump"), "asset kind"),  # type: ignore[arg-type]
        (lambda: FlexOffer("o", "m", 1, 1, -1, "ev"), "price"),
    ],
)
def test_bad_input(make: object, message: str) -> None:
    with pytest.raises(FlexibilityError, match=message):
        make()  # type: ignore[operator]


buses = st.integers(0, 8)
offers_strategy = st.lists(
    st.builds(
        lambda i, bus, kw, price, kind, up: FlexOffer(
            f"o{i}", f"m{i}", bus, kw, price, kind, "up" if up else "down"
        ),
        st.integers(0, 10**6),
        buses,
        st.floats(0, 20),
        st.floats(0, 1),
        st.sampled_from(["battery", "ev", "flexible_load"]),
        st.booleans(),
    ),
    max_size=25,
)
needs = st.builds(
    lambda kw, price, weights: FlexNeed("n", 0, "down", kw, price, weights),
    st.floats(0, 100),
    st.floats(0, 1),
    st.dictionaries(buses, st.floats(0.01, 1), max_size=8),
)


@settings(max_examples=200, deadline=None)
@given(needs, offers_strategy)
def test_clearing_properties(need: FlexNeed, offers: list[FlexOffer]) -> None:
    clearing = clear_need(need, offers)
    suitable = [o for o in offers if is_suitable(o, need)]
    available = sum(o.kw * need.sensitivity[o.bus] for o in suitable)
    tol = 1e-9 * (1 + need.kw)
    # covered never above the need, and the whole need unless the suitable offers run out
    assert clearing.covered_kw <= need.kw + tol
    assert clearing.covered_kw == pytest.approx(min(need.kw, available), abs=tol)
    for award in clearing.awards:
        assert award.offer.bus in need.area
        assert award.price <= need.max_price
        assert 0 < award.kw <= award.offer.kw + 1e-12
        assert need.sensitivity[award.offer.bus] >= MIN_RELATIVE_SENSITIVITY
    # pay as bid in merit order: an unawarded suitable offer is never cheaper per effective kW
    # than an awarded one (unless the need was already covered by equal keys)
    if clearing.awards:
        worst = max(a.price / need.sensitivity[a.offer.bus] for a in clearing.awards)
        awarded = {a.offer.id for a in clearing.awards}
        for o in suitable:
            if o.id not in awarded:
                assert o.price / need.sensitivity[o.bus] >= worst
