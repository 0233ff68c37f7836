"""What the VDMA's ancillary-service markets (CDA, NCDA, OCDA) share around their matching.

Conventions (004_vdma.md §1.3, §2.2): an *ask* (a request for service) is a buy order, an
*offer* a sell order; one order set is one pool (``"up"``: AS+, ``"down"``: AS−) of one hourly
session, cleared once; time priority is ``submitted_at`` (the file's order otherwise). Every
trade has its own price (the mid-point of its ask and offer), so a clearing's uniform ``price``
is None.

This module holds what the markets share: a trade as the book makes it (:class:`Fill`), an order
leaving the book unfilled (:class:`Cancellation`), the distance table between buses
(:class:`BusDistances`); and it reads the markets' parameters, checks the orders against the
feeder (every bus must be one of its buses), measures the path of every trade on the feeder
(metres and hops, from the grid layer's cached distance matrices) and builds the
:class:`~peergrid.core.trades.Clearing`: ``trades``, every order's cleared kWh in
``allocations``, and in ``info`` what is left at gate closure (asks unsatisfied, offers unsold:
both go to external resources), the pool, the distance metric and the quantity-weighted distance
of the trades.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from peergrid.core.errors import GridError, OrderError
from peergrid.core.orders import Order, Side
from peergrid.core.trades import Clearing, Trade

if TYPE_CHECKING:
    from peergrid.grid.distance import DistanceMatrix
    from peergrid.grid.feeder_types import Feeder

# The grid layer is imported where it is used: listing the mechanisms must not load pandapower.


class Fill(NamedTuple):
    """One trade: ``quantity`` (kWh) from the sell order to the buy order at ``price``."""

    buy_order: str
    sell_order: str
    buyer: str
    seller: str
    quantity: float
    price: float
    buy_bus: str | None
    sell_bus: str | None


class Cancellation(NamedTuple):
    """An order that left the book unfilled: ``remaining`` kWh, and why (``"self-trade"``,
    ``"fill-limit"``, ``"owner"``)."""

    order_id: str
    remaining: float
    reason: str


class BusDistances:
    """Distances between bus labels (as orders carry them), and for each bus the other buses
    grouped by equal distance, nearest group first.

    Distances equal to within ``1e-9`` of the larger are one group (a sum of line lengths
    computed along two paths may differ in its last bits).
    """

    def __init__(self, labels: Sequence[str], values: npt.ArrayLike, metric: str = "") -> None:
        matrix = np.asarray(values, dtype=float)
        if matrix.shape != (len(labels), len(labels)):
            raise ValueError(f"a {len(labels)}-bus table needs a square matrix, got {matrix.shape}")
        self.labels = tuple(labels)
        self.values = matrix
        self.metric = metric
        self._index = {label: i for i, label in enumerate(self.labels)}
        self._groups = [self._group(i) for i in range(len(self.labels))]
        self._all = [tuple(range(len(self.labels) + 1))]  # one group: the taker's bus unknown
        # rank[i][j]: the place of j's group among i's groups (0: the nearest), so that the
        # scan's "nearest first" ties exactly where the groups do
        self._ranks = [self._rank_row(groups) for groups in (*self._groups, self._all)]

    @classmethod
    def from_matrix(cls, matrix: DistanceMatrix) -> BusDistances:
        """From the grid layer's distance matrix (bus ids as decimal labels)."""
        return cls([str(b) for b in matrix.buses], matrix.values, matrix.metric)

    def _group(self, i: int) -> list[tuple[int, ...]]:
        row = self.values[i]
        order = sorted(range(len(row)), key=lambda j: (row[j], j))
        groups: list[list[int]] = []
        last = -math.inf
        for j in order:
            if groups and row[j] - last <= 1e-9 * max(1.0, abs(row[j])):
                groups[-1].append(j)
            else:
                groups.append([j])
                last = row[j]
        groups.append([len(self.labels)])  # the unknown buses, after every known one
        return [tuple(g) for g in groups]

    def _rank_row(self, groups: list[tuple[int, ...]]) -> list[int]:
        row = [0] * (len(self.labels) + 1)
        for rank, group in enumerate(groups):
            for j in group:
                row[j] = rank
        return row

    def rank(self, position: int, other: int) -> int:
        """The place of ``other``'s distance group seen from ``position`` (0: the nearest group;
        an unknown ``position`` sees every bus in group 0, an unknown ``other`` is last)."""
        return self._ranks[position][other]

    def index(self, bus: str | None) -> int:
        """Position of ``bus``; ``len(labels)`` (the unknown place) when the table lacks it."""
        if bus is None:
            return len(self.labels)
        return self._index.get(bus, len(self.labels))

    def knows(self, bus: str | None) -> bool:
        return bus is not None and bus in self._index

    def groups(self, position: int) -> list[tuple[int, ...]]:
        """Positions (the unknown place included) by distance from ``position``, nearest first."""
        if position == len(self.labels):
            return self._all
        return self._groups[position]

    def between(self, a: str | None, b: str | None) -> float:
        """Distance between two labels; inf when either is unknown."""
        i, j = self.index(a), self.index(b)
        if i == len(self.labels) or j == len(self.labels):
            return math.inf
        return float(self.values[i, j])


