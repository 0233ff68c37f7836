"""A picture of a feeder and a one-screen summary of it.

``draw_feeder`` writes a PNG: buses where the net's geodata puts them (pandapower 3 keeps GeoJSON
strings in ``net.bus.geo``; line geometries in ``net.line.geo`` are drawn when present), or, when
any in-service bus lacks geodata, a tree layout computed here from the source bus: depth (in
branches) downwards, leaves side by side in depth-first order, each parent centred over its
children. Buses are coloured by voltage when ``vm_pu`` is given (with a colour bar); household
buses are ringed; the source bus is a square. Out-of-service lines and lines behind an open
switch are drawn dotted.

``feeder_summary`` counts what the feeder holds and runs one base-case AC power flow with the
feeder's own loads and generators (on a copy of the net) for its voltage range.
"""

from __future__ import annotations

import copy
import json
import math
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandapower as pp
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from peergrid.core.errors import GridError
from peergrid.grid.feeders import Feeder
from peergrid.grid.topology import is_radial, topology

XY = tuple[float, float]
_LABELLED_BUSES = 60  # bus ids are written next to the buses of feeders up to this size


def _coordinates(geo: object) -> Any:
    """The ``coordinates`` of a GeoJSON string, or None when absent or unreadable."""
    if not isinstance(geo, str):
        return None
    try:
        return json.loads(geo).get("coordinates")
    except (json.JSONDecodeError, AttributeError):
        return None


def _point(geo: object) -> XY | None:
    coords = _coordinates(geo)
    if not coords or len(coords) < 2:
        return None
    return float(coords[0]), float(coords[1])


def geodata_positions(feeder: Feeder) -> dict[int, XY] | None:
    """Bus positions from ``net.bus.geo``, or None when an in-service bus has none."""
    bus = feeder.net.bus
    if "geo" not in bus:
        return None
    positions = {}
    for b, geo, in_service in zip(bus.index, bus.geo, bus.in_service, strict=True):
        xy = _point(geo)
        if xy is None:
            if in_service:
                return None
            continue
        positions[int(b)] = xy
    return positions


def tree_layout(feeder: Feeder) -> dict[int, XY]:
    """Positions from the branch graph: y = depth below the source bus, leaves side by side.

    Each connected part is laid out from its lowest bus (the source bus for its own part) and
    placed right of the previous part; a meshed net is laid out along a spanning tree.
    """
    topo = topology(feeder)
    ids = [int(b) for b in topo.buses]
    adjacency: dict[int, list[int]] = {i: [] for i in range(len(ids))}
    for a, b in zip(topo.u.tolist(), topo.v.tolist(), strict=True):
        adjacency[a].append(b)
        adjacency[b].append(a)
    position = {b: i for i, b in enumerate(ids)}
    try:
        roots = [position[feeder.source_bus]]
    except (GridError, KeyError):
        roots = []
    roots += list(range(len(ids)))
    xy: dict[int, XY] = {}
    visited: set[int] = set()
    next_x = 0.0
    for root in roots:
        if root in visited:
            continue
        # Iterative DFS: children in bus order, post-order placement of parents.
        visited.add(root)
        children: dict[int, list[int]] = {}
        depth = {root: 0}
        stack = [root]
        order = []
        while stack:
            u = stack.pop()
            order.append(u)
            kids = sorted(v for v in adjacency[u] if v not in visited)
            for v in kids:
                visited.add(v)
                depth[v] = depth[u] + 1
            children[u] = kids
            stack.extend(reversed(kids))
        x: dict[int, float] = {}
        for u in order:  # preorder: leaves get consecutive x from left to right
            if not children[u]:
                x[u] = next_x
                next_x += 1.0
        for u in reversed(order):
            if children[u]:
                x[u] = 0.5 * (x[children[u][0]] + x[children[u][-1]])
        for u in order:
            xy[ids[u]] = (x[u], float(depth[u]))
        next_x += 1.0
    return xy


