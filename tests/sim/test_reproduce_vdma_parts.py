"""The parts of the VDMA reproduction: shouts, the AC check of an outcome, gas and Eq. 1."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peergrid.core.errors import PeergridError
from peergrid.core.orders import Side
from peergrid.core.trades import Clearing, Trade
from peergrid.grid.service import ServiceDelivery
from peergrid.ledger.chain.gas import EUR_PER_GAS, cost_eur
from peergrid.sim.ancillary.network import NetworkCheck, Outcome, outcome_of
from peergrid.sim.ancillary.shouts import (
    ShoutParameters,
    ShoutRoles,
    _positive_normal,
    draw_session,
    table_1_devices,
)
from peergrid.sim.reproduce.vdma.cost import log_log_slope, random_tree_distances
from peergrid.sim.reproduce.vdma.study import StudySettings


def test_eq_1_prices_114_093_gas_at_ten_cents() -> None:
    assert cost_eur(1) == EUR_PER_GAS == pytest.approx(8.7648e-7, rel=1e-12)
    assert round(cost_eur(114_093), 4) == 0.1000
    assert cost_eur(1_000_000) == pytest.approx(0.87648)


def test_table_1_has_23_devices_with_the_papers_totals() -> None:
    devices = table_1_devices()
    assert len(devices) == 23
    loads = [d for d in devices if d.kind == "load"]
    assert len(loads) == 18
    assert sum(d.p_kw for d in loads) == pytest.approx(8857.65)
    assert sum(d.p_kw for d in devices if d.kind == "generator") == pytest.approx(7610.0)


def test_the_generator_matches_the_papers_statistics_over_many_draws() -> None:
    rng = np.random.default_rng(7)
    parameters = ShoutParameters(spread=0.1)
    devices = table_1_devices()
    sessions = [draw_session(rng, parameters, run=k) for k in range(3000)]
    shouts = [o for s in sessions for o in s.orders]
    share = len(shouts) / (len(sessions) * len(devices))
    assert share == pytest.approx(0.5, abs=0.01)
    prices = np.array([o.price for o in shouts])
    assert prices.mean() == pytest.approx(0.35, abs=0.001)
    assert prices.std() == pytest.approx(0.025, abs=0.001)
    # the 6 MW generator at bus 4: E ~ N(6000 kWh, (0.1 · 6000)²)
    big = np.array([o.quantity_kwh for o in shouts if o.agent == "generator 4.1"])
    assert big.mean() == pytest.approx(6000, rel=0.01)
    assert big.std() == pytest.approx(600, rel=0.05)
    assert all(s.redraws == 0 for s in sessions)


def test_generators_offer_and_loads_ask_unless_swapped() -> None:
    everyone = ShoutParameters(spread=0.05, probability=1.0)
    session = draw_session(np.random.default_rng(1), everyone)
    assert len(session.orders) == 23
    for order in session.orders:
        device = session.devices[order.id]
        assert order.side is (Side.SELL if device.kind == "generator" else Side.BUY)
        assert order.bus == str(device.bus)
    swapped = ShoutParameters(spread=0.05, probability=1.0, roles=ShoutRoles.loads_offer)
    for order in draw_session(np.random.default_rng(1), swapped).orders:
        kind = "load" if order.agent.startswith("load") else "generator"
        assert order.side is (Side.SELL if kind == "load" else Side.BUY)


def test_same_seed_same_shouts_and_no_shout_is_drawn_from_another_runs_stream() -> None:
    parameters = ShoutParameters(spread=0.07)
    a = [draw_session(np.random.default_rng(3), parameters, run=0) for _ in range(2)]
    assert a[0].orders == a[1].orders


@given(mean=st.floats(0.01, 2.0), std=st.floats(0.5, 5.0))
@settings(max_examples=30, deadline=None)
def test_non_positive_draws_are_drawn_again(mean: float, std: float) -> None:
    values, redraws = _positive_normal(
        np.random.default_rng(0), np.full(200, mean), np.full(200, std)
    )
    assert (values > 0).all()
    assert redraws >= 0


def test_bad_shout_parameters_are_refused() -> None:
    with pytest.raises(PeergridError, match="probability"):
        ShoutParameters(spread=0.1, probability=1.5)
    with pytest.raises(PeergridError, match="spread"):
        ShoutParameters(spread=math.nan)
    with pytest.raises(PeergridError, match="runs"):
        StudySettings(runs=0)
    with pytest.raises(PeergridError, match="pool"):
        StudySettings(pool="sideways")


@pytest.fixture(scope="module")
def network() -> NetworkCheck:
    return NetworkCheck()


def test_the_base_case_is_the_digests_regression(network: NetworkCheck) -> None:
    """004_vdma.md §6 D.12: max line loading ≈ 83.5 % (line 3-4), |V| in [1.006, 1.038]."""
    (base,) = network.check([Outcome((), 0.0)], "up")
    assert base.feasible and base.converged and base.violations == ""
    assert base.max_line_loading_pct == pytest.approx(83.48, abs=0.01)
    assert base.v_min_pu == pytest.approx(1.0064, abs=1e-4)
    assert base.v_max_pu == pytest.approx(1.0373, abs=1e-4)
    assert 0 < base.losses_share < 0.05
    assert network.base_load_kw == pytest.approx(8857.65)


def test_a_large_offer_delivered_far_overloads_line_3_4(network: NetworkCheck) -> None:
    """6 MWh more from the generator at bus 4 to a load at bus 14 (upward pool): the flow out of
    bus 4 doubles and line 3-4 (line 2) goes past 100 %; in the downward pool it relieves it."""
    far = Outcome((ServiceDelivery(ask_bus=14, offer_bus=4, kwh=6000.0),), 6000.0)
    up = network.check([far], "up")
    down = network.check([Outcome(far.deliveries, -6000.0)], "down")
    assert not up[0].feasible and "line_overload line 2" in up[0].violations
    assert up[0].max_line_loading_pct > 100
    assert down[0].feasible and down[0].max_line_loading_pct < 83.48
    # an outcome checked alone or in a batch gives the same indices
    assert network.check([Outcome((), 0.0), far], "up")[1] == up[0]


def test_an_outcome_names_its_buses_and_the_loads_change() -> None:
    session = draw_session(np.random.default_rng(2), ShoutParameters(spread=0.02, probability=1.0))
    ask = next(o for o in session.orders if o.agent == "load 12.1")
    offer = next(o for o in session.orders if o.agent == "generator 7.1")
    trade = Trade("load 12.1", "generator 7.1", 100.0, 0.35, buy_order=ask.id, sell_order=offer.id)
    clearing = Clearing((trade,), None, {ask.id: 100.0, offer.id: 100.0})
    up = outcome_of(clearing, session.devices, "up")
    assert up.deliveries == (ServiceDelivery(ask_bus=12, offer_bus=7, kwh=100.0),)
    assert up.load_change_kw == 100.0  # the asking load draws 100 kW more
    assert outcome_of(clearing, session.devices, "down").load_change_kw == -100.0


@given(nodes=st.integers(2, 30), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_a_random_tree_is_a_tree_metric(nodes: int, seed: int) -> None:
    d = random_tree_distances(nodes, np.random.default_rng(seed))
    assert d.shape == (nodes, nodes)
    assert np.allclose(d, d.T) and (np.diag(d) == 0).all()
    off = d[~np.eye(nodes, dtype=bool)]
    assert (off >= 200.0 - 1e-9).all()
    # triangle inequality, and the four-point condition every tree metric meets
    assert (d[:, None, :] <= d[:, :, None] + d[None, :, :] + 1e-6).all()  # d(i,j) ≤ d(i,k)+d(k,j)
    rng = np.random.default_rng(seed)
    for _ in range(20):
        i, j, k, m = rng.integers(0, nodes, 4)
        sums = sorted([d[i, j] + d[k, m], d[i, k] + d[j, m], d[i, m] + d[j, k]])
        assert sums[2] == pytest.approx(sums[1], abs=1e-6)


def test_log_log_slope_of_a_power_law_is_its_exponent() -> None:
    nodes = [5, 10, 20, 50]
    assert log_log_slope(nodes, [3 * n**1.5 for n in nodes]) == pytest.approx(1.5)
    assert math.isnan(log_log_slope(nodes, [0, 1, 2, 3]))
