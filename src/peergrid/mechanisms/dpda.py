"""Demand-Prioritised Double Auction (DPDA), Algorithm 2 of 003_dpda.md §2.4.

The DPDA chooses winning subsets so that every winning buyer receives its whole demand. Excess
supply ("oversupply") is shared equally by all winning sellers: each seller's quantity drops by
the same amount and is clipped at zero, and what clipping leaves over is *not* redistributed
(Scenario 10 of the thesis proves the clipping: Σ E' = 78 kWh against a demand of 72 kWh).

Given the intersection (x, y) of Rule R (see :mod:`peergrid.mechanisms.curves`), with
``mid = (P(S_{y+1}) + P(B_{x+1})) / 2`` and 1-based indices:

======  ===========================  =============  ==============  =============================
Case    condition                    sellers        buyers          price p0
======  ===========================  =============  ==============  =============================
1       mid in band, ΣB(x) <= ΣS(y)  S_1..S_y       B_1..B_x        mid
2       mid in band, ΣB(x) >  ΣS(y)  S_1..S_{y-1}   B_1..B_{x-2}    (P(S_y) + P(B_{x-1})) / 2
3       otherwise, ΣB(x-1)<=ΣS(y-1)  S_1..S_{y-1}   B_1..B_{x-1}    (P(S_y) + P(B_x)) / 2
4       otherwise                    S_1..S_y       B_1..B_{x-1}    (P(S_{y+1}) + P(B_x)) / 2
======  ===========================  =============  ==============  =============================

oversupply = (Σ winning supply − Σ winning demand) / number of winning sellers, and every winning
seller clears E' = max(0, E − oversupply).

Documented policies where the thesis is silent (docs/decisions.md):

* Case 2 cannot be reached from Rule R (its guard contradicts eq. 2.3); :func:`dpda_at` still
  implements it for an (x, y) given by hand, with the oversupply guarded at zero.
* In Case 4, when S_{y+1} does not exist, the price uses the last seller S_y instead.
* In Case 4 the price can exceed a winning buyer's limit (003_dpda.md §6 item 9); the clearing is
  kept as the thesis defines it and the buyers concerned are listed in
  ``info["individual_rationality_violations"]``.

The algorithm runs on arrays (:func:`clear_dpda_arrays`: an ``OrderArrays`` in, a
``ClearingArrays`` out); :func:`clear_dpda` wraps it for a sequence of ``Order`` objects.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from peergrid.core.orders import Order
from peergrid.core.trades import Clearing
from peergrid.mechanisms.arrays import ClearingArrays, OrderArrays
from peergrid.mechanisms.curves import (
    SortedArrays,
    covers,
    intersection,
    midpoint_in_band,
    sort_arrays,
)
from peergrid.mechanisms.result import base_info, no_clearing, uniform_price_clearing


def clear_dpda(orders: Sequence[Order]) -> Clearing:
    """Clear one slot's orders with the DPDA at the Rule R intersection."""
    return clear_dpda_arrays(OrderArrays.from_orders(orders)).to_clearing()


def clear_dpda_arrays(book: OrderArrays) -> ClearingArrays:
    """:func:`clear_dpda` on a book in arrays, with the result in arrays."""
    curves = sort_arrays(book)
    point = intersection(curves)
    if point is None:
        info = base_info(curves, "dpda")
        info["oversupply"] = None
        return no_clearing(curves, info)
    return dpda_arrays_at(curves, *point)


def dpda_at(orders: Sequence[Order], book: SortedArrays, x: int, y: int) -> Clearing:
    """Algorithm 2 applied at a given intersection ``(x, y)`` (1-based); ``book`` is
    ``sort_book(orders)``."""
    return dpda_arrays_at(book, x, y).to_clearing()


def dpda_arrays_at(book: SortedArrays, x: int, y: int) -> ClearingArrays:
    """:func:`dpda_at` on a sorted book in arrays."""
    if not (1 <= x <= book.n_buyers and 1 <= y <= book.n_sellers):
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
        return no_clearing(book, info)
    oversupply = max(0.0, (book.cum_s(n_sellers) - book.cum_b(n_buyers)) / n_sellers)
    cleared = np.maximum(0.0, book.sell_energy[:n_sellers] - oversupply)
    info["oversupply"] = oversupply
    return uniform_price_clearing(
        book,
        n_buyers=n_buyers,
        n_sellers=n_sellers,
        price=price,
        seller_cleared=cleared,
        info=info,
    )
