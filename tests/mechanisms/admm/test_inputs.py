"""Bad input names the household and the field; trading coefficients keep their promises."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peergrid.grid.opf.network import RadialNetwork
from peergrid.mechanisms.admm import AdmmSettings, BderCase, BderInputError, household
from peergrid.mechanisms.admm.trading import trade_pairs, trading_coefficients

from .conftest import toy_case

LOAD = np.ones(24)


def test_household_without_a_bus_on_the_feeder(toy_network: RadialNetwork, case: BderCase) -> None:
    stray = household("stray", 99, LOAD)
    with pytest.raises(BderInputError, match=r"household 'stray': field 'bus' = 99"):
        BderCase((*case.households, stray), case.prices, 1.0, toy_network)


def test_ev_window_outside_the_horizon(case: BderCase) -> None:
    ev = {"energy_kwh": 5.0, "arrival_period": 20, "departure_period": 30, "p_max_kw": 3.7}
    late = household("late", 2, LOAD, ev=ev)
    with pytest.raises(BderInputError, match=r"household 'late': field 'ev.departure_period'"):
        BderCase((late,), case.prices, 1.0, case.network)


def test_battery_charged_beyond_its_capacity() -> None:
    battery = {
        "e_max_kwh": 5.0,
        "p_charge_max_kw": 2.0,
        "p_discharge_max_kw": 2.0,
        "e_initial_kwh": 6.0,
    }
    with pytest.raises(BderInputError, match=r"household 'full': battery field 'e_initial_kwh'"):
        household("full", 1, LOAD, battery=battery)


@pytest.mark.parametrize("rho", [0.0, -1.0, float("nan")])
def test_penalty_must_be_positive(rho: float) -> None:
    with pytest.raises(BderInputError, match="field 'rho' must be positive"):
        AdmmSettings(rho=rho)
    with pytest.raises(BderInputError, match="field 'phi' must be positive"):
        AdmmSettings(phi=rho)


def test_each_design_has_its_own_rho_unless_one_is_given() -> None:
    """ρ₀ left open is the design's (grid-only on the households partition 1.0, else 0.03);
    an explicit ρ is never changed; a run needs the resolved one."""
    from peergrid.mechanisms.admm.consensus import RHO, RHO_GRID_ONLY

    open_rho = AdmmSettings()
    assert open_rho.rho is None
    with pytest.raises(ValueError, match="for_design"):
        _ = open_rho.rho0
    assert open_rho.for_design("grid-only").rho0 == RHO_GRID_ONLY == 1.0
    assert open_rho.for_design("combined").rho0 == RHO == 0.03
    assert AdmmSettings(partition="nodes").for_design("grid-only").rho0 == RHO
    assert AdmmSettings(rho=0.24).for_design("grid-only").rho0 == 0.24
    assert AdmmSettings(rho=0.24).for_design("combined").rho0 == 0.24


def test_unknown_partition() -> None:
    with pytest.raises(BderInputError, match="field 'partition'"):
        AdmmSettings(partition="lines")


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 6), chi=st.floats(0.001, 1.0))
def test_trading_coefficients(toy_network: RadialNetwork, seed: int, n: int, chi: float) -> None:
    """γ ∈ [0, χ], symmetric, χ for two sellers or two buyers (000_bder.md §6 A5)."""
    case = toy_case(toy_network, n, seed)
    pairs = trade_pairs(n)
    gamma = trading_coefficients(case, pairs, chi)
    assert np.all(gamma >= -1e-12) and np.all(gamma <= chi + 1e-12)
    np.testing.assert_allclose(gamma, gamma[pairs.reverse])
    pv = np.vstack([h.pv.available_kw if h.pv else np.zeros(24) for h in case.households])
    net = pv - np.vstack([h.load.p_kw for h in case.households])
    i, j = pairs.household, pairs.partner
    same = ((net[i] > 0) & (net[j] > 0)) | ((net[i] < 0) & (net[j] < 0))
    np.testing.assert_allclose(gamma[same], chi)


def test_extreme_buyer_and_seller_pay_no_coefficient(case: BderCase) -> None:
    """A buyer and a seller both at their largest deficit/surplus of the day get γ = 0."""
    seller = household("s", 1, np.zeros(3), pv_kw=[0.0, 2.0, 1.0])
    buyer = household("b", 2, [1.0, 3.0, 0.0])
    from peergrid.grid.opf.case import Prices

    small = BderCase((seller, buyer), Prices.with_feed_in_share([0.2, 0.2, 0.2]), 1.0)
    pairs = trade_pairs(2)
    gamma = trading_coefficients(small, pairs, 0.01)
    assert gamma[0, 1] == pytest.approx(0.0)
    # Period 0: the seller has no surplus, the buyer a third of its peak: χ − χ/6 (Eq. 28a–29).
    assert gamma[0, 0] == pytest.approx(0.01 - 0.01 / 6)


@pytest.mark.parametrize("memory", [-1, 21, 2.5])
def test_anderson_memory_is_a_small_integer(memory: object) -> None:
    with pytest.raises(BderInputError, match="field 'anderson'"):
        AdmmSettings(anderson=memory)  # type: ignore[arg-type]
