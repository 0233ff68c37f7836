"""Where every market plugs in: the trading cycle (clock, phases, feedback, metered
settlement) and the settlement adapters that put a market on the ledger (:mod:`.settlement`).

Mechanisms and the ledger never import each other; this layer wires them together.

The names below are imported on first use, so that a process that needs one light module
of this package (the service's intake workers) does not load the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from peergrid.core.lazy import lazy_exports

if TYPE_CHECKING:
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

# name -> the module that defines it, imported on first use (PEP 562)
_LAZY: dict[str, str] = {
    "BatchSettlement": "peergrid.platform.settlement",
    "CommunitySettlement": "peergrid.platform.settlement",
    "CycleTimes": "peergrid.platform.cycle",
    "DsoView": "peergrid.platform.cycle",
    "Feedback": "peergrid.platform.cycle",
    "MarketSetup": "peergrid.platform.settlement",
    "Phase": "peergrid.platform.cycle",
    "SETTLEMENTS": "peergrid.platform.settlement",
    "Settlement": "peergrid.platform.settlement",
    "Submission": "peergrid.platform.cycle",
    "TradingCycle": "peergrid.platform.cycle",
    "open_settlement": "peergrid.platform.settlement",
    "plain_quotes": "peergrid.platform.cycle",
}

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


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
