"""Turning a uniform-price auction's winners into a :class:`ClearingArrays`."""

from __future__ import annotations

from typing import Any

import numpy as np

from peergrid.mechanisms.arrays import EMPTY_INDEX, ClearingArrays, FloatArray
from peergrid.mechanisms.curves import SortedArrays
from peergrid.mechanisms.pairing import merit_order_pairs


def uniform_price_clearing(
    curves: SortedArrays,
    *,
    n_buyers: int,
    n_sellers: int,
    price: float | None,
    seller_cleared: FloatArray,
    info: dict[str, Any],
) -> ClearingArrays:
    """Clearing for the first ``n_buyers`` and ``n_sellers`` of the sorted book.

    ``seller_cleared`` holds the cleared kWh of the winning sellers in sorted order. A winning
    buyer's allocation is what the merit-order pairing delivers to it (its whole demand whenever
    supply covers it, as the DPDA guarantees). Orders in ``info`` are index arrays into the book.
    """
    book = curves.book
    allocation = np.zeros(len(book))
    if price is None or n_buyers <= 0 or n_sellers <= 0:
        info.update(
            winning_buyers=EMPTY_INDEX,
            winning_sellers=EMPTY_INDEX,
            traded_kwh=0.0,
            clipping_excess_kwh=0.0,
            individual_rationality_violations=EMPTY_INDEX,
        )
        empty = np.zeros(0)
        return ClearingArrays(
            book, EMPTY_INDEX, EMPTY_INDEX, empty, empty, None, allocation, EMPTY_INDEX, info
        )

    buyers = curves.buy_index[:n_buyers]
    sellers = curves.sell_index[:n_sellers]
    sell_kwh = np.asarray(seller_cleared, dtype=np.float64)
    b_idx, s_idx, quantity = merit_order_pairs(curves.buy_energy[:n_buyers], sell_kwh)
    bought = np.bincount(b_idx, weights=quantity, minlength=n_buyers)
    allocation[sellers] = sell_kwh
    allocation[buyers] = bought
    traded = float(quantity.sum())
    supplied = float(sell_kwh.sum())
    violations = np.concatenate(
        (
            buyers[curves.buy_price[:n_buyers] < price],
            sellers[curves.sell_price[:n_sellers] > price],
        )
    )
    info.update(
        winning_buyers=buyers,
        winning_sellers=sellers,
        traded_kwh=traded,
        clipping_excess_kwh=max(0.0, supplied - traded),
        individual_rationality_violations=violations,
    )
    return ClearingArrays(
        book=book,
        buy=buyers[b_idx],
        sell=sellers[s_idx],
        quantity_kwh=quantity,
        trade_price=np.full(len(quantity), price),
        price=price,
        allocation=allocation,
        winners=np.concatenate((sellers, buyers)),
        info=info,
    )


def no_clearing(curves: SortedArrays, info: dict[str, Any]) -> ClearingArrays:
    """No trade: every order loses."""
    return uniform_price_clearing(
        curves, n_buyers=0, n_sellers=0, price=None, seller_cleared=np.zeros(0), info=info
    )


def base_info(curves: SortedArrays, mechanism: str) -> dict[str, Any]:
    return {
        "mechanism": mechanism,
        "case": None,
        "x": None,
        "y": None,
        "sorted_buyers": curves.buy_index,
        "sorted_sellers": curves.sell_index,
    }
