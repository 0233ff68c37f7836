"""A day on case33bw (000_bder.md §2.2–2.3): relaxation gap, AC check, the dispatch."""

from __future__ import annotations

import numpy as np
import pytest

from peergrid.grid.feeders import load_feeder
from peergrid.grid.opf import OPFResult, ac_check, example_case, solve_opf

from .conftest import AC_TOLERANCE_PU, case33bw


@pytest.fixture(scope="module")
def day33() -> OPFResult:
    return solve_opf(example_case(case33bw(), periods=24, seed=1))


def test_relaxation_is_tight_on_case33bw(day33: OPFResult) -> None:
    gap = day33.gap
    assert day33.status == "optimal"
    assert gap.gap_pu2.min() > -1e-7  # (11) holds
    assert gap.max_rel < 1e-3
    assert gap.mean_abs_pu2 < 1e-6
    assert gap.fictitious_loss_kwh < 1e-3 * day33.losses_kwh


def test_ac_check_agrees_with_opf_voltages_on_case33bw(day33: OPFResult) -> None:
    check = ac_check(day33)
    assert check.all_converged
    assert check.max_v_diff_pu < AC_TOLERANCE_PU
    assert check.max_exchange_diff_kw < 0.1  # of a feeder drawing up to ~3.7 MW
    assert check.losses_kw == pytest.approx(day33.branch_loss_kw.sum(axis=0), rel=1e-4)
    assert check.violations == ()


def test_example_case_dispatch_is_consistent(day33: OPFResult) -> None:
    case = day33.case
    assert case.periods == 24 and len(case.evs) == 2 and case.pv and case.batteries
    dt = case.period_hours
    for k, ev in enumerate(case.evs):
        assert ev.efficiency * day33.ev_kw[k].sum() * dt == pytest.approx(ev.energy_kwh, rel=1e-6)
    for k, b in enumerate(case.batteries):
        e = day33.battery_energy_kwh[k]
        assert e[-1] >= b.e_end - 1e-6
        assert e.min() >= b.e_min_kwh - 1e-6 and e.max() <= b.e_max_kwh + 1e-6
        # Eq. (7), period by period.
        prev = np.concatenate([[b.e_start], e[:-1]])
        step = (
            b.eta_charge * day33.battery_charge_kw[k]
            - day33.battery_discharge_kw[k] / b.eta_discharge
        ) * dt
        assert e - prev == pytest.approx(step, abs=1e-6)
    # Energy balance: exchange = consumption - generation + losses.
    balance = day33.grid_import_kw - day33.grid_export_kw + day33.bus_p_kw[1:].sum(axis=0)
    assert balance == pytest.approx(day33.branch_loss_kw.sum(axis=0), abs=1e-3)
    assert day33.v_pu[1:].min() >= 0.9 - 1e-7 and day33.v_pu[1:].max() <= 1.1 + 1e-7
    assert day33.max_simultaneous_exchange_kw < 1e-3  # MW-scale feeder
    assert day33.max_simultaneous_charge_discharge_kw < 1e-3


@pytest.mark.slow
def test_full_day_on_case33bw_and_ieee_eu_lv() -> None:
    """96 quarter hours on case33bw; 4 periods on the 907-bus IEEE EU LV feeder (transformer)."""
    r = solve_opf(example_case(case33bw(), periods=96, seed=0))
    assert r.gap.max_rel < 1e-3
    assert ac_check(r).max_v_diff_pu < AC_TOLERANCE_PU
    lv = solve_opf(example_case(load_feeder("ieee-eu-lv"), periods=4, seed=0))
    assert lv.status in ("optimal", "optimal_inaccurate")  # tiny lines: solver stalls at 1e-7
    check = ac_check(lv)
    assert check.all_converged
    assert check.max_v_diff_pu < AC_TOLERANCE_PU
    assert check.violations == ()
