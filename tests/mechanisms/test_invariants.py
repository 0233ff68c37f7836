"""Property tests over random order books for the DPDA and the DAM (003_dpda.md §6 items 9-10).

Besides the digest's invariants (§6 item 9), every clearing is checked for: trades only between
winners, all at p0, positive quantities; per-order totals within the order quantity; money
balance; reciprocity; the merit-order pairing of ``peergrid.mechanisms.pairing``; determinism;
and invariance under permuting orders that carry explicit distinct ``submitted_at``.

Both mechanisms are also compared with a small exact reference model written here from the
digest (Rule R §2.3, Algorithm 1 §2.2, Algorithm 2 §2.4), in exact rational arithmetic.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from peergrid.core.orders import Order, Side
from peergrid.core.trades import Clearing
from peergrid.mechanisms import clear
from peergrid.mechanisms.curves import intersection, sort_book

TOL = 1e-9
MECHANISMS = ["dpda", "mcafee"]

PROPERTY = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


# ------------------------------------------------------------------------------------------------
# strategies


@st.composite
def order_books(
    draw: st.DrawFn,
    *,
    max_side: int = 9,
    energy_tenths: bool = False,
    coarse_prices: bool = True,
) -> list[Order]:
    """A random one-slot book: ids ``s*``/``b*``, agents distinct from ids, distinct
    ``submitted_at``.

    Prices come from a small grid so that ties (stability) and equal prices across sides
    happen often; energies are whole kWh, or tenths of a kWh with ``energy_tenths``.
    """
    n_sell = draw(st.integers(1, max_side))
    n_buy = draw(st.integers(1, max_side))
    if coarse_prices:
        price = st.integers(1, 12).map(float)
    else:
        price = st.integers(1, 400).map(lambda k: k / 20)
    energy = st.integers(1, 600).map(lambda k: k / 10) if energy_tenths else st.integers(1, 60)
    stamps = draw(st.permutations(list(range(n_sell + n_buy))))
    slot = draw(st.integers(0, 95))  # one slot's book
    orders: list[Order] = []
    for i in range(n_sell):
        q, p = draw(energy), draw(price)
        stamp = stamps[i]
        orders.append(Order(f"s{i}", f"agent-s{i}", Side.SELL, q, p, slot, submitted_at=stamp))
    for j in range(n_buy):
        q, p = draw(energy), draw(price)
        stamp = stamps[n_sell + j]
        orders.append(Order(f"b{j}", f"agent-b{j}", Side.BUY, q, p, slot, submitted_at=stamp))
    draw(st.randoms(use_true_random=False)).shuffle(orders)
    return orders


books = order_books()
fine_books = order_books(coarse_prices=False)
decimal_books = order_books(energy_tenths=True)


# ------------------------------------------------------------------------------------------------
# an exact reference model, written from the digest


def exact(value: float) -> Fraction:
    """The decimal a test wrote (``0.1`` is 1/10), not its binary approximation."""
    return Fraction(repr(value))


@dataclass
class Reference:
    case: int | None
    point: tuple[int, int] | None
    price: Fraction | None
    winning_buyers: list[str]
    winning_sellers: list[str]
    cleared: dict[str, Fraction]  # E' of the winning sellers
    shared: Fraction | None  # DPDA oversupply or DAM theta


def _sorted_sides(orders: Sequence[Order]) -> tuple[list[Order], list[Order]]:
    by_time = sorted(orders, key=lambda o: o.submitted_at)
    buyers = sorted((o for o in by_time if o.side is Side.BUY), key=lambda o: -exact(o.price))
    sellers = sorted((o for o in by_time if o.side is Side.SELL), key=lambda o: exact(o.price))
    return buyers, sellers


def _cum(side: Sequence[Order], k: int) -> Fraction:
    return sum((exact(o.quantity_kwh) for o in side[:k]), Fraction(0))


def reference_rule_r(buyers: Sequence[Order], sellers: Sequence[Order]) -> tuple[int, int] | None:
    """§2.3 verbatim: for x = 1.., the smallest covering y; stop at the first failure."""
    point = None
    for x in range(1, len(buyers) + 1):
        covering = [y for y in range(1, len(sellers) + 1) if _cum(sellers, y) >= _cum(buyers, x)]
        if not covering:
            break
        y = covering[0]
        if exact(buyers[x - 1].price) < exact(sellers[y - 1].price):
            break
        point = (x, y)
    return point


def _check(buyers: Sequence[Order], sellers: Sequence[Order], x: int, y: int) -> bool:
    """(P(S_{y+1}) + P(B_{x+1}))/2 in [P(S_y), P(B_x)]; failed past the end (documented policy)."""
    if y + 1 > len(sellers) or x + 1 > len(buyers):
        return False
    mid = (exact(sellers[y].price) + exact(buyers[x].price)) / 2
    return exact(sellers[y - 1].price) <= mid <= exact(buyers[x - 1].price)


def _no_trade(case: int | None, point: tuple[int, int] | None) -> Reference:
    return Reference(case, point, None, [], [], {}, None)


def reference_dpda(orders: Sequence[Order]) -> Reference:
    """Algorithm 2 (§2.4) at the Rule R intersection, exact arithmetic."""
    buyers, sellers = _sorted_sides(orders)
    point = reference_rule_r(buyers, sellers)
    if point is None:
        return _no_trade(None, point)
    x, y = point

    def pb(k: int) -> Fraction:
        return exact(buyers[k - 1].price)

    def ps(k: int) -> Fraction:
        # Documented policy (dpda.py): in Case 4 a missing S_{y+1} is replaced by S_y.
        return exact(sellers[min(k, len(sellers)) - 1].price)

    if _check(buyers, sellers, x, y):
        # Case 2's guard contradicts (2.3), which Rule R's point satisfies (§2.3).
        assert _cum(buyers, x) <= _cum(sellers, y)
        case, n_s, n_b, price = 1, y, x, (ps(y + 1) + pb(x + 1)) / 2
    elif _cum(buyers, x - 1) <= _cum(sellers, y - 1):
        case, n_s, n_b, price = 3, y - 1, x - 1, (ps(y) + pb(x)) / 2
    else:
        case, n_s, n_b, price = 4, y, x - 1, (ps(y + 1) + pb(x)) / 2
    if n_s <= 0 or n_b <= 0:
        return _no_trade(case, point)
    oversupply = (_cum(sellers, n_s) - _cum(buyers, n_b)) / n_s
    cleared = {o.id: max(Fraction(0), exact(o.quantity_kwh) - oversupply) for o in sellers[:n_s]}
    return Reference(
        case,
        point,
        price,
        [o.id for o in buyers[:n_b]],
        [o.id for o in sellers[:n_s]],
        cleared,
        oversupply,
    )


def reference_dam(orders: Sequence[Order]) -> Reference:
    """Algorithm 1 with eqs. 2.6/2.7 (§2.2), exact arithmetic."""
    buyers, sellers = _sorted_sides(orders)
    point = reference_rule_r(buyers, sellers)
    if point is None:
        return _no_trade(None, point)
    x, y = point
    if _check(buyers, sellers, x, y):
        case, n_s, n_b = 1, y, x
        price = (exact(sellers[y].price) + exact(buyers[x].price)) / 2
    else:
        case, n_s, n_b = 2, y - 1, x - 1
        price = (exact(sellers[y - 1].price) + exact(buyers[x - 1].price)) / 2
    if n_s <= 0 or n_b <= 0:
        return _no_trade(case, point)
    theta = _cum(sellers, n_s) - _cum(buyers, n_b)
    cleared = {o.id: exact(o.quantity_kwh) for o in sellers[:n_s]}
    if theta > 0:
        last = sellers[n_s - 1].id
        cleared[last] = max(Fraction(0), cleared[last] - theta)
    return Reference(
        case,
        point,
        price,
        [o.id for o in buyers[:n_b]],
        [o.id for o in sellers[:n_s]],
        cleared,
        theta,
    )


REFERENCES = {"dpda": reference_dpda, "mcafee": reference_dam}


# ------------------------------------------------------------------------------------------------
# checks shared by both mechanisms


def check_common(orders: Sequence[Order], result: Clearing) -> None:
    by_id = {o.id: o for o in orders}
    info = result.info
    assert set(result.allocations) == set(by_id)
    winners_b = list(info["winning_buyers"])
    winners_s = list(info["winning_sellers"])
    assert all(by_id[b].side is Side.BUY for b in winners_b)
    assert all(by_id[s].side is Side.SELL for s in winners_s)

    if result.price is None:
        assert result.trades == ()
        assert winners_b == [] and winners_s == []
        assert all(v == 0 for v in result.allocations.values())
        return
    # Something clears whenever a price is set.
    assert winners_b and winners_s
    assert info["traded_kwh"] > 0

    # Losers get nothing.
    for order_id in by_id:
        if order_id not in winners_b and order_id not in winners_s:
            assert result.allocations[order_id] == 0, order_id
    # 0 <= E' <= E.
    for s in winners_s:
        assert -TOL <= result.allocations[s] <= by_id[s].quantity_kwh + TOL

    # Trades: winners only, at p0, positive, on the right side, named by agent.
    per_buyer: dict[str, float] = defaultdict(float)
    per_seller: dict[str, float] = defaultdict(float)
    seen_by_buyer: dict[tuple[str, str], float] = defaultdict(float)
    seen_by_seller: dict[tuple[str, str], float] = defaultdict(float)
    for t in result.trades:
        assert t.buy_order in winners_b
        assert t.sell_order in winners_s
        assert t.price == result.price
        assert t.quantity_kwh > 0
        assert t.buyer == by_id[t.buy_order].agent
        assert t.seller == by_id[t.sell_order].agent
        assert t.slot == by_id[t.buy_order].slot == by_id[t.sell_order].slot
        per_buyer[t.buy_order] += t.quantity_kwh
        per_seller[t.sell_order] += t.quantity_kwh
    for t in result.trades:  # reciprocity: each side's view of the pair volumes agrees
        seen_by_buyer[(t.buy_order, t.sell_order)] += t.quantity_kwh
    for t in reversed(result.trades):
        seen_by_seller[(t.buy_order, t.sell_order)] += t.quantity_kwh
    assert seen_by_buyer.keys() == seen_by_seller.keys()
    for pair, volume in seen_by_buyer.items():
        assert volume == pytest.approx(seen_by_seller[pair], abs=TOL)

    # Per-order totals: buyers' = allocation <= quantity; sellers' <= E' <= quantity.
    for b in winners_b:
        assert per_buyer[b] == pytest.approx(result.allocations[b], abs=TOL)
        assert per_buyer[b] <= by_id[b].quantity_kwh + TOL
    for s in winners_s:
        assert per_seller[s] <= result.allocations[s] + TOL

    # Money balance: what buyers pay is what sellers receive.
    paid = sum(result.allocations[b] * result.price for b in winners_b)
    received = sum(per_seller[s] * result.price for s in winners_s)
    assert paid == pytest.approx(received, abs=1e-6)

    # Diagnostics agree with the trades.
    traded = sum(t.quantity_kwh for t in result.trades)
    supplied = sum(result.allocations[s] for s in winners_s)
    assert info["traded_kwh"] == pytest.approx(traded, abs=TOL)
    assert info["clipping_excess_kwh"] == pytest.approx(supplied - traded, abs=1e-6)

    # Individual rationality: the flagged list is exactly the winners on the wrong side of p0.
    wrong = {b for b in winners_b if by_id[b].price < result.price}
    wrong |= {s for s in winners_s if by_id[s].price > result.price}
    assert set(info["individual_rationality_violations"]) == wrong

    check_merit_order(result, winners_b, winners_s, by_id)


def check_merit_order(
    result: Clearing, winners_b: list[str], winners_s: list[str], by_id: dict[str, Order]
) -> None:
    """pairing.py: buyers by priority filled from sellers by priority, each in turn."""
    rank_b = {b: k for k, b in enumerate(winners_b)}
    rank_s = {s: k for k, s in enumerate(winners_s)}
    steps = [(rank_b[t.buy_order], rank_s[t.sell_order]) for t in result.trades]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    demand = [by_id[b].quantity_kwh for b in winners_b]
    supply = [result.allocations[s] for s in winners_s]
    total = min(sum(demand), sum(supply))
    assert result.info["traded_kwh"] == pytest.approx(total, abs=1e-6)
    before = 0.0
    for b, d in zip(winners_b, demand, strict=True):
        expected = min(max(total - before, 0.0), d)
        assert result.allocations[b] == pytest.approx(expected, abs=1e-6), b
        before += d
    per_seller: dict[str, float] = defaultdict(float)
    for t in result.trades:
        per_seller[t.sell_order] += t.quantity_kwh
    before = 0.0
    for s, e in zip(winners_s, supply, strict=True):
        expected = min(max(total - before, 0.0), e)
        assert per_seller[s] == pytest.approx(expected, abs=1e-6), s
        before += e


def check_rule_r(orders: Sequence[Order], result: Clearing) -> None:
    """Rule R's point satisfies (2.3), its y is minimal and x + 1 fails (§2.3)."""
    book = sort_book(orders)
    point = intersection(book)
    assert result.info["x"] == (point[0] if point else None)
    assert result.info["y"] == (point[1] if point else None)
    if point is None:
        assert result.info["case"] is None
        return
    x, y = point
    assert book.p_b(x) >= book.p_s(y)  # type: ignore[operator]
    assert book.cum_s(y) >= book.cum_b(x) - TOL
    assert book.cum_s(y - 1) < book.cum_b(x) - TOL
    if x < len(book.buyers):
        nxt = x + 1
        y_next = next(
            (k for k in range(1, len(book.sellers) + 1) if book.cum_s(k) >= book.cum_b(nxt) - TOL),
            None,
        )
        assert y_next is None or book.p_b(nxt) < book.p_s(y_next)  # type: ignore[operator]


