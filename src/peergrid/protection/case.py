"""One fault case end to end: the circuit, the samples over both channels, the relay's decision.

:func:`run_case` simulates the line (:mod:`~peergrid.protection.circuit`), sends the sampled
currents over the main channel (tampered with if the configuration says so) and through the
ledger (signed, posted to ``ProtectionLog.vy`` on a chain, read back), and lets the relay decide
(:mod:`~peergrid.protection.backup`). :class:`CaseResult` holds what a user asks of a case:
peak current, detection and trip times from the fault's inception, whether it tripped and
whether the attack was found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from peergrid.ledger.chain.base import Chain
from peergrid.ledger.chain.embedded import EmbeddedChain
from peergrid.ledger.markets.protection_log import MICROAMPERES_PER_AMPERE
from peergrid.protection.backup import Decision, decide
from peergrid.protection.channels import Stream, ledger_arrival, ledger_blocks, main_channel
from peergrid.protection.circuit import FaultRecord, simulate_fault
from peergrid.protection.config import FaultKind, ProtectionConfig
from peergrid.protection.ledger_channel import LedgerCopy, send_through_ledger
from peergrid.protection.relay import RelaySettings, fault_resistance_limit


def relay_settings(config: ProtectionConfig, sampling_interval_s: float) -> RelaySettings:
    """The relay's settings from the configuration (V_n, I_load and C are the circuit's)."""
    interval = sampling_interval_s
    return RelaySettings(
        nominal_voltage_v=config.circuit.nominal_voltage_v,
        load_current_a=config.circuit.load_current_a,
        capacitance_f=config.circuit.capacitance_f,
        sampling_interval_s=interval,
        derivative_samples=max(1, round(config.relay.derivative_us * 1e-6 / interval)),
        memory_samples=max(1, round(config.relay.memory_ms * 1e-3 / interval)),
        deadband_a=config.relay.deadband_a,
    )


def measured_microamperes(record: FaultRecord) -> np.ndarray:
    """Both units' samples as the integers they send (µA, nearest): 2 × n."""
    currents = np.vstack([record.i1_a, record.i2_a]) * MICROAMPERES_PER_AMPERE
    return np.rint(currents).astype(np.int64)


@dataclass(frozen=True)
class CaseResult:
    config: ProtectionConfig
    record: FaultRecord
    main: Stream
    ledger: Stream
    ledger_copy: LedgerCopy
    decision: Decision

    def _since_fault_ms(self, at_s: float | None) -> float | None:
        if at_s is None or self.config.fault.kind is FaultKind.NONE:
            return None
        return round((at_s - self.record.fault_time_s) * 1e3, 6)

    @property
    def peak_current_a(self) -> float:
        """Largest current into the fault (0 without one)."""
        return float(self.record.fault_current_a.max(initial=0.0))

    @property
    def detect_ms(self) -> float | None:
        """From inception to the relay's detection on the values it trusted."""
        return self._since_fault_ms(self.decision.detect_s)

    @property
    def trip_ms(self) -> float | None:
        """From inception to the trip signal's sending."""
        return self._since_fault_ms(self.decision.trip_s)

    def summary(self) -> dict[str, Any]:
        """The case's figures (the JSON a command writes)."""
        d, r = self.decision, self.record
        breakers = d.breakers_s
        return {
            "fault": {
                "kind": self.config.fault.kind.value,
                "resistance_ohm": self.config.fault.resistance_ohm,
                "location": self.config.fault.location,
            },
            "attack": self.config.attack.kind.value,
            "peak_current_a": round(self.peak_current_a, 6),
            "peak_i1_a": round(float(np.abs(r.i1_a).max()), 6),
            "peak_i2_a": round(float(np.abs(r.i2_a).max()), 6),
            "tripped": d.tripped,
            "detect_ms": self.detect_ms,
            "trip_ms": self.trip_ms,
            "breakers_ms": None
            if breakers is None
            else {
                "bus1": self._since_fault_ms(breakers[0]),
                "bus2": self._since_fault_ms(breakers[1]),
            },
            "decided_on": None if d.source is None else d.source.value,
            "attack_detected": d.attack_detected_s is not None,
            "attack_detected_ms": self._since_fault_ms(d.attack_detected_s),
            "freewheeling_from_ms": [self._since_fault_ms(s) for s in r.freewheel_s],
            "fault_resistance_limit_ohm": fault_resistance_limit(
                self.config.circuit.nominal_voltage_v, self.config.circuit.load_current_a
            ),
            "samples": len(r.t_s),
            "ledger_transactions": self.ledger_copy.transactions,
            "ledger_gas": self.ledger_copy.gas_used,
        }


def run_case(config: ProtectionConfig, chain: Chain | None = None) -> CaseResult:
    """Simulate one case (a fresh embedded chain unless ``chain`` is given)."""
    record = simulate_fault(config.circuit, config.fault, config.sampling)
    currents = measured_microamperes(record)
    main = main_channel(record.t_s, currents, config.channel, config.attack)
    blocks = ledger_blocks(record.t_s, config.channel)
    copy = send_through_ledger(chain if chain is not None else EmbeddedChain(), currents, blocks)
    ledger = Stream(copy.values_ua, ledger_arrival(blocks, config.channel))
    decision = decide(
        record.t_s,
        main,
        ledger,
        relay_settings(config, record.sampling_interval_s),
        confirm_trips=config.relay.confirm_trips,
        max_frame_age_s=config.relay.max_frame_age_ms * 1e-3,
        trip_latency_s=config.channel.trip_latency_ms * 1e-3,
    )
    return CaseResult(config, record, main, ledger, copy, decision)
