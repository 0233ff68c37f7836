"""All-pairs distances along a radial feeder, cached per topology.

The distance between two buses is measured along the unique path of the radial tree that the
effective branches form (:mod:`peergrid.grid.topology`: lines, two-winding transformers and
closed bus-bus switches, open switches respected).

Metrics (``Metric``):

- ``length``: metres, the sum of the line lengths on the path. Transformers and bus-bus switches
  have zero length.
- ``hops``: the number of lines and transformers on the path (the VDMA worked example counts the
  transformer edges as hops, 004_vdma.md §6 B). A closed bus-bus switch joins two buses into one
  node and counts 0.
- ``impedance``: ohm, |ΣZ|, the magnitude of the path's total series impedance
  (√((ΣR)² + (ΣX)²)), every branch referred to the network's lowest nominal voltage (the
  prosumers' level) by (v_ref / vn_kv)². A transformer contributes its short-circuit impedance
  (vk_percent, vkr_percent on sn_mva, nominal ratio, taps ignored), a closed bus-bus switch its
  z_ohm as a resistance. |ΣZ| is the impedance the voltage drop of a transfer between the two
  buses sees; it is not additive across branches with different R/X, so the tree property
  d(a,c) = d(a,b) + d(b,c) holds for ``length`` and ``hops`` only.

A meshed or disconnected network is refused with a ``GridError`` that names the branch closing a
loop or the buses cut off. Out-of-service buses are left out of the matrix.

The matrix is computed once per topology: ``DistanceCache`` keys it by a fingerprint of the
effective branch list (endpoints, lengths, impedances), so changing a load or a generator reuses
it, while taking a line out of service or switching one recomputes it. The computation roots the
tree, orders the buses depth first and fills the rows of a parent and its child in one vector
operation each: d(child, ·) = d(parent, ·) + w, minus 2w inside the child's subtree.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt
import pandapower as pp
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import depth_first_order

from peergrid.core.errors import GridError
from peergrid.grid.feeder_types import Feeder
from peergrid.grid.topology import Topology, check_radial

Metric = Literal["length", "hops", "impedance"]
METRICS: tuple[str, ...] = get_args(Metric)
UNITS: dict[str, str] = {"length": "m", "hops": "lines", "impedance": "ohm"}


@dataclass(frozen=True, eq=False)
class DistanceMatrix:
    """Distances between every pair of ``buses`` (pandapower bus ids), in ``unit``.

    ``values[i, j]`` is the distance between ``buses[i]`` and ``buses[j]``; the array is
    read-only because cached matrices are shared between callers.
    """

    buses: tuple[int, ...]
    values: npt.NDArray[np.float64]
    metric: str
    unit: str
    reference_kv: float | None = None  # impedance metric: the voltage ohms are referred to
    _position: dict[int, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_position", {b: i for i, b in enumerate(self.buses)})

    def index(self, bus: int) -> int:
        """Row of ``bus`` in ``values``."""
        try:
            return self._position[int(bus)]
        except KeyError:
            raise GridError(f"bus {bus} is not an in-service bus of the network") from None

    def between(self, a: int, b: int) -> float:
        """Distance between buses ``a`` and ``b``."""
        return float(self.values[self.index(a), self.index(b)])

    def within(self, bus: int, radius: float, among: Iterable[int] | None = None) -> list[int]:
        """Buses (of ``among``, default all) other than ``bus`` at most ``radius`` away, sorted."""
        row = self.values[self.index(bus)]
        candidates = self.buses if among is None else among
        return sorted(
            int(b) for b in candidates if b != bus and row[self.index(b)] <= radius + 1e-9
        )

    def knows(self, bus: str | int) -> bool:
        """Whether ``bus`` (a bus id, or its decimal string as orders carry it) is in the matrix."""
        try:
            return int(bus) in self._position
        except (TypeError, ValueError):
            return False

    def submatrix(
        self, rows: Sequence[str | int], cols: Sequence[str | int]
    ) -> npt.NDArray[np.float64]:
        """Distances from each of ``rows`` to each of ``cols`` (a new, writable array)."""
        r = np.array([self.index(int(b)) for b in rows], dtype=np.intp)
        c = np.array([self.index(int(b)) for b in cols], dtype=np.intp)
        result: npt.NDArray[np.float64] = self.values[np.ix_(r, c)].copy()
        return result

    def restrict(self, buses: Sequence[int]) -> DistanceMatrix:
        """The matrix between ``buses`` only, in that order."""
        rows = np.array([self.index(b) for b in buses], dtype=np.intp)
        values = self.values[np.ix_(rows, rows)]
        values.flags.writeable = False
        return DistanceMatrix(
            tuple(int(b) for b in buses), values, self.metric, self.unit, self.reference_kv
        )

    def to_json(self) -> dict[str, Any]:
        """``{"metric", "unit", "buses", "matrix"}`` (plus ``reference_kv`` for impedance)."""
        matrix: list[list[Any]]
        if self.metric == "hops":
            matrix = np.rint(self.values).astype(int).tolist()
        else:
            matrix = self.values.tolist()
        out: dict[str, Any] = {
            "metric": self.metric,
            "unit": self.unit,
            "buses": list(self.buses),
            "matrix": matrix,
        }
        if self.reference_kv is not None:
            out["reference_kv"] = self.reference_kv
        return out


def _tree_distances(topo: Topology, weights: Sequence[npt.NDArray[np.float64]]) -> list[Any]:
    """All-pairs path sums of each edge weight vector on the tree ``topo``.

    Buses are put in depth-first preorder from position 0, so that every subtree is a contiguous
    block; row ``child`` = row ``parent`` + w, minus 2w over the child's own subtree.
    """
    n = len(topo.buses)
    edge_id = coo_matrix(
        (np.arange(1, len(topo.u) + 1, dtype=np.float64), (topo.u, topo.v)), shape=(n, n)
    ).tocsr()
    sym = (edge_id + edge_id.T).tocsr()
    order, pred = depth_first_order(sym, 0, directed=False, return_predecessors=True)
    rank = np.empty(n, dtype=np.intp)
    rank[order] = np.arange(n)
    children = order[1:]
    parents = pred[children]
    eid = np.asarray(sym[parents, children]).ravel().astype(np.intp) - 1
    size = np.ones(n, dtype=np.intp)
    for c, p in zip(children[::-1].tolist(), parents[::-1].tolist(), strict=True):
        size[p] += size[c]
    parent_rank = rank[parents]
    child_rank = rank[children]
    child_end = child_rank + size[children]
    k = len(weights)
    we = np.stack([w[eid] for w in weights], axis=1)  # (n - 1, k): weight of each child's edge
    depth = np.zeros((n, k))  # distance from the root, in preorder
    for r_c, r_p, wc in zip(child_rank.tolist(), parent_rank.tolist(), we, strict=True):
        depth[r_c] = depth[r_p] + wc
    d = np.empty((n, k, n))  # d[i, m, j]: metric m between preorder buses i and j
    d[0] = depth.T
    for r_c, r_p, end, wc in zip(
        child_rank.tolist(), parent_rank.tolist(), child_end.tolist(), we[:, :, None], strict=True
    ):
        row = d[r_c]
        np.add(d[r_p], wc, out=row)
        row[:, r_c:end] -= 2.0 * wc
    out = []
    for m in range(k):
        full = d[:, m, :][np.ix_(rank, rank)]  # back from preorder to bus order
        np.maximum(full, 0.0, out=full)  # rounding in the subtraction never goes below zero
        np.fill_diagonal(full, 0.0)
        out.append(full)
    return out


def compute_distance_matrix(topo: Topology, metric: Metric) -> DistanceMatrix:
    """The all-pairs matrix of ``metric`` on a radial topology (no caching)."""
    if metric == "length":
        (values,) = _tree_distances(topo, [topo.length_m])
    elif metric == "hops":
        (values,) = _tree_distances(topo, [topo.hops])
    elif metric == "impedance":
        r, x = _tree_distances(topo, [topo.r_ohm, topo.x_ohm])
        values = np.hypot(r, x)
    else:
        raise GridError(f"unknown distance metric {metric!r} (known: {', '.join(METRICS)})")
    values = 0.5 * (values + values.T)  # exact symmetry
    values.flags.writeable = False
    return DistanceMatrix(
        buses=tuple(int(b) for b in topo.buses),
        values=values,
        metric=metric,
        unit=UNITS[metric],
        reference_kv=topo.reference_kv if metric == "impedance" else None,
    )


class DistanceCache:
    """Distance matrices by (topology fingerprint, metric), least recently used dropped first."""

    def __init__(self, maxsize: int = 32) -> None:
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0  # computations
        self._store: OrderedDict[tuple[str, str], DistanceMatrix] = OrderedDict()

    def get(self, net_or_feeder: pp.pandapowerNet | Feeder, metric: Metric) -> DistanceMatrix:
        """The matrix for the net's current topology, computed only if not already cached."""
        return self.get_many(net_or_feeder, (metric,))[metric]

    def get_many(
        self, net_or_feeder: pp.pandapowerNet | Feeder, metrics: Iterable[Metric]
    ) -> dict[Metric, DistanceMatrix]:
        """The matrices of several metrics, reading the net's topology once."""
        wanted = list(dict.fromkeys(metrics))
        for metric in wanted:
            if metric not in METRICS:
                raise GridError(f"unknown distance metric {metric!r} (known: {', '.join(METRICS)})")
        topo = check_radial(net_or_feeder)
        return {metric: self._lookup(topo, metric) for metric in wanted}

    def _lookup(self, topo: Topology, metric: Metric) -> DistanceMatrix:
        key = (topo.fingerprint, metric)
        found = self._store.get(key)
        if found is not None:
            self.hits += 1
            self._store.move_to_end(key)
            return found
        self.misses += 1
        matrix = compute_distance_matrix(topo, metric)
        self._store[key] = matrix
        if len(self._store) > self.maxsize:
            self._store.popitem(last=False)
        return matrix

    def clear(self) -> None:
        """Forgets every matrix and resets the counters."""
        self._store.clear()
        self.hits = self.misses = 0


_DEFAULT_CACHE = DistanceCache()


def distance_matrix(
    net_or_feeder: pp.pandapowerNet | Feeder,
    metric: Metric = "length",
    *,
    cache: DistanceCache | None = None,
) -> DistanceMatrix:
    """All-pairs distances between the in-service buses of a radial network.

    Raises ``GridError`` for a meshed or disconnected network or an unknown metric. The result
    is cached by topology (``cache``, default a module-wide ``DistanceCache``).
    """
    return (cache or _DEFAULT_CACHE).get(net_or_feeder, metric)


def distance_matrices(
    net_or_feeder: pp.pandapowerNet | Feeder,
    metrics: Iterable[Metric],
    *,
    cache: DistanceCache | None = None,
) -> dict[Metric, DistanceMatrix]:
    """:func:`distance_matrix` for several metrics at once (the topology is read once)."""
    return (cache or _DEFAULT_CACHE).get_many(net_or_feeder, metrics)
