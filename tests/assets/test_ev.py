"""The EV model: its charging window, within or across the end of the horizon, and its energy."""

from __future__ import annotations

import numpy as np
import pytest

from peergrid.assets.ev import ElectricVehicle
from peergrid.core.errors import GridError


def test_window_within_the_horizon() -> None:
    car = ElectricVehicle(
        "car", 2, energy_kwh=5.0, arrival_period=2, departure_period=5, p_max_kw=7.0
    )
    assert car.availability(8).tolist() == [False, False, True, True, True, False, False, False]


def test_window_wraps_over_the_end_of_the_horizon() -> None:
    car = ElectricVehicle("car", 2, 5.0, arrival_period=6, departure_period=2, p_max_kw=7.0)
    assert np.flatnonzero(car.availability(8)).tolist() == [0, 1, 6, 7]
    assert car.window_hours(8, 0.25) == 1.0


def test_window_outside_the_horizon_is_refused() -> None:
    car = ElectricVehicle("car", 2, 5.0, arrival_period=18, departure_period=30, p_max_kw=7.0)
    with pytest.raises(GridError, match="outside the horizon of 24 periods"):
        car.availability(24)


def test_deliverable_energy_counts_the_charging_losses() -> None:
    car = ElectricVehicle("car", 2, 5.0, 0, 4, p_max_kw=11.0, p_min_kw=1.0, efficiency=0.9)
    least, most = car.deliverable_kwh(2.0)
    assert least == pytest.approx(0.9 * 1.0 * 2.0)
    assert most == pytest.approx(0.9 * 11.0 * 2.0)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"p_min_kw": 8.0}, "'p_min_kw' 8.0 exceeds 'p_max_kw'"),
        ({"p_max_kw": 0.0}, "'p_max_kw' must be positive"),
        ({"energy_kwh": -1.0}, "'energy_kwh' must be non-negative"),
        ({"efficiency": 1.1}, r"'efficiency' must lie in \(0, 1\]"),
        ({"arrival_period": -1}, "must be distinct non-negative periods"),
    ],
)
def test_bad_fields_name_the_car_and_the_field(fields: dict[str, float], match: str) -> None:
    args: dict[str, float] = {
        "energy_kwh": 5.0,
        "arrival_period": 1,
        "departure_period": 4,
        "p_max_kw": 7.0,
    }
    with pytest.raises(GridError, match=f"ev 'e': .*{match}"):
        ElectricVehicle("e", 1, **(args | fields))  # type: ignore[arg-type]
