from __future__ import annotations

import numpy as np
import pytest

from peergrid.core.errors import GridError
from peergrid.grid.feeders import CATALOGUE, load_feeder
from peergrid.grid.powerflow import PowerFlowCheck
from peergrid.grid.sensitivity import LinearSensitivity


@pytest.fixture(scope="module", params=["pgm", "lightsim2grid"])
def check(request: pytest.FixtureRequest) -> PowerFlowCheck:
    """The operating points and the AC results compared with come from either engine."""
    feeder = load_feeder("ieee-eu-lv")
    return PowerFlowCheck(feeder, feeder.household_buses, engine=request.param)


@pytest.fixture(scope="module")
def operating_point() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    p = rng.uniform(-2.0, 4.0, 55)
    return p, 0.3 * np.clip(p, 0, None)


@pytest.fixture(scope="module")
def loaded(
    check: PowerFlowCheck, operating_point: tuple[np.ndarray, np.ndarray]
) -> LinearSensitivity:
    p, q = operating_point
    return LinearSensitivity(check.feeder, check.buses, p, q, model=check.model)


@pytest.fixture(scope="module")
def no_load(check: PowerFlowCheck) -> LinearSensitivity:
    return LinearSensitivity(check.feeder, check.buses, model=check.model)


def test_exact_at_the_operating_point(
    check: PowerFlowCheck, loaded: LinearSensitivity, operating_point: tuple[np.ndarray, ...]
) -> None:
    p, q = operating_point
    ac = check.run(p[None, :], q[None, :])
    estimate = loaded.estimate(np.zeros(55), np.zeros(55))
    np.testing.assert_array_equal(estimate.vm_pu, ac.vm_pu[0])
    np.testing.assert_allclose(estimate.line_loading_pct, ac.line_loading_pct[0], atol=1e-12)
    np.testing.assert_allclose(estimate.trafo_loading_pct, ac.trafo_loading_pct[0], atol=1e-12)
    assert float(estimate.transformer_p_kw) == pytest.approx(ac.transformer_p_kw[0], abs=1e-12)


def test_no_load_operating_point(no_load: LinearSensitivity) -> None:
    estimate = no_load.estimate(np.zeros(55))
    assert float(estimate.v_min_pu) == pytest.approx(1.05, abs=1e-6)
    assert float(estimate.transformer_p_kw) == pytest.approx(0.0, abs=1e-6)
    # drawing power lowers every voltage, most at the drawing bus's side of the feeder
    assert (no_load.dvm_dp_pu_per_kw <= 1e-12).all()
    assert (no_load.dvm_dq_pu_per_kvar <= 1e-12).all()


@pytest.mark.parametrize("size_kw", [0.05, 0.5])
def test_close_to_ac_for_small_changes(
    check: PowerFlowCheck,
    loaded: LinearSensitivity,
    operating_point: tuple[np.ndarray, np.ndarray],
    size_kw: float,
) -> None:
    p, q = operating_point
    rng = np.random.default_rng(int(size_kw * 100))
    dp = rng.normal(0.0, size_kw, 55)
    dq = rng.normal(0.0, 0.3 * size_kw, 55)
    ac = check.run((p + dp)[None, :], (q + dq)[None, :])
    base = check.run(p[None, :], q[None, :])
    estimate = loaded.estimate(dp, dq)
    error_v = np.abs(estimate.vm_pu - ac.vm_pu[0]).max()
    change_v = np.abs(base.vm_pu[0] - ac.vm_pu[0]).max()
    error_line = np.abs(estimate.line_loading_pct - ac.line_loading_pct[0]).max()
    change_line = np.abs(base.line_loading_pct[0] - ac.line_loading_pct[0]).max()
    # first order: the error is a small fraction of the change, and shrinks with its square
    assert error_v < 2e-3 * change_v * size_kw / 0.05
    assert error_line < 2e-2 * change_line * size_kw / 0.05
    assert error_v < 1e-5 * (size_kw / 0.5) ** 2
    assert error_line < 1e-2 * (size_kw / 0.5) ** 2
    error_p = abs(float(estimate.transformer_p_kw) - ac.transformer_p_kw[0])
    assert error_p < 1e-3 * np.abs(dp).sum()


def test_error_is_second_order(
    check: PowerFlowCheck, loaded: LinearSensitivity, operating_point: tuple[np.ndarray, ...]
) -> None:
    p, q = operating_point
    direction = np.random.default_rng(3).normal(0.0, 1.0, 55)
    errors = []
    for step in (0.4, 0.2):
        ac = check.run((p + step * direction)[None, :], q[None, :])
        errors.append(np.abs(loaded.estimate(step * direction).vm_pu - ac.vm_pu[0]).max())
    assert errors[0] / errors[1] == pytest.approx(4.0, rel=0.1)