def _line_paths(
    feeder: Feeder, xy: Mapping[int, XY], use_geo: bool
) -> tuple[list[list[XY]], list[list[XY]], list[int]]:
    """Paths of the lines in service and of those out of service, and the ids of the first."""
    net = feeder.net
    sw = net.switch
    blocked = set()
    if len(sw):
        blocked = set(sw.element[(sw.et == "l") & ~sw.closed.astype(bool)].astype(int))
    live: list[list[XY]] = []
    dead: list[list[XY]] = []
    live_ids: list[int] = []
    geo = net.line.geo if (use_geo and "geo" in net.line) else None
    for i, f, t, ok in zip(
        net.line.index, net.line.from_bus, net.line.to_bus, net.line.in_service, strict=True
    ):
        if int(f) not in xy or int(t) not in xy:
            continue
        path: list[XY] = [xy[int(f)], xy[int(t)]]
        coords = _coordinates(geo.loc[i]) if geo is not None else None
        if coords and len(coords) >= 2:
            path = [(float(c[0]), float(c[1])) for c in coords]
        if ok and int(i) not in blocked:
            live.append(path)
            live_ids.append(int(i))
        else:
            dead.append(path)
    return live, dead, live_ids


def draw_feeder(
    feeder: Feeder,
    path: str | Path,
    vm_pu: Mapping[int, float] | None = None,
    *,
    title: str | None = None,
    line_loading_pct: Mapping[int, float] | None = None,
) -> Path:
    """Writes a PNG picture of ``feeder`` to ``path`` and returns the path.

    ``vm_pu`` maps bus id to voltage magnitude (p.u.), e.g. ``net.res_bus.vm_pu``; buses it
    does not cover are drawn grey. ``line_loading_pct`` maps line id to loading (%): lines are
    then coloured by it (see :func:`feeder_figure`).
    """
    fig = feeder_figure(feeder, vm_pu, title=title, line_loading_pct=line_loading_pct)
    out = Path(path)
    fig.savefig(out, format="png", bbox_inches="tight")
    return out


