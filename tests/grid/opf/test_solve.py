"""Hand-checked optima on two buses, binding limits, the relaxation gap, infeasible cases."""

from __future__ import annotations

import numpy as np
import pytest

from peergrid.core.errors import GridError
from peergrid.grid.feeders import GridLimits
from peergrid.grid.opf import (
    Battery,
    ElectricVehicle,
    FixedLoad,
    GridConnection,
    OPFCase,
    OPFInfeasible,
    OPFResult,
    Prices,
    PVSystem,
    ac_check,
    solve_opf,
)

from .conftest import AC_TOLERANCE_PU, two_bus


def test_pv_surplus_is_exported_at_the_feed_in_price() -> None:
    case = OPFCase(
        network=two_bus(),
        period_hours=1.0,
        prices=Prices(np.array([0.30, 0.30]), np.array([0.10, 0.10])),
        loads=(FixedLoad("home", 1, np.array([1.0, 1.0])),),
        pv=(PVSystem("roof", 1, np.array([5.0, 0.0])),),
    )
    r = solve_opf(case)
    # 4 kW exported at 0.10, then 1 kW imported at 0.30; the line's losses are ~1e-3 W.
    assert r.grid_export_kw == pytest.approx([4.0, 0.0], abs=1e-4)
    assert r.grid_import_kw == pytest.approx([0.0, 1.0], abs=1e-4)
    assert r.cost == pytest.approx(-0.4 + 0.3, abs=1e-4)
    assert r.pv_curtailed_kw.max() < 1e-6
    assert (np.minimum(r.grid_import_kw, r.grid_export_kw) == 0).all()
    # The solver itself never imported and exported at once (feed-in < import price).
    assert r.max_simultaneous_exchange_kw < 1e-4


def test_battery_arbitrage_respects_efficiency_and_limits() -> None:
    """Charge cheap (PV surplus, then imports at 0.10), discharge into the 0.40 periods.

    Storing 1 kWh of output costs 1/0.9² kWh of input; discharge (2 kW) just covers the load in
    periods 2-3, so the battery must deliver 4 kWh: it stores 4/0.9 = 4.444 kWh, charged with
    4/0.81 = 4.938 kWh: the PV's 4 kWh surplus of period 0 (worth only 0.05 exported) and 0.938
    kWh imported at 0.10. Cost: the load of period 1 (2 kWh) and the 0.938 kWh at 0.10.
    """
    case = OPFCase(
        network=two_bus(),
        period_hours=1.0,
        prices=Prices.with_feed_in_share([0.10, 0.10, 0.40, 0.40], 0.5),
        loads=(FixedLoad("home", 1, np.full(4, 2.0)),),
        pv=(PVSystem("roof", 1, np.array([6.0, 0.0, 0.0, 0.0])),),
        batteries=(
            Battery(
                "box",
                1,
                e_max_kwh=5.0,
                p_charge_max_kw=5.0,
                p_discharge_max_kw=2.0,
                eta_charge=0.9,
                eta_discharge=0.9,
                e_initial_kwh=0.0,
                e_final_kwh=0.0,
            ),
        ),
    )
    r = solve_opf(case)
    assert r.cost == pytest.approx(0.1 * (2 + 4 / 0.81 - 4), abs=1e-4)
    assert r.battery_discharge_kw[0] == pytest.approx([0, 0, 2, 2], abs=1e-4)
    assert r.battery_charge_kw[0].sum() == pytest.approx(4 / 0.81, abs=1e-4)
    assert r.battery_charge_kw[0, 0] >= 4.0 - 1e-4  # all of the PV surplus is stored
    assert r.battery_energy_kwh[0, 1:] == pytest.approx([4 / 0.9, 2 / 0.9, 0.0], abs=1e-4)
    assert r.battery_energy_kwh.min() >= -1e-6 and r.battery_energy_kwh.max() <= 5 + 1e-6
    assert r.grid_export_kw.max() < 1e-4
    assert r.max_simultaneous_charge_discharge_kw < 1e-4
    assert r.dispatch_kw("box") == pytest.approx(r.battery_discharge_kw[0] - r.battery_charge_kw[0])


def test_ev_gets_its_energy_by_departure_in_the_cheapest_hours() -> None:
    periods = 24
    prices = 0.20 + 0.01 * np.arange(periods)  # every hour dearer than the one before
    ev = ElectricVehicle(
        "car", 1, energy_kwh=20.0, arrival_period=18, departure_period=7, p_max_kw=7.0
    )
    case = OPFCase(
        network=two_bus(),
        period_hours=1.0,
        prices=Prices.with_feed_in_share(prices),
        loads=(FixedLoad("home", 1, np.full(periods, 0.5)),),
        evs=(ev,),
    )
    r = solve_opf(case)
    drawn = r.ev_kw[0]
    window = ev.availability(periods)
    assert window.sum() == 13  # 18:00-24:00 and 00:00-07:00
    assert 0.9 * drawn.sum() * 1.0 == pytest.approx(20.0, abs=1e-6)  # Eq. (4)
    assert np.abs(drawn[~window]).max() < 1e-6  # Eq. (5): nothing outside the window
    assert drawn.max() <= 7.0 + 1e-6
    # 22.22 kWh from the grid: 7 kW in hours 0, 1, 2 (the cheapest), the rest in hour 3.
    assert drawn[:4] == pytest.approx([7.0, 7.0, 7.0, 20 / 0.9 - 21], abs=1e-3)


