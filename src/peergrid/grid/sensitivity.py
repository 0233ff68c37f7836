"""Linear screening: sensitivities of voltages and branch flows to prosumers' injections.

Around an operating point — the AC solution of given injections (by the feeder model's engine),
by default no load — the Newton–Raphson Jacobian of the power-flow equations is solved once per
prosumer bus for a unit injection there (the external grid, the slack, balancing it). That gives
the first-order change of every bus's voltage angle and magnitude per kW and per kvar a prosumer
draws, so that a mechanism can estimate a trade's effect without a power flow. This is the exact
linearisation of the AC model of :mod:`peergrid.grid.ac_model` (same admittances, transformer
taps and shifts, line charging), not a LinDistFlow-type approximation: it is exact to first
order, and its error grows with the square of the change.

Sign convention (load convention, as everywhere in :mod:`peergrid.grid`): ``delta_p_kw`` and
``delta_q_kvar`` are changes of the power each prosumer *draws*; a trade in which prosumer ``s``
sells ``x`` kW to prosumer ``b`` on top of the operating point is ``delta_p_kw[s] = -x``,
``delta_p_kw[b] = +x``.

Estimates:

- bus voltage magnitudes: linear in the injections (``dvm_dp_pu_per_kw`` …);
- line and transformer loadings: the *complex* branch currents are linearised and the loading is
  taken from their magnitude, as in the AC check. Linearising the phasor rather than its
  magnitude keeps the estimate meaningful near no load, where currents vanish and a magnitude
  has no derivative;
- the power the external grid supplies (``transformer_p_kw``), linear.

At the operating point (zero change) every estimate equals the AC result exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.sparse.linalg import splu

from peergrid.core.errors import GridError
from peergrid.grid.ac_model import FeederModel
from peergrid.grid.feeders import Feeder

FloatArray = npt.NDArray[np.float64]
ComplexArray = npt.NDArray[np.complex128]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class LinearEstimate:
    """Linear estimates of AC results. Arrays have a leading slot axis when the changes had one.

    Columns follow pandapower's tables (``LinearSensitivity.bus_ids``, ``line_ids``,
    ``trafo_ids``).
    """

    vm_pu: FloatArray  # ([slots,] buses) voltage magnitude, p.u.; NaN at out-of-service buses
    line_loading_pct: FloatArray  # ([slots,] lines) %
    trafo_loading_pct: FloatArray  # ([slots,] trafos) %
    transformer_p_kw: FloatArray  # ([slots]) power the external grid supplies, kW

    @property
    def v_min_pu(self) -> FloatArray:
        result: FloatArray = np.fmin.reduce(self.vm_pu, axis=-1)
        return result

    @property
    def v_max_pu(self) -> FloatArray:
        result: FloatArray = np.fmax.reduce(self.vm_pu, axis=-1)
        return result


class LinearSensitivity:
    """Sensitivities of a feeder's state to the injections of prosumers at ``buses``.

    ``p_kw``/``q_kvar`` (one value per prosumer, kW/kvar drawn; default zero) define the
    operating point, which is solved with the AC power flow; :class:`GridError` if it does not
    converge. Sensitivity matrices have one row per pandapower element and one column per
    prosumer:

    - ``dvm_dp_pu_per_kw``, ``dvm_dq_pu_per_kvar``: (buses × prosumers) voltage magnitude;
    - ``dline_p_dp_kw_per_kw``, ``dline_p_dq_kw_per_kvar``: (lines × prosumers) active power
      entering each line at its from end;
    - ``dline_loading_dp_pct_per_kw``, ``dline_loading_dq_pct_per_kvar``: (lines × prosumers)
      loading, the derivative of the more loaded end (zero for a line carrying no current);
    - ``dtrafo_loading_dp_pct_per_kw``, ``dtrafo_loading_dq_pct_per_kvar``: (trafos × prosumers);
    - ``dtransformer_p_dp``, ``dtransformer_p_dq``: (prosumers,) kW supplied by the external
      grid per kW/kvar drawn (1 plus the marginal losses for active power).
    """

    def __init__(
        self,
        feeder: Feeder,
        buses: Sequence[int],
        p_kw: npt.ArrayLike | None = None,
        q_kvar: npt.ArrayLike | None = None,
        *,
        model: FeederModel | None = None,
    ) -> None:
        self.model = model = model if model is not None else FeederModel(feeder)
        self.buses = [int(b) for b in buses]
        m = len(self.buses)
        p0 = np.zeros(m) if p_kw is None else np.asarray(p_kw, dtype=float)
        q0 = np.zeros(m) if q_kvar is None else np.asarray(q_kvar, dtype=float)
        if p0.shape != (m,) or q0.shape != (m,):
            raise GridError(f"expected {m} operating-point injections, got {p0.shape}, {q0.shape}")
        if not (np.isfinite(p0).all() and np.isfinite(q0).all()):
            raise GridError("operating-point injections contain NaN or infinite values")
        self.p0_kw, self.q0_kvar = p0, q0
        self._incidence = model.incidence(self.buses)
        load = model.load_pu(self._incidence, p0[None, :], q0[None, :])
        v, converged, iterations = model.solve(load, model.bus_rows(self.buses))
        if not converged[0]:
            raise GridError(f"feeder {model.name!r}: the operating point does not converge")
        self.base = model.results(v, load, converged, iterations)
        self.bus_ids, self.line_ids, self.trafo_ids = model.bus_ids, model.line_ids, model.trafo_ids
        self._v0: ComplexArray = np.ascontiguousarray(v[0])
        self._solve_sensitivities()

    # -- construction ------------------------------------------------------------------------

    def _solve_sensitivities(self) -> None:
        model, v = self.model, self._v0
        rows = model.bus_rows(self.buses)
        distinct, column = np.unique(rows, return_inverse=True)
        n, k = model.n, len(distinct)
        pv, pq = model.pv.astype(np.int64), model.pq.astype(np.int64)
        pvpq = np.r_[pv, pq]
        ybus = model.ybus
        i_bus = ybus @ v
        diag_v = sparse.diags(v)
        v_norm = v / np.abs(v)
        ds_dvm = diag_v @ np.conj(ybus @ sparse.diags(v_norm)) + sparse.diags(
            np.conj(i_bus) * v_norm
        )
        ds_dva = 1j * diag_v @ np.conj(sparse.diags(i_bus) - ybus @ diag_v)
        ds_dvm, ds_dva = sparse.csr_matrix(ds_dvm), sparse.csr_matrix(ds_dva)
        jac = sparse.bmat(
            [
                [ds_dva[pvpq][:, pvpq].real, ds_dvm[pvpq][:, pq].real],
                [ds_dva[pq][:, pvpq].imag, ds_dvm[pq][:, pq].imag],
            ],
            format="csc",
        )
        # right-hand sides: one kW (then one kvar) drawn at each distinct prosumer bus, p.u.
        unit = -1e-3 / model.base_mva
        position_p = np.full(n, -1, dtype=np.int64)
        position_p[pvpq] = np.arange(len(pvpq))
        position_q = np.full(n, -1, dtype=np.int64)
        position_q[pq] = len(pvpq) + np.arange(len(pq))
        rhs = np.zeros((len(pvpq) + len(pq), 2 * k))
        for j, bus in enumerate(distinct):
            if position_p[bus] >= 0:
                rhs[position_p[bus], j] = unit
            if position_q[bus] >= 0:
                rhs[position_q[bus], k + j] = unit
        x = splu(jac).solve(rhs) if jac.shape[0] else rhs
        d_va = np.zeros((n, 2 * k))
        d_vm = np.zeros((n, 2 * k))
        d_va[pvpq] = x[: len(pvpq)]
        d_vm[pq] = x[len(pvpq) :]
        # complex voltage change per kW / kvar, per distinct bus; then per prosumer
        d_v = v[:, None] * (1j * d_va + d_vm / np.abs(v)[:, None])
        d_v_p = d_v[:, :k][:, column]
        d_v_q = d_v[:, k:][:, column]
        d_vm_p = d_vm[:, :k][:, column]
        d_vm_q = d_vm[:, k:][:, column]

        ok, pos = model.bus_pos >= 0, model.bus_pos
        self.dvm_dp_pu_per_kw = np.full((len(model.bus_ids), len(self.buses)), np.nan)
        self.dvm_dq_pu_per_kvar = np.full_like(self.dvm_dp_pu_per_kw, np.nan)
        self.dvm_dp_pu_per_kw[ok] = d_vm_p[pos[ok]]
        self.dvm_dq_pu_per_kvar[ok] = d_vm_q[pos[ok]]

        # branch currents (p.u.) at the operating point and their sensitivities
        self._i_from0: ComplexArray = model.yf @ v
        self._i_to0: ComplexArray = model.yt @ v
        self._di_from_p: ComplexArray = np.asarray(model.yf @ d_v_p)
        self._di_from_q: ComplexArray = np.asarray(model.yf @ d_v_q)
        self._di_to_p: ComplexArray = np.asarray(model.yt @ d_v_p)
        self._di_to_q: ComplexArray = np.asarray(model.yt @ d_v_q)

        # external grid supply: S = V_ref conj(Ybus_ref V) - fixed injections + loads at ref
        ref = model.ref
        y_ref = model.ybus[ref, :]
        i_ref = y_ref @ v
        at_ref = np.isin(rows, ref).astype(float)
        to_kw = model.base_mva * 1e3

        def d_ext(dv: ComplexArray) -> ComplexArray:
            ds = dv[ref] * np.conj(i_ref)[:, None] + v[ref][:, None] * np.conj(y_ref @ dv)
            result: ComplexArray = ds.sum(axis=0) * to_kw
            return result

        self.dtransformer_p_dp: FloatArray = d_ext(d_v_p).real + at_ref
        self.dtransformer_p_dq: FloatArray = d_ext(d_v_q).real
        self._p_ext0 = float(self.base.transformer_p_kw[0])

        # line active power at the from end, and loading derivatives at the operating point
        line_rows = model.line_rows
        live = line_rows >= 0
        br = line_rows[live]
        f_bus = model.branch_from
        v_f = v[f_bus]

        def d_p_from(dv: ComplexArray, di: ComplexArray) -> FloatArray:
            ds = dv[f_bus] * np.conj(self._i_from0)[:, None] + v_f[:, None] * np.conj(di)
            result: FloatArray = ds.real * to_kw
            return result

        self.dline_p_dp_kw_per_kw = np.zeros((len(line_rows), len(self.buses)))
        self.dline_p_dq_kw_per_kvar = np.zeros_like(self.dline_p_dp_kw_per_kw)
        self.dline_p_dp_kw_per_kw[live] = d_p_from(d_v_p, self._di_from_p)[br]
        self.dline_p_dq_kw_per_kvar[live] = d_p_from(d_v_q, self._di_from_q)[br]
        self.dline_loading_dp_pct_per_kw = self._loading_derivative(
            line_rows, model.line_scale, model.line_scale, self._di_from_p, self._di_to_p
        )
        self.dline_loading_dq_pct_per_kvar = self._loading_derivative(
            line_rows, model.line_scale, model.line_scale, self._di_from_q, self._di_to_q
        )
        self.dtrafo_loading_dp_pct_per_kw = self._loading_derivative(
            model.trafo_rows,
            model.trafo_scale_hv,
            model.trafo_scale_lv,
            self._di_from_p,
            self._di_to_p,
        )
        self.dtrafo_loading_dq_pct_per_kvar = self._loading_derivative(
            model.trafo_rows,
            model.trafo_scale_hv,
            model.trafo_scale_lv,
            self._di_from_q,
            self._di_to_q,
        )
        # stacked (2 · prosumers × elements) for estimates: rows are kW then kvar drawn
        self._vm_t = np.ascontiguousarray(
            np.vstack([self.dvm_dp_pu_per_kw.T, self.dvm_dq_pu_per_kvar.T])
        )
        self._i_from_t = np.ascontiguousarray(np.vstack([self._di_from_p.T, self._di_from_q.T]))
        self._i_to_t = np.ascontiguousarray(np.vstack([self._di_to_p.T, self._di_to_q.T]))
        self._p_ext_t = np.concatenate([self.dtransformer_p_dp, self.dtransformer_p_dq])

    def _loading_derivative(
        self,
        rows: IntArray,
        scale_from: FloatArray,
        scale_to: FloatArray,
        di_from: ComplexArray,
        di_to: ComplexArray,
    ) -> FloatArray:
        model = self.model
        out = np.zeros((len(rows), len(self.buses)))
        live = rows >= 0
        if not live.any():
            return out
        r = rows[live]
        i_f0, i_t0 = self._i_from0[r], self._i_to0[r]
        ld_f = np.abs(i_f0) * model.ka_from[r] * scale_from[live]
        ld_t = np.abs(i_t0) * model.ka_to[r] * scale_to[live]
        use_from = ld_f >= ld_t
        i0 = np.where(use_from, i_f0, i_t0)
        factor = np.where(
            use_from, model.ka_from[r] * scale_from[live], model.ka_to[r] * scale_to[live]
        )
        di = np.where(use_from[:, None], di_from[r], di_to[r])
        magnitude = np.abs(i0)
        unit = np.divide(np.conj(i0), magnitude, out=np.zeros_like(i0), where=magnitude > 0)
        out[live] = (unit[:, None] * di).real * factor[:, None]
        return out

    # -- estimates ---------------------------------------------------------------------------

    def estimate(
        self, delta_p_kw: npt.ArrayLike, delta_q_kvar: npt.ArrayLike | None = None
    ) -> LinearEstimate:
        """Linear estimate of the AC results after changing what prosumers draw.

        ``delta_p_kw``/``delta_q_kvar``: kW/kvar *drawn* in addition to the operating point, per
        prosumer (shape (prosumers,)) or per slot and prosumer (shape (slots, prosumers)).
        """
        dp = np.asarray(delta_p_kw, dtype=float)
        dq = np.zeros_like(dp) if delta_q_kvar is None else np.asarray(delta_q_kvar, dtype=float)
        m = len(self.buses)
        if dp.shape != dq.shape or dp.ndim not in (1, 2) or dp.shape[-1] != m:
            raise GridError(
                f"expected changes of shape ({m},) or (slots, {m}), got {dp.shape} and {dq.shape}"
            )
        if not (np.isfinite(dp).all() and np.isfinite(dq).all()):
            raise GridError("changes contain NaN or infinite values")
        single = dp.ndim == 1
        dp2, dq2 = np.atleast_2d(dp), np.atleast_2d(dq)
        model = self.model
        x = np.hstack([dp2, dq2])
        xc = x.astype(np.complex128)  # complex GEMM (BLAS) rather than a mixed-type product
        vm = self.base.vm_pu[0] + x @ self._vm_t
        i_from = self._i_from0 + xc @ self._i_from_t
        i_to = self._i_to0 + xc @ self._i_to_t
        i_from_ka = np.abs(i_from) * model.ka_from
        i_to_ka = np.abs(i_to) * model.ka_to
        line, trafo = model.loadings(i_from_ka, i_to_ka)
        p_ext = self._p_ext0 + x @ self._p_ext_t
        if single:
            return LinearEstimate(vm[0], line[0], trafo[0], np.asarray(p_ext[0]))
        return LinearEstimate(vm, line, trafo, p_ext)
