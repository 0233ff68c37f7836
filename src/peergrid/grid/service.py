"""How an ancillary-service market's matches move power on the feeder (004_vdma.md §2.5, §3.2).

The paper validates every market outcome with an AC power flow but does not say how a match
becomes a nodal injection (§3.2 (d)). Our rule, shared by OCDA's optimal power flow and the
reproduction's AC checks so that both judge the same physics:

- A match of ``q`` kWh over a session of ``Δt`` hours is a couple (§2.5): the asker ("master")
  deviates from its day-ahead set-point and the offeror ("slave") follows it, so the couple
  stays net-neutral. The power moved is ``q / Δt`` kW.
- Upward pool (AS+, "up"): the offeror *increases* its injection by ``q / Δt`` and the asker's
  injection *drops* by as much. Downward pool (AS−, "down"): the signs swap.
- What an ask leaves unsatisfied is covered by external resources at the asker's own bus
  (gate closure, L67): it moves nothing on the feeder, so the outcome's effect is its matches'.

Injections are returned in the load convention of :mod:`peergrid.grid.injections` (power *drawn*
at a bus, kW), so they add to a base case's loads directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from peergrid.core.errors import GridError

POOLS = ("up", "down")
"""The two independent pools of a session: upward (AS+) and downward (AS−) service."""


@dataclass(frozen=True, slots=True)
class ServiceDelivery:
    """One match as power: ``kwh`` delivered from the offeror's bus to the asker's bus."""

    ask_bus: int
    offer_bus: int
    kwh: float


def check_pool(pool: str) -> str:
    """``pool`` itself when it names a pool, else a :class:`GridError` naming it."""
    if pool not in POOLS:
        raise GridError(f"unknown pool {pool!r}: expected one of {', '.join(POOLS)}")
    return pool


def service_draws_kw(
    pool: str, deliveries: Iterable[ServiceDelivery], session_hours: float = 1.0
) -> Mapping[int, float]:
    """The extra power drawn at each bus (kW, load convention) by a pool's matches.

    Upward service: the offeror injects more (draws less), the asker injects less (draws
    more). ``session_hours`` is the session's length Δt (the paper's sessions are hourly)::

        >>> dict(service_draws_kw("up", [ServiceDelivery(ask_bus=5, offer_bus=4, kwh=2.0)]))
        {5: 2.0, 4: -2.0}
    """
    check_pool(pool)
    if not session_hours > 0:
        raise GridError(f"session length must be positive hours, got {session_hours!r}")
    sign = 1.0 if pool == "up" else -1.0
    draws: dict[int, float] = {}
    for delivery in deliveries:
        kw = sign * delivery.kwh / session_hours
        draws[delivery.ask_bus] = draws.get(delivery.ask_bus, 0.0) + kw
        draws[delivery.offer_bus] = draws.get(delivery.offer_bus, 0.0) - kw
    return draws
