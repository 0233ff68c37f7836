"""Clearing mechanisms: pure functions over orders. They never import the ledger."""

from peergrid.mechanisms.registry import MECHANISMS, clear

__all__ = ["MECHANISMS", "clear"]
