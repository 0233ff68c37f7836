"""Clearing mechanisms: pure functions over orders and a grid context. They never import the
ledger. Find one by its name in :data:`MECHANISMS`.

The package is also the API's list of mechanisms: ``peergrid.mechanisms()`` returns every
:class:`MechanismSpec` (name, summary, whether it needs a feeder, parameters with units and
defaults), so the name a user calls and the package the code imports are one thing::

    {m.name: m.needs_distances for m in peergrid.mechanisms()}
"""

import sys
import types

from peergrid.mechanisms.info import (
    AuctionInfo,
    QuotaAuctionInfo,
    ScoredAuctionInfo,
    ServiceMarketInfo,
)
from peergrid.mechanisms.registry import (
    MECHANISMS,
    MechanismSpec,
    Parameter,
    check_params,
    clear,
    mechanism_spec,
)

__all__ = [
    "MECHANISMS",
    "AuctionInfo",
    "MechanismSpec",
    "Parameter",
    "QuotaAuctionInfo",
    "ScoredAuctionInfo",
    "ServiceMarketInfo",
    "check_params",
    "clear",
    "mechanism_spec",
]


class _CallableModule(types.ModuleType):
    """This package, callable: ``peergrid.mechanisms()`` lists the mechanisms::

    for m in peergrid.mechanisms():
        print(m.name, m.summary, [p.name for p in m.parameters])
    """

    def __call__(self) -> list[MechanismSpec]:
        return list(MECHANISMS.values())


sys.modules[__name__].__class__ = _CallableModule
