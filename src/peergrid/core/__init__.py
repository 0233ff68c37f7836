"""Domain types, units and errors shared by every layer. Imports nothing else of peergrid.

Sign conventions, written once: an :class:`Order`'s ``price`` is the buyer's maximum or the
seller's minimum in currency per kWh; quantities are positive kWh; on chain, energy is whole Wh
and money whole micro-units (10⁻⁶ of the currency), see :mod:`peergrid.core.units`.
"""

from peergrid.core.errors import (
    GridError,
    LedgerError,
    OrderError,
    PeergridError,
    ScenarioError,
)
from peergrid.core.orders import (
    Order,
    Side,
    canonical_order_set,
    order_from_dict,
    orders_from_dicts,
    parse_order_book,
    split_sides,
)
from peergrid.core.trades import Clearing, Trade
from peergrid.core.units import (
    MICRO_PER_UNIT,
    WH_PER_KWH,
    from_micro,
    kw_to_kwh,
    kwh_to_wh,
    payment_micro,
    to_micro,
    wh_to_kwh,
)

__all__ = [
    "MICRO_PER_UNIT",
    "WH_PER_KWH",
    "Clearing",
    "GridError",
    "LedgerError",
    "Order",
    "OrderError",
    "PeergridError",
    "ScenarioError",
    "Side",
    "Trade",
    "canonical_order_set",
    "from_micro",
    "kw_to_kwh",
    "kwh_to_wh",
    "order_from_dict",
    "orders_from_dicts",
    "parse_order_book",
    "payment_micro",
    "split_sides",
    "to_micro",
    "wh_to_kwh",
]
