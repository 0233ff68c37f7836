"""Series contraction of a radial LV tree onto a subset of its buses.

Each kept bus but the root is joined to its nearest kept ancestor by one equivalent line: the
series path between them, with length, series resistance and reactance (and their
zero-sequence counterparts) summed, shunt capacitance totalled and ampacity the path's
smallest. Used to build the DPDA thesis's reduced IEEE EU LV tree (003_dpda.md §3.11).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandapower as pp

from peergrid.core.errors import GridError


@dataclass(frozen=True)
class Contracted:
    """One edge of the reduced tree: the series path between two kept IEEE nodes."""

    parent: int  # vertex numbers
    child: int
    length_km: float
    r_ohm: float
    x_ohm: float
    c_nf: float
    r0_ohm: float
    x0_ohm: float
    c0_nf: float
    max_i_ka: float
    path_nodes: tuple[int, ...]  # IEEE nodes from parent to child


_SERIES = ("r_ohm_per_km", "x_ohm_per_km", "r0_ohm_per_km", "x0_ohm_per_km")
_SHUNT = ("c_nf_per_km", "c0_nf_per_km")


def _column(table: Any, col: str) -> np.ndarray:
    """A numeric column of a pandapower table as floats, 0 where absent or NaN."""
    if col not in table:
        return np.zeros(len(table))
    return np.nan_to_num(table[col].to_numpy(dtype=float))


def contract_tree(net: pp.pandapowerNet, root: int, kept: Sequence[int]) -> list[Contracted]:
    """Contracts the radial LV tree of ``net`` onto the ``kept`` buses (``kept[0] == root``).

    Each kept bus but the root is joined to its nearest kept ancestor by one edge whose length,
    series resistance and reactance (and the zero-sequence ones) are the sums along the path,
    whose shunt capacitance is the path's total and whose ampacity is the path's smallest.
    Branches that lead to no kept bus are dropped. The paths must not share a line (every
    branching point is kept), otherwise the contraction would not be a series reduction.
    """
    line = net.line[net.line.in_service.astype(bool)]
    adjacency: dict[int, list[tuple[int, int]]] = {}
    for idx, f, t in zip(line.index, line.from_bus, line.to_bus, strict=True):
        adjacency.setdefault(int(f), []).append((int(t), int(idx)))
        adjacency.setdefault(int(t), []).append((int(f), int(idx)))
    parent: dict[int, tuple[int, int]] = {}
    queue, seen = deque([root]), {root}
    while queue:
        u = queue.popleft()
        for v, idx in adjacency.get(u, []):
            if v not in seen:
                seen.add(v)
                parent[v] = (u, idx)
                queue.append(v)
    vertex = {node: k for k, node in enumerate(kept)}
    used: set[int] = set()
    edges = []
    for node in kept[1:]:
        if node not in parent:
            raise GridError(f"IEEE node {node} is not connected to node {root}")
        path, lines, u = [node], [], node
        while True:
            up, idx = parent[u]
            lines.append(idx)
            path.append(up)
            u = up
            if u in vertex:
                break
        overlap = used.intersection(lines)
        if overlap:
            raise GridError(f"reduced tree: lines {sorted(overlap)[:3]} lie on two edges")
        used.update(lines)
        seg = line.loc[lines]
        length = seg.length_km.to_numpy(dtype=float)
        par = seg.parallel.to_numpy(dtype=float)
        series = {c: float(np.sum(_column(seg, c) * length / par)) for c in _SERIES}
        shunt = {c: float(np.sum(_column(seg, c) * length * par)) for c in _SHUNT}
        edges.append(
            Contracted(
                parent=vertex[u],
                child=vertex[node],
                length_km=float(length.sum()),
                r_ohm=series["r_ohm_per_km"],
                x_ohm=series["x_ohm_per_km"],
                c_nf=shunt["c_nf_per_km"],
                r0_ohm=series["r0_ohm_per_km"],
                x0_ohm=series["x0_ohm_per_km"],
                c0_nf=shunt["c0_nf_per_km"],
                max_i_ka=float((seg.max_i_ka * seg.parallel).min()),
                path_nodes=tuple(reversed(path)),
            )
        )
    return edges
