"""Mechanisms by name, as the CLI and scenarios refer to them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from peergrid.core.errors import OrderError, PeergridError
from peergrid.core.orders import Order
from peergrid.core.trades import Clearing
from peergrid.mechanisms.dpda import clear_dpda
from peergrid.mechanisms.mcafee import clear_mcafee

PeriodicMechanism = Callable[[Sequence[Order]], Clearing]

MECHANISMS: Mapping[str, PeriodicMechanism] = {
    "dpda": clear_dpda,
    "mcafee": clear_mcafee,
}


def clear(name: str, orders: Sequence[Order], params: Mapping[str, Any] | None = None) -> Clearing:
    """Clear ``orders`` with the mechanism called ``name``."""
    try:
        mechanism = MECHANISMS[name]
    except KeyError:
        known = ", ".join(sorted(MECHANISMS))
        raise PeergridError(f"unknown mechanism {name!r} (known: {known})") from None
    if params:
        raise OrderError(
            f"mechanism {name!r} takes no parameters, got {', '.join(sorted(params))}",
            field="params",
        )
    return mechanism(orders)
