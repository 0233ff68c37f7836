"""Guarantees of origin in the trading cycle: issuing a slot's certificates from the meters, and
a consumer's hourly matching score.

Issuance (:func:`issue_from_meters`): the meter posts each registered producer's metered
production of the slot to the registry, then the issuer issues the certificates of every
non-zero reading in one batch (a zero reading is posted, so it cannot be posted again later,
but nothing is issued for it).

Hourly matching (:func:`hourly_matching`): the share of a consumer's metered consumption that
certificates cancelled for it cover *in the same hour* (the "24/7" or hourly matching of
EnergyTag and Energy Web's Origin, stricter than EN 16325's annual matching):

    score = sum over hours h of min(cancelled_h, consumed_h) / sum over hours h of consumed_h

where ``cancelled_h`` counts the certificates cancelled for the consumer whose production slot
lies in hour ``h``, and ``consumed_h`` the consumer's metered consumption in that hour (Wh). A
certificate of another hour covers nothing here, and a surplus in one hour does not carry to
another. A consumer that consumed nothing has no score (``None``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.base import Receipt
from peergrid.ledger.markets.certificates import CertificateRegistry, token_id


def issue_from_meters(
    registry: CertificateRegistry,
    meter: str,
    slot: int,
    production_wh: Mapping[str, int],
) -> tuple[Receipt, ...]:
    """Post ``slot``'s production readings (producer -> Wh) and issue the non-zero ones."""
    receipts = registry.post_production(meter, slot, production_wh)
    producing = [p for p, wh in production_wh.items() if int(wh) > 0]
    return receipts + registry.issue_slot(slot, producing)


@dataclass(frozen=True, slots=True)
class HourlyMatching:
    """A consumer's hourly matching over the hours it consumed in (Wh)."""

    consumed_wh: Mapping[int, int]
    """hour -> metered consumption."""
    cancelled_wh: Mapping[int, int]
    """hour -> certificates cancelled for the consumer, by their production hour."""

    @property
    def covered_wh(self) -> int:
        return sum(min(self.cancelled_wh.get(h, 0), c) for h, c in self.consumed_wh.items())

    @property
    def total_consumed_wh(self) -> int:
        return sum(self.consumed_wh.values())

    @property
    def score(self) -> float | None:
        """Covered share of the consumption, 0..1; ``None`` with no consumption."""
        total = self.total_consumed_wh
        return None if total == 0 else self.covered_wh / total


def matching_by_hour(
    consumption_wh: Mapping[int, int],
    cancelled_wh: Mapping[int, int],
    slots_per_hour: int,
) -> HourlyMatching:
    """:class:`HourlyMatching` from per-slot consumption and per-slot (production slot)
    cancellations."""
    if slots_per_hour < 1:
        raise ValueError(f"slots_per_hour must be at least 1, got {slots_per_hour}")
    consumed: dict[int, int] = {}
    for slot, wh in consumption_wh.items():
        if wh < 0:
            raise ValueError(f"consumption of slot {slot} is negative: {wh} Wh")
        consumed[slot // slots_per_hour] = consumed.get(slot // slots_per_hour, 0) + int(wh)
    cancelled: dict[int, int] = {}
    for slot, wh in cancelled_wh.items():
        cancelled[slot // slots_per_hour] = cancelled.get(slot // slots_per_hour, 0) + int(wh)
    return HourlyMatching(consumed, cancelled)


def cancelled_for_by_slot(
    registry: CertificateRegistry, consumer: str, slots: Iterable[int]
) -> dict[int, int]:
    """Certificates cancelled for ``consumer`` per production slot, read from the chain (every
    registered device's id of each slot)."""
    indices = [d.index for d in registry.devices()]
    result: dict[int, int] = {}
    for slot in slots:
        total = sum(registry.cancelled_for(consumer, token_id(slot, i)) for i in indices)
        if total:
            result[slot] = total
    return result


def hourly_matching(
    registry: CertificateRegistry,
    consumer: str,
    consumption_wh: Mapping[int, int],
    *,
    slot_seconds: int | None = None,
) -> HourlyMatching:
    """``consumer``'s hourly matching from its metered consumption (slot -> Wh) and the
    certificates cancelled for it on chain. Hours are counted from the registry's epoch."""
    seconds = registry.slot_seconds() if slot_seconds is None else slot_seconds
    if seconds <= 0 or 3600 % seconds:
        raise LedgerError(
            "hourly_matching", f"a slot of {seconds} s does not divide an hour into whole slots"
        )
    per_hour = 3600 // seconds
    hours = {slot // per_hour for slot in consumption_wh}
    slots = [h * per_hour + k for h in sorted(hours) for k in range(per_hour)]
    cancelled = cancelled_for_by_slot(registry, consumer, slots)
    return matching_by_hour(consumption_wh, cancelled, per_hour)