def check_dpda(orders: Sequence[Order], result: Clearing) -> None:
    """§6 item 9 and item 10 for the DPDA."""
    by_id = {o.id: o for o in orders}
    info = result.info
    case = info["case"]
    # Item 10: Case 2 is unreachable from Rule R.
    assert case in {None, 1, 3, 4}
    if result.price is None:
        return
    oversupply = info["oversupply"]
    winners_b, winners_s = info["winning_buyers"], info["winning_sellers"]
    # Oversupply >= 0 in Cases 1, 3 and 4.
    assert oversupply >= -TOL
    # E' = max(0, E - oversupply) for every winning seller.
    for s in winners_s:
        expected = max(0.0, by_id[s].quantity_kwh - oversupply)
        assert result.allocations[s] == pytest.approx(expected, abs=1e-6), s
    # Every winning buyer is fully served; winning demand <= sum E'.
    demand = sum(by_id[b].quantity_kwh for b in winners_b)
    supplied = sum(result.allocations[s] for s in winners_s)
    for b in winners_b:
        assert result.allocations[b] == pytest.approx(by_id[b].quantity_kwh, abs=1e-6), b
    assert demand <= supplied + 1e-6
    # Without clipping the oversupply is shared exactly: sum E' = winning demand.
    if all(by_id[s].quantity_kwh >= oversupply for s in winners_s):
        assert supplied == pytest.approx(demand, abs=1e-6)
        assert info["clipping_excess_kwh"] == pytest.approx(0, abs=1e-6)
    # IR holds by construction in Cases 1 and 3; in Case 4 only buyers may be flagged.
    violations = info["individual_rationality_violations"]
    if case in {1, 3}:
        assert violations == []
    else:
        assert all(by_id[v].side is Side.BUY for v in violations)


