"""Benchmarks that ship with the platform: what ``peergrid bench`` runs.

* :mod:`~peergrid.bench.gas` — gas per contract function and its cost in euro
  (``peergrid bench gas``).

Imports the ledger and the core only; nothing runs on import.
"""

from peergrid.bench.gas import cost_eur, format_gas_table, gas_table

__all__ = ["cost_eur", "format_gas_table", "gas_table"]
