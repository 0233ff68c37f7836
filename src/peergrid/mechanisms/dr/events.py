"""The grid-level DR contract of chapter 8 off chain: the same rules as ``DrEvents.vy``.

Readings arrive one by one (prosumer, slot, Wh of net consumption). The grid's energy state of a
slot is the sum of its readings; a reading that lifts ``|state|`` above the threshold while no
event runs starts one over the next ``duration`` slots. A participant's readings in its event's
slots are the event's "actual" profile and stay out of its baseline; every other reading adds
to the baseline of its time of day. Closing an event settles each participant with
:func:`~peergrid.mechanisms.dr.baselines.settle_event`; confirming it (stake-weighted, see
:mod:`~peergrid.mechanisms.dr.stake`) credits the rewards as stake. Used to run a DR day without
a ledger and to check the contract's numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from peergrid.mechanisms.dr.baselines import (
    MAX_EVENT_SLOTS,
    DrRates,
    EventSettlement,
    check_profile,
    settle_event,
    trunc_div,
)
from peergrid.mechanisms.dr.stake import ValidatorStake, confirmed
from peergrid.mechanisms.dr.two_stage import DemandResponseError


@dataclass
class DrEvent:
    """One DR event: its window, the state that started it, its rates and participants."""

    id: int
    start: int
    duration: int
    trigger_slot: int
    trigger_state: int
    rates: DrRates
    baseline: dict[int, list[int]] = field(default_factory=dict)
    commanded: dict[int, list[int]] = field(default_factory=dict)
    actual: dict[int, list[int | None]] = field(default_factory=dict)
    settlements: dict[int, EventSettlement] = field(default_factory=dict)
    confirmed: bool = False

    @property
    def slots(self) -> range:
        return range(self.start, self.start + self.duration)

    @property
    def complete(self) -> bool:
        return all(v is not None for values in self.actual.values() for v in values)


class DrGridModel:
    """Baselines, grid state, events and stakes of ``n`` prosumers (indices 0..n-1)."""

    def __init__(self, n: int, slots_per_day: int, genesis: Sequence[int] = ()) -> None:
        self.n = n
        self.slots_per_day = slots_per_day
        self._sum = [[0] * slots_per_day for _ in range(n)]
        self._count = [[0] * slots_per_day for _ in range(n)]
        self.grid_state: dict[int, int] = {}
        self.events: list[DrEvent] = []
        self.active: DrEvent | None = None
        self.rates = DrRates(0, 0)
        self.threshold_wh = 0
        self.duration = 1
        self.event_of: dict[int, DrEvent] = {}
        # Validators: the prosumers (0..n-1), then the stakeholders with a genesis stake.
        self.stakes = [ValidatorStake() for _ in range(n)] + [ValidatorStake(g) for g in genesis]
        self.epoch = 0

    def set_rates(self, rates: DrRates, *, threshold_wh: int, duration: int) -> None:
        if not 1 <= duration <= MAX_EVENT_SLOTS:
            raise DemandResponseError(f"duration: {duration} is not 1..{MAX_EVENT_SLOTS} slots")
        if threshold_wh < 0:
            raise DemandResponseError(f"threshold_wh: {threshold_wh} is negative")
        self.rates, self.threshold_wh, self.duration = rates, threshold_wh, duration

    def baseline(self, prosumer: int, slot: int) -> int:
        tod = slot % self.slots_per_day
        count = self._count[prosumer][tod]
        if count == 0:
            raise DemandResponseError(f"prosumer {prosumer}: no baseline for slot {slot}")
        return trunc_div(self._sum[prosumer][tod], count)

    def post(self, prosumer: int, slot: int, wh: int) -> DrEvent | None:
        """A reading; returns the event it started, if any."""
        state = self.grid_state.get(slot, 0) + wh
        self.grid_state[slot] = state
        event = self.event_of.get(prosumer)
        if event is not None and slot in event.slots:
            event.actual[prosumer][slot - event.start] = wh
        else:
            tod = slot % self.slots_per_day
            self._sum[prosumer][tod] += wh
            self._count[prosumer][tod] += 1
        if self.threshold_wh and self.active is None and abs(state) > self.threshold_wh:
            started = DrEvent(
                len(self.events) + 1, slot + 1, self.duration, slot, state, self.rates
            )
            self.events.append(started)
            self.active = started
            return started
        return None

    def command(self, event: DrEvent, prosumer: int, commanded: Sequence[int]) -> None:
        check_profile(f"commanded profile of prosumer {prosumer}", commanded, event.duration)
        event.baseline[prosumer] = [self.baseline(prosumer, s) for s in event.slots]
        event.commanded[prosumer] = [int(v) for v in commanded]
        event.actual[prosumer] = [None] * event.duration
        self.event_of[prosumer] = event

    def close(self, event: DrEvent) -> dict[int, EventSettlement]:
        if not event.complete:
            raise DemandResponseError(f"event {event.id}: readings incomplete")
        for p in event.commanded:
            actual = [int(v) for v in event.actual[p] if v is not None]
            event.settlements[p] = settle_event(
                event.baseline[p], event.commanded[p], actual, event.rates
            )
        return event.settlements

    def total_stake(self) -> int:
        return sum(v.stake(self.epoch) for v in self.stakes)

    def confirm(self, event: DrEvent, attesting: Sequence[int]) -> bool:
        """Validators ``attesting`` (indices into the validators) attest to the event's readings:
        confirmed (rewards credited as stake) if they hold more than two thirds of the stake."""
        total = self.total_stake()
        stake_for = sum(self.stakes[v].stake(self.epoch) for v in set(attesting))
        if confirmed(stake_for, total):
            for p, s in event.settlements.items():
                self.stakes[p] = self.stakes[p].credit(s.reward, self.epoch)
            self.epoch += 1
            event.confirmed = True
        self.active = None
        return event.confirmed
