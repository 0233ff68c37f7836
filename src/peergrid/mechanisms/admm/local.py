"""The ADMM's local step on the local form's conic data, canonicalised once, solved by Clarabel.

The local form of a design (:mod:`~peergrid.mechanisms.admm.problem`) is a fixed convex problem
— the design's cost under every agent's own constraints — to which each iteration adds, for
every penalised variable ``x`` (a coupling copy or the bids), ``(κ/2)‖x‖² − ⟨ℓ, x⟩``: a
diagonal quadratic whose weight ``κ`` changes only when the penalty ρ or φ does, and a linear
term ``ℓ`` that changes every iteration (:mod:`~peergrid.mechanisms.admm.consensus`).

cvxpy canonicalises the fixed problem once (``get_problem_data``) into Clarabel's form
``min ½xᵀPx + qᵀx  s.t.  Ax + s = b, s ∈ K``, and the offsets of the penalised variables
in ``x`` say where their columns are. Each iteration then writes ``−ℓ`` into those entries of
``q`` (and ``κ`` on the diagonal of ``P`` when a penalty changed) and calls Clarabel directly,
updating the solver's data in place so that the KKT system's symbolic factorisation is reused.
No cvxpy ``Parameter`` appears: with parameters in the penalties, cvxpy holds a dense
(variables × parameter entries) tensor, 38–42 GiB for 200 trading households.

The cones are those of the problem (second-order cones of the branch flows and of a rated PV
inverter are kept exact), so a local step solves the same problem as the parametric form did,
to the interior-point method's tolerance. Every constraint of the local form touches one
agent's variables only, so the one call is every agent's local step at once; the solution is
written back into the cvxpy variables, where the result and the cost read it.

**A local form without cones** (trade-only: a quadratic program) is solved by OSQP instead, a
first-order method whose factorisation is made once (again only when a penalty changes) and
which starts from the last local step's solution, primal and dual, where an interior-point
method starts afresh every time. Its accuracy is the caller's: ``solve(..., tolerance=…)``
(absolute and relative, in the units of the variables), which the ADMM ties to its residuals
(:mod:`~peergrid.mechanisms.admm.consensus`, ``local_tolerance``): loose while the
iterates are far apart, tight near the fixed point; ``polish=True`` then solves the equations
of the step's active constraints exactly (the ADMM's last step, whose schedules are reported).
Without a tolerance the step is solved to :data:`OSQP_EXACT` and polished, as accurate as
Clarabel's.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace

import clarabel
import cvxpy as cp
import numpy as np
import osqp
import scipy.sparse as sp
from cvxpy.reductions.inverse_data import InverseData
from cvxpy.reductions.solvers.conic_solvers.clarabel_conif import dims_to_solver_cones

from peergrid.assets.fields import FloatArray
from peergrid.mechanisms.admm.case import BderInputError

#: Clarabel's statuses whose point the ADMM takes (an inexact local step still contracts).
ACCEPTED = ("Solved", "AlmostSolved")
#: OSQP's statuses whose point the ADMM takes.
OSQP_ACCEPTED = ("solved", "solved inaccurate")
#: OSQP's tolerance of a local step solved without one given (then polished).
OSQP_EXACT = 1e-8
#: OSQP's iterations between its termination checks (its default, 25, made steps that
#: converged in 5–10 run 25): measured on trade-only at 55 households with a fixed tolerance
#: of 10⁻⁴, 36 ADMM iterations to 0.1 % in 2.9 s with 5 against 35 in 3.8 s with 25.
OSQP_CHECK_EVERY = 5
#: Most OSQP iterations per local step.
OSQP_MAX_ITERATIONS = 50_000


@dataclass(frozen=True)
class Penalised:
    """A variable of the local form with its penalty ``(κ/2)‖x‖² − ⟨ℓ, x⟩``: ``kind`` says
    which penalty scales κ (``"rho"`` or ``"phi"``), ``weight`` multiplies it."""

    variable: cp.Variable
    kind: str
    weight: float = 1.0


class LocalSolver:
    """The local form in Clarabel's data, with the penalised variables' columns (module doc);
    ``backend`` says which solver takes it: ``"clarabel"``, or ``"osqp"`` without cones."""

    def __init__(
        self, problem: cp.Problem, penalised: Sequence[Penalised], *, equilibrate: bool = True
    ) -> None:
        if problem.parameters():
            raise ValueError("the local form must have no parameters: its data is built once")
        self.problem = problem
        self.penalised = tuple(penalised)
        self.equilibrate = equilibrate
        data, self._chain, self._inverse = problem.get_problem_data(cp.CLARABEL, solver_opts={})
        offsets = next(
            inv.var_offsets
            for inv in reversed(self._inverse)
            if isinstance(inv, InverseData) and getattr(inv, "var_offsets", None)
        )
        self.q0 = np.array(data["c"], dtype=float)
        self.A = sp.csc_matrix(data["A"])
        self.b = np.asarray(data["b"], dtype=float)
        dims = data["dims"]
        self.cones = dims_to_solver_cones(dims)
        # Equalities first, then inequalities Ax ≤ b; any other cone needs Clarabel.
        conic = bool(dims.soc or dims.exp or dims.psd or getattr(dims, "p3d", None))
        self.backend = "clarabel" if conic else "osqp"
        self._n_zero = int(dims.zero)
        n = self.q0.size
        self.columns: list[np.ndarray] = []
        for pen in self.penalised:
            var = pen.variable
            if var.id not in offsets:
                raise ValueError(f"variable {var.name()!r} is not a column of the local form")
            # cvxpy stacks a matrix variable column by column (Fortran order).
            self.columns.append(offsets[var.id] + np.arange(var.size, dtype=np.int64))
        penalised_cols = np.concatenate(self.columns) if self.columns else np.zeros(0, np.int64)
        p0 = data.get("P")
        base = sp.triu(sp.csc_matrix(p0) if p0 is not None else sp.csc_matrix((n, n)))
        ones = np.ones(penalised_cols.size)
        marker = sp.csc_matrix((ones, (penalised_cols, penalised_cols)), (n, n))
        self.P = sp.csc_matrix(base + marker)
        self.P.sort_indices()
        # Where each penalised column's diagonal entry sits in P.data, and P's data without
        # the penalties (the marker's ones taken out again).
        self._diag_at = self._diagonal_positions(penalised_cols)
        self._p_base = self.P.data.copy()
        self._p_base[self._diag_at] -= 1.0
        self._kappa: tuple[float, float] | None = None
        self._solver: clarabel.DefaultSolver | None = None
        self._osqp: osqp.OSQP | None = None
        self.x: FloatArray | None = None
        self.solve_time_s = 0.0
        self.ipm_iterations = 0  # the solver's iterations over all local steps

    def _diagonal_positions(self, cols: np.ndarray) -> np.ndarray:
        P = self.P
        out = np.empty(cols.size, dtype=np.int64)
        for k, j in enumerate(cols):
            lo, hi = P.indptr[j], P.indptr[j + 1]
            out[k] = lo + int(np.searchsorted(P.indices[lo:hi], j))
        return out

    def _p_values(self, rho: float, phi: float) -> FloatArray:
        data = self._p_base.copy()
        kappa = np.concatenate(
            [
                np.full(cols.size, (rho if pen.kind == "rho" else phi) * pen.weight)
                for pen, cols in zip(self.penalised, self.columns, strict=True)
            ]
            or [np.zeros(0)]
        )
        data[self._diag_at] += kappa
        return data

    def solve(
        self,
        rho: float,
        phi: float,
        linear: Sequence[FloatArray],
        tolerance: float | None = None,
        *,
        polish: bool = False,
    ) -> float:
        """One local step with penalties ρ, φ and linear terms ``ℓ`` (one per penalised
        variable, in its shape); writes the solution into the cvxpy variables and returns
        the solver's time (s). ``tolerance`` and ``polish`` are OSQP's (module doc; a polished
        step solves the equations of its active constraints exactly); Clarabel ignores them."""
        q = self.q0.copy()
        for cols, lin in zip(self.columns, linear, strict=True):
            q[cols] -= np.asarray(lin, dtype=float).ravel(order="F")
        t0 = time.perf_counter()
        if self.backend == "osqp":
            self._solve_osqp(rho, phi, q, tolerance, polish or tolerance is None)
        else:
            self._solve_clarabel(rho, phi, q)
        elapsed = time.perf_counter() - t0
        self._kappa = (rho, phi)
        self.solve_time_s += elapsed
        return elapsed

    def _solve_clarabel(self, rho: float, phi: float, q: FloatArray) -> None:
        if self._solver is None:
            self.P.data = self._p_values(rho, phi)
            settings = clarabel.DefaultSettings()
            settings.verbose = False
            settings.presolve_enable = False  # keeps the data updatable in place
            settings.equilibrate_enable = self.equilibrate
            self._solver = clarabel.DefaultSolver(self.P, q, self.A, self.b, self.cones, settings)
        elif self._kappa != (rho, phi):
            self._solver.update(P=self._p_values(rho, phi), q=q)
        else:
            self._solver.update(q=q)
        solution = self._solver.solve()
        status = str(solution.status)
        if status not in ACCEPTED:
            raise BderInputError(
                f"ADMM: a local problem has no solution (status {status!r}); the "
                "households' devices cannot meet their own constraints"
            )
        self.x = np.asarray(solution.x, dtype=float)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            self.problem.unpack_results(solution, self._chain, self._inverse)
        self.ipm_iterations += int(solution.iterations)

    def _solve_osqp(
        self, rho: float, phi: float, q: FloatArray, tolerance: float | None, polish: bool
    ) -> None:
        if self._osqp is None:
            self.P.data = self._p_values(rho, phi)
            lower = np.full(self.b.size, -np.inf)
            lower[: self._n_zero] = self.b[: self._n_zero]
            self._osqp = osqp.OSQP()
            self._osqp.setup(
                P=self.P,
                q=q,
                A=self.A,
                l=lower,
                u=self.b,
                verbose=False,
                warm_starting=True,  # from the last step's primal and dual solution
                check_termination=OSQP_CHECK_EVERY,
                max_iter=OSQP_MAX_ITERATIONS,
            )
        elif self._kappa != (rho, phi):
            # The same pattern (P's diagonal): refactorised, still warm-started.
            self._osqp.update(q=q, Px=self._p_values(rho, phi))
        else:
            self._osqp.update(q=q)
        eps = OSQP_EXACT if tolerance is None else tolerance
        # A polished step (the last, reported) is held to its tolerance in absolute terms:
        # every residual within it in kW, however large the flows it balances.
        self._osqp.update_settings(eps_abs=eps, eps_rel=0.0 if polish else eps, polishing=polish)
        result = self._osqp.solve(raise_error=False)
        status = str(result.info.status)
        if status not in OSQP_ACCEPTED:
            raise BderInputError(
                f"ADMM: a local problem has no solution (status {status!r}); the "
                "households' devices cannot meet their own constraints"
            )
        self.x = np.asarray(result.x, dtype=float)
        # cvxpy unpacks a conic solution (Ax + s = b, s ∈ K, duals z): OSQP's l ≤ Ax ≤ u with
        # its y is that form's solution, y ≥ 0 where Ax ≤ b binds, as z.
        conic = SimpleNamespace(
            status="Solved",
            x=self.x,
            z=np.asarray(result.y, dtype=float),
            obj_val=float(result.info.obj_val),
            solve_time=float(result.info.run_time),
            iterations=int(result.info.iter),
        )
        self.problem.unpack_results(conic, self._chain, self._inverse)
        self.ipm_iterations += int(result.info.iter)

    def value(self, k: int) -> FloatArray:
        """The last solution of penalised variable ``k``, in its shape."""
        if self.x is None:
            raise ValueError("the local form has not been solved yet")
        var = self.penalised[k].variable
        return self.x[self.columns[k]].reshape(var.shape, order="F")
