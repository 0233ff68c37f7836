"""Newton–Raphson per slot by lightsim2grid's KLU solver, on pandapower's own admittances.

The fallback engine of :class:`peergrid.grid.ac_model.FeederModel` (``engine="lightsim2grid"``):
it models everything pandapower's conversion gives, voltage-controlled generators (PV buses)
included, and solves one slot at a time. Every slot starts from the feeder's no-load solution,
so a slot's result does not depend on the slots before it; a slot whose Newton–Raphson does not
reach the tolerance within ``max_iteration`` iterations, or diverges, is not converged.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from lightsim2grid.algorithm import NRSing_KLU
from scipy import sparse

ComplexArray = npt.NDArray[np.complex128]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class LightSimSolver:
    """Newton–Raphson on a fixed ``Ybus`` (per unit), one slot after another."""

    def __init__(
        self,
        *,
        ybus: sparse.csc_matrix,
        ref: npt.NDArray[np.int32],
        pv: npt.NDArray[np.int32],
        pq: npt.NDArray[np.int32],
        s_fixed: ComplexArray,
        v_noload: ComplexArray,
        max_iteration: int,
        tolerance_pu: float,
    ) -> None:
        self.ybus = ybus
        self.ref, self.pv, self.pq = ref, pv, pq
        self.s_fixed = s_fixed
        self.v_noload = v_noload
        self.max_iteration = max_iteration
        self.tolerance_pu = tolerance_pu
        n = int(ybus.shape[0])
        self._slack_weights = np.zeros(n)
        self._slack_weights[ref] = 1.0 / len(ref)
        self._solver = NRSing_KLU()

    def solve_one(
        self, sbus: ComplexArray, v_start: ComplexArray | None = None
    ) -> tuple[ComplexArray | None, int]:
        """One slot; ``sbus`` is the complex per-unit injection per ppci bus.

        Returns the voltages (``None`` if not converged) and the iterations taken.
        """
        v0 = (self.v_noload if v_start is None else v_start).copy()
        solver = self._solver
        try:
            ok = solver.solve(
                self.ybus,
                v0,
                sbus,
                self.ref,
                self._slack_weights,
                self.pv,
                self.pq,
                self.max_iteration,
                self.tolerance_pu,
            )
        except (RuntimeError, ValueError):
            ok = False
        iterations = int(solver.get_nb_iter())
        if ok:
            v = np.asarray(solver.get_V(), dtype=np.complex128).copy()
            if np.isfinite(v).all():
                return v, iterations
        solver.reset()  # start the next slot from a clean state
        return None, iterations

    def solve(self, load_pu: ComplexArray) -> tuple[ComplexArray, BoolArray, IntArray]:
        """Slots of per-unit loads (slots × ppci buses, load convention): voltages (NaN rows
        where a slot did not converge), convergence and iterations."""
        k = load_pu.shape[0]
        v = np.full((k, len(self.v_noload)), np.nan + 0j, dtype=np.complex128)
        converged = np.zeros(k, dtype=bool)
        iterations = np.zeros(k, dtype=np.int64)
        for i in range(k):
            vi, iterations[i] = self.solve_one(self.s_fixed - load_pu[i])
            if vi is not None:
                v[i] = vi
                converged[i] = True
        return v, converged, iterations
