"""The inputs of a B-DER day-ahead problem: households, prices, the feeder and the ADMM settings.

A :class:`BderHousehold` is one prosumer or consumer at one bus of the feeder (000_bder.md §2.2):
an uncontrollable load, optionally PV (with reactive support within its inverter's limits), an
EV with its energy need and availability window, and a battery. The device models are those of
:mod:`peergrid.assets`, shared with the grid layer's OPF. A :class:`BderCase` ties the
households to a horizon of ``T`` periods (the length of the import-price series), the retail
prices (import κ_t, feed-in at half of it by default, seed L621), the feeder's
:class:`~peergrid.grid.opf.network.RadialNetwork` and its voltage band (±5 %, seed L451).

Every check names the household and the field, so that a bad input never surfaces as an
infeasible solve: :class:`BderInputError` is the one error of this package's inputs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from peergrid.assets.battery import Battery
from peergrid.assets.ev import ElectricVehicle
from peergrid.assets.fields import FloatArray
from peergrid.assets.load import FixedLoad
from peergrid.assets.pv import PVSystem
from peergrid.core.errors import PeergridError
from peergrid.grid.feeders import GridLimits
from peergrid.grid.opf.case import Prices
from peergrid.grid.opf.network import RadialNetwork

#: The report's voltage band: 5 % above and below nominal, on the magnitude (seed L451).
BDER_LIMITS = GridLimits(v_min_pu=0.95, v_max_pu=1.05)


class BderInputError(PeergridError, ValueError):
    """A B-DER input is malformed: names the household (or the setting) and the field."""


@dataclass(frozen=True, eq=False)
class BderHousehold:
    """One household at ``bus``: its load and its optional PV, battery and EV.

    Build it with :func:`household`, which checks every field and names the household in
    every error; the assets' ``bus`` fields are the household's.
    """

    id: str
    bus: int
    load: FixedLoad
    pv: PVSystem | None = None
    battery: Battery | None = None
    ev: ElectricVehicle | None = None

    @property
    def is_prosumer(self) -> bool:
        """A prosumer has PV (seed L395); a consumer has none."""
        return self.pv is not None


def household(
    id: str,
    bus: int,
    load_kw: npt.ArrayLike,
    *,
    load_kvar: npt.ArrayLike | None = None,
    pv_kw: npt.ArrayLike | None = None,
    pv_q_max_kvar: float = 0.0,
    pv_s_max_kva: float | None = None,
    battery: Mapping[str, Any] | None = None,
    ev: Mapping[str, Any] | None = None,
) -> BderHousehold:
    """A household from plain numbers; any error names the household and the field.

    ``battery`` holds the fields of :class:`~peergrid.assets.battery.Battery` (``e_max_kwh``,
    ``p_charge_max_kw``, ``p_discharge_max_kw``, optionally ``e_initial_kwh`` ...), ``ev``
    those of :class:`~peergrid.assets.ev.ElectricVehicle` (``energy_kwh``,
    ``arrival_period``, ``departure_period``, ``p_max_kw`` ...).
    """
    owner = f"household {id!r}"
    try:
        load = FixedLoad(
            f"{id}/load",
            bus,
            np.asarray(load_kw, dtype=float),
            None if load_kvar is None else np.asarray(load_kvar, dtype=float),
        )
        pv = (
            None
            if pv_kw is None
            else PVSystem(
                f"{id}/pv",
                bus,
                np.asarray(pv_kw, dtype=float),
                q_max_kvar=pv_q_max_kvar,
                s_max_kva=pv_s_max_kva,
            )
        )
        bat = None if battery is None else Battery(f"{id}/battery", bus, **dict(battery))
        car = None if ev is None else ElectricVehicle(f"{id}/ev", bus, **dict(ev))
    except PeergridError as err:
        raise BderInputError(f"{owner}: {_strip_owner(str(err))}") from None
    except TypeError as err:  # an unknown or missing field of a device
        raise BderInputError(f"{owner}: {err}") from None
    return BderHousehold(id, bus, load, pv, bat, car)


def _strip_owner(message: str) -> str:
    """An asset's message without its own name (``battery 'h1/battery': field …`` → ``battery
    field …``), so that the household's name leads."""
    head, sep, rest = message.partition(": ")
    if sep and "'" in head:
        kind = head.split(" ", 1)[0]
        return f"{kind} {rest}"
    return message


