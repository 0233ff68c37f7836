"""B-DER: day-ahead schedules of households by consensus ADMM (000_bder.md, S3).

The four market designs of the report (§2.10) over one feeder and a day-ahead horizon, each a
function returning schedules, trades and prices (:mod:`~peergrid.mechanisms.admm.designs`):
:func:`baseline`, :func:`grid_only`, :func:`trade_only`, :func:`combined`; and
:func:`centralised`, the same convex problem in one piece, against which
:func:`~peergrid.mechanisms.admm.check.check_against_central` checks a distributed result.

These are schedule optimisations, not order-book clearings, so they have this entry point of
their own rather than a place in the order-book registry. The iterates an aggregator exchanges
with the households (coupling copies, bids, the z-update, residuals) are documented in
:mod:`~peergrid.mechanisms.admm.consensus`.
"""

from peergrid.mechanisms.admm.case import (
    BDER_LIMITS,
    BderCase,
    BderHousehold,
    BderInputError,
    household,
)
from peergrid.mechanisms.admm.check import BderCheck, check_against_central
from peergrid.mechanisms.admm.consensus import AdmmSettings
from peergrid.mechanisms.admm.designs import (
    baseline,
    centralised,
    combined,
    distributed,
    grid_only,
    trade_only,
)
from peergrid.mechanisms.admm.example import example_case
from peergrid.mechanisms.admm.problem import DESIGNS
from peergrid.mechanisms.admm.result import BderResult, Iterate, Schedules, Trades

__all__ = [
    "BDER_LIMITS",
    "DESIGNS",
    "AdmmSettings",
    "BderCase",
    "BderCheck",
    "BderHousehold",
    "BderInputError",
    "BderResult",
    "Iterate",
    "Schedules",
    "Trades",
    "baseline",
    "centralised",
    "check_against_central",
    "combined",
    "distributed",
    "example_case",
    "grid_only",
    "household",
    "trade_only",
]
