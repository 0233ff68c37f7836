"""The two ways the samples reach the relay: the main channel, which an attacker may tamper with,
and the ledger, whose delay follows a block-interval model (001b_book.md §11.3).

**Main channel** (IEC 61850 sampled values): every sample of both units arrives
``main_latency`` after it was taken, as integers (µA, as the ledger has them), with its sample
number. The attacks of the chapter's taxonomy (§4.1) act on it from ``start_ms`` on:

* replay: a frame carries the values of the frame ``replay_lag_ms`` earlier (the attacker
  recorded them; the sequence numbers are kept current, or the relay would drop the frames);
* false data: a fake internal fault is added to both currents, a pulse
  ``A (t/τ) e^(1 - t/τ)`` into the line that peaks at ``injection_a`` after ``injection_rise_ms``;
* modification: every value is multiplied by ``gain``;
* delay: every frame is held ``delay_ms`` longer.

**Ledger**: a sample joins the ledger's pool ``submit_latency`` after it was taken; a block is
sealed every ``block_interval`` (from the window's start) and holds every sample that reached the
pool by then, each unit's as one signed batch; the relay has read and verified a block
``read_latency`` after its seal. A sample's ledger delay is therefore the wait for the next seal
plus the two latencies: at most one block interval plus both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from peergrid.protection.config import AttackConfig, AttackKind, ChannelConfig

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class Stream:
    """Samples as the relay receives them over one channel: values (µA, 2 × n: bus 1, bus 2)
    and, per sample number, when both units' frames have arrived (s)."""

    values_ua: IntArray
    arrival_s: FloatArray


def main_channel(
    t_s: FloatArray,
    currents_ua: IntArray,
    channel: ChannelConfig,
    attack: AttackConfig,
) -> Stream:
    """The main channel's frames, tampered with from ``attack.start_ms`` on (module docstring)."""
    values = currents_ua.copy()
    arrival = t_s + channel.main_latency_ms * 1e-3
    start = attack.start_ms * 1e-3
    on = t_s >= start - 1e-12
    if attack.kind is AttackKind.REPLAY:
        interval = float(t_s[1] - t_s[0]) if len(t_s) > 1 else 1.0
        lag = max(1, round(attack.replay_lag_ms * 1e-3 / interval))
        replayed = np.flatnonzero(on)
        replayed = replayed[replayed >= lag]
        values[:, replayed] = currents_ua[:, replayed - lag]
    elif attack.kind is AttackKind.FALSE_DATA:
        rise = attack.injection_rise_ms * 1e-3
        x = np.where(on, (t_s - start) / rise, 0.0)
        pulse = attack.injection_a * x * np.exp(1.0 - x)
        values = values + np.rint(pulse * 1e6).astype(np.int64)[None, :]
    elif attack.kind is AttackKind.MODIFICATION:
        scaled = np.rint(currents_ua[:, on] * attack.gain).astype(np.int64)
        values[:, on] = scaled
    elif attack.kind is AttackKind.DELAY:
        arrival = np.where(on, arrival + attack.delay_ms * 1e-3, arrival)
        # a frame held back cannot overtake the ones behind it: arrivals stay in order
        arrival = np.maximum.accumulate(arrival)
    return Stream(values, arrival)


def ledger_blocks(t_s: FloatArray, channel: ChannelConfig) -> IntArray:
    """The block (1, 2, ...) each sample is sealed in: the first seal at or after it reached the
    pool."""
    interval = channel.block_interval_ms * 1e-3
    pooled = t_s + channel.submit_latency_ms * 1e-3
    return np.maximum(np.ceil(pooled / interval - 1e-9), 1).astype(np.int64)


def ledger_arrival(blocks: IntArray, channel: ChannelConfig) -> FloatArray:
    """When the relay has read and verified each sample's block."""
    seal = blocks.astype(np.float64) * (channel.block_interval_ms * 1e-3)
    return seal + channel.read_latency_ms * 1e-3
