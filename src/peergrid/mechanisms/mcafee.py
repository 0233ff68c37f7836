"""McAfee-style standard double auction (DAM), Algorithm 1 of 003_dpda.md §2.2.

At the Rule R intersection (x, y), with ``mid = (P(S_{y+1}) + P(B_{x+1})) / 2``:

* Case 1 (mid in [P(S_y), P(B_x)]): sellers S_1..S_y and buyers B_1..B_x trade at p0 = mid;
* Case 2 (otherwise): the marginal pair is excluded, S_1..S_{y-1} and B_1..B_{x-1} trade at
  p0 = (P(S_y) + P(B_x)) / 2.

Only the *last* winning seller absorbs the excess θ = Σ supply − Σ demand: its quantity becomes
max(0, E − θ) when θ > 0 (eqs. 2.6/2.7; Algorithm 1's printed test is inverted and is not
followed). When θ < 0 the winning buyers are short and the last ones in priority order are
filled partially. When S_{y+1} or B_{x+1} does not exist the check counts as failed.

The algorithm runs on arrays (:func:`clear_mcafee_arrays`: an ``OrderArrays`` in, a
``ClearingArrays`` out); :func:`clear_mcafee` wraps it for a sequence of ``Order`` objects.
"""

from __future__ import annotations

from collections.abc import Sequence

from peergrid.core.orders import Order
from peergrid.core.trades import Clearing
from peergrid.mechanisms.arrays import ClearingArrays, OrderArrays
from peergrid.mechanisms.curves import covers, intersection, midpoint_in_band, sort_arrays
from peergrid.mechanisms.result import base_info, no_clearing, uniform_price_clearing


def clear_mcafee(orders: Sequence[Order]) -> Clearing:
    """Clear one slot's orders with the standard auction."""
    return clear_mcafee_arrays(OrderArrays.from_orders(orders)).to_clearing()


def clear_mcafee_arrays(orders: OrderArrays) -> ClearingArrays:
    """:func:`clear_mcafee` on a book in arrays, with the result in arrays."""
    book = sort_arrays(orders)
    info = base_info(book, "mcafee")
    point = intersection(book)
    if point is None:
        info["theta"] = None
        return no_clearing(book, info)
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
        return no_clearing(book, info)
    theta = book.cum_s(n_sellers) - book.cum_b(n_buyers)
    cleared = book.sell_energy[:n_sellers].copy()
    if not covers(book.cum_b(n_buyers), book.cum_s(n_sellers)):  # θ > 0 beyond float dust
        cleared[-1] = max(0.0, float(cleared[-1]) - theta)
    info["theta"] = theta
    return uniform_price_clearing(
        book,
        n_buyers=n_buyers,
        n_sellers=n_sellers,
        price=price,
        seller_cleared=cleared,
        info=info,
    )
