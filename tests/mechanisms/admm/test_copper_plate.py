"""The copper-plate start of the grid-only design (issue 17, performance)."""

from __future__ import annotations

import numpy as np
import pytest

from peergrid.grid.feeders import load_feeder
from peergrid.mechanisms.admm import (
    AdmmSettings,
    BderCase,
    BderInputError,
    centralised,
    check_against_central,
    distributed,
    example_case,
)
from peergrid.mechanisms.admm.check import first_iteration_within as first_within
from peergrid.mechanisms.admm.designs import _copper_plate_start, _warm_start
from peergrid.mechanisms.admm.problem import build_problem

GAP = 1e-3  # the 0.1 %


def test_start_must_be_known() -> None:
    with pytest.raises(BderInputError, match="field 'start'"):
        AdmmSettings(start="flat")


def test_copper_plate_prices_lie_between_the_feed_in_and_the_import_price(
    case: BderCase,
) -> None:
    built = build_problem(case, "grid-only", central=False, partition="households")
    start = _copper_plate_start(case, built, _warm_start(case, built))
    assert start.y is not None and start.z is not None
    price = start.y[1]
    dt = case.period_hours
    assert np.all(price >= case.prices.feed_in_per_kwh * dt - 1e-12)
    assert np.all(price <= case.prices.import_per_kwh * dt + 1e-12)
    np.testing.assert_array_equal(start.y[0], -price)  # the household's side of the same price
    # Both sides of the injection start at the relaxation's schedule, which balances each
    # household's devices: its net injection is within the devices' reach.
    assert start.z.shape == (2 * case.n_households, case.periods)


@pytest.mark.parametrize("design", ["trade-only", "combined"])
def test_other_designs_keep_the_baseline_start(case: BderCase, design: str) -> None:
    built = build_problem(case, design, central=False, partition="households")
    alone = _warm_start(case, built)
    assert _copper_plate_start(case, built, alone) is alone


def test_node_partition_keeps_the_baseline_start(case: BderCase) -> None:
    built = build_problem(case, "grid-only", central=False, partition="nodes")
    alone = _warm_start(case, built)
    assert _copper_plate_start(case, built, alone) is alone


def test_copper_plate_start_reaches_the_optimum_of_the_same_problem(case: BderCase) -> None:
    central = centralised(case, "grid-only")
    result = distributed(case, "grid-only", AdmmSettings(start="copper-plate"))
    check = check_against_central(case, result, central)
    assert result.converged, result.history[-1]
    assert abs(check.rel_gap) <= GAP
    assert check.balance_kw <= 1e-4


# Measured on cigre-lv with 10 households (benchmarks/bder_admm.py --start copper-plate):
# within 0.1 % from iteration 7 and stopped by the residuals; from the baseline start the
# plain ADMM needed 97 iterations to stay within 0.1 % and had not stopped after 100.
WITHIN = 10
BUDGET = 20


def test_copper_plate_start_on_ten_households_is_within_its_iteration_budget() -> None:
    case = example_case(load_feeder("cigre-lv"), 10)
    central = centralised(case, "grid-only")
    fast = distributed(case, "grid-only", AdmmSettings(start="copper-plate", max_iterations=BUDGET))
    assert fast.converged, fast.history[-1]
    within = first_within([h.cost for h in fast.history], central.cost)
    assert within is not None and within <= WITHIN
    plain = distributed(case, "grid-only", AdmmSettings(start="baseline", max_iterations=BUDGET))
    assert not plain.converged


def test_copper_plate_start_with_the_balanced_penalty_needs_a_few_iterations() -> None:
    """ρ₀ = 0.24, where residual balancing takes ρ from the default start: measured within
    0.1 % from iteration 3 and stopped by the residuals at 4 (cigre-lv, 10 households)."""
    case = example_case(load_feeder("cigre-lv"), 10)
    central = centralised(case, "grid-only")
    settings = AdmmSettings(start="copper-plate", rho=0.24, max_iterations=8)
    fast = distributed(case, "grid-only", settings)
    assert fast.converged, fast.history[-1]
    within = first_within([h.cost for h in fast.history], central.cost)
    assert within is not None and within <= 4
