"""The market as a service: the trading cycle on a clock (:mod:`.market`), its clocks
(:mod:`.clock`), its database (:mod:`.readmodel`, migrated by Alembic) and the read model from
the chain's events (:mod:`.events`). The HTTP layer is :mod:`peergrid.api`.

The names below are imported on first use, so that a process that needs one light module
of this package (the service's intake workers) does not load the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from peergrid.core.lazy import lazy_exports

if TYPE_CHECKING:
    from peergrid.platform.service.clock import (
        ManualClock,
        WallClock,
        clock_speed,
    )
    from peergrid.platform.service.events import (
        rebuild,
    )
    from peergrid.platform.service.market import (
        ConflictError,
        LiveMarket,
        MarketConfig,
        Member,
        WindowError,
    )
    from peergrid.platform.service.readmodel import (
        open_database,
    )

# name -> the module that defines it, imported on first use (PEP 562)
_LAZY: dict[str, str] = {
    "ConflictError": "peergrid.platform.service.market",
    "LiveMarket": "peergrid.platform.service.market",
    "ManualClock": "peergrid.platform.service.clock",
    "MarketConfig": "peergrid.platform.service.market",
    "Member": "peergrid.platform.service.market",
    "WallClock": "peergrid.platform.service.clock",
    "WindowError": "peergrid.platform.service.market",
    "clock_speed": "peergrid.platform.service.clock",
    "open_database": "peergrid.platform.service.readmodel",
    "rebuild": "peergrid.platform.service.events",
}

__all__ = [
    "ConflictError",
    "LiveMarket",
    "ManualClock",
    "MarketConfig",
    "Member",
    "WallClock",
    "WindowError",
    "clock_speed",
    "open_database",
    "rebuild",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
