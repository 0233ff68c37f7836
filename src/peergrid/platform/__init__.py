"""Where every market plugs in: the trading cycle (clock, phases, feedback, metered
settlement) and the settlement adapters that put a market on the ledger (:mod:`.settlement`).

Mechanisms and the ledger never import each other; this layer wires them together.
"""

from peergrid.platform.cycle import (
    CycleTimes,
    DsoView,
    Feedback,
    Phase,
    Submission,
    TradingCycle,
    plain_quotes,
)
from peergrid.platform.settlement import (
    SETTLEMENTS,
    BatchSettlement,
    CommunitySettlement,
    MarketSetup,
    Settlement,
    open_settlement,
)

__all__ = [
    "SETTLEMENTS",
    "BatchSettlement",
    "CommunitySettlement",
    "CycleTimes",
    "DsoView",
    "Feedback",
    "MarketSetup",
    "Phase",
    "Settlement",
    "Submission",
    "TradingCycle",
    "open_settlement",
    "plain_quotes",
]
