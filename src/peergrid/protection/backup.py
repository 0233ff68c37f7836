"""The relay with its backup channel (001b_book.md §11.3): which samples it trusts, and when it
trips.

"During the conditions without cyberattack ... the signal to the relay from the measurement
unit and the signal from the blockchain to the relay is the same. However, during the
cyberattack to the main communication link, the encrypted value from the blockchain will be
different. Then the relay detects the cyberattack and only considers the data from the
blockchain" (L3157). So:

* **Attack detection.** Each sample is compared when both copies are in: a main-channel value
  that differs from the ledger's is an attack, found when the later copy arrives; a main frame
  still missing when the ledger's copy has arrived, or older than ``max_frame_age`` (the 4 ms
  budget of IEC 61850, AC11-8), is an attack (a delay), found then.
* **Before an attack is found** the relay runs Eqs. (1)-(6) on the main channel, as each frame
  arrives. With ``confirm_trips`` (the default) a trip so found is sent once the ledger's copy of
  the samples it used has arrived and agrees; were it to disagree, the attack is found at that
  moment and the main channel's trip is dropped. Without it the trip is sent at once (the
  book's scheme; an injection in the last ledger delay can then trip a healthy line).
* **From the attack's detection on** the relay uses the ledger's values only: the trip found on
  them is sent when both the block holding its sample and the detection have come.

The trip goes to the breakers at both line ends, ``trip_latency`` later.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from peergrid.protection.channels import Stream
from peergrid.protection.relay import RelaySettings, RelayTrace, evaluate

FloatArray = NDArray[np.float64]


class Source(StrEnum):
    MAIN = "main"
    LEDGER = "ledger"


@dataclass(frozen=True)
class Decision:
    """What the relay did, in seconds from the window's start."""

    tripped: bool
    source: Source | None
    trip_sample: int | None
    detect_s: float | None
    """When the relay's rule was first met on the values it trusted."""
    trip_s: float | None
    """When it sent the trip signal."""
    breakers_s: tuple[float, float] | None
    """When the breakers at bus 1 and bus 2 received it."""
    attack_detected_s: float | None
    main_trace: RelayTrace
    ledger_trace: RelayTrace


def attack_detection_time(
    t_s: FloatArray, main: Stream, ledger: Stream, max_frame_age_s: float
) -> float | None:
    """When the relay first finds the main channel tampered with (module docstring)."""
    differ = (main.values_ua != ledger.values_ua).any(axis=0)
    found_differ = np.where(differ, np.maximum(main.arrival_s, ledger.arrival_s), np.inf)
    deadline = np.minimum(ledger.arrival_s, t_s + max_frame_age_s)
    found_late = np.where(main.arrival_s > deadline + 1e-12, deadline, np.inf)
    first = float(min(found_differ.min(initial=np.inf), found_late.min(initial=np.inf)))
    return first if np.isfinite(first) else None


def decide(
    t_s: FloatArray,
    main: Stream,
    ledger: Stream,
    settings: RelaySettings,
    *,
    confirm_trips: bool,
    max_frame_age_s: float,
    trip_latency_s: float,
) -> Decision:
    """The relay's decision on the two channels (module docstring)."""
    main_trace = evaluate(main.values_ua[0] * 1e-6, main.values_ua[1] * 1e-6, settings)
    ledger_trace = evaluate(ledger.values_ua[0] * 1e-6, ledger.values_ua[1] * 1e-6, settings)
    attack = attack_detection_time(t_s, main, ledger, max_frame_age_s)
    attack_at = np.inf if attack is None else attack

    def decision(source: Source, sample: int, detect: float, trip: float) -> Decision:
        return Decision(
            True,
            source,
            sample,
            detect,
            trip,
            (trip + trip_latency_s, trip + trip_latency_s),
            attack,
            main_trace,
            ledger_trace,
        )

    n_main = main_trace.first_trip
    if n_main is not None:
        detect = float(main.arrival_s[n_main])
        send = max(detect, float(ledger.arrival_s[n_main])) if confirm_trips else detect
        if send < attack_at:
            return decision(Source.MAIN, n_main, detect, send)
    n_ledger = ledger_trace.first_trip
    if attack is not None and n_ledger is not None:
        send = max(float(ledger.arrival_s[n_ledger]), attack)
        return decision(Source.LEDGER, n_ledger, send, send)
    return Decision(False, None, None, None, None, None, attack, main_trace, ledger_trace)
