"""The on-chain order book clears CDA and NCDA exactly as the off-chain engine does.

Parity: for random streams of orders (both sides, agents on random buses of ``cigre-mv-vdma``
or off the map, the same agent on both sides, integer Wh and micro prices, a fill limit from 0
to 32), the trades the contract makes (ids, Wh, micro price, in order), its cancellations and
its resting books equal those of :class:`~peergrid.mechanisms.cda.ContinuousBook`, on the
embedded chain, in CDA and NCDA, in both pools, as a continuous stream and as the session clear.
The worked example 6B of 004_vdma.md §6 on chain; the adapter's units, feeder map and refusals.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peergrid.core.errors import OrderError, PeergridError
from peergrid.core.orders import Order, Side
from peergrid.ledger import EmbeddedChain, Pool
from peergrid.ledger.markets.orderbook import ORDER_POSITIONS
from peergrid.mechanisms.cda import BusDistances, ContinuousBook, clear_session
from peergrid.platform.service_market import (
    ServiceMarket,
    feeder_map_table,
    floor_mid_price,
)

from .service_parity import BUSES, DISTANCES, assert_parity, random_stream, streams

FAST = settings(
    max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
MORE = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

HOPS = DISTANCES["hops"]
FILL_LIMITS = st.sampled_from([0, 1, 2, 3, 32]) | st.integers(0, 32)


def parity_case(
    case: tuple[dict[str, str | None], list[Order]],
    ncda: bool,
    pool: str,
    max_fills: int,
    metric: str,
    session_clear: bool,
    strict: bool = True,
) -> None:
    members, orders = case
    distances = DISTANCES[metric]
    market = ServiceMarket.open(EmbeddedChain(), distances, members, strict=strict)
    session = 3
    if session_clear:
        cleared = market.clear_session(session, {pool: orders}, ncda=ncda, max_fills=max_fills)
        record, resting = cleared.pools[pool], cleared.resting[pool]
        # the gate expired exactly the books the clear read before closing it
        assert [(c.order_id, c.reason) for c in cleared.closure.expired] == [
            (r.order_id, "expired") for side in resting for r in side
        ]
    else:
        market.open_session(session, ncda=ncda)
        record = market.place_stream(session, pool, orders, max_fills=max_fills)
        resting = market.resting(session, pool)
    assert_parity(
        record,
        resting,
        orders,
        distances,
        ncda=ncda,
        max_fills=max_fills,
        session_clear=session_clear,
        strict=strict,
    )
    other = "down" if pool == "up" else "up"
    assert market.resting(session, other) == ((), ())  # pools are independent books


@FAST
@given(
    case=streams(),
    ncda=st.booleans(),
    pool=st.sampled_from(["up", "down"]),
    max_fills=FILL_LIMITS,
    session_clear=st.booleans(),
    strict=st.booleans(),
)
def test_the_chain_clears_every_stream_as_the_engine(
    case: tuple[dict[str, str | None], list[Order]],
    ncda: bool,
    pool: str,
    max_fills: int,
    session_clear: bool,
    strict: bool,
) -> None:
    """``strict``: the VDMA's strict suitability, or the contract deployed to cross also at
    equal prices."""
    parity_case(case, ncda, pool, max_fills, "hops", session_clear, strict)


@FAST
@given(case=streams(), max_fills=FILL_LIMITS, session_clear=st.booleans())
def test_ncda_by_line_length_on_chain_is_the_engine_s(
    case: tuple[dict[str, str | None], list[Order]], max_fills: int, session_clear: bool
) -> None:
    """Millimetres on the feeder map order and tie the offers as the engine's metres do."""
    parity_case(case, True, "up", max_fills, "length", session_clear)


# 300 examples, about 4 minutes: in make test-long; the 25 examples of
# test_the_chain_clears_every_stream_as_the_engine run in make test.
@pytest.mark.long
@MORE
@given(
    case=streams(max_orders=60),
    ncda=st.booleans(),
    pool=st.sampled_from(["up", "down"]),
    max_fills=FILL_LIMITS,
    metric=st.sampled_from(["hops", "length"]),
    session_clear=st.booleans(),
    strict=st.booleans(),
)
def test_the_chain_clears_every_stream_as_the_engine_many(
    case: tuple[dict[str, str | None], list[Order]],
    ncda: bool,
    pool: str,
    max_fills: int,
    metric: str,
    session_clear: bool,
    strict: bool,
) -> None:
    parity_case(case, ncda, pool, max_fills, metric, session_clear, strict)


# --- the worked example 6B (004_vdma.md §6 B) on chain -------------------------------------------


def _order(id: str, side: str, bus: str, q: float, p: float, ts: int) -> Order:
    return Order(id, id, Side(side), q, p, bus=bus, submitted_at=ts)


