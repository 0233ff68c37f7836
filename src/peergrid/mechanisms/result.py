"""Turning a uniform-price auction's winners into a :class:`Clearing`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from peergrid.core.orders import Order
from peergrid.core.trades import Clearing
from peergrid.mechanisms.curves import SortedBook
from peergrid.mechanisms.pairing import pair_in_merit_order


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
    allocations: dict[str, float] = {o.id: 0.0 for o in orders}
    if price is None or n_buyers <= 0 or n_sellers <= 0:
        info.update(
            winning_buyers=[],
            winning_sellers=[],
            traded_kwh=0.0,
            clipping_excess_kwh=0.0,
            individual_rationality_violations=[],
        )
        return Clearing(trades=(), price=None, allocations=allocations, info=info)

    buyers = [(o, o.quantity_kwh) for o in book.buyers[:n_buyers]]
    sellers = list(zip(book.sellers[:n_sellers], seller_cleared, strict=True))
    trades = pair_in_merit_order(buyers, sellers, price)
    for order, cleared in sellers:
        allocations[order.id] = float(cleared)
    for trade in trades:
        allocations[trade.buy_order] += trade.quantity_kwh
    traded = sum(t.quantity_kwh for t in trades)
    supplied = float(sum(seller_cleared))
    violations = [o.id for o, _ in buyers if o.price < price] + [
        o.id for o, _ in sellers if o.price > price
    ]
    info.update(
        winning_buyers=[o.id for o, _ in buyers],
        winning_sellers=[o.id for o, _ in sellers],
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
