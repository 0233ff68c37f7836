"""A toy feeder (the 4-node example of 000_bder.md Fig. 7, plus one bus) and a day of households."""

from __future__ import annotations

import numpy as np
import pandapower as pp
import pytest

from peergrid.grid.opf.case import Prices
from peergrid.grid.opf.example import price_shape
from peergrid.grid.opf.network import RadialNetwork
from peergrid.mechanisms.admm import BDER_LIMITS, BderCase
from peergrid.mechanisms.admm.example import example_households


def toy_net() -> pp.pandapowerNet:
    """Root 0 — 1, 1 — 2, 1 — 3, 3 — 4: a radial 0.4 kV feeder of 100 m cables."""
    net = pp.create_empty_network()
    for k in range(5):
        pp.create_bus(net, vn_kv=0.4, name=f"b{k}")
    pp.create_ext_grid(net, 0, vm_pu=1.0)
    for a, b in ((0, 1), (1, 2), (1, 3), (3, 4)):
        pp.create_line(net, a, b, 0.1, "NAYY 4x150 SE")
    return net


@pytest.fixture(scope="session")
def toy_network() -> RadialNetwork:
    return RadialNetwork.from_net(toy_net(), s_base_mva=0.01)


def toy_case(network: RadialNetwork, n_households: int = 4, seed: int = 0) -> BderCase:
    hs = example_households([1, 2, 3, 4], n_households, periods=24, seed=seed)
    prices = Prices.with_feed_in_share(price_shape(np.arange(24) + 0.5), 0.5)
    return BderCase(tuple(hs), prices, 1.0, network, BDER_LIMITS)


@pytest.fixture(scope="session")
def case(toy_network: RadialNetwork) -> BderCase:
    return toy_case(toy_network)
