"""All-pairs distances along a radial feeder, cached per topology.

The distance between two buses is measured along the unique path of the radial tree that the
in-service branches form: lines, two-winding transformers and closed bus-bus switches. A line or
transformer with an open switch at either end does not connect its buses (as pandapower's
``create_nxgraph(respect_switches=True)``).

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

import hashlib
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt
import pandapower as pp
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, depth_first_order

from peergrid.core.errors import GridError
from peergrid.grid.feeders import Feeder

Metric = Literal["length", "hops", "impedance"]
METRICS: tuple[str, ...] = get_args(Metric)
UNITS: dict[str, str] = {"length": "m", "hops": "lines", "impedance": "ohm"}

# Branch tables that would connect buses but that this module does not model.
_UNSUPPORTED = ("trafo3w", "impedance", "dcline", "tcsc")


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


@dataclass(frozen=True, eq=False)
class Topology:
    """The effective branches of a network: what the distances depend on, and nothing else."""

    buses: npt.NDArray[np.int64]  # in-service bus ids, ascending
    u: npt.NDArray[np.intp]  # endpoints as positions in ``buses``
    v: npt.NDArray[np.intp]
    labels: tuple[str, ...]  # "line 3 (bus 1 - bus 2)" for messages
    length_m: npt.NDArray[np.float64]
    hops: npt.NDArray[np.float64]
    r_ohm: npt.NDArray[np.float64]  # referred to reference_kv
    x_ohm: npt.NDArray[np.float64]
    reference_kv: float

    @property
    def fingerprint(self) -> str:
        """A hash of the bus set, every branch's endpoints and its length and impedance."""
        h = hashlib.blake2b(digest_size=16)
        for a in (self.buses, self.u, self.v, self.length_m, self.hops, self.r_ohm, self.x_ohm):
            h.update(np.ascontiguousarray(a).tobytes())
            h.update(b"|")
        h.update(repr(self.reference_kv).encode())
        return h.hexdigest()


def _net(net_or_feeder: pp.pandapowerNet | Feeder) -> pp.pandapowerNet:
    return net_or_feeder.net if isinstance(net_or_feeder, Feeder) else net_or_feeder


def _floats(table: Any, col: str, default: float = 0.0) -> npt.NDArray[np.float64]:
    if col not in table:
        return np.full(len(table), default)
    return np.nan_to_num(table[col].to_numpy(dtype=float), nan=default)


def topology(net_or_feeder: pp.pandapowerNet | Feeder) -> Topology:
    """The in-service branches of the net with their endpoints and weights."""
    net = _net(net_or_feeder)
    for table in _UNSUPPORTED:
        if table in net and len(net[table]) and net[table].in_service.astype(bool).any():
            raise GridError(f"distances do not support in-service {table} elements")
    bus = net.bus[net.bus.in_service.astype(bool)].sort_index()
    ids = bus.index.to_numpy(dtype=np.int64)
    if len(ids) == 0:
        raise GridError("the network has no in-service bus")
    vn_kv = bus.vn_kv.to_numpy(dtype=float)
    v_ref_kv = float(vn_kv.min())
    pos_of = bus.index

    sw = net.switch
    open_sw = sw[~sw.closed.astype(bool)] if len(sw) else sw

    def blocked(et: str) -> set[int]:
        return set(open_sw.element[open_sw.et == et].astype(int)) if len(open_sw) else set()

    def endpoints(table: Any, a: str, b: str) -> tuple[Any, npt.NDArray[Any], npt.NDArray[Any]]:
        pa, pb = pos_of.get_indexer(table[a]), pos_of.get_indexer(table[b])
        keep = (pa >= 0) & (pb >= 0)
        return table[keep], pa[keep], pb[keep]

    parts_u, parts_v, labels = [], [], []
    lengths, hops, rs, xs = [], [], [], []

    line = net.line[net.line.in_service.astype(bool)]
    line = line[~line.index.isin(blocked("l"))]
    line, lu, lv = endpoints(line, "from_bus", "to_bus")
    length_km = _floats(line, "length_km")
    par = _floats(line, "parallel", 1.0)
    scale = (v_ref_kv / vn_kv[lu]) ** 2
    parts_u.append(lu)
    parts_v.append(lv)
    lengths.append(length_km * 1000.0)
    hops.append(np.ones(len(line)))
    rs.append(_floats(line, "r_ohm_per_km") * length_km / par * scale)
    xs.append(_floats(line, "x_ohm_per_km") * length_km / par * scale)
    labels += [
        f"line {i} (bus {f} - bus {t})"
        for i, f, t in zip(line.index, line.from_bus, line.to_bus, strict=True)
    ]

    trafo = net.trafo[net.trafo.in_service.astype(bool)]
    trafo = trafo[~trafo.index.isin(blocked("t"))]
    trafo, tu, tv = endpoints(trafo, "hv_bus", "lv_bus")
    sn = _floats(trafo, "sn_mva", 1.0)
    tpar = _floats(trafo, "parallel", 1.0)
    base_ohm = _floats(trafo, "vn_lv_kv") ** 2 / sn / tpar
    z = _floats(trafo, "vk_percent") / 100.0 * base_ohm
    r = _floats(trafo, "vkr_percent") / 100.0 * base_ohm
    tscale = (v_ref_kv / vn_kv[tv]) ** 2  # ohms on the LV side, then to the reference level
    parts_u.append(tu)
    parts_v.append(tv)
    lengths.append(np.zeros(len(trafo)))
    hops.append(np.ones(len(trafo)))
    rs.append(r * tscale)
    xs.append(np.sqrt(np.maximum(z**2 - r**2, 0.0)) * tscale)
    labels += [
        f"trafo {i} (bus {h} - bus {lo})"
        for i, h, lo in zip(trafo.index, trafo.hv_bus, trafo.lv_bus, strict=True)
    ]

    if len(sw):
        bb = sw[(sw.et == "b") & sw.closed.astype(bool)]
        bb, su, sv = endpoints(bb, "bus", "element")
        parts_u.append(su)
        parts_v.append(sv)
        lengths.append(np.zeros(len(bb)))
        hops.append(np.zeros(len(bb)))
        rs.append(_floats(bb, "z_ohm") * (v_ref_kv / vn_kv[su]) ** 2)
        xs.append(np.zeros(len(bb)))
        labels += [
            f"switch {i} (bus {a} - bus {b})"
            for i, a, b in zip(bb.index, bb.bus, bb.element, strict=True)
        ]

    return Topology(
        buses=ids,
        u=np.concatenate(parts_u).astype(np.intp),
        v=np.concatenate(parts_v).astype(np.intp),
        labels=tuple(labels),
        length_m=np.concatenate(lengths),
        hops=np.concatenate(hops),
        r_ohm=np.concatenate(rs),
        x_ohm=np.concatenate(xs),
        reference_kv=v_ref_kv,
    )


