"""What the ledger's contracts refuse, mirrored in Python (to move beside the clients)."""

from __future__ import annotations

from collections.abc import Sequence

from peergrid.core.orders import Order
from peergrid.core.trades import Trade
from peergrid.core.units import kwh_to_wh, to_micro
from peergrid.ledger import Fill, RevealedOrder
from peergrid.ledger.batch_market import settled_wh


def community_refused_trades(orders: Sequence[Order], trades: Sequence[Trade]) -> list[Trade]:
    return [t for t in trades if kwh_to_wh(t.quantity_kwh) <= 0]


def batch_refused_trades(orders: Sequence[Order], trades: Sequence[Trade]) -> list[Trade]:
    by_id = {o.id: o for o in orders}
    refused: list[Trade] = []
    kept: list[Trade] = []
    for t in trades:
        within = (
            to_micro(by_id[t.sell_order].price)
            <= to_micro(t.price)
            <= to_micro(by_id[t.buy_order].price)
        )
        (kept if within else refused).append(t)
    position = {o.id: i for i, o in enumerate(orders)}
    legs = [(position[t.buy_order], position[t.sell_order]) for t in kept]
    wanted = settled_wh(
        [kwh_to_wh(t.quantity_kwh) for t in kept], legs, [kwh_to_wh(o.quantity_kwh) for o in orders]
    )
    return refused + [t for t, energy in zip(kept, wanted, strict=True) if energy <= 0]


def fill_within_limits(fill: Fill, revealed: Sequence[RevealedOrder]) -> bool:
    buy, sell = revealed[fill.buy], revealed[fill.sell]
    return sell.price_micro_per_kwh <= fill.price_micro_per_kwh <= buy.price_micro_per_kwh
