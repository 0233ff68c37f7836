"""One line of an LVDC ring through a pole-to-ground fault (001b_book.md §11.2, the two stages).

Topology: at each end k of the line a converter's output capacitor C (voltage ``vc_k``) reaches
the line through its series resistance (ESR) and a current-limiting reactor L_r; bus 2 also
feeds a resistive load that draws the rated load current before the fault. Before the fault
the converter at bus 1 supplies that current through the line (a DC steady state, no current in
the capacitors). At inception both converters block their switches (their own overcurrent
protection acts within microseconds), so, as the chapter describes:

1. **capacitor discharge**: each capacitor discharges through its reactor and its part of the
   line into the fault resistance R_f (an RLC discharge, Eq. 3's model);
2. **freewheeling**: a capacitor whose voltage reaches zero is clamped there by the converter's
   freewheeling diodes; its reactor's current then decays through the diodes and the fault.

The currents are measured at both line ends, each positive flowing *into the line* (``i1`` from
bus 1, ``i2`` from bus 2), so the fault current is ``i1 + i2`` (the reading under which Eq. 3
holds: docs/decisions.md). The system is linear in each stage, y' = A y; scipy's Radau (an
implicit, stiff solver) integrates it with the exact Jacobian A, stopping at each capacitor's
zero crossing to switch stage, and the dense output is sampled on the measurement grid.

An external fault (``FaultKind.EXTERNAL``) sits on the next line beyond bus 2: a branch like this
line (reactor and line impedance) from bus 2 to R_f. ``FaultKind.NONE`` keeps the pre-fault state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.integrate import solve_ivp

from peergrid.core.errors import PeergridError
from peergrid.protection.config import CircuitConfig, FaultConfig, FaultKind, SamplingConfig

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class FaultRecord:
    """The sampled currents at both line ends and what the circuit did (SI units)."""

    t_s: FloatArray
    i1_a: FloatArray
    """Current into the line at bus 1."""
    i2_a: FloatArray
    """Current into the line at bus 2."""
    vc1_v: FloatArray
    vc2_v: FloatArray
    fault_time_s: float
    freewheel_s: tuple[float | None, float | None]
    """When each capacitor reached zero (the freewheeling stage began), if it did."""

    @property
    def fault_current_a(self) -> FloatArray:
        """Current into the fault (an internal fault's ``i1 + i2``)."""
        return self.i1_a + self.i2_a

    @property
    def sampling_interval_s(self) -> float:
        return float(self.t_s[1] - self.t_s[0]) if len(self.t_s) > 1 else 0.0


def sample_times(sampling: SamplingConfig) -> FloatArray:
    """The measurement grid: ``interval_us`` apart over ``window_ms`` (both ends sampled
    together)."""
    interval = sampling.interval_us * 1e-6
    count = int(np.floor(sampling.window_ms * 1e-3 / interval + 1e-9)) + 1
    return np.arange(count, dtype=np.float64) * interval


class _Model:
    """The stage equations: states y = [i_a, i_b, vc1, vc2] where (i_a, i_b) is (i1, i2) for an
    internal fault and (i1, i_x) for an external one (i_x from bus 2 into the next line)."""

    def __init__(self, circuit: CircuitConfig, fault: FaultConfig) -> None:
        self.c = circuit
        self.f = fault
        v2 = circuit.nominal_voltage_v - circuit.line_resistance_ohm * circuit.load_current_a
        self.r_load = v2 / circuit.load_current_a
        self.y0 = np.array(
            [circuit.load_current_a, -circuit.load_current_a, circuit.nominal_voltage_v, v2]
        )
        if fault.kind is FaultKind.EXTERNAL:
            self.y0[1] = 0.0

    def derivative(self, y: FloatArray, clamped: tuple[bool, bool]) -> FloatArray:
        c, f = self.c, self.f
        esr, cap, rf = c.capacitor_esr_ohm, c.capacitance_f, f.resistance_ohm
        ia, ib, vc1, vc2 = y
        if f.kind is FaultKind.INTERNAL:
            i1, i2, ix = ia, ib, 0.0
        else:
            i1, i2, ix = ia, -ia, ib
        # Bus voltages behind each capacitor's ESR: bus 1 feeds only the line; bus 2 feeds the
        # line, its load (u2 / R_load) and, for an external fault, the next line.
        u1 = vc1 - esr * i1
        u2 = (vc2 - esr * (i2 + ix)) / (1.0 + esr / self.r_load)
        ic1, ic2 = i1, i2 + u2 / self.r_load + ix
        d = np.empty(4)
        if f.kind is FaultKind.INTERNAL:
            x = f.location
            l1 = c.reactor_h + x * c.line_inductance_h
            l2 = c.reactor_h + (1.0 - x) * c.line_inductance_h
            vf = rf * (i1 + i2)
            d[0] = (u1 - x * c.line_resistance_ohm * i1 - vf) / l1
            d[1] = (u2 - (1.0 - x) * c.line_resistance_ohm * i2 - vf) / l2
        else:
            l_line = 2.0 * c.reactor_h + c.line_inductance_h
            d[0] = (u1 - u2 - c.line_resistance_ohm * i1) / l_line
            # the next line is taken to be like this one: reactor and line impedance to R_f
            l_next = c.reactor_h + c.line_inductance_h
            d[1] = (u2 - (c.line_resistance_ohm + rf) * ix) / l_next
        d[2] = 0.0 if clamped[0] else -ic1 / cap
        d[3] = 0.0 if clamped[1] else -ic2 / cap
        return d

    def matrix(self, clamped: tuple[bool, bool]) -> FloatArray:
        """A of y' = A y in this stage (the equations are linear: A's columns are the
        derivatives of the unit states)."""
        return np.column_stack([self.derivative(e, clamped) for e in np.eye(4)])

    def currents(self, states: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(i1, i2) from states (4 × n)."""
        if self.f.kind is FaultKind.INTERNAL:
            return states[0], states[1]
        return states[0], -states[0]


def simulate_fault(
    circuit: CircuitConfig, fault: FaultConfig, sampling: SamplingConfig
) -> FaultRecord:
    """The line through the fault, sampled at both ends (see the module docstring)."""
    t = sample_times(sampling)
    t_fault = fault.time_ms * 1e-3
    model = _Model(circuit, fault)
    states = np.repeat(model.y0[:, None], len(t), axis=1)
    freewheel: list[float | None] = [None, None]
    if fault.kind is not FaultKind.NONE:
        _integrate(model, t, t_fault, states, freewheel)
    i1, i2 = model.currents(states)
    return FaultRecord(
        t_s=t,
        i1_a=np.ascontiguousarray(i1),
        i2_a=np.ascontiguousarray(i2),
        vc1_v=np.ascontiguousarray(states[2]),
        vc2_v=np.ascontiguousarray(states[3]),
        fault_time_s=t_fault,
        freewheel_s=(freewheel[0], freewheel[1]),
    )


def _integrate(
    model: _Model,
    t: FloatArray,
    t_fault: float,
    states: FloatArray,
    freewheel: list[float | None],
) -> None:
    """Fill ``states`` from the fault on, stage by stage."""
    t_end = float(t[-1])
    clamped = [False, False]
    start, y = t_fault, model.y0.copy()
    while start < t_end:
        a = model.matrix((clamped[0], clamped[1]))
        events = []
        for k in (0, 1):
            if not clamped[k]:
                events.append(_zero_crossing(2 + k))
        solution = solve_ivp(
            lambda _t, state, a=a: a @ state,
            (start, t_end),
            y,
            method="Radau",
            jac=lambda _t, _state, a=a: a,
            events=events or None,
            dense_output=True,
            rtol=1e-8,
            atol=1e-9,
        )
        if solution.status < 0:
            raise PeergridError(f"the fault simulation failed: {solution.message}")
        stop = float(solution.t[-1])
        inside = (t > start) if start > t_fault else (t >= start)
        inside &= t <= stop
        if inside.any():
            states[:, inside] = solution.sol(t[inside])
        if solution.status != 1:  # reached the end of the window
            return
        y = solution.y[:, -1].copy()
        for k in (0, 1):
            if not clamped[k] and y[2 + k] <= 1e-6 * model.c.nominal_voltage_v:
                clamped[k] = True
                freewheel[k] = stop
                y[2 + k] = 0.0
        start = stop


def _zero_crossing(index: int):  # type: ignore[no-untyped-def]
    def crossing(_t: float, y: FloatArray) -> float:
        return float(y[index])

    crossing.terminal = True  # type: ignore[attr-defined]
    crossing.direction = -1  # type: ignore[attr-defined]
    return crossing
