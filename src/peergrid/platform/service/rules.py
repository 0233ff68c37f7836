"""The rules of the service's intake that need no state: who a member is, the checks of an
order's fields and of its slot's quotation window, and the refusals. The market applies them
(:mod:`.market`), and so do the intake processes in front of it (:mod:`peergrid.api.intake`),
which import only this and the clock, not the market, its chain or its database."""

from __future__ import annotations

from dataclasses import dataclass

from peergrid.core.errors import OrderError, PeergridError
from peergrid.platform.cycle import CycleTimes


class WindowError(PeergridError):
    """A request outside the window of the cycle that takes it."""


class ConflictError(PeergridError):
    """A request that repeats or contradicts what the service has already recorded."""


@dataclass(frozen=True)
class Member:
    """A household: its agent id, bus label, signing address and its meter's address."""

    agent: str
    bus: str
    signer: str
    meter: str


@dataclass(frozen=True)
class OrderRequest:
    """A signed order as the intake took it (its signature checked by the caller)."""

    member: Member
    slot: int
    side: str
    quantity_wh: int
    price_micro_per_kwh: int
    bus: str
    nonce: int
    signature: str


def check_order_fields(
    member: Member, buses: set[str], slot: int, quantity_wh: int, bus: str, nonce: int
) -> str:
    """The order's id, once its bus and quantity are the member's and sound (what needs no
    state: the intake processes check it too, before the market does)."""
    order_id = f"{slot}-{member.agent}-{nonce}"
    if bus not in buses:
        raise OrderError(f"unknown bus {bus!r}", order_id=order_id, field="bus")
    if bus != member.bus:
        raise OrderError(
            f"is {bus!r}, but agent {member.agent!r} is on bus {member.bus!r}",
            order_id=order_id,
            field="bus",
        )
    if quantity_wh <= 0:
        raise OrderError("must be at least 1 Wh", order_id=order_id, field="quantity_wh")
    return order_id


def quotation_closes(times: CycleTimes, slot: int) -> float:
    return (slot - 1) * times.slot_minutes + times.quotation_end


def check_quotation(
    times: CycleTimes, horizon_slots: int, slot: int, now: float, what: str
) -> None:
    """Refuse a request for ``slot`` at market minute ``now`` outside its quotation window."""
    latest = times.cycle_of(now) + 1 + horizon_slots
    closes = quotation_closes(times, slot)
    if now >= closes:
        raise WindowError(
            f"{what}: outside the quotation window: slot {slot} took orders until market "
            f"minute {closes:g}, it is minute {now:.2f}"
        )
    if slot > latest:
        raise WindowError(
            f"{what}: outside the quotation window: slot {slot} is more than "
            f"{horizon_slots} slots ahead (latest {latest})"
        )
