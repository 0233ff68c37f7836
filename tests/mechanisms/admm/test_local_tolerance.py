"""The local step's tolerance follows the ADMM's residuals (trade-only's OSQP step)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from peergrid.mechanisms.admm import (
    AdmmSettings,
    BderCase,
    centralised,
    check_against_central,
    distributed,
)
from peergrid.mechanisms.admm.aggregator import AggregatorStep
from peergrid.mechanisms.admm.consensus import (
    LOCAL_TOLERANCE_FACTOR,
    LOCAL_TOLERANCE_FIRST,
    LOCAL_TOLERANCE_MIN,
    local_tolerance,
)
from peergrid.mechanisms.admm.problem import build_problem


def step(
    r_grid: float, s_grid: float, r_trade: float, s_trade: float, rho: float
) -> AggregatorStep:
    return AggregatorStep(
        None, None, None, None, r_grid, s_grid, r_trade, s_trade, False, rho, 0.05, rho, 0.05
    )


def test_a_tenth_of_the_larger_rms_residual_within_its_bounds() -> None:
    bids = np.zeros((4, 25))  # 100 values: RMS = norm / 10
    assert local_tolerance(step(0, 0, 0.02, 0.01, 1.0), None, bids) == pytest.approx(
        LOCAL_TOLERANCE_FACTOR * 0.002
    )
    assert local_tolerance(step(0, 0, 50.0, 0.0, 1.0), None, bids) == LOCAL_TOLERANCE_FIRST
    assert local_tolerance(step(0, 0, 0.0, 1e-9, 1.0), None, bids) == LOCAL_TOLERANCE_MIN
    # The grid's dual residual carries ρ: taken back to kW before it counts.
    copies = [np.zeros((2, 8)), np.zeros((2, 8))]  # 32 values
    tol = local_tolerance(step(0.0, 0.5, 0.0, 0.0, 100.0), copies, None)
    assert tol == pytest.approx(LOCAL_TOLERANCE_FACTOR * 0.5 / 100.0 / math.sqrt(32))


def test_trade_only_reports_schedules_that_meet_each_household_balance(case: BderCase) -> None:
    """The steps are inexact, the reported schedule is not: the last step is solved again,
    polished, to 3·10⁻⁵ kW absolute, and each household's balance (devices, contract,
    trades) holds to it, as the centralised solve's does to its own precision."""
    built = build_problem(case, "trade-only", central=False, partition="households")
    assert built.local is not None and built.local.backend == "osqp"
    run = distributed(case, "trade-only", AdmmSettings())
    assert run.converged
    check = check_against_central(case, run, centralised(case, "trade-only"), ac=False)
    assert check.balance_kw <= 3e-5
    assert abs(check.rel_gap) <= 1e-3
