"""The battery model: defaults of the state of charge, checks of its limits, reachable energy."""

from __future__ import annotations

import dataclasses

import pytest

from peergrid.assets.battery import Battery
from peergrid.core.errors import GridError


def test_state_of_charge_defaults_to_midway_and_ends_where_it_started() -> None:
    b = Battery(
        "box", 3, e_max_kwh=10.0, p_charge_max_kw=2.0, p_discharge_max_kw=2.0, e_min_kwh=2.0
    )
    assert b.e_initial_kwh == 6.0 and b.e_start == 6.0
    assert b.e_final_kwh == 6.0 and b.e_end == 6.0
    later = Battery("box", 3, 10.0, 2.0, 2.0, e_initial_kwh=1.0)
    assert later.e_end == 1.0


def test_reachable_energy_is_full_power_within_the_energy_limits() -> None:
    b = Battery(
        "box",
        3,
        e_max_kwh=10.0,
        p_charge_max_kw=2.0,
        p_discharge_max_kw=4.0,
        eta_charge=0.9,
        eta_discharge=0.8,
        e_min_kwh=1.0,
        e_initial_kwh=5.0,
    )
    low, high = b.reachable_energy_kwh(0.5)
    assert low == pytest.approx(5.0 - 4.0 / 0.8 * 0.5)  # 2.5 kWh out of the cells
    assert high == pytest.approx(5.0 + 0.9 * 2.0 * 0.5)
    assert b.reachable_energy_kwh(10.0) == (1.0, 10.0)  # clipped to [e_min, e_max]
    assert b.reachable_energy_kwh(0.0) == (5.0, 5.0)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"e_max_kwh": 0.0}, "'e_max_kwh' must be positive"),
        ({"e_max_kwh": float("nan")}, "'e_max_kwh' must be positive"),
        ({"p_charge_max_kw": -1.0}, "'p_charge_max_kw' must be non-negative"),
        ({"eta_discharge": 0.0}, r"'eta_discharge' must lie in \(0, 1\]"),
        ({"e_min_kwh": 6.0}, "'e_min_kwh' 6.0 exceeds 'e_max_kwh'"),
        ({"e_final_kwh": -1.0}, r"'e_final_kwh' = -1.0 lies outside \[0.0, 5.0\] kWh"),
    ],
)
def test_bad_limits_name_the_battery_and_the_field(fields: dict[str, float], match: str) -> None:
    args: dict[str, float] = {"e_max_kwh": 5.0, "p_charge_max_kw": 2.0, "p_discharge_max_kw": 2.0}
    with pytest.raises(GridError, match=f"battery 'b': .*{match}"):
        Battery("b", 1, **(args | fields))


def test_a_battery_is_immutable() -> None:
    b = Battery("box", 3, 10.0, 2.0, 2.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.e_max_kwh = 20.0  # type: ignore[misc]
