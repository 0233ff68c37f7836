"""Clearing mechanisms: pure functions over orders and a grid context. They never import the
ledger. Find one by its name in :data:`MECHANISMS`."""

from peergrid.mechanisms.info import AuctionInfo, ScoredAuctionInfo
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
    "ScoredAuctionInfo",
    "check_params",
    "clear",
    "mechanism_spec",
]