def check_dam(orders: Sequence[Order], result: Clearing) -> None:
    by_id = {o.id: o for o in orders}
    info = result.info
    assert info["case"] in {None, 1, 2}
    if result.price is None:
        return
    winners_b, winners_s = info["winning_buyers"], info["winning_sellers"]
    theta = info["theta"]
    supply = sum(by_id[s].quantity_kwh for s in winners_s)
    demand = sum(by_id[b].quantity_kwh for b in winners_b)
    assert theta == pytest.approx(supply - demand, abs=1e-6)
    # Only the last winning seller absorbs theta (eqs. 2.6/2.7, not Algorithm 1's inverted test).
    for s in winners_s[:-1]:
        assert result.allocations[s] == by_id[s].quantity_kwh
    last = winners_s[-1]
    expected = max(0.0, by_id[last].quantity_kwh - theta) if theta > 0 else by_id[last].quantity_kwh
    assert result.allocations[last] == pytest.approx(expected, abs=1e-6)
    if theta >= 0:
        for b in winners_b:
            assert result.allocations[b] == pytest.approx(by_id[b].quantity_kwh, abs=1e-6)
    # IR always holds in the DAM: p0 lies between the marginal prices.
    assert info["individual_rationality_violations"] == []


def check_against_reference(mechanism: str, orders: Sequence[Order], result: Clearing) -> None:
    ref = REFERENCES[mechanism](orders)
    info = result.info
    assert info["case"] == ref.case
    assert (info["x"], info["y"]) == (ref.point or (None, None))
    if ref.price is None:
        assert result.price is None
        return
    assert result.price == pytest.approx(float(ref.price), abs=TOL)
    assert info["winning_buyers"] == ref.winning_buyers
    assert info["winning_sellers"] == ref.winning_sellers
    shared = info["oversupply"] if mechanism == "dpda" else info["theta"]
    assert shared == pytest.approx(float(ref.shared or 0), abs=TOL)
    for s, cleared in ref.cleared.items():
        assert result.allocations[s] == pytest.approx(float(cleared), abs=1e-6), s