def _first_loop(topo: Topology) -> str:
    """The first branch (in table order) that closes a loop, and the buses of that loop."""
    parent = list(range(len(topo.buses)))
    tree: dict[int, list[int]] = {}

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b, label in zip(topo.u.tolist(), topo.v.tolist(), topo.labels, strict=True):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
            tree.setdefault(a, []).append(b)
            tree.setdefault(b, []).append(a)
            continue
        # the loop: the branch itself plus the path from b back to a through the accepted ones
        came_from = {a: a}
        queue = deque([a])
        while queue and b not in came_from:
            u = queue.popleft()
            for w in tree.get(u, []):
                if w not in came_from:
                    came_from[w] = u
                    queue.append(w)
        loop, u = [b], b
        while u != a:
            u = came_from[u]
            loop.append(u)
        buses = ", ".join(str(int(topo.buses[i])) for i in loop)
        return f"{label} closes the loop through buses {buses}"
    raise AssertionError("no loop found in a network with too many branches")


def check_radial(net_or_feeder: pp.pandapowerNet | Feeder) -> Topology:
    """The topology of a connected radial network; ``GridError`` naming the fault otherwise."""
    topo = topology(net_or_feeder)
    n = len(topo.buses)
    graph = coo_matrix((np.ones(len(topo.u)), (topo.u, topo.v)), shape=(n, n))
    n_parts, part = connected_components(graph, directed=False)
    problems = []
    if len(topo.u) > n - n_parts:
        problems.append(
            f"the network is meshed ({len(topo.u)} branches for {n} buses in {n_parts} "
            f"part(s)); {_first_loop(topo)}"
        )
    if n_parts > 1:
        main = np.bincount(part).argmax()
        cut = topo.buses[part != main]
        shown = ", ".join(str(int(b)) for b in cut[:8]) + (", ..." if len(cut) > 8 else "")
        problems.append(
            f"the network is disconnected ({n_parts} parts); {len(cut)} bus(es) are cut off "
            f"from bus {int(topo.buses[part == main][0])}: {shown}"
        )
    if problems:
        raise GridError("; ".join(problems) + " - tree distances need a radial network")
    return topo


def is_radial(net_or_feeder: pp.pandapowerNet | Feeder) -> bool:
    """True when the in-service branches form one tree over the in-service buses."""
    try:
        check_radial(net_or_feeder)
    except GridError:
        return False
    return True


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
        if metric not in METRICS:
            raise GridError(f"unknown distance metric {metric!r} (known: {', '.join(METRICS)})")
        topo = check_radial(net_or_feeder)
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
