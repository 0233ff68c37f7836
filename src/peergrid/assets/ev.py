"""An electric vehicle at a bus: a shiftable load that must be charged within its window.

The car is plugged in during an availability window of periods (ω_t of Eq. 5 in 000_bder.md)
and must receive ``energy_kwh`` into its battery by departure (Eq. 4), charging at a power
between ``p_min_kw`` and ``p_max_kw`` (kW drawn from the bus) while plugged in. Charging is
lossy: the grid supplies ``energy_kwh / efficiency``. Discharging into the grid (V2G) is not
modelled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from peergrid.assets.fields import BoolArray, check_efficiency, check_positive
from peergrid.core.errors import GridError


@dataclass(frozen=True, eq=False)
class ElectricVehicle:
    """An EV as a shiftable load (Eqs. 4–5): ``Σ_t η p_t Δt = energy_kwh`` within its window.

    The EV is available from ``arrival_period`` up to (not including) ``departure_period``.
    When ``arrival_period > departure_period`` the window wraps over the end of the horizon:
    the car is home from the evening until the next morning, with the same hours every day
    (seed L730), i.e. in periods ``t ≥ arrival`` and ``t < departure``. ``energy_kwh`` is the
    energy delivered to the car's battery; the grid supplies ``energy_kwh / efficiency``.
    """

    name: str
    bus: int
    energy_kwh: float
    arrival_period: int
    departure_period: int
    p_max_kw: float
    p_min_kw: float = 0.0
    efficiency: float = 0.9

    def __post_init__(self) -> None:
        owner = f"ev {self.name!r}"
        check_positive(owner, "energy_kwh", self.energy_kwh, allow_zero=True)
        check_positive(owner, "p_max_kw", self.p_max_kw)
        check_positive(owner, "p_min_kw", self.p_min_kw, allow_zero=True)
        check_efficiency(owner, "efficiency", self.efficiency)
        if self.p_min_kw > self.p_max_kw:
            raise GridError(f"{owner}: 'p_min_kw' {self.p_min_kw} exceeds 'p_max_kw'")
        if (
            self.arrival_period == self.departure_period
            or min(self.arrival_period, self.departure_period) < 0
        ):
            raise GridError(
                f"{owner}: arrival_period {self.arrival_period} and departure_period "
                f"{self.departure_period} must be distinct non-negative periods"
            )

    def availability(self, periods: int) -> BoolArray:
        """ω_t of Eq. (5): True in the periods the EV may charge."""
        if max(self.arrival_period, self.departure_period) > periods:
            raise GridError(
                f"ev {self.name!r}: window {self.arrival_period}..{self.departure_period} lies "
                f"outside the horizon of {periods} periods"
            )
        t = np.arange(periods)
        if self.arrival_period < self.departure_period:
            return (t >= self.arrival_period) & (t < self.departure_period)
        return (t >= self.arrival_period) | (t < self.departure_period)

    def window_hours(self, periods: int, period_hours: float) -> float:
        """Hours plugged in over a horizon of ``periods`` periods of ``period_hours`` each."""
        return float(self.availability(periods).sum()) * period_hours

    def deliverable_kwh(self, hours: float) -> tuple[float, float]:
        """The least and most energy (kWh) delivered to the car's battery in ``hours`` plugged in.

        Charging at ``p_min_kw``, respectively ``p_max_kw``, the whole time.
        """
        return self.efficiency * self.p_min_kw * hours, self.efficiency * self.p_max_kw * hours
