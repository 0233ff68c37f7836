"""AC power-flow validation of slots of nodal injections against a feeder's limits.

Conventions (used by every function here):

- **Load convention.** ``p_kw`` and ``q_kvar`` are the active (kW) and reactive (kvar) power a
  prosumer *draws* from the network, as the mean over the slot; a prosumer that exports has a
  negative ``p_kw``. Several prosumers may share a bus: their injections add up.
- **Results.** Voltages in p.u., line and transformer loadings in % exactly as pandapower
  computes ``loading_percent``, and the power drawn from the upstream grid, all from the AC
  model of :mod:`peergrid.grid.ac_model` (which says how it is solved and how accurately).
- **Limits.** A slot is checked against the feeder's :class:`GridLimits` (or the limits given):
  undervoltage, overvoltage, line and transformer overload, each a :class:`Violation`.

Non-convergence. A slot's result does not depend on the other slots checked with it (one slot
at a time and many at once give identical results). A slot the AC engine cannot solve to the
tolerance within its iterations, or that diverges, is reported with ``converged=False``, NaN
figures and one ``not_converged`` violation: never as a pass, and never an error for the batch.

Many slots. :meth:`PowerFlowCheck.check_many` solves ``_CHUNK_SLOTS`` slots per call of the
engine and keeps only each slot's :class:`SlotCheck`, so a year of 15-minute slots needs memory
for one chunk's full results, not the year's.

Entry points: :class:`PowerFlowCheck` (one injection per prosumer: ``check`` one slot,
``check_many`` many, ``run`` for full per-element results) and :func:`validate` (injections by
bus, as read from a JSON or CSV file by :func:`peergrid.grid.injections.read_injections`).
Linear screening around an AC operating point is in :mod:`peergrid.grid.sensitivity`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from peergrid.core.errors import GridError
from peergrid.grid.ac_model import (
    ACResult,
    Engine,
    FeederModel,
    FloatArray,
    IntArray,
)
from peergrid.grid.feeder_types import Feeder, GridLimits
from peergrid.grid.injections import Injections

_CHUNK_SLOTS = 512  # slots per engine call: ~20 MB of full results on ieee-eu-lv, and as fast


@dataclass(frozen=True)
class Violation:
    """One element outside its limit in one slot (``value`` and ``limit`` in p.u. or %)."""

    slot: int
    kind: str  # undervoltage | overvoltage | line_overload | trafo_overload | not_converged
    element: str  # "bus 12", "line 3", "trafo 0" (pandapower indices) or "feeder"
    value: float
    limit: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "slot": self.slot,
            "kind": self.kind,
            "element": self.element,
            "value": self.value,
            "limit": self.limit,
        }


@dataclass(frozen=True)
class SlotCheck:
    """The AC check of one slot: voltage envelope, highest loadings and every violation."""

    slot: int
    converged: bool
    v_min_pu: float
    v_max_pu: float
    max_line_loading_pct: float
    max_trafo_loading_pct: float
    transformer_p_kw: float  # power drawn from the upstream grid (negative: reverse flow)
    violations: tuple[Violation, ...] = field(default=())

    @property
    def passed(self) -> bool:
        """Converged and within every limit."""
        return self.converged and not self.violations

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: NaN (a slot that did not converge) becomes ``None``."""
        return {
            "slot": self.slot,
            "converged": self.converged,
            "v_min_pu": _json_float(self.v_min_pu),
            "v_max_pu": _json_float(self.v_max_pu),
            "max_line_loading_pct": _json_float(self.max_line_loading_pct),
            "max_trafo_loading_pct": _json_float(self.max_trafo_loading_pct),
            "transformer_p_kw": _json_float(self.transformer_p_kw),
            "violations": [
                {k: _json_float(v) if isinstance(v, float) else v for k, v in d.items()}
                for d in (v.to_dict() for v in self.violations)
            ],
        }


