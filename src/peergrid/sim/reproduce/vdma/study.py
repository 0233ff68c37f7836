"""The random-shout study of 004_vdma.md §3.2–3.4: constraint satisfaction and network indices.

For each spread s, ``runs`` sessions of random shouts (:mod:`peergrid.sim.ancillary.shouts`) are
each cleared by every mechanism (CDA, NCDA, OCDA: the same shouts for all three, so the
mechanisms are compared on equal draws) and each outcome is checked by an AC power flow
(:mod:`peergrid.sim.ancillary.network`). The result is one row per run and mechanism.

Seeds. The shouts for spread s come from ``numpy.random.default_rng((seed, round(1000·s)))``:
run k's shouts do not depend on how many runs are made, so a short study repeats the first runs
of the full one exactly.

Pool. One pool per session, the same for every run (``pool``, default the upward pool AS+): the
paper does not say which pool its shouts go to (§3.2 (c)).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from peergrid.core.errors import PeergridError
from peergrid.core.orders import Order, Side
from peergrid.core.trades import Clearing
from peergrid.grid.feeder_types import GridLimits
from peergrid.grid.service import check_pool
from peergrid.sim.ancillary.network import FEEDER, NetworkCheck, outcome_of
from peergrid.sim.ancillary.shouts import (
    SPREADS,
    ShoutParameters,
    ShoutRoles,
    draw_session,
)

MECHANISMS = ("cda", "ncda", "ocda")
DEFAULT_SEED = 2019
"""The study's default seed (the paper's year): every figure of the summary comes from it."""
DEFAULT_RUNS = 100
"""Sessions per spread (L145)."""

ClearSession = Callable[[Sequence[Order], str, str], Clearing]
"""``clear(orders, mechanism, pool)``: one pool of one session cleared by a mechanism."""
Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``."""


def clear_with_registry(orders: Sequence[Order], mechanism: str, pool: str) -> Clearing:
    """Clear one pool with the registered mechanism on ``cigre-mv-vdma``, as
    ``peergrid.clear(orders, mechanism, feeder="cigre-mv-vdma", params={"pool": pool})``."""
    from peergrid.grid.feeders import load_feeder
    from peergrid.mechanisms.registry import clear

    return clear(mechanism, list(orders), {"pool": pool}, feeder=load_feeder(FEEDER))


@dataclass(frozen=True)
class StudySettings:
    """What the study runs; the defaults are the paper's (and our stated choices)."""

    runs: int = DEFAULT_RUNS
    spreads: tuple[float, ...] = SPREADS
    seed: int = DEFAULT_SEED
    pool: str = "up"
    roles: ShoutRoles = ShoutRoles.generators_offer
    mechanisms: tuple[str, ...] = MECHANISMS
    limits: GridLimits = field(default_factory=GridLimits)

    def __post_init__(self) -> None:
        check_pool(self.pool)
        if self.runs < 1:
            raise PeergridError(f"runs: must be at least 1, got {self.runs}")


def run_study(
    settings: StudySettings,
    clear: ClearSession = clear_with_registry,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """One row per (spread, run, mechanism): the session's shouts, what was matched, the AC
    check and the network indices, and the seconds the mechanism took."""
    if clear is clear_with_registry:  # an unknown mechanism is refused before any work
        from peergrid.mechanisms.registry import mechanism_spec

        for mechanism in settings.mechanisms:
            mechanism_spec(mechanism)
    network = NetworkCheck(settings.limits)
    rows: list[dict[str, Any]] = []
    total = len(settings.spreads) * settings.runs
    done = 0
    for spread in settings.spreads:
        rng = np.random.default_rng((settings.seed, round(1000 * spread)))
        shout = ShoutParameters(spread=spread, roles=settings.roles)
        sessions = [draw_session(rng, shout, run=k) for k in range(settings.runs)]
        for mechanism in settings.mechanisms:
            outcomes, described = [], []
            for k, session in enumerate(sessions):
                started = time.perf_counter()
                clearing = clear(session.orders, mechanism, settings.pool)
                seconds = time.perf_counter() - started
                outcomes.append(outcome_of(clearing, session.devices, settings.pool))
                described.append(
                    _describe(spread, k, mechanism, session.orders, clearing, seconds)
                    | {"redraws": session.redraws}
                )
                done += 1
                if progress is not None:
                    progress("sessions cleared", done, total * len(settings.mechanisms))
            for row, indices in zip(described, network.check(outcomes, settings.pool), strict=True):
                rows.append(row | asdict(indices))
    return pd.DataFrame(rows)


def _describe(
    spread: float,
    run: int,
    mechanism: str,
    orders: Sequence[Order],
    clearing: Clearing,
    seconds: float,
) -> dict[str, Any]:
    asks = [o for o in orders if o.side is Side.BUY]
    offers = [o for o in orders if o.side is Side.SELL]
    matched = sum(t.quantity_kwh for t in clearing.trades)
    asked = sum(o.quantity_kwh for o in asks)
    return {
        "s": spread,
        "run": run,
        "mechanism": mechanism,
        "asks": len(asks),
        "offers": len(offers),
        "asked_kwh": asked,
        "offered_kwh": sum(o.quantity_kwh for o in offers),
        "trades": len(clearing.trades),
        "matched_kwh": matched,
        # who matched whom and how much: compares the mechanisms' outcomes run by run
        "pairs": "; ".join(
            sorted(f"{t.buy_order}>{t.sell_order}:{t.quantity_kwh:.3f}" for t in clearing.trades)
        ),
        "unsatisfied_kwh": asked - matched,
        "clear_seconds": seconds,
    }
