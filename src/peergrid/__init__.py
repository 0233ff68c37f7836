"""peergrid: grid-aware peer-to-peer energy markets settled on a permissioned EVM ledger.

Nothing happens on import: no logging configured, no files opened, no global options set.
"""

from peergrid.core.errors import GridError, LedgerError, OrderError, PeergridError, ScenarioError
from peergrid.core.orders import Order, Side
from peergrid.core.trades import Clearing, Trade

__version__ = "0.1.0"

__all__ = [
    "Clearing",
    "GridError",
    "LedgerError",
    "Order",
    "OrderError",
    "PeergridError",
    "ScenarioError",
    "Side",
    "Trade",
    "__version__",
]