MAX_FILLS_LIMIT = 2**31
"""Largest ``max_fills`` accepted (the contract's own bound is 32; off chain any count works)."""


@dataclass(frozen=True)
class SessionParameters:
    """The parameters of one ancillary-service session clear (see :data:`PARAMETER_DOCS`)."""

    pool: str = "up"
    strict: bool = True
    max_fills: int | None = None
    distance: str = "hops"

    @classmethod
    def from_params(
        cls, params: Mapping[str, Any], mechanism: str, *, extra: Sequence[str] = ()
    ) -> SessionParameters:
        """Read and check the shared parameters; ``extra`` names the mechanism's own others."""
        known = {"pool", "strict", "distance", *extra}
        if mechanism != "ocda":
            known.add("max_fills")
        unknown = sorted(set(params) - known)
        if unknown:
            raise OrderError(
                f"unknown parameter(s) {', '.join(unknown)} for {mechanism!r} "
                f"(known: {', '.join(sorted(known))})",
                field="params",
            )
        from peergrid.grid.distance import METRICS
        from peergrid.grid.service import check_pool

        pool = params.get("pool", "up")
        try:
            check_pool(pool if isinstance(pool, str) else repr(pool))
        except GridError as exc:
            raise OrderError(str(exc), field="pool") from None
        strict = params.get("strict", True)
        if not isinstance(strict, bool):
            raise OrderError(
                f"parameter 'strict' must be true or false, got {strict!r}", field="params"
            )
        max_fills = params.get("max_fills")
        if max_fills == "unlimited":
            max_fills = None
        if max_fills is not None and (
            not isinstance(max_fills, int)
            or isinstance(max_fills, bool)
            or not 0 <= max_fills <= MAX_FILLS_LIMIT
        ):
            raise OrderError(
                f"parameter 'max_fills' must be an integer from 0 to {MAX_FILLS_LIMIT} "
                f"or 'unlimited' (the default), got {max_fills!r}",
                field="params",
            )
        distance = params.get("distance", "hops")
        if distance not in METRICS:
            raise OrderError(
                f"parameter 'distance' must be one of {', '.join(METRICS)}, got {distance!r}",
                field="params",
            )
        return cls(pool=pool, strict=strict, max_fills=max_fills, distance=distance)


PARAMETER_DOCS: dict[str, tuple[str, float | str, str]] = {
    "pool": (
        "",
        "up",
        "the session's pool: up (AS+) or down (AS−); or the file's top-level 'pool'",
    ),
    "strict": (
        "",
        True,
        "an offer suits an ask only when strictly cheaper (false: also at the same price)",
    ),
    "max_fills": (
        "orders",
        "unlimited",
        "most resting orders one arriving order touches (the contract's rule: the rest of an "
        "order still crossing after that is cancelled)",
    ),
    "distance": (
        "",
        "hops",
        "NCDA's distance: hops (lines and transformers on the path, open switches respected), "
        "length (m) or impedance (ohm); equidistant offers: cheaper, then older",
    ),
}


