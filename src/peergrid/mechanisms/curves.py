"""Supply and demand step curves and their intersection (Rule R).

Both the McAfee standard auction (DAM) and the DPDA start the same way (003_dpda.md §2.2-2.3):
sellers sorted by ascending price, buyers by descending price, both *stable* so that equal prices
keep submission order; then the intersection ``(x, y)`` of the cumulative-energy step curves.

Rule R (the digest's recommended reading of eq. 2.3, which the thesis never states as an
algorithm): for x = 1, 2, ... take the smallest y whose cumulative supply covers the cumulative
demand of the first x buyers, and keep (x, y) while the x-th buyer's price is at least the y-th
seller's price; stop at the first x that fails either half. Indices here are 1-based, as in the
thesis; arrays are 0-based.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from peergrid.core.orders import Order
from peergrid.mechanisms.arrays import IntArray, OrderArrays

# Cumulative sums of fractional kWh are compared with this absolute slack so that a supply that
# equals the demand mathematically is not lost to floating-point summation order.
ENERGY_TOLERANCE_KWH = 1e-9

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class SortedArrays:
    """One slot's order book as two sorted step curves, in arrays.

    ``buy_index`` and ``sell_index`` are the rows of ``book`` in curve order; the other arrays
    follow that order.
    """

    book: OrderArrays
    buy_index: IntArray  # buyers by descending price, stable
    sell_index: IntArray  # sellers by ascending price, stable
    buy_price: FloatArray
    buy_energy: FloatArray
    sell_price: FloatArray
    sell_energy: FloatArray
    cum_buy: FloatArray  # cum_buy[k] = sum of the first k+1 buyers' energy
    cum_sell: FloatArray

    @property
    def n_buyers(self) -> int:
        return len(self.buy_index)

    @property
    def n_sellers(self) -> int:
        return len(self.sell_index)

    def cum_b(self, x: int) -> float:
        """Cumulative demand of the first ``x`` buyers (x = 0 gives 0)."""
        return float(self.cum_buy[x - 1]) if x > 0 else 0.0

    def cum_s(self, y: int) -> float:
        return float(self.cum_sell[y - 1]) if y > 0 else 0.0

    def p_b(self, x: int) -> float | None:
        """Price of the x-th buyer (1-based), or None past the end of the list."""
        return float(self.buy_price[x - 1]) if 1 <= x <= self.n_buyers else None

    def p_s(self, y: int) -> float | None:
        return float(self.sell_price[y - 1]) if 1 <= y <= self.n_sellers else None


@dataclass(frozen=True, eq=False)
class SortedBook(SortedArrays):
    """The sorted book of :func:`sort_book`, with the ``Order`` objects in curve order."""

    buyers: tuple[Order, ...]  # descending price, stable
    sellers: tuple[Order, ...]  # ascending price, stable


def _in_submission_order(rows: IntArray, submitted_at: npt.NDArray[np.int64]) -> IntArray:
    """``rows`` stably sorted by ``submitted_at`` (skipped when they already are)."""
    keys = submitted_at[rows]
    if keys.size < 2 or bool(np.all(keys[1:] >= keys[:-1])):
        return rows
    return rows[np.argsort(keys, kind="stable")]


def _price_keys(price: FloatArray) -> npt.NDArray[np.int64]:
    """Integers that sort as the prices do, ties included: the bits of a non-negative double
    (−0.0 made 0.0) grow with its value. A stable integer sort is faster than a float one."""
    keys: npt.NDArray[np.int64] = (price + 0.0).view(np.int64)
    return keys


def sort_arrays(book: OrderArrays) -> SortedArrays:
    """Split by side (submission order: ``submitted_at``, then the row) and sort each side
    stably by price."""
    buyers = _in_submission_order(book.is_buy.nonzero()[0], book.submitted_at)
    sellers = _in_submission_order((~book.is_buy).nonzero()[0], book.submitted_at)
    b_price = book.price[buyers]
    s_price = book.price[sellers]
    b_order = np.argsort(-_price_keys(b_price), kind="stable")
    s_order = np.argsort(_price_keys(s_price), kind="stable")
    buy_index = buyers[b_order]
    sell_index = sellers[s_order]
    b_energy = book.quantity_kwh[buy_index]
    s_energy = book.quantity_kwh[sell_index]
    return SortedArrays(
        book=book,
        buy_index=buy_index,
        sell_index=sell_index,
        buy_price=b_price[b_order],
        buy_energy=b_energy,
        sell_price=s_price[s_order],
        sell_energy=s_energy,
        cum_buy=np.cumsum(b_energy),
        cum_sell=np.cumsum(s_energy),
    )


def sort_book(orders: Sequence[Order]) -> SortedBook:
    """:func:`sort_arrays` on the orders, keeping the ``Order`` objects in curve order."""
    curves = sort_arrays(OrderArrays.from_orders(orders))
    return SortedBook(
        book=curves.book,
        buy_index=curves.buy_index,
        sell_index=curves.sell_index,
        buy_price=curves.buy_price,
        buy_energy=curves.buy_energy,
        sell_price=curves.sell_price,
        sell_energy=curves.sell_energy,
        cum_buy=curves.cum_buy,
        cum_sell=curves.cum_sell,
        buyers=tuple(orders[i] for i in curves.buy_index.tolist()),
        sellers=tuple(orders[i] for i in curves.sell_index.tolist()),
    )


def intersection(book: SortedArrays) -> tuple[int, int] | None:
    """Rule R: the intersection ``(x, y)``, 1-based, or None when even the first buyer fails."""
    n_buyers, n_sellers = book.n_buyers, book.n_sellers
    if not n_buyers or not n_sellers:
        return None
    # y(x) = smallest y with cumS(y) >= cumB(x), 0-based index into the sellers.
    y_index = np.searchsorted(book.cum_sell, book.cum_buy - ENERGY_TOLERANCE_KWH, side="left")
    covered = y_index < n_sellers
    seller_price = book.sell_price[np.minimum(y_index, n_sellers - 1)]
    feasible = covered & (book.buy_price >= seller_price)
    failures = np.flatnonzero(~feasible)
    x = int(failures[0]) if failures.size else n_buyers
    if x == 0:
        return None
    return x, int(y_index[x - 1]) + 1


def covers(supply_kwh: float, demand_kwh: float) -> bool:
    """Supply covers demand, up to the summation slack (the test every case guard uses)."""
    return supply_kwh >= demand_kwh - ENERGY_TOLERANCE_KWH


def midpoint_in_band(book: SortedArrays, x: int, y: int) -> bool:
    """The thesis's check: (P(S_{y+1}) + P(B_{x+1})) / 2 lies in [P(S_y), P(B_x)].

    End-of-list policy: when S_{y+1} or B_{x+1} does not exist the check counts as failed, so the
    marginal pair is excluded (003_dpda.md §2.3, Example D).
    """
    s_next, b_next = book.p_s(y + 1), book.p_b(x + 1)
    s_y, b_x = book.p_s(y), book.p_b(x)
    if s_next is None or b_next is None or s_y is None or b_x is None:
        return False
    mid = (s_next + b_next) / 2.0
    return s_y <= mid <= b_x
