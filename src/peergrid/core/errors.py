"""One error tree for the whole platform.

Every error a user can cause derives from :class:`PeergridError`; the CLI turns these into a
one-line message and exit status 2. Programming errors stay ordinary Python exceptions.
"""

from __future__ import annotations


class PeergridError(Exception):
    """Base of every domain error raised by peergrid."""


class OrderError(PeergridError, ValueError):
    """An order (or an order set) is malformed: names the order and the field."""

    def __init__(self, message: str, *, order_id: str | None = None, field: str | None = None):
        self.order_id = order_id
        self.field = field
        where = []
        if order_id is not None:
            where.append(f"order {order_id!r}")
        if field is not None:
            where.append(f"field {field!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ScenarioError(PeergridError, ValueError):
    """A scenario file is malformed: names the field and what is wrong."""


class GridError(PeergridError):
    """A feeder cannot be built or a power-flow input is malformed."""


class LedgerError(PeergridError):
    """A ledger call failed (reverted, or refused before it was sent); names the call."""

    def __init__(self, call: str, reason: str):
        self.call = call
        self.reason = reason
        super().__init__(f"{call}: {reason}")
