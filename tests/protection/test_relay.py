"""The differential relay's equations (001b_book.md §11.2) and the circuit they are read on:
AC11-1 to AC11-5."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from peergrid.protection.circuit import simulate_fault
from peergrid.protection.config import ProtectionConfig
from peergrid.protection.relay import (
    RelaySettings,
    alpha_model,
    alpha_threshold,
    backward_derivative,
    direction_sign,
    evaluate,
    fault_resistance_limit,
    internal_fault_flag,
    trip_rule,
)

# A shorter window than the default keeps the tests fast; the fault comes after the memory.
FAST = ProtectionConfig().replace(
    sampling={"interval_us": 10.0, "window_ms": 20.0}, fault={"time_ms": 8.0}
)


def settings_for(config: ProtectionConfig, interval_s: float) -> RelaySettings:
    from peergrid.protection.case import relay_settings

    return relay_settings(config, interval_s)


def test_s_t_truth_table_ac11_1() -> None:
    assert internal_fault_flag(1, 1) == 0
    assert internal_fault_flag(-1, -1) == 0
    assert internal_fault_flag(1, -1) == 1
    assert internal_fault_flag(-1, 1) == 1
    # Eq. (1): S1 = S2 external, S1 = -S2 internal, the same as Eq. (2)
    for s1 in (-1, 1):
        for s2 in (-1, 1):
            assert internal_fault_flag(s1, s2) == (1 if s1 == -s2 else 0)


def test_direction_signs_follow_the_superimposed_current() -> None:
    delta = np.array([2.0, -2.0, 0.1, -0.1])
    assert direction_sign(delta, 0.5, into_line_is=1).tolist() == [1, -1, 1, 1]
    assert direction_sign(delta, 0.5, into_line_is=-1).tolist() == [-1, 1, 1, 1]


def test_eq4_fault_resistance_ac11_2() -> None:
    # the digest's illustrative arithmetic: 400 V, 10 A -> 160 ohm
    assert fault_resistance_limit(400.0, 10.0) == 160.0
    # at that resistance the steady fault current is a quarter of the load current
    assert 400.0 / fault_resistance_limit(400.0, 10.0) == pytest.approx(0.25 * 10.0)
    assert fault_resistance_limit(48.0, 5.0) == pytest.approx(38.4)


@given(
    d2=st.floats(-1e9, 1e9),
    d1=st.floats(-1e6, 1e6),
    i1=st.floats(-100, 100),
    vn=st.floats(10, 1000),
    iload=st.floats(0.1, 100),
    cap=st.floats(1e-5, 1e-1),
)
def test_eq3_at_the_bus_with_eq4_is_eq5_ac11_3(
    d2: float, d1: float, i1: float, vn: float, iload: float, cap: float
) -> None:
    settings = RelaySettings(vn, iload, cap, 1e-5, 1, 1, 0.0)
    at_bus = alpha_model(
        d2,
        d1,
        i1,
        inductance_h=0.0,
        resistance_ohm=0.0,
        fault_resistance_ohm=fault_resistance_limit(vn, iload),
        capacitance_f=cap,
    )
    threshold = alpha_threshold(np.array([d1]), np.array([i1]), settings)[0]
    assert at_bus == pytest.approx(threshold, rel=1e-9, abs=1e-6)


def test_eq3_holds_on_the_simulated_discharge() -> None:
    """α measured as di1/dt - di2/dt equals Eq. (3) on the circuit's capacitor-discharge stage:
    the reading of i2 as a current into the line is the one under which Eq. (3) is true."""
    config = FAST.replace(sampling={"interval_us": 1.0})
    c, f = config.circuit, config.fault
    record = simulate_fault(c, f, config.sampling)
    dt = record.sampling_interval_s
    i1, i2 = record.i1_a, record.i2_a
    di1, di2 = np.gradient(i1, dt), np.gradient(i2, dt)
    d2i1 = np.gradient(di1, dt)
    model = alpha_model(
        d2i1,
        di1,
        i1,
        inductance_h=c.reactor_h + f.location * c.line_inductance_h,
        resistance_ohm=c.capacitor_esr_ohm + f.location * c.line_resistance_ohm,
        fault_resistance_ohm=f.resistance_ohm,
        capacitance_f=c.capacitance_f,
    )
    t = record.t_s - record.fault_time_s
    stage1 = (t > 0.1e-3) & (t < 2.0e-3)  # before either capacitor reaches zero
    assert record.freewheel_s[0] is not None and record.freewheel_s[0] > record.fault_time_s + 2e-3
    measured = (di1 - di2)[stage1]
    scale = np.abs(measured).max()
    assert np.abs(np.asarray(model)[stage1] - measured).max() < 1e-3 * scale


def test_trip_rule_ac11_4() -> None:
    alpha_min = np.array([5.0, 5.0, -1.0, 5.0])
    alpha = np.array([6.0, 4.0, 0.0, 9.0])
    s_t = np.array([1, 1, 0, 0])
    # internal with alpha >= alpha_min trips; below it does not; an external fault never
    # trips, even where Eq. (6) alone would (alpha_min <= 0 with S_T = 0)
    assert trip_rule(alpha_min, s_t, alpha).tolist() == [True, False, False, False]


def test_backward_derivative() -> None:
    x = np.array([0.0, 1.0, 4.0, 9.0])
    assert backward_derivative(x, 1, 0.5).tolist() == [0.0, 2.0, 6.0, 10.0]
    assert backward_derivative(x, 2, 1.0).tolist() == [0.0, 0.0, 2.0, 4.0]


def _detect_ms(config: ProtectionConfig) -> tuple[float, float | None]:
    record = simulate_fault(config.circuit, config.fault, config.sampling)
    trace = evaluate(record.i1_a, record.i2_a, settings_for(config, record.sampling_interval_s))
    n = trace.first_trip
    detect = None if n is None else (record.t_s[n] - record.fault_time_s) * 1e3
    return float(record.fault_current_a.max()), detect


def test_the_book_cases_near_its_figures_ac11_5() -> None:
    peak_1, detect_1 = _detect_ms(FAST)
    peak_10, detect_10 = _detect_ms(FAST.replace(fault={"resistance_ohm": 10.0, "location": 0.5}))
    # measured on the default configuration: 25.10 A at 1.37 ms, 4.41 A at 0.51 ms
    assert peak_1 == pytest.approx(25.1, abs=0.05)
    assert detect_1 == pytest.approx(1.37, abs=0.011)
    assert peak_10 == pytest.approx(4.41, abs=0.01)
    assert detect_10 == pytest.approx(0.51, abs=0.011)
    assert peak_10 < peak_1  # higher fault resistance, lower peak


@pytest.mark.parametrize("location", [0.05, 0.33, 0.5, 0.9])
@pytest.mark.parametrize("resistance", [0.0, 1.0, 10.0, 20.0])
def test_internal_faults_trip_within_the_discharge(location: float, resistance: float) -> None:
    config = FAST.replace(fault={"resistance_ohm": resistance, "location": location})
    _, detect = _detect_ms(config)
    assert detect is not None and 0 < detect < 3.0


@pytest.mark.parametrize("resistance", [0.0, 1.0, 10.0])
def test_external_and_no_fault_never_trip(resistance: float) -> None:
    for kind in ("external", "none"):
        _, detect = _detect_ms(FAST.replace(fault={"kind": kind, "resistance_ohm": resistance}))
        assert detect is None


def test_higher_fault_resistance_lower_peak() -> None:
    peaks = [
        _detect_ms(FAST.replace(fault={"resistance_ohm": r}))[0] for r in (0.5, 1.0, 3.0, 10.0)
    ]
    assert peaks == sorted(peaks, reverse=True)


def test_the_capacitors_discharge_then_freewheel() -> None:
    record = simulate_fault(FAST.circuit, FAST.fault, FAST.sampling)
    assert record.freewheel_s[0] is not None and record.freewheel_s[1] is not None
    assert (record.vc1_v >= -1e-9).all() and (record.vc2_v >= -1e-9).all()
    after = record.t_s >= record.freewheel_s[0]
    assert np.abs(record.vc1_v[after]).max() < 1e-9  # clamped by the freewheeling diodes
