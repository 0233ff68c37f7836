"""The feeder catalogue: every name builds and solves; the reduced IEEE tree and CIGRE MV (VDMA)
reproduce their digests (003_dpda.md §3.11, 004_vdma.md §3.1)."""

from __future__ import annotations

import itertools
import warnings
from collections import Counter

import networkx as nx
import numpy as np
import pandapower as pp
import pandapower.topology as top
import pytest

from peergrid.core.errors import GridError
from peergrid.grid.catalogue.cigre import VDMA_TABLE_1
from peergrid.grid.catalogue.ieee_eu_lv import REDUCED_SOURCE_BUS, THESIS_VERTEX_NODES
from peergrid.grid.feeders import (
    CATALOGUE,
    SIMBENCH_PREFIX,
    Feeder,
    GridLimits,
    list_feeders,
    load_feeder,
)

SIMBENCH_CODE = "1-LV-rural1--0-sw"
ALL_NAMES = [*CATALOGUE, SIMBENCH_PREFIX + SIMBENCH_CODE]

# 003_dpda.md §3.11: the reduced tree's edges, parent-child:length_m (116 edges, 1185.749 m).
THESIS_EDGES = """
0-1:21.863 1-2:5.905 1-3:12.622 2-4:5.351 2-9:6.747 3-5:5.726 3-7:21.155 5-6:6.153 5-12:6.444
7-8:8.258 7-13:13.376 8-10:4.037 8-11:4.037 13-14:8.798 13-17:14.675 14-15:4.173 14-27:28.187
15-16:16.095 15-36:14.347 16-18:16.333 16-30:11.185 17-19:12.300 17-20:18.537 18-35:10.407
19-21:12.448 19-22:14.136 21-23:6.914 21-32:8.238 22-24:18.459 22-25:7.371 25-26:13.622
26-28:5.302 26-29:5.302 27-31:4.070 27-48:14.524 30-33:6.885 30-38:4.802 31-34:4.991
31-45:14.968 34-37:8.230 34-47:7.302 35-39:7.117 35-41:3.325 37-40:10.679 37-43:7.699
40-42:6.673 40-44:12.750 42-51:15.785 42-52:37.663 43-46:5.197 43-49:8.524 47-50:7.371
47-53:21.234 50-57:26.309 50-60:10.681 52-54:13.574 52-76:16.527 54-55:10.277 54-58:16.059
55-56:6.679 55-66:5.548 57-59:10.472 57-67:2.937 58-62:10.658 58-64:12.949 60-61:5.584
60-63:9.801 62-65:6.655 62-72:6.377 64-68:7.301 64-78:13.713 67-69:4.775 67-97:15.715
68-70:0.642 68-71:10.242 69-73:14.004 69-74:9.089 70-75:14.410 71-77:16.051 74-79:2.701
74-83:13.769 78-80:5.347 78-81:6.025 79-82:9.630 79-98:15.190 82-84:8.144 82-85:10.525
84-87:6.457 84-95:7.358 85-86:2.191 85-88:14.975 86-89:8.731 89-90:15.246 89-111:12.748
90-91:11.260 90-92:17.007 91-93:6.778 91-101:5.756 92-94:10.873 92-99:19.460 94-96:7.129
94-103:5.658 98-102:9.776 98-105:2.292 99-100:2.803 99-109:10.772 100-104:13.143 104-108:10.125
105-106:2.820 105-107:7.509 108-110:7.508 108-114:9.339 109-113:10.336 109-116:8.092
111-112:3.259 111-115:9.693
"""

# 003_dpda.md §3.11: the 55 load vertices in L1..L55 order.
THESIS_LOAD_VERTICES = [
    4, 6, 9, 10, 11, 12, 20, 23, 24, 28, 29, 32, 33, 36, 38, 39, 41, 44, 45, 46, 48, 49, 51, 53,
    56, 59, 61, 63, 65, 66, 72, 73, 75, 76, 77, 80, 81, 83, 87, 88, 93, 95, 96, 97, 101, 102,
    103, 106, 107, 110, 112, 113, 114, 115, 116,
]  # fmt: skip


def _thesis_edges() -> dict[tuple[int, int], float]:
    out = {}
    for token in THESIS_EDGES.split():
        pair, length = token.split(":")
        a, b = pair.split("-")
        out[int(a), int(b)] = float(length)
    return out


def _runpp(net: pp.pandapowerNet) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(net, numba=False)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_every_feeder_builds_and_solves(name: str) -> None:
    feeder = load_feeder(name)
    assert isinstance(feeder, Feeder)
    assert feeder.name == name
    net = feeder.net
    _runpp(net)
    assert net.converged
    assert 0.85 < net.res_bus.vm_pu.min() <= net.res_bus.vm_pu.max() < 1.1
    # metadata: household buses are distinct buses of the lowest voltage level, all loaded
    hh = feeder.household_buses
    assert hh and len(set(hh)) == len(hh)
    assert set(hh) <= set(feeder.buses)
    assert feeder.vn_kv == pytest.approx(float(net.bus.vn_kv.min()))
    assert np.allclose(net.bus.vn_kv.loc[hh].to_numpy(dtype=float), feeder.vn_kv)
    assert set(hh) <= set(net.load.bus)
    assert feeder.limits == GridLimits()
    assert feeder.description and "\n" not in feeder.description
    assert feeder.source_bus in feeder.buses


