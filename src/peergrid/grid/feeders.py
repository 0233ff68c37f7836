"""The feeder catalogue: constructors that return a pandapower net with peergrid's metadata.

Every feeder has a stable name (``list_feeders()`` prints them), a pandapower net, the buses
where households are placed by default (``household_buses``), the nominal voltage of that level
(``vn_kv``) and the limits a schedule is checked against. Any bus of the feeder may host a
prosumer; ``household_buses`` is only the default placement.

The rule for ``household_buses`` is the same for every feeder unless its constructor says
otherwise: the in-service buses at the lowest nominal voltage of the net that carry at least one
in-service load, each bus once, in the order of the net's load table (its own numbering of the
customers). Limits default to ±10 % voltage and 100 % line and transformer loading.

Feeders:

- ``ieee-eu-lv``: the IEEE European LV test feeder as pandapower ships it (906 LV buses behind
  an 800 kVA 11/0.416 kV transformer, 55 customer connections). pandapower models the
  customers as single-phase asymmetric loads for a three-phase power flow; peergrid's market
  studies use the balanced (positive-sequence) model the thesis assumes (003_dpda.md §1.1), so
  each customer becomes an ordinary load (p = q = 0) at its connection bus, named LOAD1..LOAD55.
- ``ieee-eu-lv-reduced``: the thesis's reduced tree of that feeder (003_dpda.md §3.11), bus id =
  thesis vertex number 0..116, the 11 kV source bus as id 117.
- ``cigre-mv-vdma``: the CIGRE MV benchmark with the VDMA paper's loads and generators
  (004_vdma.md §3.1, Table 1) and switches S1–S3 open.
- ``cigre-lv``, ``kerber-dorfnetz``, ``case33bw``: pandapower's constructors as they are.
- ``simbench:<code>``: any SimBench LV grid, e.g. ``simbench:1-LV-rural1--0-sw``.
"""

from __future__ import annotations

import copy
import json
import logging
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, NamedTuple

import numpy as np
import pandapower as pp

from peergrid.core.errors import GridError

log = logging.getLogger(__name__)

SIMBENCH_PREFIX = "simbench:"
SIMBENCH_EXAMPLE = "1-LV-rural1--0-sw"


@dataclass(frozen=True)
class GridLimits:
    """Operating limits a schedule is checked against."""

    v_min_pu: float = 0.90
    v_max_pu: float = 1.10
    max_line_loading_pct: float = 100.0
    max_trafo_loading_pct: float = 100.0


@dataclass
class Feeder:
    """A pandapower net plus what peergrid needs to know about it."""

    name: str
    net: pp.pandapowerNet
    household_buses: list[int]  # default connection buses of prosumers, in feeder order
    vn_kv: float  # nominal voltage of the prosumers' level
    limits: GridLimits = field(default_factory=GridLimits)
    description: str = ""

    @property
    def buses(self) -> list[int]:
        """Every bus id of the net (any of them may host a prosumer)."""
        return [int(b) for b in self.net.bus.index]

    @property
    def source_bus(self) -> int:
        """The bus of the first in-service external grid (the root of the radial tree)."""
        grids = self.net.ext_grid[self.net.ext_grid.in_service.astype(bool)]
        if len(grids) == 0:
            raise GridError(f"feeder {self.name!r} has no in-service external grid")
        return int(grids.bus.iloc[0])


class FeederInfo(NamedTuple):
    """One catalogue entry as ``list_feeders()`` reports it."""

    name: str
    description: str


# --------------------------------------------------------------------------------------------
# Shared rules


