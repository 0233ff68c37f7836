"""Tree distances: the thesis's numbers (003_dpda.md §6 item 11), the VDMA hop example
(004_vdma.md §6 B), tree properties, refusals and the topology cache."""

from __future__ import annotations

import json
import math
import time

import networkx as nx
import numpy as np
import pandapower as pp
import pandapower.topology as top
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import shortest_path

from peergrid.core.errors import GridError
from peergrid.grid.distance import DistanceCache, DistanceMatrix, distance_matrix
from peergrid.grid.feeders import load_feeder
from peergrid.grid.topology import check_radial, is_radial, topology

REDUCED = load_feeder("ieee-eu-lv-reduced")
REDUCED_LENGTH = distance_matrix(REDUCED, "length", cache=DistanceCache())

# 003_dpda.md §6 item 11 and §3.10 (App. B): metres on the reduced tree.
ITEM_11 = [
    (39, 4, 121.332),
    (12, 4, 36.049),
    (12, 20, 79.915),
    (9, 20, 93.019),
    (9, 24, 119.377),
    (9, 45, 115.828),
    (9, 4, 12.098),
]
APP_B_MORE = [
    (39, 24, 122.492),
    (39, 20, 96.134),
    (39, 45, 101.348),
    (12, 24, 106.273),
    (12, 45, 102.724),
]


@pytest.mark.parametrize(("a", "b", "metres"), ITEM_11 + APP_B_MORE)
def test_thesis_distances(a: int, b: int, metres: float) -> None:
    assert REDUCED_LENGTH.between(a, b) == pytest.approx(metres, abs=1e-3)
    assert REDUCED_LENGTH.between(b, a) == pytest.approx(metres, abs=1e-3)


def test_loads_within_100_m_of_vertex_51() -> None:
    loads = REDUCED.household_buses
    assert REDUCED_LENGTH.within(51, 100.0, loads) == [
        36, 44, 45, 46, 48, 49, 53, 56, 59, 61, 63, 66, 76,
    ]  # fmt: skip
    # L2410 "second option" and L2408: the next loads out, and 110, 113 farther than 112
    assert set(REDUCED_LENGTH.within(51, 101.01, loads)) - set(
        REDUCED_LENGTH.within(51, 100.0, loads)
    ) == {65, 72, 97}
    assert REDUCED_LENGTH.between(51, 110) == pytest.approx(218.2, abs=0.05)
    assert REDUCED_LENGTH.between(51, 113) == pytest.approx(205.7, abs=0.05)
    assert REDUCED_LENGTH.between(51, 112) == pytest.approx(148.9, abs=0.05)


def test_matrix_is_a_tree_metric() -> None:
    d = REDUCED_LENGTH.values
    assert d.shape == (118, 118)
    assert np.array_equal(d, d.T)
    assert np.all(np.diag(d) == 0.0)
    off_diagonal = ~np.eye(len(d), dtype=bool)
    off_diagonal[0, 117] = off_diagonal[117, 0] = False  # the transformer has no length
    assert np.all(d[off_diagonal] > 0.0)
    assert d[0, 117] == 0.0
    # every bus on the path between a and c splits d(a, c) exactly (tree property)
    graph = top.create_nxgraph(REDUCED.net)
    rng = np.random.default_rng(3)
    for a, c in rng.integers(0, 118, size=(60, 2)).tolist():
        for b in nx.shortest_path(graph, a, c):
            assert d[a, c] == pytest.approx(d[a, b] + d[b, c], abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 117), st.integers(0, 117), st.integers(0, 117), st.integers(0, 117))
def test_four_point_condition(a: int, b: int, c: int, e: int) -> None:
    """Tree metrics: of the three pair sums, the two largest are equal."""
    d = REDUCED_LENGTH.values
    sums = sorted([d[a, b] + d[c, e], d[a, c] + d[b, e], d[a, e] + d[b, c]])
    assert sums[2] == pytest.approx(sums[1], abs=1e-9)


