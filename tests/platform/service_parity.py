"""What the parity tests of the on-chain order book share: random streams and the off-chain
reference run in the chain's integers (Wh, micro-units per kWh)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from peergrid.core.orders import Order, Side
from peergrid.grid.distance import distance_matrix
from peergrid.grid.feeders import load_feeder
from peergrid.mechanisms.cda import BusDistances, ContinuousBook, clear_session, session_order
from peergrid.platform.service_market import RestingOnChain, StreamRecord

FEEDER = "cigre-mv-vdma"
BUSES = [str(b) for b in range(15)]
AGENTS = ["a", "b", "c", "d"]
# Ties are common at these prices; 350 001 makes mid prices that the contract floors.
PRICES = [300_000, 330_000, 350_000, 350_001, 360_000, 400_000]

_NET = load_feeder(FEEDER)
DISTANCES = {m: BusDistances.from_matrix(distance_matrix(_NET, m)) for m in ("hops", "length")}


def integer_mid(buy_price: float, sell_price: float) -> float:
    """The contract's mid price on prices already in micro-units."""
    return float((int(buy_price) + int(sell_price)) // 2)


def in_chain_units(order: Order) -> Order:
    """The same order with its quantity in Wh and its price in micro-units per kWh: the engine
    is unit-free, and these are integers, so its arithmetic is exact."""
    return dataclasses.replace(
        order, quantity_kwh=round(order.quantity_kwh * 1000), price=round(order.price * 1e6)
    )


@st.composite
def streams(draw: st.DrawFn, max_orders: int = 30) -> tuple[dict[str, str | None], list[Order]]:
    """Agents on random buses (some shared, one perhaps unknown to the map), and a stream of
    their orders: both sides, integer Wh, micro prices, timestamps not in arrival order."""
    members = {a: draw(st.sampled_from([*BUSES, None])) for a in AGENTS}
    n = draw(st.integers(1, max_orders))
    orders = []
    for k in range(n):
        agent = draw(st.sampled_from(AGENTS))
        orders.append(
            Order(
                f"o{k}",
                agent,
                draw(st.sampled_from([Side.BUY, Side.SELL])),
                draw(st.integers(1, 3000)) / 1000,
                draw(st.sampled_from(PRICES)) / 1e6,
                bus=members[agent],
                submitted_at=draw(st.integers(0, 5)),
            )
        )
    return members, orders


def off_chain(
    orders: Sequence[Order],
    *,
    ncda: bool,
    distances: BusDistances,
    max_fills: int,
    strict: bool = True,
) -> tuple[list[list[tuple[Any, ...]]], list[tuple[Any, ...]], ContinuousBook]:
    """Each placement's fills as (buy id, sell id, Wh, micro price), every cancellation as
    (id, Wh, reason), and the book at the end."""
    book = ContinuousBook(
        ncda=ncda, distances=distances, max_fills=max_fills, strict=strict, price_rule=integer_mid
    )
    fills = []
    for order in orders:
        placed = book.place(in_chain_units(order))
        fills.append([(f.buy_order, f.sell_order, int(f.quantity), int(f.price)) for f in placed])
    cancellations = [(c.order_id, int(c.remaining), c.reason) for c in book.cancellations]
    return fills, cancellations, book


def on_chain_fills(record: StreamRecord) -> list[tuple[Any, ...]]:
    return [(t.buy_order, t.sell_order, t.energy_wh, t.price_micro_per_kwh) for t in record.trades]


def on_chain_cancellations(record: StreamRecord) -> list[tuple[Any, ...]]:
    return [(c.order_id, c.remaining_wh, c.reason) for c in record.cancellations]


def resting_off(book: ContinuousBook) -> list[list[tuple[Any, ...]]]:
    return [
        [(r.order_id, r.agent, int(r.remaining), int(r.price)) for r in book.resting(side)]
        for side in (Side.BUY, Side.SELL)
    ]


def assert_parity(
    record: StreamRecord,
    resting: tuple[tuple[RestingOnChain, ...], tuple[RestingOnChain, ...]],
    orders: Sequence[Order],
    distances: BusDistances,
    *,
    ncda: bool,
    max_fills: int,
    session_clear: bool = False,
    strict: bool = True,
) -> None:
    """The chain's trades (in order, placement by placement), cancellations and resting books
    equal the engine's on the same stream, or, for a session clear, on the session's order
    (and then equal :func:`clear_session`'s fills too)."""
    placed = list(orders)
    if session_clear:
        offers, asks = session_order(orders)
        placed = [*offers, *asks]
    fills, cancellations, book = off_chain(
        placed, ncda=ncda, distances=distances, max_fills=max_fills, strict=strict
    )
    assert [p.order_id for p in record.placements] == [o.id for o in placed]
    assert on_chain_fills(record) == [f for per_order in fills for f in per_order]
    assert [p.fills for p in record.placements] == [len(f) for f in fills]
    assert on_chain_cancellations(record) == cancellations
    assert [
        [(r.order_id, r.agent, r.remaining_wh, r.price_micro_per_kwh) for r in side]
        for side in resting
    ] == resting_off(book)
    if session_clear:
        outcome = clear_session(
            [in_chain_units(o) for o in orders],
            ncda=ncda,
            distances=distances,
            max_fills=max_fills,
            strict=strict,
            price_rule=integer_mid,
        )
        assert on_chain_fills(record) == [
            (f.buy_order, f.sell_order, int(f.quantity), int(f.price)) for f in outcome.fills
        ]


def random_stream(n: int, seed: int, members: Mapping[str, str | None]) -> list[Order]:
    """A long stream: the paper's shouts (price ~ N(0.35, 0.025) €/kWh, rounded to a micro-unit;
    quantity lognormal, rounded to a Wh), agents drawn from ``members``."""
    rng = np.random.default_rng(seed)
    agents = sorted(members)
    out = []
    for k in range(n):
        agent = agents[int(rng.integers(len(agents)))]
        out.append(
            Order(
                f"o{k}",
                agent,
                Side.BUY if rng.random() < 0.5 else Side.SELL,
                max(1, round(float(rng.lognormal(0.0, 0.75)) * 1000)) / 1000,
                max(0, round(float(rng.normal(0.35, 0.025)) * 1e6)) / 1e6,
                bus=members[agent],
                submitted_at=k,
            )
        )
    return out
