"""peergrid: grid-aware peer-to-peer energy markets settled on a permissioned EVM ledger.

The Python API (:mod:`peergrid.public`)::

    import peergrid

    scenario = peergrid.Scenario.load("examples/demo.toml")   # or peergrid.Scenario()
    result = peergrid.run(scenario.replace(households={"count": 20}))
    result.slots, result.trades, result.households, result.violations   # DataFrames
    peergrid.clear(orders, mechanism="dpda")                   # one order book
    peergrid.feeders(), peergrid.mechanisms()                  # what exists

Nothing happens on import: no logging configured, no files opened, no global options set; the
names of the API import what they need when first used, so ``import peergrid`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from peergrid.core.errors import GridError, LedgerError, OrderError, PeergridError, ScenarioError
from peergrid.core.lazy import lazy_exports
from peergrid.core.orders import Order, Side
from peergrid.core.trades import Clearing, Trade

if TYPE_CHECKING:
    from peergrid import mechanisms
    from peergrid.public import Result, clear, feeders, run
    from peergrid.sim.scenario import Scenario

__version__ = "0.1.0"

# name -> the module that defines it, imported on first use (PEP 562).
_LAZY: dict[str, str] = {
    "Scenario": "peergrid.sim.scenario",
    "Result": "peergrid.public",
    "clear": "peergrid.public",
    "feeders": "peergrid.public",
    "run": "peergrid.public",
}

__all__ = [
    "Clearing",
    "GridError",
    "LedgerError",
    "Order",
    "OrderError",
    "PeergridError",
    "Result",
    "Scenario",
    "ScenarioError",
    "Side",
    "Trade",
    "__version__",
    "clear",
    "feeders",
    "mechanisms",
    "run",
]


_exported, __dir__ = lazy_exports(__name__, _LAZY, __all__)


def __getattr__(name: str) -> Any:
    if name == "mechanisms":
        # The mechanisms package is itself callable: peergrid.mechanisms() lists them.
        return importlib.import_module("peergrid.mechanisms")
    return _exported(name)
