"""The HTTP status of each refusal of the service (the reason goes in the body's ``detail``);
the market's app and the intake processes answer with the same."""

from __future__ import annotations

from peergrid.api.auth import SignatureError
from peergrid.core.errors import LedgerError, OrderError
from peergrid.platform.service.rules import ConflictError, WindowError


def status_of(exc: Exception) -> int:
    """The HTTP status of a refusal (the reason goes in the body's ``detail``)."""
    if isinstance(exc, SignatureError):
        return 401
    if isinstance(exc, (ConflictError, WindowError)):
        return 409
    if isinstance(exc, OrderError):
        return 422
    if isinstance(exc, LedgerError):
        return 503
    return 400
