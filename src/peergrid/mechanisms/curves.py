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

from peergrid.core.orders import Order, split_sides

# Cumulative sums of fractional kWh are compared with this absolute slack so that a supply that
# equals the demand mathematically is not lost to floating-point summation order.
ENERGY_TOLERANCE_KWH = 1e-9

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SortedBook:
    """One slot's order book as two sorted step curves."""

    buyers: tuple[Order, ...]  # descending price, stable
    sellers: tuple[Order, ...]  # ascending price, stable
    buy_price: FloatArray
    buy_energy: FloatArray
    sell_price: FloatArray
    sell_energy: FloatArray
    cum_buy: FloatArray  # cum_buy[k] = sum of the first k+1 buyers' energy
    cum_sell: FloatArray

    def cum_b(self, x: int) -> float:
        """Cumulative demand of the first ``x`` buyers (x = 0 gives 0)."""
        return float(self.cum_buy[x - 1]) if x > 0 else 0.0

    def cum_s(self, y: int) -> float:
        return float(self.cum_sell[y - 1]) if y > 0 else 0.0

    def p_b(self, x: int) -> float | None:
        """Price of the x-th buyer (1-based), or None past the end of the list."""
        return float(self.buy_price[x - 1]) if 1 <= x <= len(self.buyers) else None

    def p_s(self, y: int) -> float | None:
        return float(self.sell_price[y - 1]) if 1 <= y <= len(self.sellers) else None


def sort_book(orders: Sequence[Order]) -> SortedBook:
    """Split by side (submission order) and sort each side stably by price."""
    buyers_in, sellers_in = split_sides(orders)
    b_price = np.fromiter((o.price for o in buyers_in), dtype=np.float64, count=len(buyers_in))
    s_price = np.fromiter((o.price for o in sellers_in), dtype=np.float64, count=len(sellers_in))
    b_order = np.argsort(-b_price, kind="stable")
    s_order = np.argsort(s_price, kind="stable")
    buyers = tuple(buyers_in[i] for i in b_order)
    sellers = tuple(sellers_in[i] for i in s_order)
    b_energy = np.fromiter((o.quantity_kwh for o in buyers), dtype=np.float64, count=len(buyers))
    s_energy = np.fromiter((o.quantity_kwh for o in sellers), dtype=np.float64, count=len(sellers))
    return SortedBook(
        buyers=buyers,
        sellers=sellers,
        buy_price=b_price[b_order],
        buy_energy=b_energy,
        sell_price=s_price[s_order],
        sell_energy=s_energy,
        cum_buy=np.cumsum(b_energy),
        cum_sell=np.cumsum(s_energy),
    )


def intersection(book: SortedBook) -> tuple[int, int] | None:
    """Rule R: the intersection ``(x, y)``, 1-based, or None when even the first buyer fails."""
    if not book.buyers or not book.sellers:
        return None
    # y(x) = smallest y with cumS(y) >= cumB(x), 0-based index into the sellers.
    y_index = np.searchsorted(book.cum_sell, book.cum_buy - ENERGY_TOLERANCE_KWH, side="left")
    covered = y_index < len(book.sellers)
    seller_price = book.sell_price[np.minimum(y_index, len(book.sellers) - 1)]
    feasible = covered & (book.buy_price >= seller_price)
    failures = np.flatnonzero(~feasible)
    x = int(failures[0]) if failures.size else len(book.buyers)
    if x == 0:
        return None
    return x, int(y_index[x - 1]) + 1


def covers(supply_kwh: float, demand_kwh: float) -> bool:
    """Supply covers demand, up to the summation slack (the test every case guard uses)."""
    return supply_kwh >= demand_kwh - ENERGY_TOLERANCE_KWH


def midpoint_in_band(book: SortedBook, x: int, y: int) -> bool:
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
