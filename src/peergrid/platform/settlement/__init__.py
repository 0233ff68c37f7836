"""Settlement adapters: how a market's trades are settled on the ledger, by ``ledger.market``.

* ``batch`` (:class:`BatchSettlement`, the default): the sealed-bid batch market of the trading
  cycle, the clearing verified by the contract, then the meter's readings with penalties.
* ``community`` (:class:`CommunitySettlement`): the operator posts each slot's trades; the
  contract moves money and the DSO's fee. Faster, with the operator trusted and no meter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from peergrid.core.errors import PeergridError
from peergrid.ledger import MAX_ORDERS_PER_SLOT, Chain
from peergrid.platform.settlement.base import MarketSetup, Settlement
from peergrid.platform.settlement.batch import BatchSettlement, feeder_map_rows
from peergrid.platform.settlement.community import CommunitySettlement

SettlementFactory = Callable[[Chain, MarketSetup], Settlement]

SETTLEMENTS: Mapping[str, SettlementFactory] = {
    "batch": BatchSettlement.open,
    "community": CommunitySettlement.open,
}

MAX_MEMBERS: Mapping[str, int | None] = {
    "batch": MAX_ORDERS_PER_SLOT,
    "community": None,
}
"""The most members each ledger market settles per slot, by ``ledger.market`` (``None``: no
bound). The batch market takes one order per member and at most ``MAX_ORDERS`` orders a slot
(its clearing closes every order in one transaction); the community contract settles a slot's
trades in as many transactions as they need."""


def open_settlement(market: str, chain: Chain, setup: MarketSetup) -> Settlement:
    """Deploy the market called ``market`` on ``chain``, admit and fund its members."""
    try:
        factory = SETTLEMENTS[market]
    except KeyError:
        known = ", ".join(sorted(SETTLEMENTS))
        raise PeergridError(f"unknown ledger market {market!r} (known: {known})") from None
    return factory(chain, setup)


__all__ = [
    "MAX_MEMBERS",
    "SETTLEMENTS",
    "BatchSettlement",
    "CommunitySettlement",
    "MarketSetup",
    "Settlement",
    "SettlementFactory",
    "feeder_map_rows",
    "open_settlement",
]
