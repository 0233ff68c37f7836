"""The random shouts of the VDMA paper's study (004_vdma.md §3.2, L140–L145).

Each of Table 1's 23 devices shouts with probability ½ in a session of Δt = 1 h. A shout's
energy is ``E ~ N(P*·Δt, (s·P*)²)`` (kWh, ``P*`` the device's Table 1 power in kW) and its price
``p ~ N(0.35, 0.025²)`` €/kWh. Generators place offers and loads place asks (L142–L143); the
other reading of L67 (the producer asks, the consumer offers) is :attr:`ShoutRoles.loads_offer`.

Negative draws (the paper is silent, §3.2 (f)): a draw of ``E`` or ``p`` that is not positive is
drawn again from the same normal until it is, i.e. both follow the normal truncated at zero. With
s ≤ 0.15 a non-positive ``E`` needs a draw 6.7 σ below its mean and a non-positive price one
14 σ below, so the truncation changes nothing measurable; :attr:`Session.redraws` counts them.

Every device's draws are made whether it shouts or not, so a run's random stream does not
depend on which devices shout, and the same seed gives the same shouts on every machine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from peergrid.core.errors import PeergridError
from peergrid.core.orders import Order, Side
from peergrid.grid.catalogue.cigre import VDMA_TABLE_1

PRICE_MEAN_EUR_PER_KWH = 0.35
"""Mean shout price (L142): the Spanish reserve formation prices."""
PRICE_STD_EUR_PER_KWH = 0.025
SHOUT_PROBABILITY = 0.5
"""Each device shouts with probability one half (L142)."""
SESSION_HOURS = 1.0
"""Δt of the simulations (L145)."""
SPREADS = (0.02, 0.05, 0.07, 0.1, 0.15)
"""The values of s studied (L145)."""


class ShoutRoles(StrEnum):
    """Which devices ask and which offer."""

    generators_offer = "generators-offer"
    """Generators place offers, loads place asks (the simulation rule, L142–L143)."""
    loads_offer = "loads-offer"
    """Loads place offers, generators place asks (the producer-asker example of L67)."""


@dataclass(frozen=True, slots=True)
class Device:
    """One row of Table 1: its bus, its kind and its expected power ``p_kw`` (P*)."""

    label: str  # "load 1.1", "generator 4.1": kind, bus and its rank among its kind at the bus
    bus: int
    kind: str  # "load" | "generator"
    p_kw: float
    q_kvar: float


def table_1_devices() -> tuple[Device, ...]:
    """Table 1's 23 devices in table order (kW and kvar)."""
    seen: dict[tuple[int, str], int] = {}
    devices = []
    for bus, kind, p_mw, q_mvar in VDMA_TABLE_1:
        n = seen[bus, kind] = seen.get((bus, kind), 0) + 1
        devices.append(Device(f"{kind} {bus}.{n}", bus, kind, p_mw * 1000.0, q_mvar * 1000.0))
    return tuple(devices)


DEVICE_FEEDERS: dict[str, Callable[[], tuple[Device, ...]]] = {
    "cigre-mv-vdma": table_1_devices,
}
"""The feeders whose devices' data (kind, bus, expected power P*) sessions are drawn from."""


def feeder_devices(feeder: str) -> tuple[Device, ...] | None:
    """The devices of ``feeder`` that shout in ancillary-service sessions; None when the
    feeder has no devices' data."""
    devices = DEVICE_FEEDERS.get(feeder)
    return devices() if devices is not None else None


@dataclass(frozen=True, slots=True)
class ShoutParameters:
    """The generator's parameters; the defaults are the paper's."""

    spread: float  # s: the energy's standard deviation is s·P*
    probability: float = SHOUT_PROBABILITY
    price_mean: float = PRICE_MEAN_EUR_PER_KWH
    price_std: float = PRICE_STD_EUR_PER_KWH
    session_hours: float = SESSION_HOURS
    roles: ShoutRoles = ShoutRoles.generators_offer

    def __post_init__(self) -> None:
        checks = (
            ("spread", self.spread, self.spread >= 0.0),
            ("probability", self.probability, 0.0 <= self.probability <= 1.0),
            ("price_mean", self.price_mean, self.price_mean > 0.0),
            ("price_std", self.price_std, self.price_std >= 0.0),
            ("session_hours", self.session_hours, self.session_hours > 0.0),
        )
        for name, value, ok in checks:
            if not (ok and np.isfinite(value)):
                raise PeergridError(f"shout parameter {name}: out of range, got {value!r}")

    def side(self, device: Device) -> Side:
        """Whether ``device`` asks (buys the service) or offers (sells it)."""
        generator = device.kind == "generator"
        offers = generator if self.roles is ShoutRoles.generators_offer else not generator
        return Side.SELL if offers else Side.BUY


@dataclass(frozen=True)
class Session:
    """One run's shouts and the device behind each order id."""

    orders: tuple[Order, ...]
    devices: dict[str, Device]  # order id -> device
    redraws: int  # non-positive draws drawn again


def draw_session(
    rng: np.random.Generator,
    parameters: ShoutParameters,
    devices: Sequence[Device] | None = None,
    *,
    run: int = 0,
) -> Session:
    """One session's shouts: each device shouts with the given probability.

    Order ids are ``r<run>-<label>`` with spaces as dashes (``r3-load-14.2``); the agent is the
    device's label, the bus its Table 1 bus, and ``submitted_at`` its row in Table 1 (time
    priority, which only matters between equal prices).
    """
    devices = table_1_devices() if devices is None else tuple(devices)
    n = len(devices)
    p_star = np.array([d.p_kw for d in devices])
    shouts = rng.random(n) < parameters.probability
    mean_kwh = p_star * parameters.session_hours
    energy, redraws_e = _positive_normal(rng, mean_kwh, parameters.spread * p_star)
    price, redraws_p = _positive_normal(
        rng, np.full(n, parameters.price_mean), np.full(n, parameters.price_std)
    )
    orders: list[Order] = []
    by_id: dict[str, Device] = {}
    for i, device in enumerate(devices):
        if not shouts[i]:
            continue
        order_id = f"r{run}-{device.label.replace(' ', '-')}"
        orders.append(
            Order(
                id=order_id,
                agent=device.label,
                side=parameters.side(device),
                quantity_kwh=float(energy[i]),
                price=float(price[i]),
                bus=str(device.bus),
                submitted_at=i,
            )
        )
        by_id[order_id] = device
    return Session(tuple(orders), by_id, redraws_e + redraws_p)


def _positive_normal(
    rng: np.random.Generator, mean: np.ndarray, std: np.ndarray
) -> tuple[np.ndarray, int]:
    """Normal draws, each non-positive one drawn again until positive; and how many were."""
    values = rng.normal(mean, std)
    redraws = 0
    bad = values <= 0.0
    while bad.any():
        if not (mean[bad] > 0.0).all():
            raise PeergridError("shout parameters: a non-positive mean cannot give positive draws")
        redraws += int(bad.sum())
        values[bad] = rng.normal(mean[bad], std[bad])
        bad = values <= 0.0
    return values, redraws
