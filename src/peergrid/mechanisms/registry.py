"""Mechanisms by name, as the CLI and scenarios refer to them.

Every entry is called as ``mechanism(orders, params, distances)``: ``params`` are the
mechanism's own parameters (from an order file's ``params`` or ``--param``), ``distances`` the
grid's distance table for mechanisms that price or prefer by distance (None otherwise).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from peergrid.core.errors import OrderError, PeergridError
from peergrid.core.orders import Order
from peergrid.core.trades import Clearing
from peergrid.mechanisms.dpda import clear_dpda
from peergrid.mechanisms.mcafee import clear_mcafee
from peergrid.mechanisms.score_matching import (
    DistanceTable,
    ScoreParameters,
    clear_dpda_score,
    clear_mcafee_score,
)

Mechanism = Callable[[Sequence[Order], Mapping[str, Any], DistanceTable | None], Clearing]


def _no_params(name: str, clear: Callable[[Sequence[Order]], Clearing]) -> Mechanism:
    def run(
        orders: Sequence[Order], params: Mapping[str, Any], distances: DistanceTable | None
    ) -> Clearing:
        check_params(name, params)
        return clear(orders)

    return run


def _scored(name: str, clear: Callable[..., Clearing]) -> Mechanism:
    def run(
        orders: Sequence[Order], params: Mapping[str, Any], distances: DistanceTable | None
    ) -> Clearing:
        if distances is None:
            raise PeergridError(f"mechanism {name!r} needs a feeder for its grid distances")
        return clear(orders, distances, ScoreParameters.from_params(params))

    return run


MECHANISMS: Mapping[str, Mechanism] = {
    "dpda": _no_params("dpda", clear_dpda),
    "mcafee": _no_params("mcafee", clear_mcafee),
    "dpda+score": _scored("dpda+score", clear_dpda_score),
    "mcafee+score": _scored("mcafee+score", clear_mcafee_score),
}
NEEDS_DISTANCES = frozenset({"dpda+score", "mcafee+score"})


def distance_charge_per_m(name: str, params: Mapping[str, Any]) -> float:
    """The DSO's charge per metre per matched pair (C_d) that mechanism ``name`` applies with
    ``params``: Score Matching's ``distance_charge_per_m``, 0 for the other mechanisms."""
    check_params(name, params)
    if name in NEEDS_DISTANCES:
        return ScoreParameters.from_params(params).distance_charge_per_m
    return 0.0


def check_params(name: str, params: Mapping[str, Any]) -> None:
    """Raise the error ``clear`` would raise for these parameters, without clearing."""
    if name not in MECHANISMS:
        raise PeergridError(f"unknown mechanism {name!r} (known: {', '.join(sorted(MECHANISMS))})")
    if name in NEEDS_DISTANCES:
        ScoreParameters.from_params(params)
    elif params:
        raise OrderError(
            f"mechanism {name!r} takes no parameters, got {', '.join(sorted(params))}",
            field="params",
        )


def clear(
    name: str,
    orders: Sequence[Order],
    params: Mapping[str, Any] | None = None,
    *,
    distances: DistanceTable | None = None,
) -> Clearing:
    """Clear ``orders`` with the mechanism called ``name``."""
    try:
        mechanism = MECHANISMS[name]
    except KeyError:
        known = ", ".join(sorted(MECHANISMS))
        raise PeergridError(f"unknown mechanism {name!r} (known: {known})") from None
    return mechanism(orders, params or {}, distances)
