"""The inputs of a case: every bad input is refused before solving, naming the field."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from peergrid.core.errors import GridError
from peergrid.grid.opf import (
    Battery,
    ElectricVehicle,
    FixedLoad,
    OPFCase,
    Prices,
    PVSystem,
)

from .conftest import two_bus


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
