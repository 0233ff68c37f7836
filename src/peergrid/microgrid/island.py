"""The island's physics, minute by minute: entities' production, consumption and batteries, the
operator's storage (the island's common buffer) and the tie to the outside.

Each minute every entity first serves its own load from its own production; a surplus charges
its battery and the rest flows to the bus, where the operator's storage takes it (what it cannot
take is curtailed). A deficit is served from the entity's battery, but never from energy it has
tokenised in a lot (the battery audit agent's lock, AC10-7), then from the energy it bought (a
sold lot is delivered into the common buffer and is the buyer's credit there), then by the
operator balancing the island from its storage (billed at the operator's price at the next
round); what is left is unserved. The energy injector's imports refill the operator's storage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from peergrid.microgrid.config import EntitySpec, Kind, MicrogridParameters

DIESEL_ON_SOC = 0.3
"""A diesel station starts when its battery falls below 30 % ..."""
DIESEL_OFF_SOC = 0.9
"""... and stops above 90 % (hysteresis, so it does not cycle every minute)."""


@dataclass
class EntityState:
    """What one entity holds now (kWh) and what the agents know of it."""

    spec: EntitySpec
    index: int
    address: str
    stored_kwh: float
    max_capacity_kwh: float
    locked_kwh: float = 0.0
    credit_kwh: float = 0.0
    balancing_kwh: float = 0.0
    diesel_on: bool = False
    suspended: bool = False
    maintenance: bool = False

    @property
    def free_kwh(self) -> float:
        """Stored energy not tokenised (what the entity may use or offer)."""
        return max(self.stored_kwh - self.locked_kwh, 0.0)

    @property
    def sells(self) -> bool:
        return self.spec.battery_kwh > 0 and self.spec.generation_kw > 0


@dataclass
class MinuteTotals:
    """The island over the run, one value per minute (kWh in the minute, or kWh held)."""

    minutes: int
    production: NDArray[np.float64] = field(init=False)
    consumption: NDArray[np.float64] = field(init=False)
    stored: NDArray[np.float64] = field(init=False)
    buffer: NDArray[np.float64] = field(init=False)
    imported: NDArray[np.float64] = field(init=False)
    unserved: NDArray[np.float64] = field(init=False)
    curtailed: NDArray[np.float64] = field(init=False)

    def __post_init__(self) -> None:
        for name in (
            "production",
            "consumption",
            "stored",
            "buffer",
            "imported",
            "unserved",
            "curtailed",
        ):
            setattr(self, name, np.zeros(self.minutes))


class Island:
    """The physical island; the agents read and act on it."""

    def __init__(
        self,
        parameters: MicrogridParameters,
        entities: list[EntityState],
        production_kw: NDArray[np.float64],
        load_kw: NDArray[np.float64],
    ) -> None:
        self.parameters = parameters
        self.entities = entities
        self.production_kw = production_kw
        self.load_kw = load_kw
        self.buffer_kwh = parameters.operator_initial_kwh
        self.minute = 0
        self.totals = MinuteTotals(parameters.minutes)
        self.produced_kwh = np.zeros(len(entities))
        self.consumed_kwh = np.zeros(len(entities))

    @property
    def buffer_room_kwh(self) -> float:
        return self.parameters.operator_storage_kwh - self.buffer_kwh

    def available_kw(self, minute: int) -> NDArray[np.float64]:
        """Production each entity can give at ``minute`` (a running diesel its rating)."""
        out = self.production_kw[:, minute].copy()
        for e in self.entities:
            if e.spec.kind is Kind.DIESEL and e.diesel_on:
                out[e.index] = e.spec.generation_kw
        return out

    def step(self, minute: int) -> None:
        """One minute of the island."""
        self.minute = minute
        hour = 1.0 / 60.0
        produced = self.available_kw(minute) * hour
        consumed = self.load_kw[:, minute] * hour
        days = minute / 1440.0
        deficits = np.zeros(len(self.entities))
        curtailed = 0.0
        for e in self.entities:
            spec = e.spec
            e.max_capacity_kwh = spec.battery_kwh * (1.0 - spec.capacity_fade_per_day) ** days
            e.stored_kwh = min(e.stored_kwh, e.max_capacity_kwh)
            if spec.kind is Kind.DIESEL and spec.battery_kwh > 0:
                soc = e.stored_kwh / max(e.max_capacity_kwh, 1e-9)
                e.diesel_on = soc < DIESEL_ON_SOC or (e.diesel_on and soc < DIESEL_OFF_SOC)
            own = min(produced[e.index], consumed[e.index])
            surplus = produced[e.index] - own
            deficit = consumed[e.index] - own
            power = spec.battery_power_kw * hour
            if surplus > 0:
                charge = min(surplus, power, max(e.max_capacity_kwh - e.stored_kwh, 0.0))
                e.stored_kwh += charge
                surplus -= charge
                to_buffer = min(surplus, self.buffer_room_kwh)
                self.buffer_kwh += to_buffer
                curtailed += surplus - to_buffer
            if deficit > 0:
                use = min(deficit, power, e.free_kwh)
                e.stored_kwh -= use
                deficits[e.index] = deficit - use
        unserved = 0.0
        for e in self.entities:
            deficit = float(deficits[e.index])
            if deficit <= 0:
                continue
            use = min(deficit, e.credit_kwh, self.buffer_kwh)
            e.credit_kwh -= use
            self.buffer_kwh -= use
            deficit -= use
            use = min(deficit, self.buffer_kwh)
            e.balancing_kwh += use
            self.buffer_kwh -= use
            unserved += deficit - use
        self.produced_kwh += produced
        self.consumed_kwh += consumed
        t = self.totals
        t.production[minute] = produced.sum()
        t.consumption[minute] = consumed.sum()
        t.stored[minute] = sum(e.stored_kwh for e in self.entities)
        t.unserved[minute] = unserved
        t.curtailed[minute] += curtailed

    def deliver(self, seller: EntityState, buyer: EntityState, quantity_kwh: float) -> float:
        """A sold lot leaves the seller's battery for the common buffer and becomes the buyer's
        credit there; what actually flowed (kWh)."""
        flow = min(quantity_kwh, seller.stored_kwh)
        seller.stored_kwh -= flow
        taken = min(flow, self.buffer_room_kwh)
        self.buffer_kwh += taken
        self.totals.curtailed[self.minute] += flow - taken  # a full buffer spills it
        buyer.credit_kwh += flow
        return flow

    def import_energy(self, minute: int, kwh: float) -> None:
        """The energy injector's purchase from outside, into the operator's storage."""
        kwh = min(kwh, self.buffer_room_kwh)
        self.buffer_kwh += kwh
        self.totals.imported[minute] += kwh

    def close_minute(self, minute: int) -> None:
        self.totals.buffer[minute] = self.buffer_kwh
