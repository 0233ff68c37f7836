"""Forming bilateral trades from a uniform-price clearing.

The DAM and the DPDA decide who wins, how much and at which single price, but not who trades
with whom. peergrid pairs them in *merit order*: winning buyers in their priority order (highest
price first, ties in submission order) are filled from winning sellers in theirs (lowest price
first), each buyer taking what it still needs from the current seller before moving on. Every
trade is at the uniform price.

When the DPDA clips a seller's reduced quantity at zero, the winners' cleared supply exceeds the
winning demand (003_dpda.md §2.4). Merit order leaves that clipping excess with the
highest-priced winning sellers; it is not traded peer to peer (in the simulation those sellers
export it to the supplier at the feed-in tariff).
"""

from __future__ import annotations

from collections.abc import Sequence

from peergrid.core.orders import Order
from peergrid.core.trades import Trade

# Remainders below this are float dust from subtracting kWh and are not traded.
DUST_KWH = 1e-12


def pair_in_merit_order(
    buyers: Sequence[tuple[Order, float]],
    sellers: Sequence[tuple[Order, float]],
    price: float,
) -> tuple[Trade, ...]:
    """Pair ``(order, cleared kWh)`` lists, each already in priority order, at ``price``."""
    trades: list[Trade] = []
    s = 0
    seller_left = sellers[0][1] if sellers else 0.0
    for buy_order, demand in buyers:
        need = demand
        while need > DUST_KWH and s < len(sellers):
            if seller_left <= DUST_KWH:
                s += 1
                if s < len(sellers):
                    seller_left = sellers[s][1]
                continue
            sell_order = sellers[s][0]
            quantity = min(need, seller_left)
            trades.append(
                Trade(
                    buyer=buy_order.agent,
                    seller=sell_order.agent,
                    quantity_kwh=quantity,
                    price=price,
                    slot=buy_order.slot,
                    buy_order=buy_order.id,
                    sell_order=sell_order.id,
                )
            )
            need -= quantity
            seller_left -= quantity
    return tuple(trades)