def _json_float(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


class PowerFlowCheck:
    """AC checks of slots on one feeder, with one injection per prosumer (load convention).

    ``buses`` gives each prosumer's pandapower bus (several prosumers may share one).
    :meth:`check` checks one slot, :meth:`check_many` many at once (same results, faster),
    :meth:`run` returns the full per-bus and per-branch results. ``engine`` chooses the AC
    engine of the model built here (:class:`~peergrid.grid.ac_model.FeederModel`; ignored when
    ``model`` is given).
    """

    def __init__(
        self,
        feeder: Feeder,
        buses: Sequence[int],
        limits: GridLimits | None = None,
        *,
        model: FeederModel | None = None,
        engine: Engine = "auto",
    ) -> None:
        self.feeder = feeder
        self.limits = limits or feeder.limits
        self.buses = [int(b) for b in buses]
        self.model = model if model is not None else FeederModel(feeder, engine=engine)
        self._incidence = self.model.incidence(self.buses)
        self._rows = self.model.bus_rows(self.buses)

    def check(
        self, slot: int, p_kw: npt.ArrayLike, q_kvar: npt.ArrayLike | None = None
    ) -> SlotCheck:
        """Check one slot: ``p_kw``/``q_kvar`` per prosumer, kW/kvar drawn (load convention)."""
        p = np.asarray(p_kw, dtype=float)
        q = np.zeros_like(p) if q_kvar is None else np.asarray(q_kvar, dtype=float)
        n = len(self.buses)
        if p.shape != (n,) or q.shape != (n,):
            raise GridError(f"slot {slot}: expected {n} injections, got {p.shape} and {q.shape}")
        return self.check_many(p[None, :], q[None, :], slots=[slot])[0]

    def check_many(
        self,
        p_kw: npt.ArrayLike,
        q_kvar: npt.ArrayLike | None = None,
        slots: Sequence[int] | None = None,
    ) -> list[SlotCheck]:
        """Check many slots: ``p_kw``/``q_kvar`` of shape (slots, prosumers), kW/kvar drawn.

        ``slots`` labels the rows (default ``0, 1, …``). Returns one :class:`SlotCheck` per row.
        """
        return self.check_many_with_envelope(p_kw, q_kvar, slots)[0]

    def check_many_with_envelope(
        self,
        p_kw: npt.ArrayLike,
        q_kvar: npt.ArrayLike | None = None,
        slots: Sequence[int] | None = None,
    ) -> tuple[list[SlotCheck], FeederEnvelope]:
        """:meth:`check_many`, and each element's extremes over all the slots in the same pass
        (a feeder drawn by its worst voltages and loadings)."""
        p, q, labels = self._inputs(p_kw, q_kvar, slots)
        checks: list[SlotCheck] = []
        envelope: FeederEnvelope | None = None
        for start in range(0, p.shape[0], _CHUNK_SLOTS):
            stop = start + _CHUNK_SLOTS
            result = self._run(p[start:stop], q[start:stop], angles=False)
            checks.extend(slot_checks(result, labels[start:stop], self.limits))
            chunk = FeederEnvelope.of(result)
            envelope = chunk if envelope is None else envelope.merge(chunk)
        if envelope is None:  # no slots: an envelope of NaN, one entry per element
            envelope = FeederEnvelope.of(self._run(p[:1] * 0, q[:1] * 0, angles=False)).empty()
        return checks, envelope

    def run(self, p_kw: npt.ArrayLike, q_kvar: npt.ArrayLike | None = None) -> ACResult:
        """Full AC results of slots of injections (shape (slots, prosumers), kW/kvar drawn)."""
        p, q, _ = self._inputs(p_kw, q_kvar, None)
        return self._run(p, q)

    def _run(self, p: FloatArray, q: FloatArray, *, angles: bool = True) -> ACResult:
        model = self.model
        load = model.load_pu(self._incidence, p, q)
        v, converged, iterations = model.solve(load, self._rows)
        return model.results(v, load, converged, iterations, angles=angles)

    def _inputs(
        self, p_kw: npt.ArrayLike, q_kvar: npt.ArrayLike | None, slots: Sequence[int] | None
    ) -> tuple[FloatArray, FloatArray, list[int]]:
        p = np.asarray(p_kw, dtype=float)
        q = np.zeros_like(p) if q_kvar is None else np.asarray(q_kvar, dtype=float)
        n = len(self.buses)
        if p.ndim != 2 or p.shape[1] != n or q.shape != p.shape:
            raise GridError(
                f"expected p_kw and q_kvar of shape (slots, {n}), got {p.shape} and {q.shape}"
            )
        labels = list(range(p.shape[0])) if slots is None else [int(s) for s in slots]
        if len(labels) != p.shape[0]:
            raise GridError(f"{len(labels)} slot labels for {p.shape[0]} rows of injections")
        for name, values in (("p_kw", p), ("q_kvar", q)):
            bad = np.argwhere(~np.isfinite(values))
            if len(bad):
                row, col = (int(x) for x in bad[0])
                raise GridError(
                    f"slot {labels[row]}: {name} of prosumer {col} (bus {self.buses[col]}) is "
                    f"{values[row, col]} (NaN or infinite values are not allowed)"
                )
        return p, q, labels


@dataclass(frozen=True)
class FeederEnvelope:
    """Each element's extremes over many slots: every bus's lowest and highest voltage (p.u.),
    every line's and transformer's highest loading (%). Slots that did not converge are left
    out (NaN where no slot converged)."""

    bus_ids: IntArray
    v_min_pu: FloatArray
    v_max_pu: FloatArray
    line_ids: IntArray
    line_loading_max_pct: FloatArray
    trafo_ids: IntArray
    trafo_loading_max_pct: FloatArray

    @classmethod
    def of(cls, result: ACResult) -> FeederEnvelope:
        def column(reduce: np.ufunc, values: FloatArray) -> FloatArray:
            if values.shape[0] == 0:
                return np.full(values.shape[1], np.nan)
            reduced: FloatArray = reduce.reduce(values, axis=0)
            return reduced

        return cls(
            result.bus_ids,
            column(np.fmin, result.vm_pu),
            column(np.fmax, result.vm_pu),
            result.line_ids,
            column(np.fmax, result.line_loading_pct),
            result.trafo_ids,
            column(np.fmax, result.trafo_loading_pct),
        )

    def merge(self, other: FeederEnvelope) -> FeederEnvelope:
        """The extremes of both sets of slots (NaN ignored)."""
        return FeederEnvelope(
            self.bus_ids,
            np.fmin(self.v_min_pu, other.v_min_pu),
            np.fmax(self.v_max_pu, other.v_max_pu),
            self.line_ids,
            np.fmax(self.line_loading_max_pct, other.line_loading_max_pct),
            self.trafo_ids,
            np.fmax(self.trafo_loading_max_pct, other.trafo_loading_max_pct),
        )

    def empty(self) -> FeederEnvelope:
        nan = np.nan
        return FeederEnvelope(
            self.bus_ids,
            np.full_like(self.v_min_pu, nan),
            np.full_like(self.v_max_pu, nan),
            self.line_ids,
            np.full_like(self.line_loading_max_pct, nan),
            self.trafo_ids,
            np.full_like(self.trafo_loading_max_pct, nan),
        )


def slot_checks(result: ACResult, slots: Sequence[int], limits: GridLimits) -> list[SlotCheck]:
    """Per-slot summaries of ``result`` and every violation of ``limits``.

    Violations are listed per slot in the order undervoltage, overvoltage, line and transformer
    overload, each by element in pandapower's table order.
    """
    n = result.n_slots
    v_min = np.fmin.reduce(result.vm_pu, axis=1)
    v_max = np.fmax.reduce(result.vm_pu, axis=1)
    line_max = _row_max(result.line_loading_pct)
    trafo_max = _row_max(result.trafo_loading_pct)
    # the slots with any violation (NaN compares false, and the row extremes ignore NaN)
    bad = np.flatnonzero(
        (v_min < limits.v_min_pu)
        | (v_max > limits.v_max_pu)
        | (line_max > limits.max_line_loading_pct)
        | (trafo_max > limits.max_trafo_loading_pct)
    )
    found: list[list[Violation]] = [[] for _ in range(n)]
    specs: tuple[tuple[str, str, FloatArray, IntArray, float, bool], ...] = (
        ("undervoltage", "bus", result.vm_pu, result.bus_ids, limits.v_min_pu, True),
        ("overvoltage", "bus", result.vm_pu, result.bus_ids, limits.v_max_pu, False),
        ("line_overload", "line", result.line_loading_pct, result.line_ids,
         limits.max_line_loading_pct, False),
        ("trafo_overload", "trafo", result.trafo_loading_pct, result.trafo_ids,
         limits.max_trafo_loading_pct, False),
    )  # fmt: skip
    for kind, prefix, all_values, ids, limit, below in specs:
        values = all_values[bad]
        rows, cols = np.nonzero(values < limit if below else values > limit)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            slot = slots[int(bad[r])]
            found[int(bad[r])].append(
                Violation(slot, kind, f"{prefix} {ids[c]}", float(values[r, c]), limit)
            )
    # Python floats per slot, read once (``tolist`` gives the values ``float`` would)
    v_min_f, v_max_f = v_min.tolist(), v_max.tolist()
    line_max_f, trafo_max_f = line_max.tolist(), trafo_max.tolist()
    p_ext = np.asarray(result.transformer_p_kw, dtype=float).tolist()
    converged = result.converged.tolist()
    checks = []
    for i in range(n):
        slot = int(slots[i])
        if not converged[i]:
            checks.append(_not_converged(slot))
            continue
        checks.append(
            SlotCheck(
                slot=slot,
                converged=True,
                v_min_pu=v_min_f[i],
                v_max_pu=v_max_f[i],
                max_line_loading_pct=line_max_f[i],
                max_trafo_loading_pct=trafo_max_f[i],
                transformer_p_kw=p_ext[i],
                violations=tuple(found[i]),
            )
        )
    return checks


def _row_max(values: FloatArray) -> FloatArray:
    if values.shape[1] == 0:
        return np.zeros(values.shape[0])
    result: FloatArray = np.fmax.reduce(values, axis=1)
    return result


def _not_converged(slot: int) -> SlotCheck:
    nan = math.nan
    violation = Violation(slot, "not_converged", "feeder", nan, nan)
    return SlotCheck(slot, False, nan, nan, nan, nan, nan, (violation,))


@dataclass(frozen=True)
class ValidationReport:
    """The AC validation of an injection set: one :class:`SlotCheck` per slot."""

    feeder: str
    limits: GridLimits
    slots: list[SlotCheck]

    @property
    def n_not_converged(self) -> int:
        return sum(not s.converged for s in self.slots)

    @property
    def n_violations(self) -> int:
        return sum(len(s.violations) for s in self.slots)

    @property
    def passed(self) -> bool:
        """Every slot converged and stayed within every limit."""
        return all(s.passed for s in self.slots)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary and per-slot results (NaN becomes ``None``)."""
        lim = self.limits
        return {
            "feeder": self.feeder,
            "limits": {
                "v_min_pu": lim.v_min_pu,
                "v_max_pu": lim.v_max_pu,
                "max_line_loading_pct": lim.max_line_loading_pct,
                "max_trafo_loading_pct": lim.max_trafo_loading_pct,
            },
            "n_slots": len(self.slots),
            "n_not_converged": self.n_not_converged,
            "n_violations": self.n_violations,
            "passed": self.passed,
            "slots": [s.to_dict() for s in self.slots],
        }


def validate(
    feeder: Feeder,
    injections: Injections,
    limits: GridLimits | None = None,
    *,
    model: FeederModel | None = None,
    engine: Engine = "auto",
) -> ValidationReport:
    """AC validation of nodal injections (slots × buses, load convention) on ``feeder``.

    Raises :class:`GridError` naming the first bus of ``injections`` the feeder does not have.
    """
    injections.check_buses(feeder)
    check = PowerFlowCheck(feeder, injections.buses, limits, model=model, engine=engine)
    results = check.check_many(injections.p_kw, injections.q_kvar, slots=injections.slots)
    return ValidationReport(feeder.name, check.limits, results)
