"""DR baselines, delivered flexibility, rewards and penalties (001b_book.md chapter 8, §8.3).

The book names the state (Table 2: a baseline "average of past measured energy values", the
current profile from the smart meters, the commanded profile from the DSO; Table 3: reward and
penalty rates) but gives no formula. The rules below are ours (docs/decisions.md, "S7"), written
in integers so that ``DrEvents.vy`` computes the same numbers to the unit:

- A reading is a prosumer's metered *net consumption* in one slot, in Wh (consumption less
  generation; negative when it exports).
- **Baseline** of a slot: the mean of the prosumer's past readings at the same time of day
  (every earlier day it was metered outside a DR event it took part in), truncated toward zero
  as the EVM's signed division does.
- **Requested flexibility** ``r = baseline - commanded``; **delivered flexibility**
  ``d = baseline - actual`` (the book's "share of flexibility actually provided"). Both signed: a
  positive value is a reduction of consumption, a negative one an increase.
- **Credited flexibility** ``f``: the delivered flexibility in the requested direction, at most
  what was requested (``0 <= f <= |r|``): going beyond the command is not paid, as it can
  unbalance the grid the other way.
- **Shortfall** ``s = max(|r| - f - tolerance, 0)``: what was requested and not delivered, less
  a tolerance per slot.
- Over an event: ``reward = sum(f) * reward_rate // 1000`` and
  ``penalty = sum(s) * penalty_rate // 1000`` (rates in micro-currency per kWh, money in
  micro-currency), rounded down once per event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from peergrid.mechanisms.dr.two_stage import DemandResponseError

WH_PER_KWH = 1000
MAX_WH = 2**48 - 1
"""Largest magnitude of a reading or commanded value (the contract's bound)."""
MAX_RATE = 2**48 - 1
MAX_EVENT_SLOTS = 12
"""Most slots one DR event lasts (the contract's bound)."""

IntArray = npt.NDArray[np.int64]


def trunc_div(numerator: int, denominator: int) -> int:
    """Integer division rounded toward zero (the EVM's ``sdiv``; Python's ``//`` floors)."""
    if denominator == 0:
        raise ZeroDivisionError("division by zero")
    q = abs(numerator) // abs(denominator)
    return q if (numerator >= 0) == (denominator > 0) else -q


def baseline_wh(history: npt.ArrayLike) -> list[int]:
    """The baseline of each time of day from past readings, shape (days, slots per day): the
    mean of each column truncated toward zero. At least one day is needed."""
    rows = np.asarray(history, dtype=np.int64)
    if rows.ndim != 2 or rows.shape[0] == 0:
        raise DemandResponseError(
            f"baseline: readings must be (days, slots) with at least one day, got {rows.shape}"
        )
    days = rows.shape[0]
    return [trunc_div(int(total), days) for total in rows.sum(axis=0)]


@dataclass(frozen=True, slots=True)
class DrRates:
    """The rates of one DR event: reward and penalty (micro-currency per kWh) and the shortfall
    tolerance (Wh per slot)."""

    reward_rate: int
    penalty_rate: int
    tolerance_wh: int = 0

    def __post_init__(self) -> None:
        for name in ("reward_rate", "penalty_rate", "tolerance_wh"):
            value = getattr(self, name)
            if value < 0:
                raise DemandResponseError(f"{name}: {value} is negative")
            if value > MAX_RATE:
                raise DemandResponseError(f"{name}: {value} is out of range (at most {MAX_RATE})")


@dataclass(frozen=True, slots=True)
class EventSettlement:
    """One prosumer's outcome of one DR event (Wh and micro-currency)."""

    delivered_wh: int
    """Sum of baseline - actual over the event's slots (signed)."""
    requested_wh: int
    """Sum of |baseline - commanded|."""
    flexibility_wh: int
    """Credited flexibility: delivered in the requested direction, at most the request."""
    shortfall_wh: int
    reward: int
    penalty: int

    @property
    def net(self) -> int:
        return self.reward - self.penalty


def check_profile(name: str, values: Sequence[int], length: int) -> None:
    """Raise :class:`DemandResponseError` unless ``values`` has ``length`` readings in range."""
    if len(values) != length:
        raise DemandResponseError(
            f"{name}: has {len(values)} values, the event has {length} slot(s)"
        )
    for k, v in enumerate(values):
        if abs(int(v)) > MAX_WH:
            raise DemandResponseError(f"{name}[{k}]: {v} Wh is out of range (|x| <= {MAX_WH})")


def settle_event(
    baseline: Sequence[int], commanded: Sequence[int], actual: Sequence[int], rates: DrRates
) -> EventSettlement:
    """Delivered flexibility, reward and penalty of one prosumer over one event."""
    n = len(baseline)
    if not 1 <= n <= MAX_EVENT_SLOTS:
        raise DemandResponseError(f"baseline: an event lasts 1..{MAX_EVENT_SLOTS} slots, got {n}")
    check_profile("baseline", baseline, n)
    check_profile("commanded", commanded, n)
    check_profile("actual", actual, n)
    delivered = requested = credited = shortfall = 0
    for b, c, a in zip(baseline, commanded, actual, strict=True):
        r, d = int(b) - int(c), int(b) - int(a)
        f = 0
        if r > 0:
            f = min(max(d, 0), r)
        elif r < 0:
            f = min(max(-d, 0), -r)
        delivered += d
        requested += abs(r)
        credited += f
        shortfall += max(abs(r) - f - rates.tolerance_wh, 0)
    return EventSettlement(
        delivered_wh=delivered,
        requested_wh=requested,
        flexibility_wh=credited,
        shortfall_wh=shortfall,
        reward=credited * rates.reward_rate // WH_PER_KWH,
        penalty=shortfall * rates.penalty_rate // WH_PER_KWH,
    )