EXAMPLE_6B = [
    _order("A1", "buy", "14", 3, 0.40, 1),
    _order("A2", "buy", "5", 2, 0.37, 2),
    _order("A3", "buy", "11", 2, 0.37, 0),
    _order("O1", "sell", "7", 2, 0.33, 3),
    _order("O2", "sell", "13", 2, 0.36, 1),
    _order("O3", "sell", "4", 4, 0.36, 0),
    _order("O4", "sell", "3", 1, 0.41, 2),
]
# (ask, offer, q, price) in the order they trade, and what is left unsold (kWh)
CDA_6B = [
    ("A1", "O1", 2.0, 0.365),
    ("A1", "O3", 1.0, 0.38),
    ("A3", "O3", 2.0, 0.365),
    ("A2", "O3", 1.0, 0.365),
    ("A2", "O2", 1.0, 0.365),
]
NCDA_6B = [
    ("A1", "O2", 2.0, 0.38),
    ("A1", "O3", 1.0, 0.38),
    ("A3", "O1", 2.0, 0.35),
    ("A2", "O3", 2.0, 0.365),
]


@pytest.mark.parametrize(
    ("ncda", "expected", "unsold"),
    [(False, CDA_6B, {"O2": 1.0, "O4": 1.0}), (True, NCDA_6B, {"O3": 1.0, "O4": 1.0})],
)
def test_worked_example_6b_on_chain(
    ncda: bool, expected: list[tuple[str, str, float, float]], unsold: dict[str, float]
) -> None:
    market = ServiceMarket.open(EmbeddedChain(), HOPS, {o.agent: o.bus for o in EXAMPLE_6B})
    cleared = market.clear_session(1, {"up": EXAMPLE_6B}, ncda=ncda)
    got = [(t.buy_order, t.sell_order, t.quantity_kwh, t.price) for t in cleared.pools["up"].trades]
    assert got == expected  # exact: whole Wh and micro-units
    buys, sells = cleared.resting["up"]
    assert buys == ()  # every ask filled
    assert {r.order_id: r.remaining_wh / 1000 for r in sells} == unsold
    # the engine in €/kWh with the contract's flooring gives the same figures
    off = clear_session(
        EXAMPLE_6B, ncda=ncda, distances=HOPS, max_fills=32, price_rule=floor_mid_price
    )
    assert [(f.buy_order, f.sell_order, f.quantity, f.price) for f in off.fills] == expected
    # every placement's gas is recorded; the offers rest without a fill (shouts)
    placements = cleared.pools["up"].placements
    assert [p.order_id for p in placements] == ["O3", "O2", "O4", "O1", "A1", "A3", "A2"]
    assert all(p.rested and p.fills == 0 and p.gas > 21_000 for p in placements[:4])
    assert not any(p.rested for p in placements[4:])


# --- units, the feeder map, refusals -------------------------------------------------------------


def test_floor_mid_price_is_the_contract_s_integer_mid() -> None:
    assert floor_mid_price(0.350001, 0.30) == 0.325
    assert floor_mid_price(0.40, 0.33) == 0.365


def test_the_feeder_map_keeps_every_bus_s_order_and_ties() -> None:
    hops = feeder_map_table(HOPS)
    assert hops.scale == 1 and hops.nodes["0"] == 1 and hops.nodes["14"] == 15
    assert len(hops.rows) == 15 * 14 // 2
    row = {(r.node_a, r.node_b): r.millimetres for r in hops.rows}
    assert row[(14, 15)] == 1 and row[(5, 15)] == 7  # d(13,14) = 1, d(4,14) = 7 hops
    assert feeder_map_table(DISTANCES["length"]).scale == 1000  # millimetres
    with pytest.raises(PeergridError, match="do not keep the order and ties"):
        feeder_map_table(DISTANCES["length"], scale=0)  # every length would be 0
    close = BusDistances(["x", "y", "z"], [[0, 1.0, 1.0004], [1.0, 0, 2], [1.0004, 2, 0]])
    with pytest.raises(PeergridError, match="from bus 'x'"):
        feeder_map_table(close, scale=1000)  # 1.0 and 1.0004 m: two groups, one millimetre
    with pytest.raises(PeergridError, match="no integer scale"):
        feeder_map_table(close)


@pytest.mark.parametrize(
    ("order", "match"),
    [
        (Order("x", "nobody", Side.BUY, 1, 0.3, bus="1"), "order 'x', field 'agent'"),
        (Order("x", "a", Side.BUY, 1, 0.3, bus="2"), "order 'x', field 'bus'"),
        (Order("x", "a", Side.BUY, 0.0004, 0.3, bus="1"), "order 'x', field 'quantity_kwh'"),
    ],
)
def test_bad_orders_name_the_order_and_field(order: Order, match: str) -> None:
    market = ServiceMarket.open(EmbeddedChain(), HOPS, {"a": "1"})
    market.open_session(1, ncda=False)
    with pytest.raises(OrderError, match=match):
        market.place_stream(1, "up", [order])


