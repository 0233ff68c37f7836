"""The clocks a market service runs on: the wall clock, a faster one for demos, or a hand-set
one (tests, and stepping a market by hand).

A clock answers one question: how many minutes of market time have passed since the market's
start (minute 0 is the start of cycle 0, whose quotation window takes orders for slot 1).
``fast:60`` runs 60 market minutes per real minute: a 15-minute slot in 15 seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from peergrid.core.errors import PeergridError


class Clock(Protocol):
    def minute(self) -> float:
        """Market minutes since the market's start."""
        ...


@dataclass
class WallClock:
    """Real time since ``start`` (Unix seconds), multiplied by ``speed``."""

    start: float
    speed: float = 1.0

    def minute(self) -> float:
        return (time.time() - self.start) * self.speed / 60.0


@dataclass
class ManualClock:
    """A clock moved by hand (:meth:`set`, :meth:`advance`); it never goes back."""

    now: float = 0.0

    def minute(self) -> float:
        return self.now

    def set(self, minute: float) -> None:
        if minute < self.now:
            raise PeergridError(f"the clock cannot go back from minute {self.now} to {minute}")
        self.now = minute

    def advance(self, minutes: float) -> None:
        self.set(self.now + minutes)


def clock_speed(spec: str) -> float:
    """The speed of a ``--clock`` value: ``real`` is 1, ``fast:N`` is N (N > 0, at most 3600)."""
    if spec == "real":
        return 1.0
    name, _, factor = spec.partition(":")
    if name == "fast" and factor:
        try:
            speed = float(factor)
        except ValueError:
            speed = float("nan")
        if 0 < speed <= 3600:
            return speed
    raise PeergridError(
        f"--clock must be 'real' or 'fast:N' with 0 < N <= 3600 (e.g. fast:60), got {spec!r}"
    )
