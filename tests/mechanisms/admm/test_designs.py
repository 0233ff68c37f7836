"""Each design by ADMM against its centralised optimum on a toy feeder (000_bder.md §6 A1–A4)."""

from __future__ import annotations

import numpy as np
import pytest

from peergrid.grid.opf import solve_opf
from peergrid.mechanisms.admm import (
    AdmmSettings,
    BderCase,
    BderResult,
    baseline,
    centralised,
    check_against_central,
    distributed,
)
from peergrid.mechanisms.admm.check import opf_case

GAP = 1e-3  # the 0.1 %


@pytest.fixture(scope="module")
def central(case: BderCase) -> dict[str, BderResult]:
    return {d: centralised(case, d) for d in ("baseline", "grid-only", "trade-only", "combined")}


def test_grid_only_centralised_is_the_grid_layers_opf(case: BderCase, central: dict) -> None:
    """The node split with its copies forced equal is the grid layer's OPF, to solver accuracy."""
    opf = solve_opf(opf_case(case))
    assert central["grid-only"].cost == pytest.approx(opf.cost, rel=1e-6, abs=1e-6)


def test_costs_order_as_the_designs_promise(central: dict) -> None:
    """Free sharing (grid-only) beats trading, trading beats being alone."""
    assert central["grid-only"].cost < central["trade-only"].cost < central["baseline"].cost
    # Losses are bought in the combined design, so it costs at least trade-only.
    assert central["combined"].cost >= central["trade-only"].cost - 1e-6


@pytest.mark.parametrize("design", ["grid-only", "trade-only", "combined"])
def test_admm_reaches_the_central_optimum(case: BderCase, central: dict, design: str) -> None:
    result = distributed(case, design, AdmmSettings())
    check = check_against_central(case, result, central[design])
    assert result.converged, result.history[-1]
    assert abs(check.rel_gap) <= GAP
    assert check.reciprocity_kw <= 0.05
    assert check.balance_kw <= 1e-4
    if design != "trade-only":
        assert check.v_band_ok
        assert check.relaxation is not None and check.relaxation.max_rel <= 1e-3
        assert check.ac is not None and check.ac.all_converged
        assert check.ac.max_v_diff_pu <= 1e-3
        assert not check.ac.violations


def test_central_trade_prices_are_the_admm_prices(case: BderCase, central: dict) -> None:
    """ξ of the ADMM converges to the duals of reciprocity of the central solution."""
    result = distributed(case, "trade-only", AdmmSettings())
    assert result.trades is not None and central["trade-only"].trades is not None
    traded = np.abs(central["trade-only"].trades.quantity_kw) > 0.1
    assert traded.any()
    np.testing.assert_allclose(
        result.trades.price[traded], central["trade-only"].trades.price[traded], atol=0.01
    )


def test_central_trades_are_reciprocal_and_prices_symmetric(central: dict) -> None:
    trades = central["trade-only"].trades
    assert trades.reciprocity_residual_kw <= 1e-6
    np.testing.assert_allclose(trades.price, trades.price[trades.reverse], atol=1e-9)


def test_baseline_has_no_trades_and_no_coupling(case: BderCase, central: dict) -> None:
    """Each household alone: the baseline of the case is the sum of one-household cases."""
    res = baseline(case)
    assert res.trades is None and res.network is None and res.iterations == 1
    s = res.schedules
    np.testing.assert_allclose(s.net_kw + s.import_kw - s.export_kw, 0.0, atol=1e-6)
    alone = 0.0
    for h in case.households:
        one = BderCase((h,), case.prices, case.period_hours, case.network, case.limits)
        alone += baseline(one).cost
    assert res.cost == pytest.approx(alone, rel=1e-6)


def test_device_constraints_hold(case: BderCase, central: dict) -> None:
    """EV energy within its window (Eqs. 4–5), battery state of charge (Eq. 7) within limits."""
    for design, res in central.items():
        s = res.schedules
        for k, h in enumerate(case.households):
            if h.ev is not None:
                window = h.ev.availability(case.periods)
                assert np.all(np.abs(s.ev_kw[k][~window]) <= 1e-6), design
                delivered = h.ev.efficiency * s.ev_kw[k].sum() * case.period_hours
                assert delivered == pytest.approx(h.ev.energy_kwh, rel=1e-6)
            if h.battery is not None:
                b = h.battery
                e = s.battery_energy_kwh[k]
                assert e.min() >= b.e_min_kwh - 1e-6 and e.max() <= b.e_max_kwh + 1e-6
                before = np.concatenate([[b.e_start], e[:-1]])
                step = case.period_hours * (
                    b.eta_charge * s.battery_charge_kw[k]
                    - s.battery_discharge_kw[k] / b.eta_discharge
                )
                np.testing.assert_allclose(e, before + step, atol=1e-6)
                assert e[-1] >= b.e_end - 1e-6


def test_fixed_penalties_reach_the_same_optimum(case: BderCase, central: dict) -> None:
    """Penalties built in as constants (no residual balancing) converge to the same point."""
    result = distributed(case, "trade-only", AdmmSettings(adaptive=False))
    check = check_against_central(case, result, central["trade-only"])
    assert result.converged and abs(check.rel_gap) <= GAP