def test_bad_sessions_are_refused() -> None:
    market = ServiceMarket.open(EmbeddedChain(), HOPS, {"a": "1"})
    market.open_session(1, ncda=False)
    first = Order("x", "a", Side.BUY, 1, 0.3, bus="1")
    market.place_stream(1, "up", [first])
    with pytest.raises(OrderError, match="order 'x', field 'id'"):
        market.place_stream(1, "down", [first])
    with pytest.raises(PeergridError, match="unknown pool 'sideways'"):
        market.place_stream(1, "sideways", [])
    with pytest.raises(PeergridError, match="max_fills must be from 0 to 32"):
        market.place_stream(1, "up", [], max_fills=33)


@pytest.mark.parametrize("ncda", [False, True])
def test_a_stream_that_meets_every_rule_on_the_embedded_chain(ncda: bool) -> None:
    """The anvil stream's fast sibling: the paper's shouts, agents sharing buses, a fill limit
    of 2, so that trades, self-trades and fill limits all happen, each as the engine's."""
    members = {f"brp{k}": BUSES[k % 5] for k in range(8)}
    orders = random_stream(240, seed=7, members=members)
    market = ServiceMarket.open(EmbeddedChain(), HOPS, members)
    market.open_session(9, ncda=ncda)
    record = market.place_stream(9, "down", orders, max_fills=2)
    assert_parity(record, market.resting(9, "down"), orders, HOPS, ncda=ncda, max_fills=2)
    assert len(record.trades) > 60
    assert {c.reason for c in record.cancellations} == {"self-trade", "fill-limit"}


def test_reused_and_skipped_storage_positions_clear_a_stream_as_the_engine() -> None:
    """Each member has placed ORDER_POSITIONS orders before (every position a tombstone), and
    some of them still rest in another session: the stream's orders reuse the positions, skip
    the held ones, and clear exactly as the engine (as fresh positions do above)."""
    members = {f"brp{k}": BUSES[k % 5] for k in range(4)}
    orders = random_stream(120, seed=11, members=members)
    market = ServiceMarket.open(EmbeddedChain(), HOPS, members)
    ledger = market.ledger
    ledger.open_session(1)
    previous, held = 0, 0
    for agent in sorted(members):
        for k in range(ORDER_POSITIONS):
            member = market.address_of[agent]
            placed = ledger.place(member, 1, Pool.UP, False, 1, 900_000, hint=previous)
            if k % 7 == 3:  # still resting through the stream: its position is skipped
                previous, held = placed.order_id, held + 1
            else:
                ledger.cancel(member, placed.order_id, hint=previous)
    market.open_session(9, ncda=True)
    record = market.place_stream(9, "down", orders, max_fills=2)
    assert_parity(record, market.resting(9, "down"), orders, HOPS, ncda=True, max_fills=2)
    assert len(ledger.orders(1, Pool.UP, False)) == held == 4 * 9
    # Resting placements cost what a reused position costs (a first use: 56 000 gas and more).
    resting = sorted(p.gas for p in record.placements if p.fills == 0 and p.rested)
    assert len(resting) > 20 and resting[len(resting) // 2] < 50_000


def test_lengths_equal_to_within_rounding_tie_on_chain_and_in_both_engine_scans() -> None:
    """Two offers 1 m and 1 m + 1e-12 from the ask: one distance group for the engine (its
    fill-limited scan too) and one millimetre on the feeder map, so the cheaper goes first."""
    near = BusDistances(
        ["t", "x", "y"], [[0, 1.0, 1.0 + 1e-12], [1.0, 0, 2.0], [1.0 + 1e-12, 2.0, 0]]
    )
    orders = [
        Order("ox", "X", Side.SELL, 1, 0.30, bus="x"),
        Order("oy", "Y", Side.SELL, 1, 0.29, bus="y"),
        Order("a", "T", Side.BUY, 1, 0.40, bus="t"),
    ]
    market = ServiceMarket.open(EmbeddedChain(), near, {"X": "x", "Y": "y", "T": "t"}, scale=1000)
    market.open_session(1, ncda=True)
    record = market.place_stream(1, "up", orders)
    assert [(t.buy_order, t.sell_order) for t in record.trades] == [("a", "oy")]
    for max_fills in (None, 32):
        book = ContinuousBook(ncda=True, distances=near, max_fills=max_fills)
        fills = [f for o in orders for f in book.place(o)]
        assert [(f.buy_order, f.sell_order) for f in fills] == [("a", "oy")]
