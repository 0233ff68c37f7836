"""A home battery system for second-by-second simulation (S4; 002_dvpp.md §1.1).

The DVPP paper's storage model (Schlund et al. 2017a) has power-dependent efficiencies for
charging, discharging and idling and a state-of-charge dependent charging limit; the paper
gives no parameters. This model follows the structure of the authors' published simplified
model and fills the part it leaves blank with a documented substitute:

- **Converter efficiency** (AC side, part load ``z = P / P_max``)::

      η(z) = (a x / (b + x) + c x) / 100 · sqrt(m z + t),   x = 3000 z

  ``sqrt(m z + t)`` is the battery's own loss with the published fit ``t = 0.9975``,
  ``m = −0.04488``. The converter term's ``a, b, c`` are not public. Two documented
  substitutes, both peaking at ``z = 0.5`` where the paper puts the optimal operating point
  (L149; ``c = −a b / (b + 1500)²`` makes it so):

  - ``"system"`` (the default): ``a = 103.29, b = 60, c = −2.5467e-3``, chosen for a whole
    home battery system (converter, DC stage and battery management together): 95.5 % at the
    optimum, 93.6 % at full power, 85.3 % at 10 % and 73.4 % at 5 % part load. The low-load
    figure is our assumption (the paper's Table 1 shows a 13-point loss of round-trip
    efficiency without coordination, which a bare inverter's curve does not produce);
  - ``"inverter"``: ``a = 99.55, b = 18.79, c = −8.11e-4``, a least-squares fit to the Sandia
    inverter model of a commercial battery inverter (the CEC parameters of the SMA Sunny Boy
    Storage 5.0, 240 V, as pvlib 0.16 ships them in ``sam-library-cec-inverters-2019-03-05.csv``;
    within 1.1 percentage points on ``z ∈ [0.02, 1]``): 97.1 % at the optimum, 88.3 % at 5 %.

- **Charging derating** above 90 % state of charge:
  ``P_max,ch = P_max,ch,id · (1 − 6.7 (SOC − 0.9))`` (33 % of the rating when full).
- **Refusal at the limits**: a step whose energy does not fit (charging into a full battery,
  discharging more than is stored) is refused whole and the battery idles; the usable range
  is 0–100 %.
- **Idle loss**: 15 W while idle (also under a command below 1 mW), from the stored energy,
  or drawn from the AC side when the battery is empty.

Signs: a command or AC power is positive when the battery discharges (the producer arrow of
the DVPP's ``P_ESS``). Energies are kept in joules (W·s) so one-second steps add exactly.

:class:`BatteryBank` steps many batteries (and many independent runs of them) at once with
NumPy, one call per second for all of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from peergrid.assets.fields import check_positive
from peergrid.core.errors import GridError

FloatArray = npt.NDArray[np.float64]

JOULES_PER_KWH = 3.6e6

# Battery term, the authors' published fit (scripts/battery.py of their code).
BATTERY_T = 0.9975
BATTERY_M = -0.04488
REFERENCE_W = 3000.0

DERATING_SOC = 0.9
DERATING_SLOPE = 6.7
IDLE_LOSS_W = 15.0
MIN_POWER_W = 1e-3
"""A command below a milliwatt (the set-points' resolution) is no command: the battery idles."""


@dataclass(frozen=True)
class ConverterCurve:
    """The converter term ``a x / (b + x) + c x`` (percent, ``x = 3000 z``)."""

    name: str
    a: float
    b: float
    c: float

    @property
    def peak_part_load(self) -> float:
        """The part load at which the converter term peaks: ``(sqrt(−a b / c) − b) / 3000``."""
        return (math.sqrt(-self.a * self.b / self.c) - self.b) / REFERENCE_W


CURVES: dict[str, ConverterCurve] = {
    "system": ConverterCurve("system", 103.29, 60.0, -2.5467e-3),
    "inverter": ConverterCurve("inverter", 99.55, 18.79, -8.11e-4),
}


def converter_efficiency(z: npt.ArrayLike, curve: ConverterCurve = CURVES["system"]) -> FloatArray:
    """η(z) of the module docstring for part loads ``z`` in (0, 1] (0 at ``z = 0``)."""
    z_arr = np.asarray(z, dtype=float)
    # a x/(b + x) + c x with x = R z, rewritten as z (a'/(b' + z) + c') to save NumPy calls
    a = curve.a / 100.0
    b = curve.b / REFERENCE_W
    c = curve.c * REFERENCE_W / 100.0
    inverter = z_arr * (a / (b + z_arr) + c)
    result: FloatArray = inverter * np.sqrt(BATTERY_M * z_arr + BATTERY_T)
    return result


@dataclass(frozen=True)
class DvppBatteryParams:
    """One home battery system: capacity (kWh), charge/discharge ratings (kW), idle loss (W).

    The optimal operating points are half the ratings (the paper's L149, the authors' code);
    ``curve`` names the converter efficiency curve (``system`` or ``inverter``).
    """

    capacity_kwh: float = 8.0
    p_charge_max_kw: float = 4.0
    p_discharge_max_kw: float = 4.0
    idle_loss_w: float = IDLE_LOSS_W
    curve: str = "system"

    def __post_init__(self) -> None:
        owner = "dvpp battery"
        if self.curve not in CURVES:
            raise GridError(
                f"{owner}: field 'curve' must be one of {', '.join(CURVES)}, got {self.curve!r}"
            )
        check_positive(owner, "capacity_kwh", self.capacity_kwh)
        check_positive(owner, "p_charge_max_kw", self.p_charge_max_kw)
        check_positive(owner, "p_discharge_max_kw", self.p_discharge_max_kw)
        check_positive(owner, "idle_loss_w", self.idle_loss_w, allow_zero=True)

    @property
    def p_opt_discharge_w(self) -> float:
        return 500.0 * self.p_discharge_max_kw

    @property
    def p_opt_charge_w(self) -> float:
        return 500.0 * self.p_charge_max_kw


class BatteryBank:
    """Many batteries stepped together: arrays of any shape ``shape`` (e.g. runs × households).

    ``soc`` is the starting state of charge (0–1) of every battery (broadcast to ``shape``).
    """

    def __init__(
        self, params: DvppBatteryParams, shape: tuple[int, ...], soc: npt.ArrayLike = 0.5
    ) -> None:
        start = np.broadcast_to(np.asarray(soc, dtype=float), shape).copy()
        if not np.isfinite(start).all() or (start < 0).any() or (start > 1).any():
            raise GridError(f"dvpp battery: field 'soc' must lie in 0..1, got {soc!r}")
        self.params = params
        self.e_max_j = params.capacity_kwh * JOULES_PER_KWH
        self.energy_j: FloatArray = start * self.e_max_j
        self._p_ch_id = params.p_charge_max_kw * 1000.0
        self._p_dch = params.p_discharge_max_kw * 1000.0
        self._idle = params.idle_loss_w
        self._shape = shape
        self._curve = CURVES[params.curve]
        self._derate_0 = self._p_ch_id * (1.0 + DERATING_SLOPE * DERATING_SOC)
        self._derate_1 = self._p_ch_id * DERATING_SLOPE / self.e_max_j

    @property
    def soc(self) -> FloatArray:
        soc: FloatArray = self.energy_j / self.e_max_j
        return soc

    def charge_limit_w(self) -> FloatArray:
        """The charging rating derated above 90 % state of charge, W."""
        # p (1 − 6.7 (E/E_max − 0.9)), and the full rating below 90 %: one minimum does both.
        limit: FloatArray = np.minimum(
            self._p_ch_id, self._derate_0 - self._derate_1 * self.energy_j
        )
        return limit

    def step(self, command_w: FloatArray, dt_s: float = 1.0) -> FloatArray:
        """Run every battery at its command (W, + discharge) for ``dt_s`` seconds; returns the
        AC power each delivered (W, + discharge; the idle draw from the grid is negative).

        Called once a second for every battery of a study, so it is written for few NumPy
        calls rather than for reading; :meth:`step_reference` is the same rule, plainly.
        """
        command = np.asarray(command_w, dtype=float)
        if command.shape != self._shape:
            raise GridError(f"dvpp battery: command of shape {command.shape}, not {self._shape}")
        energy = self.energy_j
        charging = command < 0
        # Power actually run on the AC side: the command within the (derated) rating.
        p_int = np.minimum(np.abs(command), np.where(charging, self.charge_limit_w(), self._p_dch))
        if self._p_ch_id == self._p_dch:
            z = p_int * (1.0 / self._p_dch)
        else:
            z = p_int / np.where(charging, self._p_ch_id, self._p_dch)
        eta = np.maximum(converter_efficiency(z, self._curve), 1e-12)  # p_int = 0: unused
        # charging: + η P Δt into the cells; discharging: − P Δt / η out of them
        delta = np.where(charging, p_int * eta, -p_int / eta) * dt_s
        after = energy + delta
        ok = (p_int >= MIN_POWER_W) & (after <= self.e_max_j) & (after >= 0.0)
        # Idle (no command, or refused at a limit): the idle loss from the cells if they hold
        # it, else from the grid.
        idle_loss = self._idle * dt_s
        idle_inside = energy >= idle_loss
        self.energy_j = np.where(ok, after, energy - idle_inside * idle_loss)
        p_ac: FloatArray = np.where(
            ok, np.copysign(p_int, command), (idle_inside - 1.0) * self._idle
        )
        return p_ac

    def step_reference(self, command_w: FloatArray, dt_s: float = 1.0) -> FloatArray:
        """:meth:`step` battery by battery in plain Python (the rule as the module states it);
        the tests hold the two to the same results."""
        command = np.asarray(command_w, dtype=float)
        flat_energy = self.energy_j.reshape(-1)
        limits = self.charge_limit_w().reshape(-1)
        out = np.zeros(flat_energy.shape)
        for k, cmd in enumerate(command.reshape(-1)):
            energy = float(flat_energy[k])
            if cmd < 0:
                p = min(-cmd, float(limits[k]))
                # Below the smallest power the converter idles: no efficiency is evaluated at 0.
                stored = (
                    p * dt_s * float(converter_efficiency(p / self._p_ch_id, self._curve))
                    if p >= MIN_POWER_W
                    else 0.0
                )
                if p >= MIN_POWER_W and self.e_max_j - energy >= stored:
                    flat_energy[k] = energy + stored
                    out[k] = -p
                    continue
            elif cmd > 0:
                p = min(cmd, self._p_dch)
                drawn = (
                    p * dt_s / float(converter_efficiency(p / self._p_dch, self._curve))
                    if p >= MIN_POWER_W
                    else 0.0
                )
                if p >= MIN_POWER_W and energy >= drawn:
                    flat_energy[k] = energy - drawn
                    out[k] = p
                    continue
            if energy >= self._idle * dt_s:
                flat_energy[k] = energy - self._idle * dt_s
            else:
                out[k] = -self._idle
        return out.reshape(command.shape)
