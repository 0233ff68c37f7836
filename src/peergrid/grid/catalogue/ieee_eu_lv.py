"""The IEEE European LV test feeder, full and as the DPDA thesis's reduced tree.

- ``ieee-eu-lv``: the feeder as pandapower ships it (906 LV buses behind an 800 kVA
  11/0.416 kV transformer, 55 customer connections). pandapower models the customers as
  single-phase asymmetric loads for a three-phase power flow; peergrid's market studies use the
  balanced (positive-sequence) model the thesis assumes (003_dpda.md §1.1), so each customer
  becomes an ordinary load at its connection bus, named LOAD1..LOAD55, with its off-peak demand.
- ``ieee-eu-lv-reduced``: the thesis's reduced tree of that feeder (003_dpda.md §3.11), bus id =
  thesis vertex number 0..116, the 11 kV source bus as id 117. Each edge is the series path
  between two kept IEEE nodes (:mod:`peergrid.grid.catalogue.contraction`).
"""

from __future__ import annotations

import json

import pandapower as pp

from peergrid.core.errors import GridError
from peergrid.grid.catalogue.common import quietly
from peergrid.grid.catalogue.contraction import contract_tree
from peergrid.grid.feeder_types import Feeder

FULL_DESCRIPTION = "IEEE European LV test feeder, 907 buses, 55 customers, balanced model"
REDUCED_DESCRIPTION = (
    "the thesis's reduced IEEE EU LV tree: bus id = vertex 0..116 (003 §3.11), 55 customers"
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


def ieee_eu_lv() -> Feeder:
    """The full feeder, each customer a balanced load with its off-peak demand."""
    import pandapower.networks as pn

    net = quietly(lambda: pn.ieee_european_lv_asymmetric("off_peak_1"))
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
        description=FULL_DESCRIPTION,
    )


def _bus_xy(net: pp.pandapowerNet, bus: int) -> tuple[float, float] | None:
    geo = net.bus.geo.loc[bus] if "geo" in net.bus else None
    if not isinstance(geo, str):
        return None
    x, y = json.loads(geo)["coordinates"][:2]
    return float(x), float(y)


def ieee_eu_lv_reduced(full: Feeder) -> Feeder:
    """The thesis's reduced tree of ``full`` (the ``ieee-eu-lv`` feeder, left unchanged)."""
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
    edges = contract_tree(src, lv_root, THESIS_VERTEX_NODES)

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
        description=REDUCED_DESCRIPTION,
    )
