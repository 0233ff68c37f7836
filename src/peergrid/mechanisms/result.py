"""Turning a uniform-price auction's winners into a :class:`Clearing`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from peergrid.core.orders import Order
from peergrid.core.trades import Clearing
from peergrid.mechanisms.curves import SortedBook
from peergrid.mechanisms.pairing import build_trades, merit_order_pairs


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
    """Clearing for the first ``n_buyers`` and ``n_sellers`` of the sorted book.

    ``seller_cleared`` holds the cleared kWh of the winning sellers in sorted order. A winning
    buyer's allocation is what the merit-order pairing delivers to it (its whole demand whenever
    supply covers it, as the DPDA guarantees).
    """
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
