"""The DAM and the DPDA as they were written on ``Order`` objects, kept as a reference.

The library now clears on arrays (``peergrid.mechanisms.arrays``) and builds objects only at the
end. This module is the object path it replaced, copied from ``curves.py``, ``pairing.py``,
``result.py``, ``dpda.py`` and ``mcafee.py`` with their docstrings shortened and one switch added
(``PAIRING``, below), so that the tests can prove the array path gives the very same clearings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from peergrid.core.orders import Order, split_sides
from peergrid.core.trades import Clearing, Trade

ENERGY_TOLERANCE_KWH = 1e-9
DUST_KWH = 1e-12

# The one defect the array path corrects (``merit_order_pairs`` in peergrid.mechanisms.pairing):
# a stretch was placed by its midpoint, which can round onto the next breakpoint. ``PAIRING.mode``
# "midpoint" is the object path as it was; "start" places stretches by their start, as the array
# path does; ``rounded`` counts the pairings where the two differ.


@dataclass
class Pairing:
    mode: str = "midpoint"
    rounded: int = 0


PAIRING = Pairing()

FloatArray = npt.NDArray[np.float64]


# ------------------------------------------------------------------------------------------------
# curves.py


@dataclass(frozen=True)
class SortedBook:
    buyers: tuple[Order, ...]
    sellers: tuple[Order, ...]
    buy_price: FloatArray
    buy_energy: FloatArray
    sell_price: FloatArray
    sell_energy: FloatArray
    cum_buy: FloatArray
    cum_sell: FloatArray

    def cum_b(self, x: int) -> float:
        return float(self.cum_buy[x - 1]) if x > 0 else 0.0

    def cum_s(self, y: int) -> float:
        return float(self.cum_sell[y - 1]) if y > 0 else 0.0

    def p_b(self, x: int) -> float | None:
        return float(self.buy_price[x - 1]) if 1 <= x <= len(self.buyers) else None

    def p_s(self, y: int) -> float | None:
        return float(self.sell_price[y - 1]) if 1 <= y <= len(self.sellers) else None


def sort_book(orders: Sequence[Order]) -> SortedBook:
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
    if not book.buyers or not book.sellers:
        return None
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
    return supply_kwh >= demand_kwh - ENERGY_TOLERANCE_KWH


def midpoint_in_band(book: SortedBook, x: int, y: int) -> bool:
    s_next, b_next = book.p_s(y + 1), book.p_b(x + 1)
    s_y, b_x = book.p_s(y), book.p_b(x)
    if s_next is None or b_next is None or s_y is None or b_x is None:
        return False
    mid = (s_next + b_next) / 2.0
    return s_y <= mid <= b_x


# ------------------------------------------------------------------------------------------------
# pairing.py


def merit_order_pairs(
    buy_kwh: npt.NDArray[np.float64], sell_kwh: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    cum_b = np.cumsum(buy_kwh)
    cum_s = np.cumsum(sell_kwh)
    if not len(cum_b) or not len(cum_s):
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty, np.zeros(0)
    total = min(float(cum_b[-1]), float(cum_s[-1]))
    points = np.unique(np.concatenate(([0.0], cum_b, cum_s)))
    points = np.append(points[points < total], total)
    lengths = np.diff(points)
    keep = lengths > DUST_KWH
    middle = (points[:-1] + lengths / 2.0)[keep]
    if np.any(middle >= points[1:][keep]):
        PAIRING.rounded += 1
    if PAIRING.mode == "start":
        middle = points[:-1][keep]
    buyer = np.searchsorted(cum_b, middle, side="right")
    seller = np.searchsorted(cum_s, middle, side="right")
    return buyer, seller, lengths[keep]


def build_trades(
    buyers: Sequence[Order],
    sellers: Sequence[Order],
    pairs: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.float64]],
    price: float,
) -> tuple[Trade, ...]:
    b_idx, s_idx, quantity = pairs
    return tuple(
        Trade(
            buyer=buyers[b].agent,
            seller=sellers[s].agent,
            quantity_kwh=q,
            price=price,
            slot=buyers[b].slot,
            buy_order=buyers[b].id,
            sell_order=sellers[s].id,
        )
        for b, s, q in zip(b_idx.tolist(), s_idx.tolist(), quantity.tolist(), strict=True)
    )


# ------------------------------------------------------------------------------------------------
# result.py


def uniform_price_clearing(
    orders: Sequence[Order],
    book: SortedBook,
    *,
    n_buyers: int,
    n_sellers: int,
    price: float | None,
    seller_cleared: Sequence[float],
    info: dict[str, Any],
) -> Clearing:
    allocations: dict[str, float] = dict.fromkeys((o.id for o in orders), 0.0)
    if price is None or n_buyers <= 0 or n_sellers <= 0:
        info.update(
            winning_buyers=[],
            winning_sellers=[],
            traded_kwh=0.0,
            clipping_excess_kwh=0.0,
            individual_rationality_violations=[],
        )
        return Clearing(trades=(), price=None, allocations=allocations, info=info)

    buyers = book.buyers[:n_buyers]
    sellers = book.sellers[:n_sellers]
    sell_kwh = np.asarray(seller_cleared, dtype=np.float64)
    pairs = merit_order_pairs(book.buy_energy[:n_buyers], sell_kwh)
    trades = build_trades(buyers, sellers, pairs, price)
    b_idx, _, quantity = pairs
    bought = np.bincount(b_idx, weights=quantity, minlength=n_buyers)
    allocations.update(zip((o.id for o in sellers), sell_kwh.tolist(), strict=True))
    allocations.update(zip((o.id for o in buyers), bought.tolist(), strict=True))
    traded = float(quantity.sum())
    supplied = float(sell_kwh.sum())
    violations = [o.id for o in buyers if o.price < price] + [
        o.id for o in sellers if o.price > price
    ]
    info.update(
        winning_buyers=[o.id for o in buyers],
        winning_sellers=[o.id for o in sellers],
        traded_kwh=traded,
        clipping_excess_kwh=max(0.0, supplied - traded),
        individual_rationality_violations=violations,
    )
    return Clearing(trades=trades, price=price, allocations=allocations, info=info)


def base_info(book: SortedBook, mechanism: str) -> dict[str, Any]:
    return {
        "mechanism": mechanism,
        "case": None,
        "x": None,
        "y": None,
        "sorted_buyers": [o.id for o in book.buyers],
        "sorted_sellers": [o.id for o in book.sellers],
    }


# ------------------------------------------------------------------------------------------------
# dpda.py


def clear_dpda(orders: Sequence[Order]) -> Clearing:
    book = sort_book(orders)
    point = intersection(book)
    if point is None:
        info = base_info(book, "dpda")
        info["oversupply"] = None
        return uniform_price_clearing(
            orders, book, n_buyers=0, n_sellers=0, price=None, seller_cleared=[], info=info
        )
    return dpda_at(orders, book, *point)


def dpda_at(orders: Sequence[Order], book: SortedBook, x: int, y: int) -> Clearing:
    if not (1 <= x <= len(book.buyers) and 1 <= y <= len(book.sellers)):
        raise ValueError(f"intersection ({x}, {y}) lies outside the book")
    info = base_info(book, "dpda")
    info.update(x=x, y=y)
    p_s, p_b = book.p_s, book.p_b
    if midpoint_in_band(book, x, y):
        mid = (p_s(y + 1) + p_b(x + 1)) / 2.0  # type: ignore[operator]
        if covers(book.cum_s(y), book.cum_b(x)):
            case, n_sellers, n_buyers, price = 1, y, x, mid
        else:
            case, n_sellers, n_buyers = 2, y - 1, x - 2
            b_prev = p_b(x - 1)
            price = (p_s(y) + b_prev) / 2.0 if b_prev is not None else None  # type: ignore[operator]
    elif covers(book.cum_s(y - 1), book.cum_b(x - 1)):
        case, n_sellers, n_buyers = 3, y - 1, x - 1
        price = (p_s(y) + p_b(x)) / 2.0  # type: ignore[operator]
    else:
        case, n_sellers, n_buyers = 4, y, x - 1
        s_next = p_s(y + 1)
        price = ((s_next if s_next is not None else p_s(y)) + p_b(x)) / 2.0  # type: ignore[operator]
    info["case"] = case

    if n_sellers <= 0 or n_buyers <= 0:
        info["oversupply"] = 0.0
        return uniform_price_clearing(
            orders, book, n_buyers=0, n_sellers=0, price=None, seller_cleared=[], info=info
        )
    oversupply = max(0.0, (book.cum_s(n_sellers) - book.cum_b(n_buyers)) / n_sellers)
    cleared = np.maximum(0.0, book.sell_energy[:n_sellers] - oversupply)
    info["oversupply"] = oversupply
    return uniform_price_clearing(
        orders,
        book,
        n_buyers=n_buyers,
        n_sellers=n_sellers,
        price=price,
        seller_cleared=cleared.tolist(),
        info=info,
    )


# ------------------------------------------------------------------------------------------------
# mcafee.py


def clear_mcafee(orders: Sequence[Order]) -> Clearing:
    book = sort_book(orders)
    info = base_info(book, "mcafee")
    point = intersection(book)
    if point is None:
        info["theta"] = None
        return uniform_price_clearing(
            orders, book, n_buyers=0, n_sellers=0, price=None, seller_cleared=[], info=info
        )
    x, y = point
    info.update(x=x, y=y)
    if midpoint_in_band(book, x, y):
        case, n_sellers, n_buyers = 1, y, x
        price = (book.p_s(y + 1) + book.p_b(x + 1)) / 2.0  # type: ignore[operator]
    else:
        case, n_sellers, n_buyers = 2, y - 1, x - 1
        price = (book.p_s(y) + book.p_b(x)) / 2.0  # type: ignore[operator]
    info["case"] = case
    if n_sellers <= 0 or n_buyers <= 0:
        info["theta"] = 0.0
        return uniform_price_clearing(
            orders, book, n_buyers=0, n_sellers=0, price=None, seller_cleared=[], info=info
        )
    theta = book.cum_s(n_sellers) - book.cum_b(n_buyers)
    cleared = book.sell_energy[:n_sellers].tolist()
    if not covers(book.cum_b(n_buyers), book.cum_s(n_sellers)):
        cleared[-1] = max(0.0, cleared[-1] - theta)
    info["theta"] = theta
    return uniform_price_clearing(
        orders,
        book,
        n_buyers=n_buyers,
        n_sellers=n_sellers,
        price=price,
        seller_cleared=cleared,
        info=info,
    )