@dataclass(frozen=True, eq=False)
class BderCase:
    """Households on a feeder over ``T`` periods of ``period_hours``, with retail prices.

    ``network`` is needed by the grid designs (grid-only, combined); the baseline and
    trade-only designs ignore it but still check that every household's bus is on it when it
    is given. ``limits`` is the voltage band the grid designs hold (default ±5 %).
    """

    households: tuple[BderHousehold, ...]
    prices: Prices
    period_hours: float = 1.0
    network: RadialNetwork | None = None
    limits: GridLimits = field(default_factory=lambda: BDER_LIMITS)

    def __post_init__(self) -> None:
        object.__setattr__(self, "households", tuple(self.households))
        if not (math.isfinite(self.period_hours) and self.period_hours > 0):
            raise BderInputError(
                f"case: field 'period_hours' must be positive, got {self.period_hours}"
            )
        if not self.households:
            raise BderInputError("case: at least one household is needed")
        if not (0 < self.limits.v_min_pu <= self.limits.v_max_pu):
            raise BderInputError(
                f"case: voltage band {self.limits.v_min_pu}..{self.limits.v_max_pu} is not valid"
            )
        T = self.periods
        seen: set[str] = set()
        for h in self.households:
            owner = f"household {h.id!r}"
            if h.id in seen:
                raise BderInputError(f"{owner}: field 'id' is used twice")
            seen.add(h.id)
            if self.network is not None and not self.network.has_bus(h.bus):
                raise BderInputError(
                    f"{owner}: field 'bus' = {h.bus} is not a bus of the feeder "
                    f"(root {self.network.root_bus})"
                )
            _check_series(owner, "load.p_kw", h.load.p_kw, T)
            if h.pv is not None:
                _check_series(owner, "pv.available_kw", h.pv.available_kw, T)
            if h.ev is not None:
                _check_ev(owner, h.ev, T, self.period_hours)
            if h.battery is not None:
                _check_battery(owner, h.battery, T, self.period_hours)

    @property
    def periods(self) -> int:
        """``T``: the length of the price series."""
        return len(self.prices)

    @property
    def n_households(self) -> int:
        return len(self.households)

    def index(self, household_id: str) -> int:
        """The row of a household in every (households, periods) array."""
        for k, h in enumerate(self.households):
            if h.id == household_id:
                return k
        raise BderInputError(f"no household {household_id!r} in the case")

    def with_network(self, network: RadialNetwork) -> BderCase:
        """The same case on ``network`` (checked again)."""
        return BderCase(self.households, self.prices, self.period_hours, network, self.limits)


def _check_series(owner: str, name: str, series: FloatArray, periods: int) -> None:
    if len(series) != periods:
        raise BderInputError(
            f"{owner}: field {name!r} has {len(series)} periods, the prices {periods}"
        )


def _check_ev(owner: str, ev: ElectricVehicle, periods: int, dt: float) -> None:
    for name in ("arrival_period", "departure_period"):
        value = getattr(ev, name)
        if not 0 <= value <= periods:
            raise BderInputError(
                f"{owner}: field 'ev.{name}' = {value} lies outside the horizon 0..{periods}"
            )
    if ev.arrival_period == periods:
        raise BderInputError(
            f"{owner}: field 'ev.arrival_period' = {periods} leaves no period to charge in"
        )
    hours = ev.window_hours(periods, dt)
    least, most = ev.deliverable_kwh(hours)
    if ev.energy_kwh > most + 1e-9:
        raise BderInputError(
            f"{owner}: field 'ev.energy_kwh' = {ev.energy_kwh} exceeds the {most:.4g} kWh its "
            f"{ev.p_max_kw} kW charger delivers in its {hours:g} h window"
        )
    if ev.energy_kwh < least - 1e-9:
        raise BderInputError(
            f"{owner}: field 'ev.energy_kwh' = {ev.energy_kwh} is below the {least:.4g} kWh "
            f"its minimum power delivers in its window"
        )


def _check_battery(owner: str, b: Battery, periods: int, dt: float) -> None:
    lowest, highest = b.reachable_energy_kwh(dt * periods)
    if not lowest - 1e-9 <= b.e_end <= highest + 1e-9:
        raise BderInputError(
            f"{owner}: field 'battery.e_final_kwh' = {b.e_end} cannot be reached from "
            f"{b.e_start} kWh in {periods} periods"
        )


def check_penalty(name: str, value: float) -> float:
    """An ADMM penalty (ρ, φ) must be finite and positive; names the field otherwise."""
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise BderInputError(f"ADMM settings: field {name!r} must be positive, got {value}")
    return float(value)


def households_at(case: BderCase, network: RadialNetwork) -> Sequence[int]:
    """The bus position of each household on ``network``."""
    return [network.position(h.bus) for h in case.households]