@dataclass(frozen=True)
class FeederPaths:
    """The feeder's distance tables a session needs: metres, hops, and the session's metric."""

    feeder: str
    length: BusDistances
    hops: BusDistances
    metric: BusDistances

    @classmethod
    def of(cls, feeder: Feeder, metric: str) -> FeederPaths:
        from peergrid.grid.distance import distance_matrices

        matrices = distance_matrices(feeder, ("length", "hops", metric))  # type: ignore[arg-type]
        tables: dict[str, BusDistances] = {
            m: BusDistances.from_matrix(matrix) for m, matrix in matrices.items()
        }
        return cls(feeder.name, tables["length"], tables["hops"], tables[metric])


def check_orders(
    orders: Sequence[Order], paths: FeederPaths | None, mechanism: str, *, need_bus: bool
) -> None:
    """One session, and every bus a bus of the feeder (required when ``need_bus``)."""
    for order in orders:
        if order.slot != orders[0].slot:
            raise OrderError(
                f"is {order.slot}, but order {orders[0].id!r} has {orders[0].slot}: "
                "one order set is one session",
                order_id=order.id,
                field="slot",
            )
        if order.bus is None:
            if need_bus:
                raise OrderError(
                    f"is missing: {mechanism} places every order at a bus of the feeder",
                    order_id=order.id,
                    field="bus",
                )
        elif paths is not None and not paths.length.knows(order.bus):
            labels = paths.length.labels
            raise OrderError(
                f"{order.bus!r} is not a bus of feeder {paths.feeder!r} "
                f"(buses {labels[0]}..{labels[-1]})",
                order_id=order.id,
                field="bus",
            )


def service_clearing(
    mechanism: str,
    orders: Sequence[Order],
    fills: Sequence[Fill],
    cancellations: Sequence[Cancellation],
    session: SessionParameters,
    paths: FeederPaths | None,
    extra_info: Mapping[str, Any] | None = None,
) -> Clearing:
    """The clearing of one session from its fills (in the order they happened)."""
    from peergrid.grid.distance import UNITS

    slot = orders[0].slot if orders else 0
    traded = dict.fromkeys((o.id for o in orders), 0.0)
    trades: list[Trade] = []
    weighted: float | None = 0.0
    for fill in fills:
        traded[fill.buy_order] += fill.quantity
        traded[fill.sell_order] += fill.quantity
        path_m = hops = None
        if (
            paths is not None
            and paths.length.knows(fill.buy_bus)
            and paths.length.knows(fill.sell_bus)
        ):
            path_m = paths.length.between(fill.buy_bus, fill.sell_bus)
            hops = round(paths.hops.between(fill.buy_bus, fill.sell_bus))
            if weighted is not None:
                weighted += fill.quantity * paths.metric.between(fill.buy_bus, fill.sell_bus)
        else:
            weighted = None
        trades.append(
            Trade(
                buyer=fill.buyer,
                seller=fill.seller,
                quantity_kwh=fill.quantity,
                price=fill.price,
                slot=slot,
                buy_order=fill.buy_order,
                sell_order=fill.sell_order,
                path_m=path_m,
                hops=hops,
            )
        )
    left = {o.id: o.quantity_kwh - traded[o.id] for o in orders}
    info: dict[str, Any] = {
        "mechanism": mechanism,
        "pool": session.pool,
        "strict": session.strict,
        "distance_metric": session.distance if paths is not None else None,
        "distance_unit": UNITS[session.distance] if paths is not None else None,
        "weighted_distance": weighted if paths is not None else None,
        "traded_kwh": math.fsum(f.quantity for f in fills),
        "unsatisfied_kwh": {
            o.id: left[o.id] for o in orders if o.side is Side.BUY and left[o.id] > 0
        },
        "unsold_kwh": {o.id: left[o.id] for o in orders if o.side is Side.SELL and left[o.id] > 0},
        "cancelled": [
            {"order": c.order_id, "kwh": c.remaining, "reason": c.reason} for c in cancellations
        ],
        **(extra_info or {}),
    }
    return Clearing(trades=tuple(trades), price=None, allocations=traded, info=info)
