"""The local step on Clarabel's data equals the same local problem written out in cvxpy."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest

from peergrid.mechanisms.admm import BderCase, BderInputError
from peergrid.mechanisms.admm.local import LocalSolver, Penalised
from peergrid.mechanisms.admm.problem import DesignProblem, build_problem


def local_objective(
    built: DesignProblem, rho: float, phi: float, linear: list[np.ndarray]
) -> cp.Expression:
    """The local problem's objective with its penalties as cvxpy expressions (the parametric
    form's objective with the parameters' values in)."""
    assert built.local is not None
    objective = built.problem.objective.args[0]
    for pen, lin in zip(built.local.penalised, linear, strict=True):
        kappa = (rho if pen.kind == "rho" else phi) * pen.weight
        x = pen.variable
        objective = objective + kappa / 2 * cp.sum_squares(x) - cp.sum(cp.multiply(lin, x))
    return objective


@pytest.mark.parametrize(
    ("design", "partition"),
    [
        ("grid-only", "households"),
        ("trade-only", "households"),
        ("combined", "households"),
        ("grid-only", "nodes"),
        ("combined", "nodes"),
    ],
)
def test_local_step_equals_the_cvxpy_local_problem(
    case: BderCase, design: str, partition: str
) -> None:
    built = build_problem(case, design, central=False, partition=partition)
    assert built.local is not None
    rng = np.random.default_rng(7)
    # Targets z̃ near where the ADMM starts: flat voltages and no flow (p.u.) for the nodes,
    # injections and bids of a few hundred watts (kW) for the households.
    targets = [np.zeros(pen.variable.shape) for pen in built.local.penalised]
    spread = 0.01 if partition == "nodes" else 0.5
    start = built.network.copies.start if built.network is not None else None
    if built.network is not None and start is not None:
        for k, rows in enumerate(built.network.copies.rows):
            targets[k] += start[rows][:, None]
    # Two steps with different penalties: the second rewrites P's diagonal in place.
    for rho, phi in ((0.03, 0.05), (0.12, 0.0125)):
        linear = [
            (rho if pen.kind == "rho" else phi)
            * pen.weight
            * (target + rng.normal(0.0, spread if pen.kind == "rho" else 0.5, target.shape))
            for pen, target in zip(built.local.penalised, targets, strict=True)
        ]
        built.local.solve(rho, phi, linear)
        ours = [built.local.value(k) for k in range(len(linear))]
        # The cvxpy variables hold the same solution as the solver's columns.
        for pen, x in zip(built.local.penalised, ours, strict=True):
            np.testing.assert_allclose(np.asarray(pen.variable.value), x, atol=1e-9)
        cost = built.cost_value()
        objective = local_objective(built, rho, phi, linear)
        ours_objective = float(np.asarray(objective.value))
        reference = cp.Problem(cp.Minimize(objective), built.problem.constraints)
        reference.solve(solver=cp.CLARABEL)
        assert ours_objective == pytest.approx(reference.value, rel=1e-6, abs=1e-6)
        if partition == "households":
            # In kW the copies are well determined by the penalties; per unit, the voltage
            # weight (10⁵) dwarfs the flows', and the objective alone is compared.
            assert cost == pytest.approx(built.cost_value(), rel=1e-5, abs=1e-6)
            for pen, x in zip(built.local.penalised, ours, strict=True):
                np.testing.assert_allclose(x, np.asarray(pen.variable.value), atol=2e-4)


def test_local_form_takes_no_parameters() -> None:
    x = cp.Variable(3)
    weight = cp.Parameter(nonneg=True, value=1.0)
    problem = cp.Problem(cp.Minimize(weight * cp.sum(x)), [x >= 0])
    with pytest.raises(ValueError, match="no parameters"):
        LocalSolver(problem, [Penalised(x, "rho")])


def test_a_closed_form_step() -> None:
    """``min (κ/2)‖x‖² − ⟨ℓ, x⟩`` over a box: the projection of ``ℓ/κ`` onto the box."""
    x = cp.Variable((2, 3))
    problem = cp.Problem(cp.Minimize(0), [x >= -1.0, x <= 2.0])
    solver = LocalSolver(problem, [Penalised(x, "rho", weight=2.0)])
    lin = np.array([[-8.0, 0.5, 1.0], [3.0, 10.0, -0.4]])
    solver.solve(0.5, 9.0, [lin])
    np.testing.assert_allclose(solver.value(0), np.clip(lin / 1.0, -1.0, 2.0), atol=1e-7)


@pytest.mark.parametrize(
    ("design", "backend"),
    [("trade-only", "osqp"), ("grid-only", "clarabel"), ("combined", "clarabel")],
)
def test_a_local_form_without_cones_goes_to_osqp(case: BderCase, design: str, backend: str) -> None:
    built = build_problem(case, design, central=False, partition="households")
    assert built.local is not None and built.local.backend == backend


def test_an_osqp_step_is_within_its_tolerance_and_starts_from_the_last(case: BderCase) -> None:
    """A loose step lands within its tolerance of the exact one; solved again from where it
    ended it takes fewer iterations than from nothing."""
    built = build_problem(case, "trade-only", central=False, partition="households")
    local = built.local
    assert local is not None and local.backend == "osqp"
    rng = np.random.default_rng(3)
    linear = [0.05 * rng.normal(0.0, 0.5, pen.variable.shape) for pen in local.penalised]
    local.solve(0.03, 0.05, linear)  # exact: 10⁻⁸, polished
    exact = local.value(0).copy()
    first = local.ipm_iterations
    local.solve(0.03, 0.05, linear, 1e-3)
    again = local.ipm_iterations - first
    assert np.abs(local.value(0) - exact).max() <= 1e-2
    assert again < first
    # A new penalty keeps the pattern: refactorised, still the same problem's solution.
    local.solve(0.06, 0.1, linear)
    reference = LocalSolver(built.problem, local.penalised)
    reference.backend = "clarabel"
    reference.solve(0.06, 0.1, linear)
    # The penalised variables are unique (strictly convex in them); the others need not be.
    for k in range(len(local.penalised)):
        np.testing.assert_allclose(local.value(k), reference.value(k), atol=1e-4)


def test_a_local_problem_without_a_solution_is_named(case: BderCase) -> None:
    x = cp.Variable(2)
    solver = LocalSolver(cp.Problem(cp.Minimize(0), [x >= 1.0, x <= 0.0]), [Penalised(x, "rho")])
    assert solver.backend == "osqp"
    with pytest.raises(BderInputError, match="a local problem has no solution"):
        solver.solve(1.0, 1.0, [np.zeros(2)])