def test_full_feeder_matches_dijkstra_and_meets_the_time_budget() -> None:
    full = load_feeder("ieee-eu-lv")
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        matrix = distance_matrix(full, "length", cache=DistanceCache())  # cold cache
        best = min(best, time.perf_counter() - start)
    assert best < 0.2
    assert len(matrix.buses) == 907
    topo = topology(full)
    n = len(topo.buses)
    graph = coo_matrix((topo.length_m, (topo.u, topo.v)), shape=(n, n))
    assert np.allclose(shortest_path(graph, directed=False), matrix.values, atol=1e-9)
    # the contraction keeps distances between the customers
    households = distance_matrix(REDUCED, "length").restrict(REDUCED.household_buses)
    assert np.allclose(matrix.restrict(full.household_buses).values, households.values)


def test_vdma_hop_distances() -> None:
    hops = distance_matrix(load_feeder("cigre-mv-vdma"), "hops")
    expected = {(14, 13): 1, (14, 4): 7, (14, 7): 8, (11, 7): 4, (11, 4): 5, (5, 4): 1}
    expected |= {(5, 13): 7, (11, 13): 9, (0, 1): 1, (0, 12): 1}  # transformers count one hop
    for (a, b), n in expected.items():
        assert hops.between(a, b) == n
    assert hops.to_json()["matrix"][14][7] == 8


def test_impedance_is_the_magnitude_of_the_path_impedance() -> None:
    feeder = load_feeder("cigre-mv-vdma")
    net = feeder.net
    z = distance_matrix(feeder, "impedance")
    assert z.unit == "ohm" and z.reference_kv == 20.0
    lines = net.line.loc[[0, 1]]  # 1-2, 2-3
    r = float((lines.r_ohm_per_km * lines.length_km).sum())
    x = float((lines.x_ohm_per_km * lines.length_km).sum())
    assert z.between(1, 3) == pytest.approx(math.hypot(r, x), rel=1e-12)
    trafo = net.trafo.loc[0]  # short-circuit impedance on the 20 kV side
    z_trafo = trafo.vk_percent / 100 * trafo.vn_lv_kv**2 / trafo.sn_mva
    assert z.between(0, 1) == pytest.approx(z_trafo, rel=1e-12)
    # two transformers on the path 1 - 0 - 12, each R + jX: the magnitudes add (same R/X)
    assert z.between(1, 12) == pytest.approx(2 * z_trafo, rel=1e-12)


def test_impedance_survives_the_reduction() -> None:
    full = load_feeder("ieee-eu-lv")
    z_full = distance_matrix(full, "impedance").restrict(full.household_buses)
    z_reduced = distance_matrix(REDUCED, "impedance").restrict(REDUCED.household_buses)
    assert np.allclose(z_full.values, z_reduced.values, rtol=1e-10)
    assert z_full.reference_kv == pytest.approx(0.416)


def test_matrix_object() -> None:
    m = REDUCED_LENGTH
    assert isinstance(m, DistanceMatrix)
    assert m.metric == "length" and m.unit == "m"
    with pytest.raises(ValueError, match="read-only"):
        m.values[0, 1] = 1.0
    sub = m.restrict([9, 4, 39])
    assert sub.buses == (9, 4, 39)
    assert sub.between(39, 4) == pytest.approx(121.332, abs=1e-3)
    out = sub.to_json()
    assert set(out) == {"metric", "unit", "buses", "matrix"}
    assert out["matrix"][0][1] == pytest.approx(12.098, abs=1e-3)
    assert json.loads(json.dumps(out)) == out
    with pytest.raises(GridError, match="bus 5000"):
        m.between(5000, 1)
    with pytest.raises(GridError, match="unknown distance metric 'euclid'"):
        distance_matrix(REDUCED, "euclid")  # type: ignore[arg-type]


# ---- refusals --------------------------------------------------------------------------------


def test_meshed_by_a_tie_line_is_refused() -> None:
    feeder = load_feeder("case33bw")
    assert is_radial(feeder)
    feeder.net.line.loc[32, "in_service"] = True  # tie line 20-7
    assert not is_radial(feeder)
    with pytest.raises(
        GridError, match=r"meshed.*line 32 \(bus 20 - bus 7\) closes the loop through buses 7, 6,"
    ):
        distance_matrix(feeder, "length")


