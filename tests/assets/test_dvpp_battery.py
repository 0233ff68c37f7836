"""The DVPP's home battery model: efficiency curves, derating, refusal at the limits, balance."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from peergrid.assets.dvpp_battery import (
    CURVES,
    JOULES_PER_KWH,
    BatteryBank,
    DvppBatteryParams,
    converter_efficiency,
)
from peergrid.core.errors import GridError

PARAMS = DvppBatteryParams()  # 8 kWh, 4 kW, 15 W idle, the system curve


def test_both_curves_peak_at_half_the_rating() -> None:
    for curve in CURVES.values():
        assert curve.peak_part_load == pytest.approx(0.5, abs=2e-3)
        z = np.linspace(0.01, 1.0, 200)
        eta = converter_efficiency(z, curve)
        best = z[int(np.argmax(eta))]
        # the battery term falls slowly with z, so the product peaks a little below 0.5
        assert 0.3 <= best <= 0.5
        assert (np.diff(eta[z <= 0.3]) > 0).all()
        assert ((eta > 0) & (eta < 1)).all()


def test_the_system_curve_is_poor_at_low_part_load() -> None:
    system = CURVES["system"]
    # the documented figures of the converter term (battery term divided out)
    battery = np.sqrt(-0.04488 * np.array([0.05, 0.1, 0.5, 1.0]) + 0.9975)
    term = converter_efficiency([0.05, 0.1, 0.5, 1.0], system) / battery * 100
    assert term == pytest.approx([73.4, 85.3, 95.5, 93.6], abs=0.05)
    assert converter_efficiency(0.05, system) < converter_efficiency(0.5, system) - 0.2


def test_the_inverter_curve_fits_the_sandia_model_of_a_battery_inverter() -> None:
    pvlib = pytest.importorskip("pvlib")
    inverter = pvlib.pvsystem.retrieve_sam("cecinverter")["SMA_America__SBS5_0_US_10__240V_"]
    z = np.linspace(0.02, 1.0, 50)
    pdc = z * inverter["Pdco"]
    sandia = pvlib.inverter.sandia(inverter["Vdco"], pdc, inverter) / pdc
    battery = np.sqrt(-0.04488 * z + 0.9975)
    ours = converter_efficiency(z, CURVES["inverter"]) / battery
    assert np.abs(ours - sandia).max() < 0.011


def test_charging_is_derated_above_90_percent() -> None:
    bank = BatteryBank(PARAMS, (4,), soc=[0.5, 0.9, 0.95, 1.0])
    assert bank.charge_limit_w() == pytest.approx([4000, 4000, 4000 * (1 - 6.7 * 0.05), 1320])


def test_one_second_of_charge_and_discharge_moves_the_documented_energy() -> None:
    bank = BatteryBank(PARAMS, (2,), soc=0.5)
    start = bank.energy_j.copy()
    p_ac = bank.step(np.array([-2000.0, 1000.0]))
    assert p_ac == pytest.approx([-2000.0, 1000.0])
    eta = converter_efficiency([0.5, 0.25])
    assert bank.energy_j - start == pytest.approx([2000 * eta[0], -1000 / eta[1]])


def test_a_full_battery_refuses_charge_and_an_empty_one_refuses_discharge() -> None:
    bank = BatteryBank(PARAMS, (2,), soc=[1.0, 0.0])
    p_ac = bank.step(np.array([-3000.0, 3000.0]))
    # refused: idle; the full one pays its idle loss from its cells, the empty one from the grid
    assert p_ac == pytest.approx([0.0, -15.0])
    assert bank.energy_j == pytest.approx([PARAMS.capacity_kwh * JOULES_PER_KWH - 15.0, 0.0])


def test_commands_are_clipped_to_the_rating() -> None:
    bank = BatteryBank(PARAMS, (1,), soc=0.5)
    assert bank.step(np.array([9000.0])) == pytest.approx([4000.0])


@settings(max_examples=60, deadline=None)
@given(
    soc=st.lists(st.floats(0, 1), min_size=6, max_size=6),
    command=st.lists(st.floats(-6000, 6000), min_size=6, max_size=6),
    curve=st.sampled_from(sorted(CURVES)),
)
# A command of the smallest float: the converter idles, no efficiency at zero power.
@example(soc=[0.0] * 6, command=[0.0] * 5 + [5e-324], curve="inverter")
@example(soc=[0.5] * 6, command=[0.0] * 5 + [-5e-324], curve="system")
def test_the_vectorised_step_is_the_plain_rule(
    soc: list[float], command: list[float], curve: str
) -> None:
    params = DvppBatteryParams(curve=curve)
    fast = BatteryBank(params, (2, 3), soc=np.reshape(soc, (2, 3)))
    plain = BatteryBank(params, (2, 3), soc=np.reshape(soc, (2, 3)))
    commands = np.reshape(command, (2, 3))
    for _ in range(3):
        assert fast.step(commands) == pytest.approx(plain.step_reference(commands), abs=1e-9)
        assert fast.energy_j == pytest.approx(plain.energy_j, abs=1e-6)
    e_max = params.capacity_kwh * JOULES_PER_KWH
    assert ((fast.energy_j >= 0) & (fast.energy_j <= e_max)).all()


@settings(max_examples=40, deadline=None)
@given(
    soc=st.floats(0, 1),
    commands=st.lists(st.floats(-5000, 5000), min_size=1, max_size=40),
)
def test_energy_balance_charged_minus_losses_is_stored(soc: float, commands: list[float]) -> None:
    """What enters the cells is the AC energy times η; the losses are never negative."""
    bank = BatteryBank(PARAMS, (1,), soc=soc)
    start = float(bank.energy_j[0])
    charged = discharged = 0.0
    for command in commands:
        p_ac = float(bank.step(np.array([command]))[0])
        charged += max(-p_ac, 0.0)
        discharged += max(p_ac, 0.0)
    stored = float(bank.energy_j[0]) - start
    assert stored <= charged - discharged + 1e-6


@pytest.mark.parametrize(
    ("field", "value"),
    [("capacity_kwh", -8.0), ("p_charge_max_kw", 0.0), ("idle_loss_w", -1.0), ("curve", "x")],
)
def test_bad_parameters_name_the_field(field: str, value: object) -> None:
    with pytest.raises(GridError, match=field):
        DvppBatteryParams(**{field: value})  # type: ignore[arg-type]


def test_a_state_of_charge_outside_0_1_is_refused() -> None:
    with pytest.raises(GridError, match="soc"):
        BatteryBank(PARAMS, (2,), soc=1.2)