def test_binding_voltage_limit_curtails_pv() -> None:
    """PV exporting over a weak cable: with a 1.02 p.u. cap the surplus is curtailed."""
    network = two_bus(length_km=0.3, r_ohm_per_km=0.446, x_ohm_per_km=0.071)

    def solve(v_max_pu: float) -> OPFResult:
        return solve_opf(
            OPFCase(
                network=network,
                period_hours=1.0,
                prices=Prices.with_feed_in_share([0.3, 0.3]),
                loads=(FixedLoad("home", 1, np.array([1.0, 1.0])),),
                pv=(PVSystem("roof", 1, np.array([40.0, 0.0])),),
                limits=GridLimits(0.9, v_max_pu),
            )
        )

    loose, tight = solve(1.10), solve(1.02)
    assert loose.pv_curtailed_kw.max() < 1e-4
    assert loose.v_pu[1, 0] > 1.02 + 1e-3
    assert tight.pv_curtailed_kw[0, 0] > 5.0
    assert tight.v_pu[1, 0] == pytest.approx(1.02, abs=1e-6)  # the limit binds
    assert tight.grid_export_kw[0] < loose.grid_export_kw[0] - 5.0
    assert tight.cost > loose.cost
    # r > x: inflating ψ would only lose energy, so the cone stays tight at the limit.
    assert tight.gap.max_rel < 1e-5
    check = ac_check(tight)
    assert check.max_v_diff_pu < AC_TOLERANCE_PU
    assert check.violations == ()


def test_loose_relaxation_is_detected_by_gap_and_ac_check() -> None:
    """x ≫ r, reverse flow against a binding upper voltage limit: the SOC relaxation is not
    exact (fictitious current lowers the voltage more than it costs), and both the gap and the
    AC check say so."""
    network = two_bus(length_km=0.3, r_ohm_per_km=0.1, x_ohm_per_km=0.4)
    case = OPFCase(
        network=network,
        period_hours=1.0,
        prices=Prices.with_feed_in_share([0.3]),
        pv=(PVSystem("roof", 1, np.array([200.0])),),
        limits=GridLimits(0.9, 1.02),
    )
    r = solve_opf(case)
    assert r.gap.max_rel > 0.1
    assert r.gap.fictitious_loss_kwh > 0.1
    check = ac_check(r)
    assert check.max_v_diff_pu > 1e-3
    assert any(v.kind == "overvoltage" for v in check.violations)


def test_current_penalty_trades_cost_for_a_tight_relaxation() -> None:
    """The loose case above with a penalty on Σψ: less current, a dearer dispatch, no gap."""
    case = OPFCase(
        network=two_bus(length_km=0.3, r_ohm_per_km=0.1, x_ohm_per_km=0.4),
        period_hours=1.0,
        prices=Prices.with_feed_in_share([0.3]),
        pv=(PVSystem("roof", 1, np.array([200.0])),),
        limits=GridLimits(0.9, 1.02),
    )
    plain = solve_opf(case)
    penalised = solve_opf(case, current_penalty=0.1)
    assert plain.info.current_penalty == 0.0 and penalised.info.current_penalty == 0.1
    assert penalised.branch_current_sq_pu.sum() < 0.1 * plain.branch_current_sq_pu.sum()
    assert penalised.cost > plain.cost + 1.0  # cost is the exchange alone, without the penalty
    assert penalised.pv_curtailed_kw.sum() > plain.pv_curtailed_kw.sum() + 1.0
    assert plain.gap.max_rel > 0.1 and penalised.gap.max_rel < 1e-5


def test_current_penalty_defaults_to_zero_and_ignores_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = OPFCase(
        two_bus(),
        1.0,
        Prices.with_feed_in_share([0.2, 0.3]),
        loads=(FixedLoad("x", 1, np.array([2.0, 3.0])),),
    )
    explicit = solve_opf(case, current_penalty=0.0)
    monkeypatch.setenv("PSIW", "1")  # once read by the objective; no longer
    default = solve_opf(case)
    assert default.cost == explicit.cost
    assert np.array_equal(default.branch_current_sq_pu, explicit.branch_current_sq_pu)


@pytest.mark.parametrize("weight", [-0.1, float("nan"), float("inf")])
def test_current_penalty_must_be_non_negative(weight: float) -> None:
    case = OPFCase(two_bus(), 1.0, Prices.with_feed_in_share([0.2]))
    with pytest.raises(GridError, match="current_penalty must be non-negative"):
        solve_opf(case, current_penalty=weight)


def test_current_penalty_needs_a_positive_mean_import_price() -> None:
    case = OPFCase(two_bus(), 1.0, Prices(np.array([-0.1, 0.05]), np.array([-0.2, 0.0])))
    with pytest.raises(GridError, match="positive mean import price"):
        solve_opf(case, current_penalty=0.1)


# --------------------------------------------------------------------------------------------
# Inputs that cannot be met


def test_infeasible_voltage_band_is_a_clear_error() -> None:
    network = two_bus(length_km=0.3, r_ohm_per_km=0.446, x_ohm_per_km=0.071)
    case = OPFCase(
        network=network,
        period_hours=1.0,
        prices=Prices.with_feed_in_share([0.3]),
        loads=(FixedLoad("heat pump", 1, np.array([60.0])),),
        limits=GridLimits(0.98, 1.02),
    )
    with pytest.raises(OPFInfeasible, match=r"OPF infeasible .*voltage band 0\.98\.\.1\.02"):
        solve_opf(case)


def test_import_limit_makes_the_case_infeasible() -> None:
    case = OPFCase(
        two_bus(),
        1.0,
        Prices.with_feed_in_share([0.2]),
        loads=(FixedLoad("x", 1, np.array([5.0])),),
        grid=GridConnection(import_max_kw=3.0),
    )
    with pytest.raises(OPFInfeasible, match="grid connection"):
        solve_opf(case)
