"""Many slots in one batch on power-grid-model (PGM), from pandapower's own network model.

The default engine of :class:`peergrid.grid.ac_model.FeederModel`. The PGM network is built from
pandapower's internal (``ppci``) bus and branch tables, not from the pandapower element tables,
so every element pandapower folds into its admittances (lines with charging and conductance,
transformers with taps and phase shifts, impedances, shunts, wards' impedances, closed switches)
is modelled as pandapower models it, and nothing is approximated:

- **Reduction.** Buses without a constant-power injection that join at most two neighbours
  (the segments of a cable, dead ends) are eliminated exactly (Kron reduction: no current is
  injected there, so their voltages are a fixed linear function of the kept buses'). Kept: the
  slack bus(es), the prosumers' buses, buses with fixed injections (wards), buses joining three
  or more neighbours and both ends of phase-shifting branches. Each chain of eliminated buses
  becomes one PGM ``generic_branch`` (its exact two-port, as a π) and shunts; phase-shifting
  branches are kept as ``generic_branch`` with their ratio and shift. On ``ieee-eu-lv`` this
  leaves 154 of 907 buses, which makes each slot several times cheaper; the eliminated
  buses' voltages are restored afterwards by one sparse product.
- **Slack.** Each external grid is a PGM ``source`` at its set point with a short-circuit power
  of 1e20 VA, i.e. ideal (PGM's default 10 GVA would drop the voltage by up to 1e-5 p.u.).
- **Injections.** One constant-power ``sym_load`` per prosumer bus (updated per slot) and one
  ``sym_gen`` per bus with fixed injections; injections at the slack bus change only what the
  external grid supplies, which is computed outside PGM.
- **Solving.** PGM's iterative current method (constant admittance matrix, factorised once per
  batch) to a voltage change of ``_IC_TOLERANCE_PU``; then every slot's nodal power mismatch in
  the *full* admittance matrix is checked against ``tolerance_mva``. A slot that fails either is
  solved again by PGM's Newton–Raphson (``max_iteration`` iterations) and checked again; a slot
  that fails that too is not converged (NaN voltages), never an error for the whole batch.

Feeders this engine cannot represent: voltage-controlled generators (PV buses, from ``gen`` and
``xward``) and impedances with different series values in the two directions;
:func:`pgm_unsupported` names them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from pandapower.pypower.idx_brch import (
    BR_B,
    BR_B_ASYM,
    BR_G,
    BR_G_ASYM,
    BR_R,
    BR_R_ASYM,
    BR_X,
    BR_X_ASYM,
    F_BUS,
    SHIFT,
    T_BUS,
    TAP,
)
from pandapower.pypower.idx_bus import BASE_KV
from pandapower.pypower.makeYbus import makeYbus
from power_grid_model import (
    CalculationMethod,
    ComponentAttributeFilterOptions,
    ComponentType,
    DatasetType,
    PowerGridModel,
    initialize_array,
)
from scipy import sparse
from scipy.sparse.linalg import splu

FloatArray = npt.NDArray[np.float64]
ComplexArray = npt.NDArray[np.complex128]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_SOURCE_SK_VA = 1e20  # short-circuit power of the slack: ideal for any feeder's currents
_IC_TOLERANCE_PU = 1e-10  # iterative current: largest voltage change of the last iteration
_IC_MAX_ITERATIONS = 100  # linear convergence; a slot still moving after this is retried by NR
_NODE_OUTPUT: dict[ComponentType, set[str] | list[str] | ComponentAttributeFilterOptions | None] = {
    ComponentType.node: ["u_pu", "u_angle"]
}


def pgm_unsupported(ppci: dict[str, object], ybus: sparse.spmatrix) -> str | None:
    """Why the network of ``ppci`` cannot be solved on PGM, or ``None`` if it can."""
    if len(np.asarray(ppci["pv"])):
        return "voltage-controlled generators (PV buses, from gen or xward elements)"
    branch = np.asarray(ppci["branch"])
    if np.any(branch[:, [BR_R_ASYM, BR_X_ASYM]].real != 0):
        return "impedances with different series values in each direction"
    rebuilt = makeYbus(float(ppci["baseMVA"]), np.asarray(ppci["bus"]), branch)[0]  # type: ignore[arg-type]
    scale = max(float(abs(ybus).max()), 1.0)
    if abs(rebuilt - ybus).max() > 1e-12 * scale:
        return "admittances beyond the bus and branch tables"
    return None


class PGMSolver:
    """Batched AC power flow of one feeder's ppci model on power-grid-model."""

    def __init__(
        self,
        *,
        ppci: dict[str, object],
        ybus: sparse.csc_matrix,
        s_fixed: ComplexArray,
        v_noload: ComplexArray,
        max_iteration: int,
        tolerance_mva: float,
        threads: int | None,
    ) -> None:
        self.base_mva = float(ppci["baseMVA"])  # type: ignore[arg-type]
        self.bus = np.asarray(ppci["bus"])
        self.branch = np.asarray(ppci["branch"])
        self.ref = np.asarray(ppci["ref"], dtype=np.int64)
        self.ybus = sparse.csr_matrix(ybus)
        self.s_fixed = s_fixed
        self.v_noload = v_noload
        self.max_iteration = max_iteration
        self.tolerance_mva = tolerance_mva
        #: PGM's ``threading``: -1 sequential, 0 one thread per core, n > 0 that many
        self.threading = 0 if threads is None else (-1 if threads == 1 else threads)
        self.n = int(self.bus.shape[0])
        self._kv: FloatArray = self.bus[:, BASE_KV].real.astype(float)
        shifted = self.branch[:, SHIFT].real != 0
        self._shifted = self.branch[shifted]
        # admittances of everything but the phase-shifting branches (symmetric), bus shunts in
        y_plain = makeYbus(self.base_mva, self.bus, self.branch[~shifted])[0]
        self._y_plain = sparse.csc_matrix(y_plain, dtype=np.complex128)
        pattern = sparse.csr_matrix(self._y_plain, copy=True)
        pattern.setdiag(0)
        pattern.eliminate_zeros()
        degree = np.diff(pattern.indptr)
        always = degree >= 3
        always[self.ref] = True
        always[np.abs(s_fixed) > 0] = True
        for column in (F_BUS, T_BUS):
            always[self._shifted[:, column].real.astype(np.int64)] = True
        self._always_kept: BoolArray = always
        self._models: dict[tuple[int, ...], _Reduced] = {}

    # -- the reduced PGM model per set of prosumer buses ---------------------------------------

    def reduced(self, rows: IntArray) -> _Reduced:
        """The PGM model with prosumer loads at ppci ``rows`` (cached per set of rows)."""
        load_rows = np.setdiff1d(np.unique(rows), self.ref)
        key = tuple(int(r) for r in load_rows)
        model = self._models.get(key)
        if model is None:
            if len(self._models) >= 8:
                self._models.clear()
            model = self._models[key] = self._reduce(load_rows)
        return model

    def _reduce(self, load_rows: IntArray) -> _Reduced:
        keep = self._always_kept.copy()
        keep[load_rows] = True
        kept = np.flatnonzero(keep)
        gone = np.flatnonzero(~keep)
        position = np.full(self.n, -1, dtype=np.int64)
        position[kept] = np.arange(len(kept))
        y = self._y_plain
        y_kk = y[kept][:, kept].toarray()
        rows, columns = kept, np.arange(len(kept))
        values: ComplexArray = np.ones(len(kept), dtype=np.complex128)
        if len(gone):
            y_ke = sparse.csc_matrix(y[kept][:, gone])
            y_ek = y[gone][:, kept].toarray()
            chain = -splu(sparse.csc_matrix(y[gone][:, gone])).solve(y_ek)  # V_gone per V_kept
            y_kk = y_kk + y_ke @ chain
            links = sparse.coo_matrix(chain)  # a chain's buses depend on its two ends only
            rows = np.r_[rows, gone[links.row]]
            columns = np.r_[columns, links.col]
            values = np.r_[values, links.data]
        expand = sparse.csr_matrix((values, (rows, columns)), shape=(self.n, len(kept)))
        y_red = 0.5 * (y_kk + y_kk.T)  # symmetric up to rounding
        inputs = self._pgm_inputs(kept, position, y_red, load_rows)
        return _Reduced(
            model=PowerGridModel(inputs),
            load_rows=load_rows,
            kept=kept,
            expand=expand,
            ref=self.ref,
            ybus=self.ybus,
        )

    def _pgm_inputs(
        self, kept: IntArray, position: IntArray, y_red: ComplexArray, load_rows: IntArray
    ) -> dict[ComponentType, npt.NDArray[np.void]]:
        base, kv = self.base_mva, self._kv
        ids = _Ids()
        node = initialize_array(DatasetType.input, ComponentType.node, len(kept))
        node["id"] = ids.take(len(kept))  # node id = position among the kept buses
        node["u_rated"] = kv[kept] * 1e3
        # plain part: y_ij between kept buses as series branches, row sums as shunts
        upper_i, upper_j = np.nonzero(np.triu(y_red != 0, k=1))
        y_series = -y_red[upper_i, upper_j]
        z_ohm = (1.0 / y_series) * kv[kept[upper_j]] ** 2 / base
        shifted = self._shifted
        f = position[shifted[:, F_BUS].real.astype(np.int64)]
        t = position[shifted[:, T_BUS].real.astype(np.int64)]
        zb_t = kv[kept[t]] ** 2 / base
        tap = shifted[:, TAP].real
        count = len(upper_i) + len(shifted)
        branch = initialize_array(DatasetType.input, ComponentType.generic_branch, count)
        branch["id"] = ids.take(count)
        branch["from_node"] = np.r_[upper_i, f]
        branch["to_node"] = np.r_[upper_j, t]
        branch["from_status"] = 1
        branch["to_status"] = 1
        branch["r1"] = np.r_[z_ohm.real, shifted[:, BR_R].real * zb_t]
        branch["x1"] = np.r_[z_ohm.imag, shifted[:, BR_X].real * zb_t]
        branch["g1"] = np.r_[np.zeros(len(upper_i)), shifted[:, BR_G].real / zb_t]
        branch["b1"] = np.r_[np.zeros(len(upper_i)), shifted[:, BR_B].real / zb_t]
        branch["k"] = np.r_[np.ones(len(upper_i)), np.where(tap == 0, 1.0, tap)]
        branch["theta"] = np.r_[np.zeros(len(upper_i)), np.radians(shifted[:, SHIFT].real)]
        branch["sn"] = np.nan
        # shunts (p.u. on base_mva at each kept bus): row sums, and the to-end excess of
        # phase-shifting branches with different charging at either end
        shunt_pu = y_red.sum(axis=1)
        excess = (shifted[:, BR_G_ASYM].real + 1j * shifted[:, BR_B_ASYM].real) / 2
        np.add.at(shunt_pu, t, excess)
        at = np.flatnonzero(shunt_pu != 0)
        shunt = initialize_array(DatasetType.input, ComponentType.shunt, len(at))
        shunt["id"] = ids.take(len(at))
        shunt["node"] = at
        shunt["status"] = 1
        siemens = shunt_pu[at] * base / kv[kept[at]] ** 2
        shunt["g1"], shunt["b1"] = siemens.real, siemens.imag
        shunt["g0"], shunt["b0"] = 0.0, 0.0
        source = initialize_array(DatasetType.input, ComponentType.source, len(self.ref))
        source["id"] = ids.take(len(self.ref))
        source["node"] = position[self.ref]
        source["status"] = 1
        source["u_ref"] = np.abs(self.v_noload[self.ref])
        source["u_ref_angle"] = np.angle(self.v_noload[self.ref])
        source["sk"] = _SOURCE_SK_VA
        source["rx_ratio"] = 0.1
        source["z01_ratio"] = 1.0
        fixed = np.setdiff1d(np.flatnonzero(self.s_fixed != 0), self.ref)
        gen = initialize_array(DatasetType.input, ComponentType.sym_gen, len(fixed))
        gen["id"] = ids.take(len(fixed))
        gen["node"] = position[fixed]
        gen["status"] = 1
        gen["type"] = 0  # constant power
        gen["p_specified"] = self.s_fixed[fixed].real * base * 1e6
        gen["q_specified"] = self.s_fixed[fixed].imag * base * 1e6
        load = initialize_array(DatasetType.input, ComponentType.sym_load, len(load_rows))
        load["id"] = ids.take(len(load_rows))
        load["node"] = position[load_rows]
        load["status"] = 1
        load["type"] = 0
        load["p_specified"] = 0.0
        load["q_specified"] = 0.0
        return {
            ComponentType.node: node,
            ComponentType.generic_branch: branch,
            ComponentType.shunt: shunt,
            ComponentType.source: source,
            ComponentType.sym_gen: gen,
            ComponentType.sym_load: load,
        }

    # -- solving -------------------------------------------------------------------------------

    def solve(
        self, load_pu: ComplexArray, rows: IntArray
    ) -> tuple[ComplexArray, BoolArray, IntArray]:
        """Slots of per-unit loads (slots × ppci buses, load convention) with prosumers at ppci
        ``rows``: voltages (slots × ppci buses, NaN rows where a slot did not converge),
        convergence, and iterations (-1: PGM does not report them)."""
        k = load_pu.shape[0]
        red = self.reduced(rows)
        if np.any(load_pu[:, red.passive] != 0):
            raise ValueError("loads outside ``rows``")
        v_t, ok = self._attempt(red, load_pu, CalculationMethod.iterative_current)
        if not ok.all():  # Newton–Raphson for the slots the iterative current method missed
            retry = np.flatnonzero(~ok)
            v_retry, ok_retry = self._attempt(red, load_pu[retry], CalculationMethod.newton_raphson)
            v_t[:, retry] = v_retry
            ok[retry] = ok_retry
            v_t[:, ~ok] = np.nan
        return v_t.T, ok, np.full(k, -1, dtype=np.int64)

    def _attempt(
        self, red: _Reduced, load_pu: ComplexArray, method: CalculationMethod
    ) -> tuple[ComplexArray, BoolArray]:
        """Voltages (ppci buses × slots) and whether each slot converged and meets the
        tolerance."""
        if method == CalculationMethod.iterative_current:
            v_kept, ok = self._run(red, load_pu, method, _IC_TOLERANCE_PU, _IC_MAX_ITERATIONS)
        else:
            v_kept, ok = self._run(red, load_pu, method, _IC_TOLERANCE_PU, self.max_iteration)
        v_t = red.expand @ v_kept.T
        ok &= self._mismatch_ok(red, v_t, load_pu)
        return v_t, ok

    def _run(
        self,
        red: _Reduced,
        load_pu: ComplexArray,
        method: CalculationMethod,
        tolerance: float,
        cap: int,
    ) -> tuple[ComplexArray, BoolArray]:
        """Kept buses' voltages (slots × kept) and whether PGM solved each slot."""
        k = load_pu.shape[0]
        update: dict[ComponentType, dict[str, FloatArray]]
        if len(red.load_rows):
            watts = load_pu[:, red.load_rows] * (self.base_mva * 1e6)
            p_w, q_w = np.ascontiguousarray(watts.real), np.ascontiguousarray(watts.imag)
            update = {ComponentType.sym_load: {"p_specified": p_w, "q_specified": q_w}}
        else:  # no prosumer off the slack bus: a batch of the (unchanged) source voltages
            u_ref = np.abs(self.v_noload[self.ref])
            update = {ComponentType.source: {"u_ref": np.tile(u_ref, (k, 1))}}
        out = red.model.calculate_power_flow(
            update_data=update,
            calculation_method=method,
            error_tolerance=tolerance,
            max_iterations=cap,
            threading=self.threading,
            output_component_types=_NODE_OUTPUT,
            continue_on_batch_error=True,
        )
        ok = np.ones(k, dtype=bool)
        failed = red.model.batch_error
        if failed is not None:
            ok[np.asarray(failed.failed_scenarios, dtype=np.int64)] = False
        u = np.asarray(out[ComponentType.node]["u_pu"], dtype=float)
        angle = np.asarray(out[ComponentType.node]["u_angle"], dtype=float)
        v_kept = u * np.exp(1j * angle)
        ok &= np.isfinite(v_kept).all(axis=1)
        v_kept[~ok] = 0.0
        return v_kept, ok

    def _mismatch_ok(self, red: _Reduced, v_t: ComplexArray, load_pu: ComplexArray) -> BoolArray:
        """Per slot: the largest nodal power mismatch in MVA within the tolerance. ``v_t`` is
        (ppci buses × slots). Checked at the kept buses but the slack, with the full ``Ybus``;
        at eliminated buses it is zero by construction (their voltages make it so)."""
        at = red.checked
        s_bus = v_t[at] * np.conj(red.ybus_checked @ v_t)
        s_bus -= self.s_fixed[at][:, None]
        s_bus += load_pu[:, at].T
        worst = np.abs(s_bus).max(axis=0, initial=0.0) * self.base_mva
        result: BoolArray = worst <= self.tolerance_mva
        return result


class _Reduced:
    """A PGM model of the reduced network and how to expand its voltages to every ppci bus."""

    def __init__(
        self,
        *,
        model: PowerGridModel,
        load_rows: IntArray,
        kept: IntArray,
        expand: sparse.csr_matrix,
        ref: IntArray,
        ybus: sparse.csr_matrix,
    ) -> None:
        self.model = model
        self.load_rows = load_rows  # ppci rows of the sym_loads, in PGM's order
        self.kept = kept  # ppci rows of the PGM nodes (node id = position)
        self.expand = expand  # (ppci buses × kept): V = expand @ V_kept
        self.passive = np.setdiff1d(np.arange(expand.shape[0]), kept)  # no load allowed there
        self.checked = np.setdiff1d(kept, ref)  # where the mismatch is checked
        self.ybus_checked = sparse.csr_matrix(ybus[self.checked])


class _Ids:
    """Consecutive component ids: PGM wants them unique across component types."""

    def __init__(self) -> None:
        self.next = 0

    def take(self, count: int) -> IntArray:
        ids = np.arange(self.next, self.next + count, dtype=np.int64)
        self.next += count
        return ids