# ------------------------------------------------------------------------------------------------
# the properties


@pytest.mark.parametrize("mechanism", MECHANISMS)
@PROPERTY
@given(orders=books)
def test_clearing_invariants(mechanism: str, orders: list[Order]) -> None:
    result = clear(mechanism, orders)
    check_common(orders, result)
    check_rule_r(orders, result)
    (check_dpda if mechanism == "dpda" else check_dam)(orders, result)


@pytest.mark.parametrize("mechanism", MECHANISMS)
@PROPERTY
@given(orders=fine_books)
def test_clearing_invariants_fine_prices(mechanism: str, orders: list[Order]) -> None:
    result = clear(mechanism, orders)
    check_common(orders, result)
    check_rule_r(orders, result)
    (check_dpda if mechanism == "dpda" else check_dam)(orders, result)


@pytest.mark.parametrize("mechanism", MECHANISMS)
@PROPERTY
@given(orders=books)
def test_matches_exact_reference_model(mechanism: str, orders: list[Order]) -> None:
    check_against_reference(mechanism, orders, clear(mechanism, orders))


# Equal supply and demand written in tenths of a kWh: 0.1 + 0.2 kWh of demand against 0.3 kWh
# of supply is equality, so (2.3) holds at (2, 1) and Case 2 must not be reached (§2.3, §6
# item 10). See also test_float_dust_does_not_change_the_case below.
_DUST_BOOK = [
    Order("s0", "agent-s0", Side.SELL, 0.3, 1.0, submitted_at=0),
    Order("s1", "agent-s1", Side.SELL, 1.0, 2.0, submitted_at=1),
    Order("b0", "agent-b0", Side.BUY, 0.1, 10.0, submitted_at=2),
    Order("b1", "agent-b1", Side.BUY, 0.2, 9.0, submitted_at=3),
    Order("b2", "agent-b2", Side.BUY, 1.0, 1.5, submitted_at=4),
]


