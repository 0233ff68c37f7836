"""The AC model of a feeder: pandapower's admittances, many slots at once.

Conventions:

- **Load convention.** Injections are the active and reactive power prosumers *draw* from the
  network (kW, kvar; an exporting prosumer has a negative ``p_kw``), summed per bus.
- **Results.** Voltage magnitudes in p.u. of each bus's nominal voltage; line loading in % of
  ``max_i_ka · df · parallel`` (the larger of the from- and to-end currents); transformer loading in
  % of the rated current at either side, divided by ``parallel · df`` — both exactly as pandapower
  computes ``loading_percent`` (``trafo_loading="current"``). ``transformer_p_kw`` is the active
  power the external grid supplies (negative: reverse flow).
- **The model.** The feeder's own loads, static generators and storage units are replaced by the
  injections; everything else stays as in the pandapower net (external grid, voltage-controlled
  generators, shunts, wards, switches, out-of-service elements, transformer taps and phase
  shifts). Loads are constant power (pandapower's default for loads).

The network model — admittance matrices ``Ybus``/``Yf``/``Yt``, slack and PV buses, bus and
branch lookups, per-unit bases — is taken from pandapower's own conversion (``runpp`` once, at no
load) and built once per feeder. An engine solves the bus voltages of many slots; every result
(voltages, branch currents and loadings, the external grid's power) is then computed from those
voltages and pandapower's matrices with NumPy, the same way for both engines:

- ``"pgm"``: power-grid-model's batch power flow, many slots per call on several threads, on the
  same network reduced to the buses that matter (:mod:`peergrid.grid.ac_pgm`); no PV buses.
- ``"lightsim2grid"``: Newton–Raphson on pandapower's ``Ybus``, one slot at a time
  (:mod:`peergrid.grid.ac_lightsim`). Models every element the net has.
- ``"auto"`` (default): ``"pgm"`` unless the feeder has what it does not model.

Accuracy. ``tolerance_mva`` bounds the largest nodal power mismatch *in MVA* (for ``"pgm"``
checked on every slot after solving). pandapower applies its own ``tolerance_mva`` to the
per-unit mismatch (units of ``net.sn_mva``, 100 MVA on the IEEE EU LV feeder): its default
leaves voltages up to ~1e-6 p.u. and loadings up to ~1e-3 % from the converged solution. Against
a tightly converged ``runpp``, the catalogue's feeders agree within 5e-12 p.u. and 1e-8 % on
``"pgm"``, 1e-8 p.u. and 1e-5 % on ``"lightsim2grid"``. A slot's result does not depend on the
slots solved with it; one that does not converge has NaN results and ``converged=False``.

The checks of these results against a feeder's limits are in :mod:`peergrid.grid.powerflow`;
linear screening around an AC operating point is in :mod:`peergrid.grid.sensitivity`.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandapower as pp
from pandapower.pypower.idx_brch import F_BUS, T_BUS
from pandapower.pypower.idx_bus import BASE_KV, PD, QD
from pandapower.pypower.idx_gen import GEN_BUS, PG
from scipy import sparse

from peergrid.core.errors import GridError
from peergrid.grid.ac_lightsim import LightSimSolver
from peergrid.grid.ac_pgm import PGMSolver, pgm_unsupported
from peergrid.grid.feeder_types import Feeder

FloatArray = npt.NDArray[np.float64]
ComplexArray = npt.NDArray[np.complex128]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Elements whose power the injections replace.
REPLACED_ELEMENTS = ("load", "sgen", "storage", "asymmetric_load", "asymmetric_sgen")
#: In-service elements the fast power flow does not model (a feeder with them is refused).
UNSUPPORTED_ELEMENTS = ("trafo3w", "dcline", "svc", "ssc", "vsc", "tcsc")
_SQRT3 = math.sqrt(3.0)
#: AC engines: "auto" is "pgm" unless the feeder has what PGM does not model.
Engine = Literal["auto", "pgm", "lightsim2grid"]
ENGINES: tuple[str, ...] = ("auto", "pgm", "lightsim2grid")


@dataclass(frozen=True)
class ACResult:
    """Full results of AC power flows, one row per slot (NaN where a slot did not converge).

    Columns follow the pandapower tables: ``bus_ids`` (``net.bus`` order), ``line_ids``,
    ``trafo_ids``. Out-of-service or isolated buses have NaN voltages; out-of-service lines and
    transformers have zero loading, as in pandapower.
    """

    bus_ids: IntArray
    line_ids: IntArray
    trafo_ids: IntArray
    converged: BoolArray  # (slots,)
    iterations: IntArray  # (slots,) Newton-Raphson iterations; -1 where the engine gives none
    vm_pu: FloatArray  # (slots, buses)
    va_degree: FloatArray  # (slots, buses)
    line_loading_pct: FloatArray  # (slots, lines)
    trafo_loading_pct: FloatArray  # (slots, trafos)
    transformer_p_kw: FloatArray  # (slots,) supplied by the external grid(s)
    transformer_q_kvar: FloatArray  # (slots,)

    @property
    def n_slots(self) -> int:
        return int(self.converged.shape[0])


class FeederModel:
    """The electrical model of a feeder, built once from pandapower's own conversion.

    Holds pandapower's internal (``ppci``) admittance matrices and lookups for the feeder with
    its loads, static generators and storage removed, and its no-load solution. The injections
    are then given per slot as a complex matrix (:meth:`solve`).

    ``engine`` chooses the solver (see the module's docstring; ``self.engine`` is the one in
    use); ``threads`` is the number of threads PGM solves a batch with (default: one per core;
    1: in the calling thread only). :class:`GridError` if ``engine="pgm"`` and the feeder has
    what PGM does not model.
    """

    def __init__(
        self,
        feeder: Feeder,
        *,
        engine: Engine = "auto",
        max_iteration: int = 10,
        tolerance_mva: float = 1e-8,
        threads: int | None = None,
    ) -> None:
        if engine not in ENGINES:
            raise GridError(f"unknown AC engine {engine!r}; known: {', '.join(ENGINES)}")
        if max_iteration < 1:
            raise GridError(f"max_iteration must be at least 1, got {max_iteration}")
        if not tolerance_mva > 0:
            raise GridError(f"tolerance_mva must be positive, got {tolerance_mva}")
        if threads is not None and threads < 1:
            raise GridError(f"threads must be at least 1, got {threads}")
        self.name = feeder.name
        net = copy.deepcopy(feeder.net)
        for element in UNSUPPORTED_ELEMENTS:
            table = net.get(element)
            if table is not None and len(table) and bool(table["in_service"].any()):
                raise GridError(
                    f"feeder {feeder.name!r}: in-service {element} elements are not supported "
                    "by the fast AC power flow"
                )
        for element in REPLACED_ELEMENTS:
            if element in net and len(net[element]):
                net[element] = net[element].iloc[0:0]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pp.runpp(net, calculate_voltage_angles=True, numba=False, trafo_loading="current")
        except pp.LoadflowNotConverged as exc:
            raise GridError(
                f"feeder {feeder.name!r}: no-load power flow does not converge"
            ) from exc
        ppci = net._ppc["internal"]
        self.base_mva = float(ppci["baseMVA"])
        self.tolerance_pu = tolerance_mva / self.base_mva
        self.max_iteration = max_iteration
        self.ybus = sparse.csc_matrix(ppci["Ybus"], dtype=np.complex128)
        self.ybus.sum_duplicates()
        self._ybus_ref = sparse.csr_matrix(self.ybus[np.asarray(ppci["ref"]), :])
        self.yf = sparse.csr_matrix(ppci["Yf"], dtype=np.complex128)
        self.yt = sparse.csr_matrix(ppci["Yt"], dtype=np.complex128)
        self.n = int(self.ybus.shape[0])
        self.ref = np.asarray(ppci["ref"], dtype=np.int32)
        self.pv = np.asarray(ppci["pv"], dtype=np.int32)
        self.pq = np.asarray(ppci["pq"], dtype=np.int32)

        bus, branch, gen = ppci["bus"], ppci["branch"], ppci["gen"]
        # Fixed injections (p.u., generator convention) of what stays in the net: wards' loads,
        # voltage-controlled generators' active power. The slack's own entries are unknowns.
        s_fixed = -(bus[:, PD] + 1j * bus[:, QD]) / self.base_mva
        gen_bus = gen[:, GEN_BUS].real.astype(np.int64)
        not_ref = ~np.isin(gen_bus, self.ref)
        np.add.at(s_fixed, gen_bus[not_ref], gen[not_ref, PG].real / self.base_mva)
        self.s_fixed: ComplexArray = np.asarray(s_fixed, dtype=np.complex128)
        self.v_noload: ComplexArray = np.asarray(ppci["V"], dtype=np.complex128).copy()

        # pandapower bus -> ppci bus (-1: out of service or isolated)
        lookup = np.asarray(net._pd2ppc_lookups["bus"], dtype=np.int64)
        self.bus_ids: IntArray = np.asarray(net.bus.index, dtype=np.int64)
        pos = lookup[self.bus_ids]
        self.bus_pos: IntArray = np.where((pos >= 0) & (pos < self.n), pos, -1)
        self._bus_row = {int(b): int(p) for b, p in zip(self.bus_ids, self.bus_pos, strict=True)}
        self._bus_ok = self.bus_pos >= 0
        self._bus_ok_pos = self.bus_pos[self._bus_ok]
        self._bus_identity = np.array_equal(self.bus_pos, np.arange(self.n))

        # kA per unit of branch current at each end, per ppci branch (pandapower's i_ka)
        from_bus = branch[:, F_BUS].real.astype(np.int64)
        to_bus = branch[:, T_BUS].real.astype(np.int64)
        self.branch_from: IntArray = from_bus
        self.branch_to: IntArray = to_bus
        self.ka_from: FloatArray = self.base_mva / (_SQRT3 * bus[from_bus, BASE_KV].real)
        self.ka_to: FloatArray = self.base_mva / (_SQRT3 * bus[to_bus, BASE_KV].real)
        # ppc branch (pandapower's branch lookup) -> ppci branch (-1: out of service)
        branch_is = np.asarray(ppci["branch_is"], dtype=bool)
        ppc_to_ppci = np.full(len(branch_is), -1, dtype=np.int64)
        ppc_to_ppci[branch_is] = np.arange(int(branch_is.sum()))
        ranges = net._pd2ppc_lookups["branch"]

        line = net.line
        self.line_ids: IntArray = np.asarray(line.index, dtype=np.int64)
        self.line_rows = _branch_rows(ranges.get("line"), len(line), ppc_to_ppci)
        self.line_undefined = self._undefined(self.line_rows, line["from_bus"], line["to_bus"])
        i_max = (line["max_i_ka"] * line["df"] * line["parallel"]).to_numpy(dtype=float)
        # % per kA at either end
        self.line_scale: FloatArray = np.divide(
            100.0, i_max, out=np.full(len(line), np.inf), where=i_max != 0
        )

        trafo = net.trafo
        self.trafo_ids: IntArray = np.asarray(trafo.index, dtype=np.int64)
        self.trafo_rows = _branch_rows(ranges.get("trafo"), len(trafo), ppc_to_ppci)
        self.trafo_undefined = self._undefined(self.trafo_rows, trafo["hv_bus"], trafo["lv_bus"])
        if len(trafo) and bool((trafo["df"] <= 0).any()):
            raise GridError(f"feeder {feeder.name!r}: transformer rating factor df must be > 0")
        rated = (trafo["sn_mva"] * trafo["parallel"] * trafo["df"]).to_numpy(dtype=float)
        self.trafo_scale_hv: FloatArray = trafo["vn_hv_kv"].to_numpy(float) * _SQRT3 * 100.0 / rated
        self.trafo_scale_lv: FloatArray = trafo["vn_lv_kv"].to_numpy(float) * _SQRT3 * 100.0 / rated
        self._solver = self._engine(feeder.name, engine, ppci, threads)

    def _engine(
        self, name: str, engine: Engine, ppci: dict[str, Any], threads: int | None
    ) -> PGMSolver | LightSimSolver:
        reason = None if engine == "lightsim2grid" else pgm_unsupported(ppci, self.ybus)
        if reason is not None and engine == "pgm":
            hint = "use engine='lightsim2grid'"
            raise GridError(f"feeder {name!r}: power-grid-model does not model {reason}; {hint}")
        if reason is None and engine != "lightsim2grid":
            self.engine = "pgm"
            return PGMSolver(
                ppci=ppci,
                ybus=self.ybus,
                s_fixed=self.s_fixed,
                v_noload=self.v_noload,
                max_iteration=self.max_iteration,
                tolerance_mva=self.tolerance_pu * self.base_mva,
                threads=threads,
            )
        self.engine = "lightsim2grid"
        return LightSimSolver(
            ybus=self.ybus,
            ref=self.ref,
            pv=self.pv,
            pq=self.pq,
            s_fixed=self.s_fixed,
            v_noload=self.v_noload,
            max_iteration=self.max_iteration,
            tolerance_pu=self.tolerance_pu,
        )

    def _undefined(self, rows: IntArray, ends_a: Any, ends_b: Any) -> BoolArray:
        """Out-of-service branches with an end bus out of service or isolated: pandapower gives
        them NaN loading (zero current over an undefined voltage)."""
        dead_a = np.array([self._bus_row.get(int(b), -1) < 0 for b in ends_a], dtype=bool)
        dead_b = np.array([self._bus_row.get(int(b), -1) < 0 for b in ends_b], dtype=bool)
        result: BoolArray = (rows < 0) & (dead_a | dead_b)
        return result

    # -- inputs ------------------------------------------------------------------------------

    def bus_rows(self, buses: Sequence[int]) -> IntArray:
        """ppci rows of pandapower ``buses``; a clear error for unknown or disconnected buses."""
        unknown = sorted({int(b) for b in buses if int(b) not in self._bus_row})
        if unknown:
            raise GridError(f"buses {unknown[:5]} are not buses of feeder {self.name!r}")
        rows = np.array([self._bus_row[int(b)] for b in buses], dtype=np.int64)
        dead = sorted({int(b) for b, r in zip(buses, rows, strict=True) if r < 0})
        if dead:
            raise GridError(
                f"buses {dead[:5]} of feeder {self.name!r} are out of service or not connected "
                "to the external grid"
            )
        return rows

    def incidence(self, buses: Sequence[int]) -> sparse.csr_matrix:
        """Sparse (ppci buses × prosumers) matrix that sums prosumers' injections per bus."""
        rows = self.bus_rows(buses)
        m = len(rows)
        return sparse.csr_matrix((np.ones(m), (rows, np.arange(m))), shape=(self.n, m))

    def load_pu(self, incidence: sparse.csr_matrix, p_kw: FloatArray, q_kvar: FloatArray) -> Any:
        """Complex per-unit load per (slot, ppci bus) of prosumers' kW/kvar (slots × prosumers)."""
        s_kva = p_kw + 1j * q_kvar
        return np.asarray((incidence @ s_kva.T).T) / (1000.0 * self.base_mva)

    # -- solving -----------------------------------------------------------------------------

    def solve(
        self, load_pu: ComplexArray, rows: IntArray | None = None
    ) -> tuple[ComplexArray, BoolArray, IntArray]:
        """Solve slots of per-unit loads (slots × ppci buses, load convention).

        ``rows``: the ppci buses that may carry load (default: those that do in ``load_pu``);
        the same rows give bitwise the same result for a slot whatever else is solved with it.
        Returns voltages (slots × ppci buses; NaN rows where a slot did not converge),
        convergence and iterations.
        """
        solver = self._solver
        if isinstance(solver, LightSimSolver):
            return solver.solve(load_pu)
        if rows is None:
            rows = np.flatnonzero(np.any(load_pu != 0, axis=0))
        return solver.solve(load_pu, rows)

    def results(
        self,
        v: ComplexArray,
        load_pu: ComplexArray,
        converged: BoolArray,
        iterations: IntArray,
        *,
        angles: bool = True,
    ) -> ACResult:
        """Bus, line and transformer results of solved slots (``v``: slots × ppci buses), as
        (slots × elements) views of bus- and branch-major arrays. ``angles=False`` leaves
        ``va_degree`` NaN (the checks do not need it)."""
        v_t = np.ascontiguousarray(v.T)  # (ppci buses × slots)
        shape = (len(self.bus_ids), v_t.shape[1])
        if self._bus_identity:  # every bus is its own ppci bus, in order
            vm_t = np.abs(v_t)
        else:
            vm_t = np.full(shape, np.nan)
            vm_t[self._bus_ok] = np.abs(v_t[self._bus_ok_pos])
        va_t: FloatArray = np.broadcast_to(np.float64(np.nan), shape)  # read-only NaN
        if angles:
            va_t = np.full(shape, np.nan)
            va_t[self._bus_ok] = np.degrees(np.angle(v_t[self._bus_ok_pos]))
        line, trafo = self.loadings(*self.branch_currents_ka(v))
        s_ext = self.external_grid_kva(v, load_pu)
        return ACResult(
            bus_ids=self.bus_ids,
            line_ids=self.line_ids,
            trafo_ids=self.trafo_ids,
            converged=converged,
            iterations=iterations,
            vm_pu=vm_t.T,
            va_degree=va_t.T,
            line_loading_pct=line,
            trafo_loading_pct=trafo,
            transformer_p_kw=s_ext.real.copy(),
            transformer_q_kvar=s_ext.imag.copy(),
        )

    def branch_currents_ka(self, v: ComplexArray) -> tuple[FloatArray, FloatArray]:
        """Current magnitudes (kA) at the from and to ends of every ppci branch, per slot."""
        v_t = np.ascontiguousarray(v.T)  # free if ``v`` is a transpose (as "pgm" returns it)
        i_from: FloatArray = (np.abs(self.yf @ v_t) * self.ka_from[:, None]).T
        i_to: FloatArray = (np.abs(self.yt @ v_t) * self.ka_to[:, None]).T
        return i_from, i_to

    def loadings(self, i_from_ka: FloatArray, i_to_ka: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Line and transformer loadings (%) from ppci branch end currents (slots × branches)."""
        line = branch_loading(i_from_ka, i_to_ka, self.line_rows, self.line_scale, self.line_scale)
        line[:, self.line_undefined] = np.nan
        trafo = branch_loading(
            i_from_ka, i_to_ka, self.trafo_rows, self.trafo_scale_hv, self.trafo_scale_lv
        )
        trafo[:, self.trafo_undefined] = np.nan
        return line, trafo

    def external_grid_kva(self, v: ComplexArray, load_pu: ComplexArray) -> ComplexArray:
        """Complex power (kW + j kvar) the external grid(s) supply, per slot."""
        ref = self.ref
        v_ref_t = np.ascontiguousarray(v[:, ref].T)
        s_ref = v_ref_t * np.conj(self._ybus_ref @ np.ascontiguousarray(v.T))
        s_other = self.s_fixed[ref][:, None] - load_pu[:, ref].T
        result: ComplexArray = (s_ref - s_other).sum(axis=0) * (self.base_mva * 1e3)
        return result


def _branch_rows(span: tuple[int, int] | None, count: int, ppc_to_ppci: IntArray) -> IntArray:
    if span is None or count == 0:
        return np.full(count, -1, dtype=np.int64)
    start, stop = span
    rows: IntArray = ppc_to_ppci[start:stop]
    return rows


def branch_loading(
    i_from: FloatArray,
    i_to: FloatArray,
    rows: IntArray,
    scale_from: FloatArray,
    scale_to: FloatArray,
) -> FloatArray:
    """Loading (%) of the branches at ppci ``rows`` from end currents in kA (slots × branches).

    ``scale_*`` converts kA to % at each end; out-of-service branches (row -1) have zero loading.
    """
    out_t = np.zeros((len(rows), i_from.shape[0]))  # branch-major: rows of slots are contiguous
    live = rows >= 0
    if live.any():
        r = rows[live]
        with np.errstate(invalid="ignore"):
            out_t[live] = np.maximum(
                i_from.T[r] * scale_from[live][:, None], i_to.T[r] * scale_to[live][:, None]
            )
    result: FloatArray = out_t.T
    return result
