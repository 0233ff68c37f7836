"""The market as a service: the trading cycle on a clock (:mod:`.market`), its clocks
(:mod:`.clock`), its database (:mod:`.readmodel`, migrated by Alembic) and the read model from
the chain's events (:mod:`.events`). The HTTP layer is :mod:`peergrid.api`."""

from peergrid.platform.service.clock import ManualClock, WallClock, clock_speed
from peergrid.platform.service.events import rebuild
from peergrid.platform.service.market import (
    ConflictError,
    LiveMarket,
    MarketConfig,
    Member,
    WindowError,
)
from peergrid.platform.service.readmodel import open_database

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