@pytest.mark.parametrize("mechanism", MECHANISMS)
@PROPERTY
@given(orders=decimal_books)
@example(orders=_DUST_BOOK)
def test_decimal_energies_match_exact_reference(mechanism: str, orders: list[Order]) -> None:
    """kWh in tenths: the clearing must follow the exact arithmetic of the spec, not float dust."""
    result = clear(mechanism, orders)
    check_against_reference(mechanism, orders, result)
    check_common(orders, result)
    (check_dpda if mechanism == "dpda" else check_dam)(orders, result)


@PROPERTY
@given(orders=books)
def test_dpda_case_4_individual_rationality_is_flagged(orders: list[Order]) -> None:
    """§6 item 9: in Case 4 buyer-side IR can fail; it must be listed, never hidden."""
    result = clear("dpda", orders)
    if result.price is None:
        return
    by_id = {o.id: o for o in orders}
    flagged = set(result.info["individual_rationality_violations"])
    for b in result.info["winning_buyers"]:
        assert (by_id[b].price < result.price) == (b in flagged)


def test_dpda_case_4_ir_violation_example() -> None:
    # Sorted sellers 1 (5 kWh), 2 (20 kWh), 100 (50 kWh); buyers 10, 8, 5 (10 kWh each).
    # Rule R (2, 2); the check (100 + 5)/2 = 52.5 not in [2, 8] fails and 10 > 5, so Case 4 with
    # p0 = (P(S_3) + P(B_2))/2 = 54 > P(B_1) = 10: buyer b0 is flagged, not dropped or repriced.
    orders = [
        Order("s0", "s0", Side.SELL, 5, 1),
        Order("s1", "s1", Side.SELL, 20, 2),
        Order("s2", "s2", Side.SELL, 50, 100),
        Order("b0", "b0", Side.BUY, 10, 10),
        Order("b1", "b1", Side.BUY, 10, 8),
        Order("b2", "b2", Side.BUY, 10, 5),
    ]
    result = clear("dpda", orders)
    assert result.info["case"] == 4
    assert (result.info["x"], result.info["y"]) == (2, 2)
    assert result.price == pytest.approx(54, abs=TOL)
    assert result.info["winning_buyers"] == ["b0"]
    assert result.info["winning_sellers"] == ["s0", "s1"]
    assert result.info["oversupply"] == pytest.approx(7.5, abs=TOL)  # (25 - 10) / 2
    assert result.info["individual_rationality_violations"] == ["b0"]
    assert result.allocations["s0"] == 0  # clipped: 5 - 7.5 < 0
    assert result.allocations["s1"] == pytest.approx(12.5, abs=TOL)
    assert result.allocations["b0"] == pytest.approx(10, abs=TOL)


