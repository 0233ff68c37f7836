"""Order book depth that shows no one's bid: energy per price level, each level pooling at
least :data:`MIN_ORDERS_PER_LEVEL` orders.

The dashboard is not a member's channel (C1) nor the DSO's (C2): it is shown to anyone who can
reach the service, so it must not reveal an individual order. A level is therefore built from
whole groups of orders, never fewer than :data:`MIN_ORDERS_PER_LEVEL`:

1. each order's limit is put on a price grid of :data:`PRICE_STEP_MICRO` (1 cent per kWh),
   rounded towards the side's less favourable end — a seller's ask up, a buyer's bid down — so
   a level never claims energy at a better price than was asked;
2. walking each side from its best price (asks from the lowest, bids from the highest), orders
   are pooled until the pool holds at least the minimum and the next order is on another grid
   price; the pool becomes one level at the worst grid price it holds;
3. a last pool below the minimum joins the level before it; a side with fewer orders than the
   minimum in all shows no level.

Energy is conserved (the levels of a side hold its orders' energy exactly); prices are in
micro-currency per kWh and energy in Wh, as in the rest of the API.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MIN_ORDERS_PER_LEVEL = 3
PRICE_STEP_MICRO = 10_000


@dataclass(frozen=True)
class Level:
    """Orders pooled at one price: ``energy_wh`` offered (asks) or wanted (bids) at
    ``price_micro_per_kwh`` or better, by ``orders`` orders."""

    price_micro_per_kwh: int
    energy_wh: int
    orders: int


@dataclass(frozen=True)
class Depth:
    """The levels of each side, best price first."""

    asks: tuple[Level, ...]
    bids: tuple[Level, ...]


def grid_price(price_micro_per_kwh: int, selling: bool, step: int = PRICE_STEP_MICRO) -> int:
    """The order's limit on the price grid, rounded to its less favourable side."""
    if selling:
        return -(-price_micro_per_kwh // step) * step
    return (price_micro_per_kwh // step) * step


def side_levels(
    orders: Iterable[tuple[int, int]],
    selling: bool,
    *,
    step: int = PRICE_STEP_MICRO,
    min_orders: int = MIN_ORDERS_PER_LEVEL,
) -> tuple[Level, ...]:
    """Levels of one side from ``(price_micro_per_kwh, energy_wh)`` pairs (module doc)."""
    placed = sorted(
        ((grid_price(p, selling, step), q) for p, q in orders),
        key=lambda o: o[0] if selling else -o[0],
    )
    if len(placed) < min_orders:
        return ()
    levels: list[Level] = []
    energy = count = 0
    for k, (price, quantity) in enumerate(placed):
        energy += quantity
        count += 1
        next_price = placed[k + 1][0] if k + 1 < len(placed) else None
        if count >= min_orders and next_price != price:
            levels.append(Level(price, energy, count))
            energy = count = 0
    if count:  # a tail below the minimum joins the level before it, at its worse price
        last = levels.pop()
        levels.append(Level(placed[-1][0], last.energy_wh + energy, last.orders + count))
    return tuple(levels)


def book_depth(
    orders: Sequence[tuple[str, int, int]],
    *,
    step: int = PRICE_STEP_MICRO,
    min_orders: int = MIN_ORDERS_PER_LEVEL,
) -> Depth:
    """The depth of a book of ``(side, price_micro_per_kwh, energy_wh)`` orders."""
    asks = [(p, q) for side, p, q in orders if side == "sell"]
    bids = [(p, q) for side, p, q in orders if side == "buy"]
    return Depth(
        side_levels(asks, True, step=step, min_orders=min_orders),
        side_levels(bids, False, step=step, min_orders=min_orders),
    )
