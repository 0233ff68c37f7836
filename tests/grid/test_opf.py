"""Branch-flow OPF (000_bder.md §2.2–2.3): hand-checked optima, limits, EVs, gap, AC check."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandapower as pp
import pytest

from peergrid.core.errors import GridError
from peergrid.grid.feeders import Feeder, GridLimits, load_feeder
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
    RadialNetwork,
    solve_opf,
)
from peergrid.grid.opf.check import ac_check
from peergrid.grid.opf.example import example_case

# The OPF's voltages against the AC power flow's, for a tight relaxation on a net of lines.
AC_TOLERANCE_PU = 1e-4


def two_bus(
    *,
    length_km: float = 0.01,
    r_ohm_per_km: float = 0.01,
    x_ohm_per_km: float = 0.005,
    vn_kv: float = 0.4,
    max_i_ka: float = 1.0,
    s_base_mva: float = 0.01,
) -> RadialNetwork:
    """The root (bus 0, 1.0 p.u.) and one household bus (bus 1) joined by one line."""
    net = pp.create_empty_network(sn_mva=1.0)
    b0 = pp.create_bus(net, vn_kv=vn_kv)
    b1 = pp.create_bus(net, vn_kv=vn_kv)
    pp.create_ext_grid(net, b0, vm_pu=1.0)
    pp.create_line_from_parameters(
        net, b0, b1, length_km, r_ohm_per_km, x_ohm_per_km, 0.0, max_i_ka
    )
    return RadialNetwork.from_net(net, s_base_mva=s_base_mva)


def case33bw() -> Feeder:
    import pandapower.networks as pn

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = pn.case33bw()
    buses = list(dict.fromkeys(int(b) for b in net.load.bus))
    return Feeder("case33bw", net, buses, 12.66, GridLimits(0.90, 1.10))


@pytest.fixture(scope="module")
def day33() -> OPFResult:
    return solve_opf(example_case(case33bw(), periods=24, seed=1))


# --------------------------------------------------------------------------------------------
# Network conversion


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


# --------------------------------------------------------------------------------------------
# Hand-checkable optima on two buses


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


def test_ev_energy_beyond_its_window_is_refused_before_solving() -> None:
    ev = ElectricVehicle(
        "car", 1, energy_kwh=50.0, arrival_period=0, departure_period=4, p_max_kw=11.0
    )
    with pytest.raises(GridError, match=r"ev 'car': field 'energy_kwh' = 50.0 exceeds"):
        OPFCase(two_bus(), 1.0, Prices.with_feed_in_share(np.full(6, 0.2)), evs=(ev,))


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda: Prices(np.array([0.2, 0.2]), np.array([0.1, 0.3])),
            r"exceeds the import price \(0\.2\) in period 1",
        ),
        (lambda: Battery("b", 1, 5.0, 2.0, 2.0, e_initial_kwh=6.0), "'e_initial_kwh' = 6.0"),
        (lambda: Battery("b", 1, 5.0, 2.0, 2.0, eta_charge=1.2), "'eta_charge' must lie"),
        (lambda: PVSystem("p", 1, np.array([1.0, -1.0])), "'available_kw' is negative"),
        (lambda: ElectricVehicle("e", 1, 5.0, 3, 3, 7.0), "must be distinct"),
    ],
)
def test_bad_inputs_name_the_field(make: Callable[[], object], match: str) -> None:
    with pytest.raises(GridError, match=match):
        make()


def test_case_level_checks() -> None:
    prices = Prices.with_feed_in_share([0.2, 0.2])
    with pytest.raises(GridError, match="field 'bus' = 7 is not a bus"):
        OPFCase(two_bus(), 1.0, prices, loads=(FixedLoad("x", 7, np.ones(2)),))
    with pytest.raises(GridError, match="has 3 periods, not 2"):
        OPFCase(two_bus(), 1.0, prices, loads=(FixedLoad("x", 1, np.ones(3)),))
    with pytest.raises(GridError, match="cannot be reached"):
        OPFCase(
            two_bus(),
            1.0,
            prices,
            batteries=(Battery("b", 1, 10.0, 1.0, 1.0, e_initial_kwh=0.0, e_final_kwh=9.0),),
        )


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


# --------------------------------------------------------------------------------------------
# case33bw: relaxation gap and AC check


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