@pytest.mark.parametrize(
    ("orders", "case", "price", "sellers", "buyers"),
    [
        pytest.param(
            _DUST_BOOK, 1, 1.75, ["s0"], ["b0", "b1"], id="case-1-not-2"
        ),  # check (2 + 1.5)/2 in [1, 9] and 0.3 <= 0.3
        pytest.param(
            [
                Order("s0", "s0", Side.SELL, 0.3, 1.0, submitted_at=0),
                Order("s1", "s1", Side.SELL, 1.0, 2.0, submitted_at=1),
                Order("b0", "b0", Side.BUY, 0.1, 10.0, submitted_at=2),
                Order("b1", "b1", Side.BUY, 0.2, 9.0, submitted_at=3),
                Order("b2", "b2", Side.BUY, 0.5, 5.0, submitted_at=4),
            ],
            3,
            3.5,
            ["s0"],
            ["b0", "b1"],
            id="case-3-not-4",
        ),  # Rule R (3, 2), check fails at the end of the list, sum^{2} B = 0.3 <= 0.3 = sum^{1} S
        pytest.param(
            [
                Order("s0", "s0", Side.SELL, 2.4, 2.0, submitted_at=0),
                Order("s1", "s1", Side.SELL, 0.6, 6.0, submitted_at=1),
                Order("s2", "s2", Side.SELL, 0.2, 4.0, submitted_at=2),
                Order("s3", "s3", Side.SELL, 1.3, 6.0, submitted_at=3),
                Order("s4", "s4", Side.SELL, 3.3, 1.0, submitted_at=4),
                Order("s5", "s5", Side.SELL, 2.5, 5.0, submitted_at=5),
                Order("b0", "b0", Side.BUY, 1.8, 8.0, submitted_at=6),
                Order("b1", "b1", Side.BUY, 1.0, 1.0, submitted_at=7),
                Order("b2", "b2", Side.BUY, 3.9, 7.0, submitted_at=8),
            ],
            1,
            2.5,
            ["s4", "s0"],
            ["b0", "b2"],
            id="case-1-not-2-found-by-search",
        ),  # Rule R (2, 2); (4 + 1)/2 in [2, 7]; 1.8 + 3.9 = 5.7 <= 5.7 = 3.3 + 2.4
    ],
)
def test_float_dust_does_not_change_the_case(
    orders: list[Order], case: int, price: float, sellers: list[str], buyers: list[str]
) -> None:
    """Supply equals demand in decimal kWh (0.1 + 0.2 = 0.3): the case guards must see equality."""
    result = clear("dpda", orders)
    assert result.info["case"] == case
    assert result.price == pytest.approx(price, abs=TOL)
    assert result.info["winning_sellers"] == sellers
    assert result.info["winning_buyers"] == buyers
    assert result.info["oversupply"] == pytest.approx(0, abs=TOL)
    for b in buyers:
        assert result.allocations[b] == pytest.approx(
            next(o.quantity_kwh for o in orders if o.id == b), abs=TOL
        )


