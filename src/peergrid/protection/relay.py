"""The differential relay of 001b_book.md §11.2: direction signs, α, the threshold and the trip.

Equations, as printed (L3110-L3153), with the reading written once in docs/decisions.md
("S9: the differential relay's equations"):

* S1, S2: the direction of the fault-induced current at bus 1 and bus 2, +1 clockwise (from bus
  1 towards bus 2), -1 counterclockwise. We take the direction of the *superimposed* current,
  the change against the value ``memory`` earlier: at bus 1 a current into the line flows
  clockwise (S1 = sign Δi1), at bus 2 into the line is counterclockwise (S2 = -sign Δi2). A
  change within the deadband gives +1 (a through flow).
* Eq. (1)-(2): S_T = |S1 S2 - 1| / 2: 1 for an internal fault (S1 = -S2), 0 for an external one.
* Eq. (3): α = di1/dt - di2/dt from the measured currents (backward differences over
  ``derivative`` samples), both positive into the line.
* Eq. (4): R_f,max = 4 V_n / I_load, the fault resistance at which the fault draws the 25 %
  over-load margin.
* Eq. (5): α_min = 2 di1/dt + I_load / (4 C V_n) · i1: Eq. (3) for a fault of R_f,max at the
  bus (L1 = R1 = 0), evaluated on the measured i1 and di1/dt.
* Eq. (6): trip when α_min - S_T α ≤ 0, gated on S_T = 1 (an external fault never trips,
  whatever the sign of α_min); the trip goes to the breakers at both ends.

Everything is vectorised over the samples; :func:`evaluate` returns every quantity per sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class RelaySettings:
    """What the relay is set with (the circuit's V_n, I_load and C are the relay's settings)."""

    nominal_voltage_v: float
    load_current_a: float
    capacitance_f: float
    sampling_interval_s: float
    derivative_samples: int
    memory_samples: int
    deadband_a: float


def direction_sign(delta_a: FloatArray, deadband_a: float, *, into_line_is: int) -> IntArray:
    """+1 (clockwise) or -1 (counterclockwise) for each superimposed current; within the
    deadband +1. ``into_line_is`` is the sign of a current into the line at this end (+1 at bus
    1, -1 at bus 2)."""
    sign = np.where(delta_a > deadband_a, into_line_is, 1)
    return np.where(delta_a < -deadband_a, -into_line_is, sign).astype(np.int64)


def internal_fault_flag(s1: IntArray | int, s2: IntArray | int) -> IntArray:
    """Eq. (2): S_T = |S1 S2 - 1| / 2 (1 internal, 0 external)."""
    return np.abs(np.asarray(s1) * np.asarray(s2) - 1) // 2


def alpha_model(
    d2i1_dt2: FloatArray | float,
    di1_dt: FloatArray | float,
    i1_a: FloatArray | float,
    *,
    inductance_h: float,
    resistance_ohm: float,
    fault_resistance_ohm: float,
    capacitance_f: float,
) -> FloatArray | float:
    """Eq. (3)'s right-hand side, α of the capacitor-discharge model:
    (L1/R_f) d²i1/dt² + ((R1 + 2 R_f)/R_f) di1/dt + i1/(C R_f), with L1, R1 from bus 1's
    capacitor to the fault."""
    rf = fault_resistance_ohm
    return (
        inductance_h / rf * d2i1_dt2
        + (resistance_ohm + 2.0 * rf) / rf * di1_dt
        + i1_a / (capacitance_f * rf)
    )


def fault_resistance_limit(nominal_voltage_v: float, load_current_a: float) -> float:
    """Eq. (4): R_f = 4 V_n / I_load."""
    return 4.0 * nominal_voltage_v / load_current_a


def alpha_threshold(di1_dt: FloatArray, i1_a: FloatArray, settings: RelaySettings) -> FloatArray:
    """Eq. (5): α_min = 2 di1/dt + I_load / (4 C V_n) i1."""
    k = settings.load_current_a / (4.0 * settings.capacitance_f * settings.nominal_voltage_v)
    return 2.0 * di1_dt + k * i1_a


def trip_rule(alpha_min: FloatArray, s_t: IntArray, alpha: FloatArray) -> NDArray[np.bool_]:
    """Eq. (6), gated on S_T = 1: trip where α_min - S_T α ≤ 0 and S_T = 1."""
    return (s_t == 1) & (alpha_min - s_t * alpha <= 0.0)


def backward_derivative(values: FloatArray, span: int, interval_s: float) -> FloatArray:
    """(x[n] - x[n - span]) / (span · interval); 0 for the first ``span`` samples."""
    out = np.zeros_like(values, dtype=np.float64)
    if span < len(values):
        out[span:] = (values[span:] - values[:-span]) / (span * interval_s)
    return out


def superimposed(values: FloatArray, memory: int) -> FloatArray:
    """x[n] - x[n - memory]; 0 until the memory has filled."""
    out = np.zeros_like(values, dtype=np.float64)
    if memory < len(values):
        out[memory:] = values[memory:] - values[:-memory]
    return out


@dataclass(frozen=True)
class RelayTrace:
    """Every quantity of Eqs. (1)-(6) per sample, and the first sample that trips."""

    s1: IntArray
    s2: IntArray
    s_t: IntArray
    alpha: FloatArray
    alpha_min: FloatArray
    trip: NDArray[np.bool_]

    @property
    def first_trip(self) -> int | None:
        hits = np.flatnonzero(self.trip)
        return int(hits[0]) if hits.size else None


def evaluate(i1_a: FloatArray, i2_a: FloatArray, settings: RelaySettings) -> RelayTrace:
    """The relay on the currents ``i1``, ``i2`` (into the line at bus 1 and bus 2)."""
    i1 = np.asarray(i1_a, dtype=np.float64)
    i2 = np.asarray(i2_a, dtype=np.float64)
    span, interval = settings.derivative_samples, settings.sampling_interval_s
    di1 = backward_derivative(i1, span, interval)
    di2 = backward_derivative(i2, span, interval)
    s1 = direction_sign(
        superimposed(i1, settings.memory_samples), settings.deadband_a, into_line_is=1
    )
    s2 = direction_sign(
        superimposed(i2, settings.memory_samples), settings.deadband_a, into_line_is=-1
    )
    s_t = internal_fault_flag(s1, s2)
    alpha = di1 - di2
    alpha_min = alpha_threshold(di1, i1, settings)
    return RelayTrace(s1, s2, s_t, alpha, alpha_min, trip_rule(alpha_min, s_t, alpha))