def test_list_feeders_names_and_one_line_descriptions() -> None:
    rows = list_feeders()
    names = [r.name for r in rows]
    assert names == [*CATALOGUE, "simbench:<code>"]
    for row in rows:
        assert row.description and "\n" not in row.description
    assert SIMBENCH_CODE in rows[-1].description
    for name in CATALOGUE:
        assert load_feeder(name).description == dict(rows)[name]


def test_load_feeder_returns_independent_copies() -> None:
    a = load_feeder("case33bw")
    a.net.load.loc[a.net.load.index[0], "p_mw"] = 99.0
    a.household_buses.append(-1)
    b = load_feeder("case33bw")
    assert b.net.load.p_mw.iloc[0] != 99.0
    assert -1 not in b.household_buses


def test_unknown_names_are_refused() -> None:
    with pytest.raises(GridError, match="unknown feeder 'nowhere'"):
        load_feeder("nowhere")
    with pytest.raises(GridError, match=r"not a SimBench LV grid code.*1-LV-rural1--0-sw"):
        load_feeder("simbench:1-LV-rural9--0-sw")
    with pytest.raises(GridError, match="not a SimBench LV grid code"):
        load_feeder("simbench:1-MV-rural--0-sw")  # valid SimBench code, but not an LV grid


def test_household_rule_per_feeder() -> None:
    assert load_feeder("ieee-eu-lv").household_buses[:3] == [34, 47, 70]  # LOAD1..LOAD3
    assert load_feeder("cigre-lv").household_buses == [
        2, 12, 16, 17, 18, 19, 22, 24, 35, 36, 37, 40, 41, 42, 43,
    ]  # fmt: skip
    assert load_feeder("case33bw").household_buses == list(range(1, 33))
    kerber = load_feeder("kerber-dorfnetz")
    assert len(kerber.household_buses) == 57
    assert all(
        str(n).startswith("loadbus") for n in kerber.net.bus.name.loc[kerber.household_buses]
    )


# ---- ieee-eu-lv-reduced ---------------------------------------------------------------------


def test_full_feeder_bus_index_is_the_ieee_node_number() -> None:
    bus = load_feeder("ieee-eu-lv").net.bus
    assert list(bus.index) == list(range(907))
    assert list(bus.name.iloc[1:]) == [str(i) for i in range(1, 907)]
    assert bus.name.iloc[0] == "SOURCEBUS"


def test_reduced_bus_ids_are_thesis_vertices() -> None:
    feeder = load_feeder("ieee-eu-lv-reduced")
    net = feeder.net
    assert list(net.bus.index) == list(range(118))
    assert list(net.bus.ieee_node.iloc[:117]) == list(THESIS_VERTEX_NODES)
    assert tuple(sorted(THESIS_VERTEX_NODES)) == THESIS_VERTEX_NODES  # vertex k = k-th smallest
    assert REDUCED_SOURCE_BUS == 117
    assert float(net.bus.vn_kv.loc[117]) == pytest.approx(11.0)
    assert list(net.trafo.hv_bus) == [117] and list(net.trafo.lv_bus) == [0]
    assert list(net.ext_grid.bus) == [117]
    assert feeder.household_buses == THESIS_LOAD_VERTICES
    assert list(net.load.name) == [f"LOAD{i}" for i in range(1, 56)]


def test_reduced_edges_reproduce_the_digest() -> None:
    net = load_feeder("ieee-eu-lv-reduced").net
    built = {
        (int(f), int(t)): float(km) * 1000.0
        for f, t, km in zip(net.line.from_bus, net.line.to_bus, net.line.length_km, strict=True)
    }
    expected = _thesis_edges()
    assert len(expected) == 116
    assert set(built) == set(expected)
    for edge, length_m in expected.items():
        assert built[edge] == pytest.approx(length_m, abs=1e-3), edge
    assert sum(built.values()) == pytest.approx(1185.749, abs=1e-3)


