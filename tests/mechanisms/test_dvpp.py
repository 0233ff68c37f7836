"""The DVPP's sorting heuristic (002_dvpp.md §2.2): the digest's acceptance checks A.1–A.10 as
fixtures, both rules, and invariants on random states."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peergrid.mechanisms.dvpp import (
    BatteryState,
    DvppInputError,
    residual_target_w,
    setpoints,
)

# The digest's reference: four batteries, P_opt 3000 W each, SOC 80, 60, 40, 20 %.
FOUR = [BatteryState(f"b{i + 1}", soc, 3000) for i, soc in enumerate((0.8, 0.6, 0.4, 0.2))]


def run(target: float, rule: str = "paper") -> list[float]:
    return list(setpoints(FOUR, target, rule).values())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("target", "paper", "code"),
    [
        (7000, [3500, 3500, 0, 0], [2333.333, 2333.333, 2333.333, 0]),  # A.2
        (8000, [2666.666] * 3 + [0], [2666.666] * 3 + [0]),  # A.3
        (15000, [3750] * 4, [3750] * 4),  # A.4: above every P_opt
        (12000, [3000] * 4, [3000] * 4),  # A.5
        (0, [0] * 4, [0] * 4),  # A.6
        (-4000, [0, 0, 0, -4000], [0, 0, -2000, -2000]),  # A.7
        (-7000, [0, 0, -3500, -3500], [0, -2333.333, -2333.333, -2333.333]),  # A.7
        (1000, [1000, 0, 0, 0], [1000, 0, 0, 0]),  # A.9: one battery stays active
    ],
)
def test_the_digest_s_worked_examples(target: float, paper: list[float], code: list[float]) -> None:
    assert run(target, "paper") == paper
    assert run(target, "code") == code


def test_a_tie_in_closer_keeps_z() -> None:
    # 7500: z = 3 (9000) and z - 1 = 2 (6000) are both 1500 W away.
    assert run(7500) == [2500, 2500, 2500, 0]


def test_equal_states_keep_the_registration_order_and_charging_uses_its_own_optimum() -> None:
    same = [BatteryState("x", 0.5, 2000), BatteryState("y", 0.5, 2000, p_opt_charge_w=1000)]
    assert setpoints(same, 2000) == {"x": 2000.0, "y": 0.0}
    assert setpoints(same, -1000) == {"x": -1000.0, "y": 0.0}
    # Charging: y's charging optimum is 1000; x and y tie on SOC, x first (2000 alone, paper: 1).
    assert setpoints(same, -2900) == {"x": -1933.333, "y": -966.666}


def test_the_target_is_the_residual_load_and_the_flexibility() -> None:
    assert residual_target_w([1200.0, -3000.0, 500.0]) == -1300.0
    assert residual_target_w([1200.0, -3000.0, 500.0], flexibility_w=2000.0) == 700.0


@pytest.mark.parametrize(
    ("battery", "error"),
    [
        (lambda: BatteryState("b", 1.5, 1000), "'soc' must be a state of charge from 0 to 1"),
        (lambda: BatteryState("b", -0.1, 1000), "'soc'"),
        (lambda: BatteryState("b", 0.5, -10), "'p_opt_w' must be a power above 0"),
        (lambda: BatteryState("b", 0.5, 10, p_opt_charge_w=0), "'p_opt_charge_w'"),
    ],
)
def test_bad_states_are_refused_by_name(battery: object, error: str) -> None:
    with pytest.raises(DvppInputError, match=error):
        battery()  # type: ignore[operator]


def test_a_battery_listed_twice_is_refused() -> None:
    with pytest.raises(DvppInputError, match="listed twice"):
        setpoints([FOUR[0], FOUR[0]], 100)


states = st.lists(
    st.tuples(st.integers(0, 100_000), st.integers(1, 10_000_000)), min_size=1, max_size=30
)


@settings(max_examples=300, deadline=None)
@given(states, st.integers(-400_000_000, 400_000_000), st.sampled_from(["paper", "code"]))
def test_setpoints_cover_the_target_in_merit_order(
    raw: list[tuple[int, int]], target_mw: int, rule: str
) -> None:
    batteries = [BatteryState(f"b{i}", soc / 100_000, p / 1000) for i, (soc, p) in enumerate(raw)]
    target = target_mw / 1000
    result = setpoints(batteries, target, rule)  # type: ignore[arg-type]
    values = list(result.values())
    # A.1: the set-points sum to the target, within the truncation (1 mW per active battery).
    assert abs(sum(values) - target) <= 0.001 * len(values) + 1e-9
    # Every set-point has the target's sign; standby is 0.
    assert all(v * target >= 0 for v in values)
    charging = target < 0
    active = [b for b, v in zip(batteries, values, strict=True) if v != 0]
    share_of = sum(b.p_opt_mw(charging) for b in active)
    # A battery at 0 is on standby unless Eq. 4's truncation made its share 0 (a share below
    # 1 mW): those are left out of the merit-order check.
    idle = [
        b
        for b, v in zip(batteries, values, strict=True)
        if v == 0 and b.p_opt_mw(charging) * abs(target_mw) // (share_of + b.p_opt_mw(charging)) > 0
    ]
    # A.8: the active batteries come first in merit order (ties: the earlier one first).
    if active and idle and target_mw != 0:
        if charging:
            assert max(b.soc_units for b in active) <= min(b.soc_units for b in idle)
        else:
            assert min(b.soc_units for b in active) >= max(b.soc_units for b in idle)
    # Code rule: the active batteries never run above their optimum unless all are active.
    if rule == "code" and idle:
        for b, v in zip(batteries, values, strict=True):
            assert abs(v) <= b.p_opt_mw(charging) / 1000 + 1e-9