def lowest_level_load_buses(net: pp.pandapowerNet) -> list[int]:
    """Buses at the net's lowest nominal voltage with an in-service load, once each, load order.

    This is the default ``household_buses`` rule: customers sit at the lowest voltage level,
    and the load table is the constructor's own numbering of them.
    """
    bus = net.bus[net.bus.in_service.astype(bool)]
    if len(bus) == 0:
        raise GridError("the net has no in-service bus")
    vn_min_kv = float(bus.vn_kv.min())
    low = set(bus.index[np.isclose(bus.vn_kv.to_numpy(dtype=float), vn_min_kv)].tolist())
    seen: dict[int, None] = {}
    for b in net.load.bus[net.load.in_service.astype(bool)]:
        if int(b) in low:
            seen.setdefault(int(b), None)
    return list(seen)


def _level_kv(net: pp.pandapowerNet, buses: Sequence[int]) -> float:
    if not buses:
        raise GridError("the net has no load at its lowest voltage level")
    return float(net.bus.vn_kv.loc[buses[0]])


def _quietly(build: Callable[[], Any]) -> Any:
    """Runs a third-party network constructor with its warnings silenced (they are noise)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build()


# One line per catalogue name: what list_feeders() prints and Feeder.description holds.
_DESCRIPTIONS: dict[str, str] = {
    "ieee-eu-lv": "IEEE European LV test feeder, 907 buses, 55 customers, balanced model",
    "ieee-eu-lv-reduced": (
        "the thesis's reduced IEEE EU LV tree: bus id = vertex 0..116 (003 §3.11), 55 customers"
    ),
    "cigre-mv-vdma": "CIGRE MV, S1-S3 open, loads and generators of the VDMA paper's Table 1",
    "cigre-lv": "CIGRE LV benchmark, 44 buses, 15 load buses at 0.4 kV",
    "kerber-dorfnetz": "Kerber Dorfnetz village LV grid, 116 buses, 57 households",
    "case33bw": "Baran & Wu 33-bus distribution system, 12.66 kV, 32 loads",
}


# --------------------------------------------------------------------------------------------
# IEEE European LV test feeder, full and reduced


def _ieee_eu_lv() -> Feeder:
    import pandapower.networks as pn

    net = _quietly(lambda: pn.ieee_european_lv_asymmetric("off_peak_1"))
    asym = net.asymmetric_load
    buses = [int(b) for b in asym.bus]
    names = list(asym.name)
    # The balanced model keeps each customer's off-peak demand (sum of its phases) as the base
    # case; simulations replace these loads with their own.
    p_mw = (asym.p_a_mw + asym.p_b_mw + asym.p_c_mw).to_list()
    q_mvar = (asym.q_a_mvar + asym.q_b_mvar + asym.q_c_mvar).to_list()
    net.asymmetric_load = asym.iloc[0:0]
    for bus, name, p, q in zip(buses, names, p_mw, q_mvar, strict=True):
        pp.create_load(net, bus, p_mw=float(p), q_mvar=float(q), name=str(name))
    return Feeder(
        name="ieee-eu-lv",
        net=net,
        household_buses=buses,
        vn_kv=float(net.bus.vn_kv.loc[buses[0]]),
        description=_DESCRIPTIONS["ieee-eu-lv"],
    )


# Table 4.3 of the thesis (003_dpda.md §3.11): vertex k is the k-th smallest IEEE node number in
# the table, so this tuple, read by position, is the vertex -> IEEE node map. In the pandapower
# feeder the bus index equals the IEEE node number (bus 0 is the 11 kV source bus).
THESIS_VERTEX_NODES: tuple[int, ...] = (
    # v0-38
    1, 25, 27, 32, 34, 36, 47, 59, 66, 70, 73, 74, 83, 101, 114, 127, 145, 155, 166, 171,
    178, 188, 196, 208, 225, 226, 241, 247, 248, 249, 261, 263, 264, 276, 280, 283, 289, 310, 314,
    # v39-77
    320, 325, 327, 332, 336, 337, 342, 349, 373, 387, 388, 391, 406, 453, 458, 475, 484, 502,
    505, 508, 522, 530, 539, 544, 556, 559, 562, 563, 578, 587, 594, 596, 604, 611, 614, 615,
    619, 629, 639,
    # v78-116
    651, 666, 676, 682, 686, 688, 690, 691, 697, 701, 702, 707, 718, 739, 745, 755, 763, 778,
    780, 785, 786, 794, 802, 813, 817, 835, 839, 854, 860, 861, 868, 884, 886, 891, 896, 898,
    899, 900, 906,
)  # fmt: skip

REDUCED_SOURCE_BUS = len(THESIS_VERTEX_NODES)  # 117: the 11 kV bus, outside the thesis's 0..116


@dataclass(frozen=True)
class _Contracted:
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


def _contract_tree(net: pp.pandapowerNet, root: int, kept: Sequence[int]) -> list[_Contracted]:
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
            _Contracted(
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


def _bus_xy(net: pp.pandapowerNet, bus: int) -> tuple[float, float] | None:
    geo = net.bus.geo.loc[bus] if "geo" in net.bus else None
    if not isinstance(geo, str):
        return None
    x, y = json.loads(geo)["coordinates"][:2]
    return float(x), float(y)


def _ieee_eu_lv_reduced() -> Feeder:
    full = _cached("ieee-eu-lv")
    src = full.net
    (trafo_idx,) = src.trafo.index
    lv_root = int(src.trafo.lv_bus.loc[trafo_idx])
    mv_bus = int(src.trafo.hv_bus.loc[trafo_idx])
    if lv_root != THESIS_VERTEX_NODES[0]:
        raise GridError(f"expected the transformer's LV bus to be IEEE node 1, got {lv_root}")
    # Table 4.3 numbers IEEE nodes; pandapower's bus index is the node number (its name says so).
    names = src.bus.name.loc[list(THESIS_VERTEX_NODES)].astype(str)
    wrong = [n for n, name in names.items() if name != str(n)]
    if wrong:
        raise GridError(f"IEEE feeder buses {wrong[:3]} are not named by their node number")
    edges = _contract_tree(src, lv_root, THESIS_VERTEX_NODES)

    net = pp.create_empty_network(name="ieee-eu-lv-reduced", f_hz=src.f_hz, sn_mva=src.sn_mva)
    for k, node in enumerate(THESIS_VERTEX_NODES):
        pp.create_bus(
            net,
            vn_kv=float(src.bus.vn_kv.loc[node]),
            name=f"v{k}",
            index=k,
            geodata=_bus_xy(src, node),
        )
    pp.create_bus(
        net,
        vn_kv=float(src.bus.vn_kv.loc[mv_bus]),
        name=str(src.bus.name.loc[mv_bus]),
        index=REDUCED_SOURCE_BUS,
        geodata=_bus_xy(src, mv_bus),
    )
    net.bus["ieee_node"] = [*THESIS_VERTEX_NODES, mv_bus]
    geo: list[str | None] = []
    for e in edges:
        coords = [_bus_xy(src, n) for n in e.path_nodes]
        ok = all(c is not None for c in coords)
        geo.append(json.dumps({"coordinates": coords, "type": "LineString"}) if ok else None)
        pp.create_line_from_parameters(
            net,
            from_bus=e.parent,
            to_bus=e.child,
            length_km=e.length_km,
            r_ohm_per_km=e.r_ohm / e.length_km,
            x_ohm_per_km=e.x_ohm / e.length_km,
            c_nf_per_km=e.c_nf / e.length_km,
            max_i_ka=e.max_i_ka,
            name=f"{e.parent}-{e.child}",
            r0_ohm_per_km=e.r0_ohm / e.length_km,
            x0_ohm_per_km=e.x0_ohm / e.length_km,
            c0_nf_per_km=e.c0_nf / e.length_km,
        )
    net.line["geo"] = geo  # the path's polyline, as GeoJSON like pandapower's own feeders
    # The transformer and the external grid are copied row for row, re-pointed at the new ids.
    net.trafo = src.trafo.copy()
    net.trafo["hv_bus"] = REDUCED_SOURCE_BUS
    net.trafo["lv_bus"] = 0
    net.ext_grid = src.ext_grid.copy()
    net.ext_grid["bus"] = REDUCED_SOURCE_BUS
    vertex = {node: k for k, node in enumerate(THESIS_VERTEX_NODES)}
    households = []
    loads = full.net.load
    for bus, name, p, q in zip(
        full.household_buses, loads.name, loads.p_mw, loads.q_mvar, strict=True
    ):
        if bus not in vertex:
            raise GridError(f"load bus {bus} is not a vertex of the reduced tree")
        pp.create_load(net, vertex[bus], p_mw=float(p), q_mvar=float(q), name=str(name))
        households.append(vertex[bus])
    return Feeder(
        name="ieee-eu-lv-reduced",
        net=net,
        household_buses=households,
        vn_kv=full.vn_kv,
        description=_DESCRIPTIONS["ieee-eu-lv-reduced"],
    )


# --------------------------------------------------------------------------------------------
# CIGRE MV as in the VDMA paper

# 004_vdma.md §3.1, Table 1 verbatim, in table order: (bus, kind, p_mw, q_mvar).
VDMA_TABLE_1: tuple[tuple[int, str, float, float], ...] = (
    (1, "load", 0.5194, 0.1054),
    (1, "load", 0.4845, 0.159),
    (3, "load", 0.27645, 0.0692),
    (3, "load", 0.2252, 0.139),
    (4, "generator", 6.0, 0.0),
    (4, "load", 0.43, 0.108),
    (5, "load", 0.7275, 0.1823),
    (6, "generator", 0.04, 0.0),
    (6, "load", 0.548, 0.137),
    (7, "generator", 1.5, 0.0),
    (7, "load", 0.0765, 0.047),
    (8, "load", 0.586, 0.147),
    (9, "load", 0.5737, 0.355),
    (10, "generator", 0.04, 0.0),
    (10, "load", 0.47, 0.119),
    (10, "load", 0.068, 0.042),
    (11, "load", 0.3298, 0.083),
    (12, "load", 1.499, 0.3),
    (12, "load", 0.5016, 0.165),
    (13, "load", 0.034, 0.021),
    (14, "generator", 0.03, 0.0),
    (14, "load", 1.178, 0.295),
    (14, "load", 0.33, 0.205),
)

VDMA_OPEN_SWITCHES = ("S1", "S2", "S3")  # normally open (004_vdma.md §1.6, L97)


def _cigre_mv_vdma() -> Feeder:
    import pandapower.networks as pn

    # with_der=False: Table 1 lists every generator itself; the "pv_wind"/"all" variants would
    # add PV, wind, storage and fuel cells the paper does not have.
    net = _quietly(lambda: pn.create_cigre_network_mv(with_der=False))
    net.load = net.load.iloc[0:0]
    net.sgen = net.sgen.iloc[0:0]
    names = set(net.switch.name.dropna())
    missing = [s for s in VDMA_OPEN_SWITCHES if s not in names]
    if missing:
        raise GridError(f"pandapower's CIGRE MV net has no switch named {missing}")
    net.switch["closed"] = ~net.switch.name.isin(VDMA_OPEN_SWITCHES)
    count: dict[tuple[int, str], int] = {}
    for bus, kind, p_mw, q_mvar in VDMA_TABLE_1:
        n = count[bus, kind] = count.get((bus, kind), 0) + 1
        if kind == "load":
            pp.create_load(net, bus, p_mw=p_mw, q_mvar=q_mvar, name=f"Table1 load {bus}.{n}")
        else:
            pp.create_sgen(net, bus, p_mw=p_mw, q_mvar=q_mvar, name=f"Table1 generator {bus}.{n}")
    households = lowest_level_load_buses(net)
    return Feeder(
        name="cigre-mv-vdma",
        net=net,
        household_buses=households,
        vn_kv=_level_kv(net, households),
        description=_DESCRIPTIONS["cigre-mv-vdma"],
    )


# --------------------------------------------------------------------------------------------
# pandapower's other test networks, as they are


def _from_pandapower(name: str, build: Callable[[], pp.pandapowerNet]) -> Feeder:
    net = _quietly(build)
    households = lowest_level_load_buses(net)
    return Feeder(
        name=name,
        net=net,
        household_buses=households,
        vn_kv=_level_kv(net, households),
        description=_DESCRIPTIONS[name],
    )


def _cigre_lv() -> Feeder:
    import pandapower.networks as pn

    return _from_pandapower("cigre-lv", pn.create_cigre_network_lv)


def _kerber_dorfnetz() -> Feeder:
    import pandapower.networks as pn

    return _from_pandapower("kerber-dorfnetz", pn.create_kerber_dorfnetz)


def _case33bw() -> Feeder:
    import pandapower.networks as pn

    return _from_pandapower("case33bw", pn.case33bw)


# --------------------------------------------------------------------------------------------
# SimBench LV grids


@cache
def simbench_lv_codes() -> tuple[str, ...]:
    """Every SimBench code of a grid at the LV level only (36 codes in simbench 1.6)."""
    import simbench as sb

    codes = _quietly(sb.collect_all_simbench_codes)
    return tuple(c for c in codes if c.split("-")[1] == "LV")


def _simbench(code: str) -> Feeder:
    import simbench as sb

    valid = simbench_lv_codes()
    if code not in valid:
        grids = sorted({c.split("-")[2] for c in valid})
        raise GridError(
            f"{code!r} is not a SimBench LV grid code: expected "
            f"1-LV-<grid>--<scenario>-<sw|no_sw> with grid in {grids} and scenario 0, 1 or 2, "
            f"e.g. {SIMBENCH_EXAMPLE!r}"
        )
    net = _quietly(lambda: sb.get_simbench_net(code))
    households = lowest_level_load_buses(net)
    return Feeder(
        name=SIMBENCH_PREFIX + code,
        net=net,
        household_buses=households,
        vn_kv=_level_kv(net, households),
        description=f"SimBench LV grid {code} ({len(households)} load buses)",
    )


# --------------------------------------------------------------------------------------------
# Catalogue

CATALOGUE: dict[str, Callable[[], Feeder]] = {
    "ieee-eu-lv": _ieee_eu_lv,
    "ieee-eu-lv-reduced": _ieee_eu_lv_reduced,
    "cigre-mv-vdma": _cigre_mv_vdma,
    "cigre-lv": _cigre_lv,
    "kerber-dorfnetz": _kerber_dorfnetz,
    "case33bw": _case33bw,
}


def list_feeders() -> list[FeederInfo]:
    """Every feeder name with a one-line description; SimBench listed once as a family."""
    rows = [FeederInfo(name, _DESCRIPTIONS[name]) for name in CATALOGUE]
    rows.append(
        FeederInfo(
            SIMBENCH_PREFIX + "<code>",
            f"any SimBench LV grid, e.g. {SIMBENCH_PREFIX}{SIMBENCH_EXAMPLE} "
            "(grids rural1-3, semiurb4-5, urban6; scenarios 0-2; sw or no_sw)",
        )
    )
    return rows


@cache
def _cached(name: str) -> Feeder:
    if name.startswith(SIMBENCH_PREFIX):
        return _simbench(name.removeprefix(SIMBENCH_PREFIX))
    return CATALOGUE[name]()


def load_feeder(name: str) -> Feeder:
    """A fresh copy of the feeder called ``name`` (the net may be modified by the caller)."""
    if name not in CATALOGUE and not name.startswith(SIMBENCH_PREFIX):
        known = [*sorted(CATALOGUE), SIMBENCH_PREFIX + "<code>"]
        raise GridError(f"unknown feeder {name!r} (known: {', '.join(known)})")
    return copy.deepcopy(_cached(name))