def test_derivatives_match_finite_differences(
    check: PowerFlowCheck, loaded: LinearSensitivity, operating_point: tuple[np.ndarray, ...]
) -> None:
    p, q = operating_point
    h = 0.02  # central differences: truncation error O(h²), solver noise O(1e-5 kW / h)
    base = check.run(p[None, :], q[None, :])
    for j in (0, 30, 54):
        step = np.zeros(55)
        step[j] = h
        up = check.run((p + step)[None, :], q[None, :])
        down = check.run((p - step)[None, :], q[None, :])
        dvm = (up.vm_pu[0] - down.vm_pu[0]) / (2 * h)
        np.testing.assert_allclose(loaded.dvm_dp_pu_per_kw[:, j], dvm, rtol=0, atol=1e-9)
        dline = (up.line_loading_pct[0] - down.line_loading_pct[0]) / (2 * h)
        carrying = base.line_loading_pct[0] > 1e-3
        np.testing.assert_allclose(
            loaded.dline_loading_dp_pct_per_kw[carrying, j], dline[carrying], rtol=0, atol=1e-5
        )
        dtrafo = (up.trafo_loading_pct[0] - down.trafo_loading_pct[0]) / (2 * h)
        np.testing.assert_allclose(loaded.dtrafo_loading_dp_pct_per_kw[:, j], dtrafo, atol=1e-6)
        dext = (up.transformer_p_kw[0] - down.transformer_p_kw[0]) / (2 * h)
        assert loaded.dtransformer_p_dp[j] == pytest.approx(dext, abs=1e-6)
        # marginal losses are small and positive for a consuming feeder's far end
        assert 0.99 < loaded.dtransformer_p_dp[j] < 1.2
        upq = check.run(p[None, :], (q + step)[None, :])
        downq = check.run(p[None, :], (q - step)[None, :])
        dvm_q = (upq.vm_pu[0] - downq.vm_pu[0]) / (2 * h)
        np.testing.assert_allclose(loaded.dvm_dq_pu_per_kvar[:, j], dvm_q, rtol=0, atol=1e-9)


def test_line_flow_sensitivity_is_a_distribution_factor(no_load: LinearSensitivity) -> None:
    """At no load, a kW drawn at a bus flows through the lines on its path: factors in [0, 1+]."""
    factors = no_load.dline_p_dp_kw_per_kw
    assert factors.shape == (len(no_load.line_ids), 55)
    assert factors.min() > -1e-3
    assert factors.max() < 1.1
    assert (factors.max(axis=0) > 0.99).all()  # the first line on every path carries it all


def test_many_slots_equal_single(loaded: LinearSensitivity) -> None:
    rng = np.random.default_rng(2)
    dp = rng.normal(0, 1, (4, 55))
    dq = rng.normal(0, 0.3, (4, 55))
    many = loaded.estimate(dp, dq)
    assert many.vm_pu.shape == (4, 907)
    for k in range(4):
        one = loaded.estimate(dp[k], dq[k])
        np.testing.assert_allclose(many.vm_pu[k], one.vm_pu, atol=1e-14)
        np.testing.assert_allclose(many.line_loading_pct[k], one.line_loading_pct, atol=1e-10)
        assert many.transformer_p_kw[k] == pytest.approx(float(one.transformer_p_kw))
        assert many.v_min_pu[k] == pytest.approx(float(one.v_min_pu))


def test_a_trade_at_one_bus_changes_nothing(check: PowerFlowCheck) -> None:
    bus = check.buses[20]
    shared = LinearSensitivity(check.feeder, [bus, bus, check.buses[3]], model=check.model)
    trade = shared.estimate(np.array([-3.0, 3.0, 0.0]))
    still = shared.estimate(np.zeros(3))
    np.testing.assert_allclose(trade.vm_pu, still.vm_pu, atol=1e-15)


def test_injection_at_the_slack_bus(check: PowerFlowCheck) -> None:
    slack = int(check.feeder.net.ext_grid.bus.iloc[0])
    sens = LinearSensitivity(check.feeder, [slack, check.buses[0]], model=check.model)
    assert np.nanmax(np.abs(sens.dvm_dp_pu_per_kw[:, 0])) == 0.0
    assert sens.dtransformer_p_dp[0] == pytest.approx(1.0)


def test_bad_inputs(check: PowerFlowCheck, no_load: LinearSensitivity) -> None:
    with pytest.raises(GridError, match="expected changes of shape"):
        no_load.estimate(np.zeros(54))
    with pytest.raises(GridError, match="expected changes of shape"):
        no_load.estimate(np.zeros((2, 55)), np.zeros((3, 55)))
    with pytest.raises(GridError, match="NaN"):
        no_load.estimate(np.full(55, np.nan))
    with pytest.raises(GridError, match="not buses"):
        LinearSensitivity(check.feeder, [123_456], model=check.model)
    with pytest.raises(GridError, match="does not converge"):
        LinearSensitivity(check.feeder, check.buses, np.full(55, 5000.0), model=check.model)
    with pytest.raises(GridError, match="operating-point injections"):
        LinearSensitivity(check.feeder, check.buses, np.zeros(3), model=check.model)


@pytest.mark.parametrize("name", ["case33bw", "cigre-lv", "cigre-mv-vdma"])
def test_other_feeders(name: str) -> None:
    if name not in CATALOGUE:
        pytest.skip(f"feeder {name!r} is not in the catalogue yet")
    feeder = load_feeder(name)
    buses = list(feeder.household_buses)
    check = PowerFlowCheck(feeder, buses)
    scale = 100.0 if feeder.vn_kv > 1 else 2.0
    rng = np.random.default_rng(1)
    p = rng.uniform(0, 1, len(buses)) * scale
    sens = LinearSensitivity(feeder, buses, p, 0.2 * p, model=check.model)
    dp = rng.normal(0, 0.01 * scale, len(buses))
    ac = check.run((p + dp)[None, :], (0.2 * p)[None, :])
    estimate = sens.estimate(dp)
    assert np.nanmax(np.abs(estimate.vm_pu - ac.vm_pu[0])) < 1e-6
    assert np.nanmax(np.abs(estimate.line_loading_pct - ac.line_loading_pct[0])) < 1e-2
