from __future__ import annotations

import numpy as np
import pytest

from peergrid.core.errors import GridError
from peergrid.grid.feeders import GridLimits, load_feeder
from peergrid.grid.powerflow import PowerFlowCheck


@pytest.fixture(scope="module")
def check() -> PowerFlowCheck:
    feeder = load_feeder("ieee-eu-lv")
    return PowerFlowCheck(feeder, feeder.household_buses)


def test_feeder_metadata() -> None:
    feeder = load_feeder("ieee-eu-lv")
    assert len(feeder.household_buses) == 55
    assert len(set(feeder.household_buses)) == 55
    assert feeder.vn_kv == pytest.approx(0.416, abs=1e-3)
    assert len(feeder.net.bus) == 907


def test_unknown_feeder() -> None:
    with pytest.raises(GridError, match="unknown feeder"):
        load_feeder("nowhere")


def test_no_load_gives_source_voltage(check: PowerFlowCheck) -> None:
    zeros = np.zeros(55)
    result = check.check(0, zeros, zeros)
    assert result.converged
    source = float(check.feeder.net.ext_grid.vm_pu.iloc[0])
    assert result.v_max_pu == pytest.approx(source, abs=1e-6)
    assert result.v_min_pu == pytest.approx(source, abs=1e-6)
    assert result.violations == ()


def test_heavy_load_is_reported(check: PowerFlowCheck) -> None:
    result = check.check(1, np.full(55, 12.0), np.full(55, 4.0))  # 660 kW + 220 kvar, 800 kVA
    assert result.converged
    kinds = {v.kind for v in result.violations}
    assert "trafo_overload" in kinds
    assert result.max_trafo_loading_pct > 100
    assert "undervoltage" in kinds
    assert "line_overload" in kinds
    assert result.v_min_pu < 0.9


def test_export_raises_voltage(check: PowerFlowCheck) -> None:
    result = check.check(2, np.full(55, -8.0), np.zeros(55))
    assert result.converged
    assert result.v_max_pu > float(check.feeder.net.ext_grid.vm_pu.iloc[0])
    assert result.transformer_p_kw < 0


def test_divergence_is_not_a_pass(check: PowerFlowCheck) -> None:
    result = check.check(3, np.full(55, 5000.0), np.zeros(55))
    assert not result.converged
    assert [v.kind for v in result.violations] == ["not_converged"]
    # The next slot recovers from a fresh start.
    assert check.check(4, np.zeros(55), np.zeros(55)).converged


def test_limits_are_configurable() -> None:
    feeder = load_feeder("ieee-eu-lv")
    strict = PowerFlowCheck(feeder, feeder.household_buses, GridLimits(v_min_pu=1.049))
    result = strict.check(0, np.full(55, 2.0), np.zeros(55))
    assert any(v.kind == "undervoltage" for v in result.violations)


@pytest.mark.parametrize(
    ("p", "message"),
    [(np.zeros(54), "expected 55"), (np.full(55, np.nan), "NaN")],
)
def test_bad_injections(check: PowerFlowCheck, p: np.ndarray, message: str) -> None:
    with pytest.raises(GridError, match=message):
        check.check(0, p, np.zeros(len(p)))


def test_unknown_bus() -> None:
    with pytest.raises(GridError, match="not buses"):
        PowerFlowCheck(load_feeder("ieee-eu-lv"), [10_000])
