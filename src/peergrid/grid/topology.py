"""The topology of a feeder: its effective branches, and whether they form one radial tree.

The effective branches are the in-service lines, two-winding transformers and closed bus-bus
switches between in-service buses. A line or transformer with an open switch at either end does
not connect its buses (as pandapower's ``create_nxgraph(respect_switches=True)``). Other branch
types in service (three-winding transformers, impedances, DC lines, TCSCs) are refused.

Each branch carries the weights distances are measured in (:mod:`peergrid.grid.distance`): its
length in metres (transformers and bus-bus switches 0), its hop count (lines and transformers 1,
a closed bus-bus switch 0: it joins two buses into one node) and its series resistance and
reactance in ohm, referred to the network's lowest nominal voltage (the prosumers' level) by
(v_ref / vn_kv)². A transformer contributes its short-circuit impedance (vk_percent,
vkr_percent on sn_mva, nominal ratio, taps ignored), a closed bus-bus switch its z_ohm as a
resistance.

A meshed or disconnected network is refused by :func:`check_radial` with a ``GridError`` that
names the branch closing a loop or the buses cut off; :func:`is_radial` only answers yes or no.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandapower as pp
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from peergrid.core.errors import GridError
from peergrid.grid.feeder_types import Feeder

# Branch tables that would connect buses but that this module does not model.
_UNSUPPORTED = ("trafo3w", "impedance", "dcline", "tcsc")


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