@pytest.mark.parametrize("mechanism", MECHANISMS)
@PROPERTY
@given(orders=books)
def test_determinism(mechanism: str, orders: list[Order]) -> None:
    first = clear(mechanism, orders).to_dict()
    copies = [dataclasses.replace(o) for o in orders]
    assert all(c == o and c is not o for c, o in zip(copies, orders, strict=True))
    assert clear(mechanism, orders).to_dict() == first
    assert clear(mechanism, copies).to_dict() == first


@pytest.mark.parametrize("mechanism", MECHANISMS)
@PROPERTY
@given(orders=books, seed=st.integers(0, 2**32 - 1))
def test_permutation_invariance_with_explicit_submitted_at(
    mechanism: str, orders: list[Order], seed: int
) -> None:
    shuffled = list(orders)
    random.Random(seed).shuffle(shuffled)
    assert clear(mechanism, shuffled).to_dict() == clear(mechanism, orders).to_dict()


@PROPERTY
@given(orders=books)
def test_stable_sort_follows_submitted_at(orders: list[Order]) -> None:
    """Ties keep submission (``submitted_at``) order, whatever the list order (§2.3 Rule R)."""
    book = sort_book(orders)
    for side in (book.buyers, book.sellers):
        for a, b in itertools.pairwise(side):
            if a.price == b.price:
                assert a.submitted_at < b.submitted_at
    assert [o.price for o in book.sellers] == sorted(o.price for o in book.sellers)
    assert [o.price for o in book.buyers] == sorted((o.price for o in book.buyers), reverse=True)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_empty_and_one_sided_books(mechanism: str) -> None:
    only_sellers = [Order("s0", "s0", Side.SELL, 5, 1)]
    only_buyers = [Order("b0", "b0", Side.BUY, 5, 9)]
    for orders in ([], only_sellers, only_buyers):
        result = clear(mechanism, orders)
        assert result.price is None
        assert result.trades == ()
        assert result.info["case"] is None
        assert all(v == 0 for v in result.allocations.values())


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_no_crossing_means_no_trade(mechanism: str) -> None:
    orders = [Order("s0", "s0", Side.SELL, 5, 10), Order("b0", "b0", Side.BUY, 5, 9)]
    result = clear(mechanism, orders)
    assert result.price is None
    assert result.trades == ()
    assert result.allocations == {"s0": 0.0, "b0": 0.0}