def test_meshed_by_a_closed_switch_or_an_added_line_is_refused() -> None:
    feeder = load_feeder("cigre-mv-vdma")
    net = feeder.net
    net.switch.loc[net.switch.name == "S1", "closed"] = True  # 14-8: the two feeders meet
    with pytest.raises(GridError, match=r"meshed.* closes the loop through buses .*14, 8"):
        check_radial(feeder)
    net.switch.loc[net.switch.name == "S1", "closed"] = False
    check_radial(feeder)
    pp.create_line(net, 5, 9, length_km=1.0, std_type="NA2XS2Y 1x185 RM/25 12/20 kV")
    with pytest.raises(GridError, match="meshed"):
        distance_matrix(feeder, "hops")


def test_disconnected_is_refused() -> None:
    feeder = load_feeder("case33bw")
    feeder.net.line.loc[29, "in_service"] = False  # 29-30: cuts off 30, 31, 32
    with pytest.raises(GridError, match=r"disconnected \(2 parts\); 3 bus\(es\).*30, 31, 32"):
        distance_matrix(feeder)
    cigre = load_feeder("cigre-lv")
    cigre.net.switch.loc[cigre.net.switch.name == "S3", "closed"] = False  # commercial feeder
    with pytest.raises(GridError, match="disconnected"):
        distance_matrix(cigre)


def test_out_of_service_buses_are_left_out() -> None:
    feeder = load_feeder("case33bw")
    feeder.net.bus.loc[32, "in_service"] = False  # a leaf: the rest stays one tree
    matrix = distance_matrix(feeder, "hops")
    assert 32 not in matrix.buses and len(matrix.buses) == 32


# ---- cache -----------------------------------------------------------------------------------


def test_cache_recomputes_only_when_the_topology_changes() -> None:
    cache = DistanceCache()
    feeder = load_feeder("case33bw")
    net = feeder.net
    first = cache.get(feeder, "length")
    assert (cache.misses, cache.hits) == (1, 0)
    assert cache.get(feeder, "length") is first
    net.load.loc[net.load.index[0], "p_mw"] = 1.5  # a load is not topology
    net.load.loc[net.load.index[1], "in_service"] = False
    assert cache.get(feeder, "length") is first
    assert (cache.misses, cache.hits) == (1, 2)
    cache.get(feeder, "hops")  # another metric is another entry
    assert cache.misses == 2
    # reconfiguration by in_service: open 6-7, close the tie line 20-7
    net.line.loc[6, "in_service"] = False
    net.line.loc[32, "in_service"] = True
    second = cache.get(feeder, "length")
    assert cache.misses == 3
    assert second.between(20, 7) == pytest.approx(1000.0)
    assert first.between(20, 7) != second.between(20, 7)
    # and back: the first topology's matrix is still cached
    net.line.loc[6, "in_service"] = True
    net.line.loc[32, "in_service"] = False
    assert cache.get(feeder, "length") is first
    assert cache.misses == 3


def test_cache_follows_switches() -> None:
    cache = DistanceCache()
    feeder = load_feeder("cigre-mv-vdma")
    net = feeder.net
    before = cache.get(feeder, "hops")
    assert before.between(6, 7) == 5  # 6-5-4-3-8-7
    # move the open point: close S2 (6-7) and open a new switch on line 4-5
    net.switch.loc[net.switch.name == "S2", "closed"] = True
    pp.create_switch(net, bus=4, element=3, et="l", closed=False, name="S4")
    after = cache.get(feeder, "hops")
    assert cache.misses == 2
    assert after.between(6, 7) == 1
    assert after.between(4, 5) == 5  # 4-3-8-7-6-5
    # opening the closed end of a line already cut at its other end changes nothing
    line_11_4 = net.switch[(net.switch.element == 13) & (net.switch.bus == 11)].index
    net.switch.loc[line_11_4, "closed"] = False
    assert cache.get(feeder, "hops") is after
    assert cache.misses == 2


def test_cache_keeps_at_most_maxsize_matrices() -> None:
    cache = DistanceCache(maxsize=2)
    feeder = load_feeder("case33bw")
    cache.get(feeder, "length")
    cache.get(feeder, "hops")
    cache.get(feeder, "impedance")
    cache.get(feeder, "length")  # dropped as least recently used
    assert cache.misses == 4
    cache.clear()
    assert (cache.misses, cache.hits) == (0, 0)
