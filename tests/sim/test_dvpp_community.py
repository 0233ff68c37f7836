"""The DVPP community simulated second by second: balance, targets, metrics and orderings."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peergrid.assets.dvpp_battery import DvppBatteryParams
from peergrid.core.errors import ScenarioError
from peergrid.mechanisms.dvpp import BatteryState, setpoints_mw, setpoints_mw_units
from peergrid.sim.dvpp.community import (
    Case,
    CommunitySettings,
    FlexibilitySettings,
    flexibility_available,
    simulate,
)

CASES = (Case("perfect", 1), Case("1min", 60), Case("15min", 900), Case("none", None))
HOURS = 3


def small_profiles() -> tuple[np.ndarray, np.ndarray]:
    """Three houses over three hours, deterministic: house 0 has a large PV surplus, house 1
    only a load that switches every 37 s, house 2 a steady load and a little PV."""
    seconds = HOURS * 3600
    t = np.arange(seconds)
    load = np.empty((seconds, 3))
    pv = np.zeros((seconds, 3))
    load[:, 0] = 300.0
    pv[:, 0] = 3500.0 + 1500.0 * np.sin(2 * np.pi * t / 5400)
    load[:, 1] = np.where((t // 37) % 3 == 0, 2500.0, 400.0)
    load[:, 2] = 600.0
    pv[:, 2] = 200.0
    return load, pv


@pytest.fixture(scope="module")
def run():  # type: ignore[no-untyped-def]
    load, pv = small_profiles()
    battery = DvppBatteryParams(capacity_kwh=2.0, p_charge_max_kw=3.0, p_discharge_max_kw=3.0)
    return simulate(load, pv, CASES, CommunitySettings(battery=battery, soc_start=0.3, slot_s=600))


def test_energy_balance_at_the_vgc_every_second_and_interval(run) -> None:  # type: ignore[no-untyped-def]
    load, pv = small_profiles()
    residual = (load - pv).sum(axis=1)
    for s, case in enumerate(run.cases):
        assert run.p_vgc_w[:, s] == pytest.approx(residual - run.p_ess_w[:, s], abs=1e-6)
        step = case.interval_s or 60
        per_interval = run.p_vgc_w[:, s].reshape(-1, step).sum(axis=1)
        expected = (residual - run.p_ess_w[:, s]).reshape(-1, step).sum(axis=1)
        assert per_interval == pytest.approx(expected, abs=1e-3)
        # the slot means of each house's draw add up to the VGC's energy
        assert run.slot_draw_kwh[:, s, :].sum() * 3.6e6 == pytest.approx(
            run.p_vgc_w[:, s].sum(), rel=1e-9
        )


def test_targets_are_the_residual_of_the_interval_start(run) -> None:  # type: ignore[no-untyped-def]
    load, pv = small_profiles()
    residual = (load - pv).sum(axis=1)
    for s, case in enumerate(run.cases):
        if case.interval_s is None:
            continue
        starts = np.arange(0, len(residual), case.interval_s)
        held = np.repeat(residual[starts], case.interval_s)[: len(residual)]
        assert run.target_w[:, s] == pytest.approx(held)


def test_shares_lie_in_0_1_and_coordination_orders_them(run) -> None:  # type: ignore[no-untyped-def]
    m = run.metrics
    for case in CASES:
        for value in (
            m[case.key].self_sufficiency,
            m[case.key].self_consumption,
            m[case.key].efficiency,
        ):
            assert 0.0 <= value <= 1.0
    assert m["perfect"].self_sufficiency >= m["1min"].self_sufficiency
    assert m["1min"].self_sufficiency >= m["15min"].self_sufficiency
    assert m["perfect"].self_sufficiency > m["15min"].self_sufficiency
    # without a community, house 1 imports what house 0 exports: none is the worst
    for key in ("perfect", "1min", "15min"):
        assert m["none"].self_sufficiency < m[key].self_sufficiency
        assert m["none"].self_consumption < m[key].self_consumption
    # perfect coordination holds the VGC closest to zero
    assert m["perfect"].vgc_deviation_w < m["15min"].vgc_deviation_w


def test_the_energies_add_up(run) -> None:  # type: ignore[no-untyped-def]
    for metrics in run.metrics.values():
        # demand − import + export − PV = battery output at the AC side
        net = metrics.demand_kwh - metrics.pv_kwh
        assert metrics.vgc_import_kwh - metrics.vgc_export_kwh == pytest.approx(
            net - (metrics.discharged_kwh - metrics.charged_kwh), abs=1e-6
        )
        # what the cells gained is at most what came in less what went out
        assert metrics.stored_change_kwh <= metrics.charged_kwh - metrics.discharged_kwh + 1e-9


@settings(max_examples=150, deadline=None)
@given(
    socs=st.lists(st.integers(0, 100_000), min_size=1, max_size=12),
    optimum=st.integers(1, 5_000_000),
    target=st.integers(-60_000_000, 60_000_000),
    rule=st.sampled_from(["paper", "code"]),
)
def test_the_fast_setpoints_are_the_reference_and_sum_to_the_target(
    socs: list[int], optimum: int, target: int, rule: str
) -> None:
    batteries = [BatteryState(f"b{i}", s / 100_000, optimum / 1000) for i, s in enumerate(socs)]
    fast = setpoints_mw_units(socs, [optimum] * len(socs), [optimum] * len(socs), target, rule)  # type: ignore[arg-type]
    assert fast == setpoints_mw(batteries, target, rule)  # type: ignore[arg-type]
    active = sum(1 for v in fast if v)
    assert abs(sum(fast) - target) <= active  # Eq. 2 within a milliwatt per active battery


def test_flexibility_shifts_the_target_while_it_is_available() -> None:
    load, pv = small_profiles()
    load = np.tile(load, (3, 1))  # nine hours, so the agent offers a contract
    pv = np.tile(pv, (3, 1))
    settings_ = CommunitySettings(
        soc_start=0.5, flexibility=FlexibilitySettings(seed=3, unit_w=500.0)
    )
    flex_run = simulate(load, pv, (Case("1min", 60),), settings_)
    p_flex = flex_run.p_flex_w[:, 0]
    assert (p_flex != 0).any()
    assert set(np.abs(p_flex[p_flex != 0]) / 500.0) <= {4.0, 5.0, 6.0, 7.0, 8.0}
    residual = (load - pv).sum(axis=1)
    starts = np.arange(0, len(residual), 60)
    held = np.repeat(residual[starts] + p_flex[starts], 60)
    assert flex_run.target_w[:, 0] == pytest.approx(held)


def test_the_availability_check_has_the_contracts_borders() -> None:
    soc = np.array([0.5, 0.04, 0.6])
    assert not flexibility_available(soc, 1000.0, 0.10)  # one battery below 5 %
    assert flexibility_available(np.array([0.5, 0.06, 0.6]), 1000.0, 0.10)
    assert not flexibility_available(np.array([0.96, 0.9]), -1000.0, 0.10)
    assert flexibility_available(np.array([0.5, 0.9]), -1000.0, 0.10)


@pytest.mark.parametrize(
    ("load", "pv", "message"),
    [
        (np.ones((10, 2)), np.ones((10, 3)), "pv_w: shape"),
        (-np.ones((10, 2)), np.ones((10, 2)), "load_w: negative"),
        (np.full((10, 2), np.nan), np.ones((10, 2)), "load_w: NaN"),
        (np.ones(10), np.ones(10), "load_w: expected shape"),
    ],
)
def test_bad_profiles_are_refused(load: np.ndarray, pv: np.ndarray, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        simulate(load, pv, CASES)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ScenarioError, match="soc_start"):
        CommunitySettings(soc_start=1.5)
    with pytest.raises(ScenarioError, match="rule"):
        CommunitySettings(rule="best")  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="twice"):
        simulate(np.ones((10, 2)), np.ones((10, 2)), (Case("a", 1), Case("a", 2)))
