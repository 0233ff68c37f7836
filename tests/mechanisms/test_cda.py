"""CDA and NCDA (004_vdma.md §2.2, §2.4): the worked example 6B exactly, the continuous book's
contract rules (self-trade prevention, fill limit, time priority), and the session clear's
invariants as properties, with the paper's batch procedure written out naively as reference."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import peergrid
from peergrid.core.errors import OrderError, PeergridError
from peergrid.core.orders import Order, Side
from peergrid.grid.distance import distance_matrix
from peergrid.grid.feeders import load_feeder
from peergrid.mechanisms.cda import (
    FILL_LIMIT,
    OWNER,
    SELF_TRADE,
    BusDistances,
    ContinuousBook,
    clear_session,
)
from peergrid.mechanisms.info import ServiceMarketInfo
from peergrid.mechanisms.registry import mechanism_spec

PROPERTY = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

FEEDER = "cigre-mv-vdma"


@pytest.fixture(scope="module")
def hops() -> BusDistances:
    return BusDistances.from_matrix(distance_matrix(load_feeder(FEEDER), "hops"))


_HOPS = BusDistances.from_matrix(distance_matrix(load_feeder(FEEDER), "hops"))


def order(
    id: str,
    side: str,
    bus: str | None,
    q: float,
    p: float,
    ts: int = 0,
    agent: str | None = None,
) -> Order:
    return Order(id, agent or id, Side(side), q, p, bus=bus, submitted_at=ts)


# --- the worked example 6B (004_vdma.md §6 B) ---------------------------------------------------

EXAMPLE_6B = [
    order("A1", "buy", "14", 3, 0.40, 1),
    order("A2", "buy", "5", 2, 0.37, 2),
    order("A3", "buy", "11", 2, 0.37, 0),
    order("O1", "sell", "7", 2, 0.33, 3),
    order("O2", "sell", "13", 2, 0.36, 1),
    order("O3", "sell", "4", 4, 0.36, 0),
    order("O4", "sell", "3", 1, 0.41, 2),
]

# (ask, offer, q, price, hop distance), in the order they trade.
CDA_6B = [
    ("A1", "O1", 2, 0.365, 8),
    ("A1", "O3", 1, 0.38, 7),
    ("A3", "O3", 2, 0.365, 5),
    ("A2", "O3", 1, 0.365, 1),
    ("A2", "O2", 1, 0.365, 7),
]
NCDA_6B = [
    ("A1", "O2", 2, 0.38, 1),
    ("A1", "O3", 1, 0.38, 7),
    ("A3", "O1", 2, 0.35, 4),
    ("A2", "O3", 2, 0.365, 1),
]


@pytest.mark.parametrize(
    ("mechanism", "expected", "unsold", "weighted"),
    [
        ("cda", CDA_6B, {"O2": 1.0, "O4": 1.0}, 41.0),
        ("ncda", NCDA_6B, {"O3": 1.0, "O4": 1.0}, 19.0),
    ],
)
def test_worked_example_6b_exactly(
    mechanism: str, expected: list[tuple[str, str, int, float, int]], unsold: dict, weighted: float
) -> None:
    clearing = peergrid.clear(EXAMPLE_6B, mechanism, feeder=FEEDER)
    got = [(t.buy_order, t.sell_order, t.quantity_kwh, t.price, t.hops) for t in clearing.trades]
    assert [g[:3] for g in got] == [e[:3] for e in expected]
    assert [g[3] for g in got] == pytest.approx([e[3] for e in expected], abs=1e-12)
    assert [g[4] for g in got] == [e[4] for e in expected]
    assert clearing.price is None
    info = ServiceMarketInfo.from_mapping(clearing.info)
    assert info.unsatisfied_kwh == {}  # every ask is filled
    assert info.unsold_kwh == unsold
    assert info.weighted_distance == weighted
    assert info.distance_metric == "hops" and info.pool == "up"
    assert clearing.allocations == {
        "A1": 3.0,
        "A2": 2.0,
        "A3": 2.0,
        "O1": 2.0,
        "O2": 2.0 - unsold.get("O2", 0.0),
        "O3": 4.0 - unsold.get("O3", 0.0),
        "O4": 0.0,
    }


def test_the_example_s_hop_distances(hops: BusDistances) -> None:
    for a, b, d in [
        ("14", "13", 1),
        ("14", "4", 7),
        ("14", "7", 8),
        ("11", "7", 4),
        ("11", "4", 5),
        ("5", "4", 1),
        ("5", "13", 7),
        ("11", "13", 9),
    ]:
        assert hops.between(a, b) == d


def test_trades_carry_their_path_in_metres_and_hops() -> None:
    clearing = peergrid.clear(EXAMPLE_6B, "ncda", feeder=FEEDER)
    length = distance_matrix(load_feeder(FEEDER), "length")
    for trade in clearing.trades:
        bus = {o.id: int(o.bus or "") for o in EXAMPLE_6B}
        assert trade.path_m == length.between(bus[trade.buy_order], bus[trade.sell_order])
        assert trade.to_dict()["hops"] == trade.hops
    # Without a feeder CDA clears the same trades, without paths.
    bare = peergrid.clear(EXAMPLE_6B, "cda")
    assert [t.path_m for t in bare.trades] == [None] * len(CDA_6B)
    assert "path_m" not in bare.trades[0].to_dict()
    assert bare.info["weighted_distance"] is None


def test_ncda_by_line_length_and_the_typed_info() -> None:
    clearing = peergrid.clear(EXAMPLE_6B, "ncda", feeder=FEEDER, params={"distance": "length"})
    info = mechanism_spec("ncda").info(clearing)
    assert isinstance(info, ServiceMarketInfo)
    assert info.distance_metric == "length" and info.distance_unit == "m"
    assert info.weighted_distance == pytest.approx(
        sum(t.quantity_kwh * (t.path_m or 0.0) for t in clearing.trades)
    )


# --- the continuous book: the contract's rules ---------------------------------------------------


def test_self_trade_cancels_the_resting_order_instead() -> None:
    book = ContinuousBook()
    book.place(order("s1", "sell", None, 2, 0.30, agent="x"))
    book.place(order("s2", "sell", None, 2, 0.31, agent="y"))
    fills = book.place(order("b1", "buy", None, 3, 0.40, agent="x"))
    assert [(f.sell_order, f.quantity) for f in fills] == [("s2", 2.0)]
    assert book.cancellations == [(("s1", 2.0, SELF_TRADE))]
    assert [r.order_id for r in book.resting(Side.BUY)] == ["b1"]


def test_ncda_cancels_every_crossing_offer_of_its_own_agent(hops: BusDistances) -> None:
    book = ContinuousBook(ncda=True, distances=hops)
    book.place(order("near", "sell", "13", 5, 0.35, agent="y"))
    book.place(order("own", "sell", "4", 1, 0.30, agent="x"))
    book.place(order("dear", "sell", "4", 1, 0.45, agent="x"))
    fills = book.place(order("b", "buy", "14", 1, 0.40, agent="x"))
    # The near offer fills the ask whole; the scan still cancelled the crossing own offer,
    # and left the own offer that does not cross.
    assert [(f.sell_order, f.quantity) for f in fills] == [("near", 1.0)]
    assert book.cancellations == [("own", 1.0, SELF_TRADE)]
    assert [r.order_id for r in book.resting(Side.SELL)] == ["near", "dear"]


def test_a_fill_limit_cancels_the_rest_of_a_still_crossing_order() -> None:
    for ncda in (False, True):
        book = ContinuousBook(ncda=ncda, distances=_HOPS, max_fills=2)
        for k in range(3):
            book.place(order(f"s{k}", "sell", "4", 1, 0.30 + k / 100))
        fills = book.place(order("b", "buy", "5", 5, 0.40))
        assert len(fills) == 2
        assert book.cancellations == [("b", 3.0, FILL_LIMIT)]
        assert not book.resting(Side.BUY)
        # Not crossing any more after the limit: the rest rests.
        book2 = ContinuousBook(ncda=ncda, distances=_HOPS, max_fills=2)
        book2.place(order("s", "sell", "4", 1, 0.30))
        book2.place(order("b", "buy", "5", 5, 0.40))
        assert [r.remaining for r in book2.resting(Side.BUY)] == [4.0]


def test_partly_used_offers_keep_their_rest_and_their_place() -> None:
    book = ContinuousBook()
    book.place(order("s1", "sell", None, 4, 0.30))
    book.place(order("s2", "sell", None, 4, 0.30))
    book.place(order("b1", "buy", None, 1, 0.40))
    fills = book.place(order("b2", "buy", None, 4, 0.40))
    assert [(f.sell_order, f.quantity) for f in fills] == [("s1", 3.0), ("s2", 1.0)]
    assert [(r.order_id, r.remaining) for r in book.resting(Side.SELL)] == [("s2", 3.0)]


def test_strict_and_non_strict_crossing() -> None:
    for strict, traded in ((True, 0), (False, 1)):
        book = ContinuousBook(strict=strict)
        book.place(order("s", "sell", None, 1, 0.35))
        assert len(book.place(order("b", "buy", None, 1, 0.35))) == traded
    clearing = peergrid.clear(
        [order("s", "sell", None, 1, 0.35), order("b", "buy", None, 1, 0.35)],
        "cda",
        params={"strict": False},
    )
    assert clearing.trades[0].price == 0.35


def test_a_crossing_sell_meets_the_asks_in_price_time_order_in_ncda_too() -> None:
    book = ContinuousBook(ncda=True, distances=_HOPS)
    book.place(order("b-far", "buy", "14", 1, 0.40))
    book.place(order("b-near", "buy", "5", 1, 0.40))
    book.place(order("b-dear", "buy", "11", 1, 0.45))
    fills = book.place(order("s", "sell", "4", 3, 0.30))
    assert [f.buy_order for f in fills] == ["b-dear", "b-far", "b-near"]
    assert [f.price for f in fills] == [0.375, 0.35, 0.35]


def test_unknown_buses_come_last_and_an_unknown_taker_sees_price_time(
    hops: BusDistances,
) -> None:
    book = ContinuousBook(ncda=True, distances=hops)
    book.place(order("nowhere", "sell", None, 1, 0.30))
    book.place(order("far", "sell", "7", 1, 0.33))
    fills = book.place(order("b", "buy", "14", 2, 0.40))
    assert [f.sell_order for f in fills] == ["far", "nowhere"]
    book = ContinuousBook(ncda=True, distances=hops)
    book.place(order("far", "sell", "7", 1, 0.33))
    book.place(order("cheap", "sell", "13", 1, 0.30))
    assert [f.sell_order for f in book.place(order("b", "buy", None, 2, 0.40))] == [
        "cheap",
        "far",
    ]


def test_cancel_and_the_resting_view() -> None:
    book = ContinuousBook()
    book.place(order("b1", "buy", "1", 1, 0.30))
    book.place(order("b2", "buy", "2", 1, 0.32))
    assert [r.order_id for r in book.resting(Side.BUY)] == ["b2", "b1"]
    assert book.cancel("b2") == 1.0
    assert book.cancellations[-1] == ("b2", 1.0, OWNER)
    assert not book.place(order("s", "sell", "3", 1, 0.31))  # b2 is gone: nothing crosses
    with pytest.raises(KeyError):
        book.cancel("b2")


def test_pools_are_independent_books() -> None:
    up = peergrid.clear(EXAMPLE_6B, "ncda", feeder=FEEDER, params={"pool": "up"})
    down = peergrid.clear(EXAMPLE_6B, "ncda", feeder=FEEDER, params={"pool": "down"})
    assert up.trades == down.trades  # the book knows no direction; the pool is a label here
    assert (up.info["pool"], down.info["pool"]) == ("up", "down")
    # Two sessions' books share nothing: clearing one leaves the other's outcome alone.
    other = [order("X", "buy", "5", 9, 0.50), order("Y", "sell", "4", 9, 0.10)]
    assert peergrid.clear(other, "cda", params={"pool": "down"}).trades[0].quantity_kwh == 9
    assert peergrid.clear(EXAMPLE_6B, "ncda", feeder=FEEDER).trades == up.trades


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"pool": "sideways"}, "unknown pool 'sideways'"),
        ({"max_fills": -1}, "max_fills"),
        ({"max_fills": 1.5}, "max_fills"),
        ({"strict": "yes"}, "strict"),
        ({"distance": "crow"}, "distance"),
        ({"loss_price_per_kwh": 1}, "unknown parameter"),
    ],
)
def test_bad_parameters_name_themselves(params: dict, match: str) -> None:
    with pytest.raises(OrderError, match=match):
        peergrid.clear(EXAMPLE_6B, "cda", params=params)


def test_bad_orders_name_the_order_and_field() -> None:
    with pytest.raises(OrderError, match=r"order 'A1', field 'bus': '99' is not a bus"):
        peergrid.clear([order("A1", "buy", "99", 1, 0.4)], "cda", feeder=FEEDER)
    with pytest.raises(OrderError, match=r"order 'A1', field 'bus': is missing"):
        peergrid.clear([order("A1", "buy", None, 1, 0.4)], "ncda", feeder=FEEDER)
    with pytest.raises(PeergridError, match="needs a feeder"):
        peergrid.clear(EXAMPLE_6B, "ncda")
    with pytest.raises(OrderError, match="field 'slot'"):
        late = Order("L", "L", Side.BUY, 1, 0.4, slot=3, bus="4")
        peergrid.clear([*EXAMPLE_6B, late], "cda", feeder=FEEDER)


def test_the_energy_market_of_a_scenario_refuses_them() -> None:
    with pytest.raises(peergrid.ScenarioError, match="ancillary-service market"):
        peergrid.Scenario().replace(market={"mechanism": "ncda"})


# --- properties -------------------------------------------------------------------------------

BUSES = [str(b) for b in range(15)]
FEW_BUSES = ["3", "4", "5", "8", "13", "14"]  # few: equidistant offers are common


@st.composite
def sessions(draw: st.DrawFn, unique_agents: bool = True) -> list[Order]:
    n = draw(st.integers(1, 14))
    times = draw(st.permutations(range(n)))
    orders = []
    for k in range(n):
        side = draw(st.sampled_from(["buy", "sell"]))
        price = draw(st.sampled_from([0.30, 0.33, 0.35, 0.36, 0.37, 0.40]))
        quantity = draw(st.sampled_from([0.5, 1.0, 2.0, 3.0]) | st.floats(0.01, 5.0))
        bus = draw(st.sampled_from(FEW_BUSES) | st.sampled_from(BUSES))
        agent = f"g{k}" if unique_agents else draw(st.sampled_from(["x", "y", "z"]))
        orders.append(order(f"o{k}", side, bus, quantity, price, times[k], agent))
    return orders


def paper_batch(orders: Sequence[Order], ncda: bool) -> list[tuple[str, str, float, float]]:
    """§2.2 steps 1–8 written out (O(A·O)): for each ask, highest then oldest, fill from the
    suitable offers (strictly cheaper, something left) in price-time order (CDA) or by distance,
    then price, then time (NCDA)."""
    left = {o.id: o.quantity_kwh for o in orders}
    asks = sorted(
        (o for o in orders if o.side is Side.BUY), key=lambda o: (-o.price, o.submitted_at)
    )
    offers = [o for o in orders if o.side is Side.SELL]
    trades = []
    for ask in asks:
        suitable = [o for o in offers if o.price < ask.price and left[o.id] > 0]
        if ncda:
            suitable.sort(key=lambda o: (_HOPS.between(ask.bus, o.bus), o.price, o.submitted_at))
        else:
            suitable.sort(key=lambda o: (o.price, o.submitted_at))
        for offer in suitable:
            if left[ask.id] <= 0:
                break
            q = min(left[ask.id], left[offer.id])
            left[ask.id] -= q
            left[offer.id] -= q
            trades.append((ask.id, offer.id, q, (ask.price + offer.price) / 2))
    return trades


@PROPERTY
@given(orders=sessions(), ncda=st.booleans())
def test_the_session_clear_is_the_paper_s_batch(orders: list[Order], ncda: bool) -> None:
    outcome = clear_session(orders, ncda=ncda, distances=_HOPS)
    got = [(f.buy_order, f.sell_order, f.quantity, f.price) for f in outcome.fills]
    assert got == paper_batch(orders, ncda)


@PROPERTY
@given(orders=sessions(unique_agents=False), ncda=st.booleans(), strict=st.booleans())
def test_session_invariants(orders: list[Order], ncda: bool, strict: bool) -> None:
    outcome = clear_session(orders, ncda=ncda, distances=_HOPS, strict=strict)
    by_id = {o.id: o for o in orders}
    traded = dict.fromkeys(by_id, 0.0)
    for f in outcome.fills:
        buy, sell = by_id[f.buy_order], by_id[f.sell_order]
        assert buy.side is Side.BUY and sell.side is Side.SELL
        assert buy.agent != sell.agent
        assert buy.price > sell.price if strict else buy.price >= sell.price
        assert sell.price <= f.price <= buy.price
        if strict:
            assert sell.price < f.price < buy.price
        assert f.quantity > 0
        traded[f.buy_order] += f.quantity
        traded[f.sell_order] += f.quantity
    for oid, q in traded.items():
        assert q <= by_id[oid].quantity_kwh * (1 + 1e-12)
    # The asks trade in price-descending, then time order.
    asks: list[str] = []
    for f in outcome.fills:
        if not asks or asks[-1] != f.buy_order:
            asks.append(f.buy_order)
    assert len(asks) == len(set(asks))
    keys = [(-by_id[a].price, by_id[a].submitted_at) for a in asks]
    assert keys == sorted(keys)
    # What is left is what was not traded (or went in a cancellation).
    for oid, kwh in {**outcome.unsatisfied_kwh, **outcome.unsold_kwh}.items():
        assert kwh == pytest.approx(by_id[oid].quantity_kwh - traded[oid], abs=1e-9)


@PROPERTY
@given(orders=sessions(), ncda=st.booleans(), seed=st.integers(0, 2**16))
def test_insertion_order_does_not_matter_when_timestamps_are_given(
    orders: list[Order], ncda: bool, seed: int
) -> None:
    shuffled = list(orders)
    random.Random(seed).shuffle(shuffled)
    first = clear_session(orders, ncda=ncda, distances=_HOPS)
    second = clear_session(shuffled, ncda=ncda, distances=_HOPS)
    assert first.fills == second.fills


@PROPERTY
@given(orders=sessions())
def test_ncda_first_fill_of_each_ask_is_from_a_nearest_suitable_offer(orders: list[Order]) -> None:
    outcome = clear_session(orders, ncda=True, distances=_HOPS)
    by_id = {o.id: o for o in orders}
    left = {o.id: o.quantity_kwh for o in orders}
    seen: set[str] = set()
    for f in outcome.fills:
        ask = by_id[f.buy_order]
        if ask.id not in seen:
            seen.add(ask.id)
            suitable = [
                o for o in orders if o.side is Side.SELL and left[o.id] > 0 and o.price < ask.price
            ]
            nearest = min(_HOPS.between(ask.bus, o.bus) for o in suitable)
            assert _HOPS.between(ask.bus, f.sell_bus) == nearest
        left[f.buy_order] -= f.quantity
        left[f.sell_order] -= f.quantity


@st.composite
def streams(draw: st.DrawFn) -> list[Order]:
    n = draw(st.integers(1, 40))
    return [
        order(
            f"o{k}",
            draw(st.sampled_from(["buy", "sell"])),
            draw(st.sampled_from([*BUSES, None])),
            draw(st.sampled_from([1.0, 2.0, 0.5])),
            draw(st.sampled_from([0.30, 0.33, 0.35, 0.36, 0.40])),
            k,
            draw(st.sampled_from(["x", "y", "z", "w"])),
        )
        for k in range(n)
    ]


@PROPERTY
@given(orders=streams(), strict=st.booleans())
def test_ncda_s_fast_path_is_the_contract_s_scan(orders: list[Order], strict: bool) -> None:
    """Without a fill limit NCDA scans the buses' best offers; with a limit it scans like the
    contract. With a limit no stream reaches, both must agree on every fill and cancellation."""
    fast = ContinuousBook(ncda=True, distances=_HOPS, strict=strict)
    scan = ContinuousBook(ncda=True, distances=_HOPS, strict=strict, max_fills=10**9)
    for o in orders:
        assert fast.place(o) == scan.place(o)
        assert fast.cancellations == scan.cancellations
        for side in Side:
            assert fast.resting(side) == scan.resting(side)


@PROPERTY
@given(orders=streams(), ncda=st.booleans(), max_fills=st.none() | st.integers(0, 3))
def test_the_book_is_never_left_crossed(
    orders: list[Order], ncda: bool, max_fills: int | None
) -> None:
    book = ContinuousBook(ncda=ncda, distances=_HOPS, max_fills=max_fills)
    placed = 0.0
    for o in orders:
        fills = book.place(o)
        placed += o.quantity_kwh
        buys, sells = book.resting(Side.BUY), book.resting(Side.SELL)
        if buys and sells:
            assert buys[0].price <= sells[0].price
        assert len(fills) <= (max_fills if max_fills is not None else math.inf)
    # Quantity is conserved: traded twice (both sides) + resting + cancelled = placed.
    resting = sum(r.remaining for side in Side for r in book.resting(side))
    cancelled = sum(c.remaining for c in book.cancellations)
    traded = 0.0
    book2 = ContinuousBook(ncda=ncda, distances=_HOPS, max_fills=max_fills)
    for o in orders:
        traded += sum(f.quantity for f in book2.place(o))
    assert 2 * traded + resting + cancelled == pytest.approx(placed)
