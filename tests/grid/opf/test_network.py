"""A radial pandapower net as branch data: case33bw, IEEE EU LV, CIGRE LV/MV switches."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from peergrid.core.errors import GridError
from peergrid.grid.feeders import Feeder, GridLimits, load_feeder
from peergrid.grid.opf import RadialNetwork, ac_check, example_case, solve_opf

from .conftest import AC_TOLERANCE_PU, case33bw


def test_case33bw_branch_data() -> None:
    feeder = case33bw()
    net = RadialNetwork.from_net(feeder.net, s_base_mva=1.0)
    assert net.n_buses == 33 and net.n_branches == 32
    assert net.root_bus == 0 and net.v_root_pu == 1.0
    assert set(net.branch_kind) == {"line"}
    # Every parent comes before its child (breadth-first order).
    assert (net.branch_parent < net.branch_child).all()
    # Line 0 joins buses 0 and 1: 0.0922 Ω on a 12.66 kV, 1 MVA base.
    b = net.position(1) - 1
    assert net.r_pu[b] == pytest.approx(0.0922 / 12.66**2, rel=1e-6)
    # MATPOWER's 99 999 kA placeholder is "no limit".
    assert not np.isfinite(net.i_max_pu).any()


def test_meshed_net_is_rejected() -> None:
    net = case33bw().net
    net.line["in_service"] = True  # closes the five tie lines
    with pytest.raises(GridError, match="not radial"):
        RadialNetwork.from_net(net)


def test_transformer_branch_on_ieee_eu_lv() -> None:
    network = RadialNetwork.from_net(load_feeder("ieee-eu-lv").net, s_base_mva=0.1)
    assert network.n_buses == 907
    (b,) = [k for k, kind in enumerate(network.branch_kind) if kind == "trafo"]
    assert network.branch_parent[b] == 0  # fed from the 11 kV root
    assert network.tap_ratio[b] == pytest.approx(1.0)
    # 800 kVA at 0.416 kV on a 0.1 MVA base: 8 p.u. of apparent power, i.e. of current at 1 p.u.
    assert network.i_max_pu[b] == pytest.approx(8.0)
    # vk 4.02 %, vkr 0.4 % on 0.8 MVA → on 0.1 MVA.
    assert np.hypot(network.r_pu[b], network.x_pu[b]) == pytest.approx(0.0402 / 8, rel=1e-3)
    assert network.v_root_pu == pytest.approx(1.05)


@pytest.mark.parametrize("builder", ["create_cigre_network_lv", "create_cigre_network_mv"])
def test_switches_and_transformers_match_ac(builder: str) -> None:
    """CIGRE LV: closed bus-bus switches (merged buses) and three transformers; CIGRE MV: lines
    opened at one end by S1-S3 (their charging still loads the live end) and two transformers.
    Neither has magnetising losses, so the OPF's voltages are the AC ones."""
    import pandapower.networks as pn

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = getattr(pn, builder)(with_der=False) if "mv" in builder else getattr(pn, builder)()
    buses = list(dict.fromkeys(int(b) for b in net.load.bus))
    feeder = Feeder(builder, net, buses, float(net.bus.vn_kv.min()), GridLimits())
    case = example_case(feeder, periods=4, seed=2)
    network = case.network
    assert network.branch_kind.count("trafo") == (3 if "lv" in builder else 2)
    if "lv" in builder:
        assert network.merged  # bus-bus switches
        some = next(iter(network.merged))
        assert network.position(some) == network.position(network.merged[some])
    r = solve_opf(case)
    check = ac_check(r)
    assert check.max_v_diff_pu < AC_TOLERANCE_PU
    assert check.violations == ()
