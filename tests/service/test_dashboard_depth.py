"""Order book depth that shows no one's bid: a worked book and the invariants."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from peergrid.api.dashboard.depth import Level, book_depth, grid_price, side_levels

# asks (micro-currency per kWh, Wh); on the 1-cent grid, rounded up: 10, 10, 11, 12, 15 cents
ASKS = [(100_000, 500), (95_001, 300), (101_000, 200), (120_000, 400), (150_000, 100)]
# bids, rounded down: 20, 20, 19, 18 cents
BIDS = [(200_000, 1000), (209_999, 700), (195_000, 600), (180_500, 50)]


def test_a_worked_book() -> None:
    # the three cheapest asks make a level at 11 cents; 12 and 15 cents are two orders only,
    # so they join it, at 15 cents
    assert side_levels(ASKS, True) == (Level(150_000, 1500, 5),)
    more = [*ASKS, (160_000, 10), (170_000, 20), (175_000, 30)]
    assert side_levels(more, True) == (Level(110_000, 1000, 3), Level(180_000, 560, 5))
    assert side_levels(BIDS, False) == (Level(180_000, 2350, 4),)
    depth = book_depth([("sell", p, q) for p, q in more] + [("buy", p, q) for p, q in BIDS])
    assert depth.asks == side_levels(more, True)
    assert depth.bids == side_levels(BIDS, False)


def test_grid_prices_round_to_the_less_favourable_side() -> None:
    assert grid_price(100_001, selling=True) == 110_000
    assert grid_price(100_000, selling=True) == 100_000
    assert grid_price(109_999, selling=False) == 100_000


def test_a_side_with_fewer_orders_than_the_minimum_shows_nothing() -> None:
    depth = book_depth([("sell", 100_000, 500), ("sell", 120_000, 100), ("buy", 300_000, 10)])
    assert depth.asks == () and depth.bids == ()


books = st.lists(st.tuples(st.integers(0, 500_000), st.integers(1, 10_000)), max_size=40)


@given(books, st.booleans(), st.integers(1, 5))
def test_levels_pool_at_least_the_minimum_and_keep_every_watt_hour(
    book: list[tuple[int, int]], selling: bool, minimum: int
) -> None:
    levels = side_levels(book, selling, min_orders=minimum)
    if len(book) < minimum:
        assert levels == ()
        return
    assert all(level.orders >= minimum for level in levels)
    assert sum(level.orders for level in levels) == len(book)
    prices = [level.price_micro_per_kwh for level in levels]
    assert prices == sorted(set(prices), reverse=not selling)  # best first, distinct
    # the depth at each level is exactly the energy asked (bid) at that grid price or better:
    # no level claims energy at a better price than its orders gave
    cumulative = 0
    for level in levels:
        cumulative += level.energy_wh
        p = level.price_micro_per_kwh
        at_or_better = sum(
            q for price, q in book if (grid_price(price, selling) - p) * (1 if selling else -1) <= 0
        )
        assert cumulative == at_or_better
