"""A battery at a bus: its power and energy limits, efficiencies and state of charge.

The state of charge ``e`` (kWh) after a period of ``Δt`` hours charging at ``p^c`` and
discharging at ``p^d`` (kW, both ≥ 0, drawn from and injected into the bus) is
``e + Δt (η^c p^c − p^d / η^d)`` (Eqs. 6–7 of 000_bder.md); it stays within
``[e_min_kwh, e_max_kwh]``. A schedule starts from ``e_initial_kwh`` and ends at least at
``e_final_kwh``.
"""

from __future__ import annotations

from dataclasses import dataclass

from peergrid.assets.fields import check_efficiency, check_positive
from peergrid.core.errors import GridError


@dataclass(frozen=True, eq=False)
class Battery:
    """A battery (Eqs. 6–7): charge/discharge power limits (kW), energy limits (kWh).

    ``e_initial_kwh`` is the state of charge before the first period (default: half way
    between the limits); the state after the last period is at least ``e_final_kwh``
    (default: the initial state, so that a day does not borrow from the next).
    """

    name: str
    bus: int
    e_max_kwh: float
    p_charge_max_kw: float
    p_discharge_max_kw: float
    eta_charge: float = 0.95
    eta_discharge: float = 0.95
    e_min_kwh: float = 0.0
    e_initial_kwh: float | None = None
    e_final_kwh: float | None = None

    def __post_init__(self) -> None:
        owner = f"battery {self.name!r}"
        check_positive(owner, "e_max_kwh", self.e_max_kwh)
        check_positive(owner, "p_charge_max_kw", self.p_charge_max_kw, allow_zero=True)
        check_positive(owner, "p_discharge_max_kw", self.p_discharge_max_kw, allow_zero=True)
        check_efficiency(owner, "eta_charge", self.eta_charge)
        check_efficiency(owner, "eta_discharge", self.eta_discharge)
        check_positive(owner, "e_min_kwh", self.e_min_kwh, allow_zero=True)
        if self.e_min_kwh > self.e_max_kwh:
            raise GridError(f"{owner}: 'e_min_kwh' {self.e_min_kwh} exceeds 'e_max_kwh'")
        if self.e_initial_kwh is None:
            object.__setattr__(self, "e_initial_kwh", 0.5 * (self.e_min_kwh + self.e_max_kwh))
        if self.e_final_kwh is None:
            object.__setattr__(self, "e_final_kwh", self.e_initial_kwh)
        for name in ("e_initial_kwh", "e_final_kwh"):
            value = float(getattr(self, name))
            if not (self.e_min_kwh <= value <= self.e_max_kwh):
                raise GridError(
                    f"{owner}: field {name!r} = {value} lies outside "
                    f"[{self.e_min_kwh}, {self.e_max_kwh}] kWh"
                )

    @property
    def e_start(self) -> float:
        """The state of charge before the first period (kWh)."""
        assert self.e_initial_kwh is not None
        return float(self.e_initial_kwh)

    @property
    def e_end(self) -> float:
        """The least state of charge after the last period (kWh)."""
        assert self.e_final_kwh is not None
        return float(self.e_final_kwh)

    def reachable_energy_kwh(self, hours: float) -> tuple[float, float]:
        """The lowest and highest state of charge (kWh) reachable from ``e_start`` in ``hours``.

        Discharging, respectively charging, at full power the whole time, within the energy
        limits ``[e_min_kwh, e_max_kwh]``.
        """
        low = self.e_start - self.p_discharge_max_kw / self.eta_discharge * hours
        high = self.e_start + self.eta_charge * self.p_charge_max_kw * hours
        return max(low, self.e_min_kwh), min(high, self.e_max_kwh)
