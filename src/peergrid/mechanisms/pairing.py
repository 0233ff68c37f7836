"""Forming bilateral trades from a uniform-price clearing.

The DAM and the DPDA decide who wins, how much and at which single price, but not who trades
with whom. peergrid pairs them in *merit order*: winning buyers in their priority order (highest
price first, ties in submission order) are filled from winning sellers in theirs (lowest price
first), each buyer taking what it still needs from the current seller before moving on. Every
trade is at the uniform price. The pairs are index arrays; ``Trade`` objects are built from them
only when a ``Clearing`` is asked for (:meth:`peergrid.mechanisms.arrays.ClearingArrays.trades`).

When the DPDA clips a seller's reduced quantity at zero, the winners' cleared supply exceeds the
winning demand (003_dpda.md §2.4). Merit order leaves that clipping excess with the
highest-priced winning sellers; it is not traded peer to peer (in the simulation those sellers
export it to the supplier at the feed-in tariff).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# Remainders below this are float dust from subtracting kWh and are not traded.
DUST_KWH = 1e-12


def merit_order_pairs(
    buy_kwh: npt.NDArray[np.float64], sell_kwh: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """Who trades with whom, and how much, when both sides are filled in their order.

    Lay the buyers' quantities end to end on one axis and the sellers' on another: every stretch
    between consecutive breakpoints of the two cumulative curves is one trade between the buyer
    and the seller that stretch falls in. Returns (buyer index, seller index, kWh) arrays.

    A stretch is placed by where it starts: the buyer it falls in is the number of buyers'
    breakpoints at or before its start (every breakpoint is a stretch's end, so none lies
    inside one). Placing it by its midpoint, as before, gave the same pairs except where the
    midpoint of a one-ulp stretch (cumulative energies beyond ~8 MWh) rounded onto the next
    breakpoint: the stretch went to the next buyer or seller, or past the last (IndexError).
    """
    cum_b = np.cumsum(buy_kwh)
    cum_s = np.cumsum(sell_kwh)
    if not len(cum_b) or not len(cum_s):
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty, np.zeros(0)
    total = min(float(cum_b[-1]), float(cum_s[-1]))
    points = _union(cum_b, cum_s)
    points = np.append(points[points < total], total)
    lengths = np.diff(points)
    keep = lengths > DUST_KWH
    start = points[:-1][keep]
    buyer = np.searchsorted(cum_b, start, side="right")
    seller = np.searchsorted(cum_s, start, side="right")
    return buyer, seller, lengths[keep]


def _union(cum_b: npt.NDArray[np.float64], cum_s: npt.NDArray[np.float64]) -> FloatArray:
    """``np.unique`` of 0 and both curves' breakpoints. Both curves are sorted already, and a
    stable sort (timsort) merges sorted runs in linear time where ``np.unique`` sorts anew."""
    merged = np.sort(np.concatenate(([0.0], cum_b, cum_s)), kind="stable")
    distinct = np.empty(len(merged), dtype=np.bool_)
    distinct[0] = True
    np.not_equal(merged[1:], merged[:-1], out=distinct[1:])
    return merged[distinct]