def feeder_figure(
    feeder: Feeder,
    vm_pu: Mapping[int, float] | None = None,
    *,
    title: str | None = None,
    line_loading_pct: Mapping[int, float] | None = None,
    figsize: tuple[float, float] = (10, 8),
) -> Figure:
    """The picture of :func:`draw_feeder` as a matplotlib figure (e.g. for a report): buses
    coloured by ``vm_pu``, and lines by ``line_loading_pct`` when given (0 % to the highest
    loading, at least 100 %, so that an overloaded line stands out)."""
    net = feeder.net
    geo_xy = geodata_positions(feeder)
    xy = geo_xy if geo_xy is not None else tree_layout(feeder)
    fig = Figure(figsize=figsize, dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()

    live, dead, live_ids = _line_paths(feeder, xy, use_geo=geo_xy is not None)
    if line_loading_pct is None:
        ax.add_collection(LineCollection(live, colors="0.35", linewidths=1.0, zorder=1))
    else:
        loading = np.array([float(line_loading_pct.get(i, math.nan)) for i in live_ids])
        top = max(100.0, float(np.nanmax(loading)) if np.isfinite(loading).any() else 100.0)
        lines = LineCollection(
            live, cmap="viridis", norm=Normalize(vmin=0.0, vmax=top), linewidths=2.0, zorder=1
        )
        lines.set_array(np.nan_to_num(loading, nan=0.0))
        ax.add_collection(lines)
        fig.colorbar(lines, ax=ax, label="line loading [%]", shrink=0.8)
    if dead:
        ax.add_collection(
            LineCollection(dead, colors="0.6", linewidths=0.8, linestyles="dotted", zorder=1)
        )
    trafos = [
        [xy[int(h)], xy[int(lo)]]
        for h, lo in zip(net.trafo.hv_bus, net.trafo.lv_bus, strict=True)
        if int(h) in xy and int(lo) in xy
    ]
    if trafos:
        ax.add_collection(
            LineCollection(trafos, colors="tab:orange", linewidths=2.0, linestyles="dashed")
        )
    switches = net.switch[net.switch.et == "b"] if len(net.switch) else net.switch
    for a, b, closed in zip(switches.bus, switches.element, switches.closed, strict=False):
        if int(a) in xy and int(b) in xy:
            ax.plot(
                [xy[int(a)][0], xy[int(b)][0]],
                [xy[int(a)][1], xy[int(b)][1]],
                color="0.35" if closed else "0.6",
                linestyle="solid" if closed else "dotted",
                linewidth=1.0,
                zorder=1,
            )

    buses = [b for b in xy]
    pts = np.array([xy[b] for b in buses])
    households = set(feeder.household_buses)
    size = 8.0 if len(buses) > 300 else 18.0
    if vm_pu is not None:
        values = np.array([float(vm_pu.get(b, math.nan)) for b in buses])
        known = np.isfinite(values)
        if not known.any():
            raise GridError("vm_pu covers none of the feeder's buses")
        lo, hi = float(values[known].min()), float(values[known].max())
        if lo == hi:  # a flat profile still gets a readable colour bar
            lo, hi = lo - 1e-3, hi + 1e-3
        norm = Normalize(vmin=lo, vmax=hi)
        ax.scatter(pts[~known, 0], pts[~known, 1], s=size, c="0.7", zorder=2)
        sc = ax.scatter(
            pts[known, 0],
            pts[known, 1],
            s=size,
            c=values[known],
            cmap="coolwarm_r",
            norm=norm,
            zorder=3,
        )
        fig.colorbar(sc, ax=ax, label="voltage [p.u.]", shrink=0.8)
    else:
        ax.scatter(pts[:, 0], pts[:, 1], s=size, c="tab:blue", zorder=2)
    hh = np.array([xy[b] for b in buses if b in households]).reshape(-1, 2)
    ax.scatter(
        hh[:, 0],
        hh[:, 1],
        s=size * 3,
        facecolors="none",
        edgecolors="black",
        linewidths=0.8,
        zorder=4,
    )
    try:
        source = feeder.source_bus
    except GridError:
        source = None
    if source is not None and source in xy:
        sx, sy = xy[source]
        ax.scatter([sx], [sy], s=size * 5, marker="s", c="tab:orange", edgecolors="black", zorder=5)

    if len(buses) <= _LABELLED_BUSES:
        for b in buses:
            ax.annotate(str(b), xy[b], xytext=(3, 3), textcoords="offset points", fontsize=7)

    legend = [
        Line2D([], [], marker="o", linestyle="", markerfacecolor="none", markeredgecolor="black",
               label=f"household bus ({len(households)})"),
        Line2D([], [], marker="s", linestyle="", color="tab:orange", markeredgecolor="black",
               label="source (external grid)"),
        Line2D([], [], color="tab:orange", linestyle="dashed", label="transformer"),
    ]  # fmt: skip
    ax.legend(handles=legend, loc="best", fontsize="small")
    ax.set_title(title or f"{feeder.name}: {len(net.bus)} buses, {len(net.line)} lines")
    ax.autoscale()
    ax.margins(0.03)
    if geo_xy is not None:
        ax.set_aspect("equal", adjustable="datalim")
    else:
        ax.invert_yaxis()
        ax.set_ylabel("depth [branches from the source]")
        ax.set_xticks([])
    return fig


def base_case_power_flow(feeder: Feeder) -> pp.pandapowerNet | None:
    """A solved copy of the feeder's net with its own loads and generators, or None."""
    base = copy.deepcopy(feeder.net)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pp.runpp(base, numba=False)
    except pp.LoadflowNotConverged:
        return None
    return base


def feeder_summary(feeder: Feeder, base: pp.pandapowerNet | None = None) -> dict[str, Any]:
    """Counts, total line length, radiality and a base-case power flow of the feeder.

    The power flow runs on a copy of the net with the feeder's own loads and generators (or is
    ``base``, already solved by :func:`base_case_power_flow`); voltages are None when it does
    not converge.
    """
    net = feeder.net
    line = net.line[net.line.in_service.astype(bool)]
    summary: dict[str, Any] = {
        "name": feeder.name,
        "buses": int(net.bus.in_service.astype(bool).sum()),
        "lines": len(line),
        "transformers": int(net.trafo.in_service.astype(bool).sum()),
        "total_line_length_m": float(line.length_km.sum() * 1000.0),
        "households": len(feeder.household_buses),
        "vn_kv": float(feeder.vn_kv),
        "radial": is_radial(feeder),
        "converged": False,
        "v_min_pu": None,
        "v_max_pu": None,
        "max_line_loading_pct": None,
    }
    base = base if base is not None else base_case_power_flow(feeder)
    if base is None:
        return summary
    vm = base.res_bus.vm_pu.dropna()
    summary.update(
        converged=True,
        v_min_pu=float(vm.min()),
        v_max_pu=float(vm.max()),
        max_line_loading_pct=float(base.res_line.loading_percent.max()) if len(line) else 0.0,
    )
    return summary