def test_reduced_edges_are_the_full_feeders_paths() -> None:
    full = load_feeder("ieee-eu-lv").net
    graph = top.create_nxgraph(full, multi=False, calc_branch_impedances=False)
    reduced = load_feeder("ieee-eu-lv-reduced").net
    line_of = {}
    for i, f, t in zip(full.line.index, full.line.from_bus, full.line.to_bus, strict=True):
        line_of[frozenset((int(f), int(t)))] = i
    for row in reduced.line.itertuples():
        a = THESIS_VERTEX_NODES[int(row.from_bus)]
        b = THESIS_VERTEX_NODES[int(row.to_bus)]
        path = nx.shortest_path(graph, a, b)
        seg = full.line.loc[[line_of[frozenset(p)] for p in itertools.pairwise(path)]]
        assert row.length_km == pytest.approx(seg.length_km.sum(), rel=1e-12)
        r_ohm = (seg.r_ohm_per_km * seg.length_km).sum()
        x_ohm = (seg.x_ohm_per_km * seg.length_km).sum()
        assert row.r_ohm_per_km * row.length_km == pytest.approx(r_ohm, rel=1e-12)
        assert row.x_ohm_per_km * row.length_km == pytest.approx(x_ohm, rel=1e-12)
        assert row.max_i_ka == pytest.approx(seg.max_i_ka.min())


def test_reduced_power_flow_matches_the_full_feeder() -> None:
    full, reduced = load_feeder("ieee-eu-lv"), load_feeder("ieee-eu-lv-reduced")
    rng = np.random.default_rng(7)
    p_mw = rng.uniform(-0.004, 0.008, 55)  # some export, some import; ~0.15 MW in total
    q_mvar = rng.uniform(0.0, 0.002, 55)
    for feeder in (full, reduced):
        feeder.net.load["p_mw"] = p_mw
        feeder.net.load["q_mvar"] = q_mvar
        _runpp(feeder.net)
    v_full = full.net.res_bus.vm_pu.loc[full.household_buses].to_numpy()
    v_reduced = reduced.net.res_bus.vm_pu.loc[reduced.household_buses].to_numpy()
    assert v_full.min() < 1.04  # the loads do move the voltages
    assert np.abs(v_full - v_reduced).max() < 1e-4
    assert reduced.net.res_trafo.p_hv_mw.iloc[0] == pytest.approx(
        full.net.res_trafo.p_hv_mw.iloc[0], rel=1e-6
    )


# ---- cigre-mv-vdma --------------------------------------------------------------------------


def test_cigre_mv_vdma_switches_and_topology() -> None:
    net = load_feeder("cigre-mv-vdma").net
    assert len(net.bus) == 15 and len(net.trafo) == 2 and len(net.line) == 15
    named = net.switch.set_index("name").closed
    assert {s: bool(named.loc[s]) for s in ("S1", "S2", "S3")} == {
        "S1": False,
        "S2": False,
        "S3": False,
    }
    assert int((~net.switch.closed).sum()) == 3  # every other switch closed
    assert list(net.trafo.lv_bus) == [1, 12]


def test_cigre_mv_vdma_has_exactly_table_1() -> None:
    feeder = load_feeder("cigre-mv-vdma")
    net = feeder.net
    rows = Counter(
        [
            (int(b), "load", float(p), float(q))
            for b, p, q in zip(net.load.bus, net.load.p_mw, net.load.q_mvar, strict=True)
        ]
        + [
            (int(b), "generator", float(p), float(q))
            for b, p, q in zip(net.sgen.bus, net.sgen.p_mw, net.sgen.q_mvar, strict=True)
        ]
    )
    assert rows == Counter(VDMA_TABLE_1)
    assert len(net.load) == 18 and len(net.sgen) == 5
    assert net.load.p_mw.sum() == pytest.approx(8.85765)
    assert net.load.q_mvar.sum() == pytest.approx(2.6789)
    assert net.sgen.p_mw.sum() == pytest.approx(7.61)
    assert feeder.household_buses == [1, *range(3, 15)]  # bus 2 has no entry in Table 1
    assert feeder.vn_kv == 20.0


def test_cigre_mv_vdma_base_case_regression() -> None:
    net = load_feeder("cigre-mv-vdma").net
    _runpp(net)
    # 004_vdma.md §6 item 12 (derived there, a regression value for the builder)
    assert net.res_bus.vm_pu.min() == pytest.approx(1.0064, abs=1e-4)
    assert net.res_bus.vm_pu.idxmin() == 14
    assert net.res_bus.vm_pu.max() == pytest.approx(1.0373, abs=1e-4)
    worst = net.res_line.loading_percent.idxmax()
    assert net.line.name.loc[worst] == "Line 3-4"
    assert net.res_line.loading_percent.max() == pytest.approx(83.48, abs=0.01)


def test_the_kerber_dorfnetz_is_the_same_feeder_every_time() -> None:
    """pandapower draws its line types at random: the catalogue seeds the draw, and leaves the
    caller's random state as it was."""
    import random
    from collections import Counter

    from peergrid.grid.catalogue.pandapower_nets import kerber_dorfnetz

    random.seed(1)
    expected_next = random.random()
    random.seed(1)
    first, second = kerber_dorfnetz(), kerber_dorfnetz()
    assert random.random() == expected_next
    types = first.net.line.std_type.tolist()
    assert types == second.net.line.std_type.tolist()
    # the draw the seed gives: the branch-out lines split between the two types
    assert Counter(types) == {"NAYY 4x150": 57, "NAYY 4x50 SE": 29, "NAYY 4x50": 28}
