"""The one labelled configuration of S9 (001b_book.md chapter 11): every number the chapter does
not give, with its unit and why it has the value it has.

The chapter gives no circuit parameters (§11.4: "no numeric parameters (voltage, capacitance,
line impedance/length, load current, sampling rate, CB time) are given"), only four results: a
1 Ω fault at 33 % of the line peaks at "almost 25 A" and is detected in 1.4 ms; a 10 Ω fault at
the middle peaks at "approximately 4 A" and is detected in 0.5 ms; under a cyber-attack the two
are detected in at most 29 ms and 2.5 ms. The defaults below were chosen so that the simulation
lands near those four figures (``docs/systems/s9.md`` says how near, and why): a 48 V DC ring,
since a 10 Ω fault can draw about 4 A only from a few tens of volts, and converter capacitors
that discharge into the fault through line-end current-limiting reactors.

A configuration file (``examples/protection.toml``) is TOML with the sections below; every field
has this default. :func:`load_protection_config` refuses a bad value with one line naming the
field (``circuit.capacitance_f: ...``).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from peergrid.core.errors import ScenarioError
from peergrid.core.inputs import first_validation_error, read_toml, source_name


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class CircuitConfig(_Section):
    """One line of the LVDC ring between bus 1 and bus 2, with a converter at each end."""

    nominal_voltage_v: float = Field(48.0, gt=0)
    """V_n, the ring's nominal voltage (Eqs. 4-5): a 48 V building or telecom DC ring; a 10 Ω
    fault draws about 4 A (the book's HIF) only at a few tens of volts."""
    capacitance_f: float = Field(0.75e-3, gt=0)
    """C, each converter's output capacitor (Eqs. 3 and 5), fitted with ``reactor_h`` to the
    book's 1.4 ms and 0.5 ms."""
    capacitor_esr_ohm: float = Field(0.1, ge=0)
    """Series resistance of each capacitor's discharge path (ESR and wiring)."""
    reactor_h: float = Field(2.0e-3, gt=0)
    """Current-limiting reactor at each line end (what keeps a 1 Ω fault near 25 A); positive,
    so a fault at either end of the line still sees an inductance."""
    line_resistance_ohm: float = Field(0.25, ge=0)
    """Resistance of the whole line (about 200 m of 16 mm² copper, both ways)."""
    line_inductance_h: float = Field(0.2e-3, ge=0)
    """Inductance of the whole line (about 1 µH/m)."""
    load_current_a: float = Field(5.0, gt=0)
    """I_load, the line's rated load current (Eqs. 4-5; the pre-fault flow from bus 1 to bus
    2): Eq. 4 then sets the largest fault resistance the relay must see, 4 V_n / I_load =
    38.4 Ω, above the book's 10 Ω HIF."""


class FaultKind(StrEnum):
    INTERNAL = "internal"
    """A pole-to-ground fault on the protected line."""
    EXTERNAL = "external"
    """A pole-to-ground fault on the next line beyond bus 2 (the relay must not trip)."""
    NONE = "none"
    """No fault: the line carries its load current throughout."""


class FaultConfig(_Section):
    kind: FaultKind = FaultKind.INTERNAL
    resistance_ohm: float = Field(1.0, ge=0)
    """R_f, the fault's resistance to ground (the book: 1 Ω, and 10 Ω for the HIF)."""
    location: float = Field(0.33, ge=0, le=1)
    """Where on the line, from bus 1 (0) to bus 2 (1); the book: 0.33, and 0.5 for the HIF."""
    time_ms: float = Field(10.0, ge=0)
    """Inception, from the start of the simulated window: the relay's pre-fault memory fills
    first."""


class SamplingConfig(_Section):
    interval_us: float = Field(10.0, gt=0)
    """Sampling interval of both measurement units (100 kHz; the benchmark runs 1 µs)."""
    window_ms: float = Field(50.0, gt=0)
    """Length of the simulated window."""


class RelayConfig(_Section):
    derivative_us: float = Field(10.0, gt=0)
    """Span of the backward difference that estimates di/dt (at least one sample)."""
    memory_ms: float = Field(5.0, gt=0)
    """Age of the pre-fault reference the superimposed currents are taken against (the
    direction signs S1, S2 follow their sign); longer than any detection time."""
    deadband_a: float = Field(0.5, ge=0)
    """A superimposed current within ±deadband gives no direction (S = +1, as a through flow):
    a tenth of the load current."""
    confirm_trips: bool = True
    """Whether a trip computed on the main channel waits for the ledger's copy of the samples
    it used: a tampered main channel then never trips a healthy line (AC11-7); false gives the
    book's scheme literally, where an injection that starts after the last ledger check can."""
    max_frame_age_ms: float = Field(4.0, gt=0)
    """A main-channel frame older than this on arrival (or missing by then) is an attack: the
    IEC 61850 4 ms budget the chapter quotes (L2945, L3056; AC11-8)."""


class ChannelConfig(_Section):
    main_latency_ms: float = Field(0.05, ge=0)
    """Main channel (IEC 61850 sampled values on a process bus): sample to relay."""
    trip_latency_ms: float = Field(0.05, ge=0)
    """Trip signal (GOOSE) from the relay to each breaker."""
    block_interval_ms: float = Field(2.0, gt=0)
    """The ledger's block interval: a dedicated permissioned chain of the protection system,
    sealing a block every 2 ms (the book's 2.5 ms HIF figure under attack needs no more)."""
    submit_latency_ms: float = Field(0.1, ge=0)
    """Sample to the ledger's pool: signing and sending; a sample later than a block's seal
    waits for the next block."""
    read_latency_ms: float = Field(0.2, ge=0)
    """Seal of a block to the relay having read and verified it."""


class AttackKind(StrEnum):
    NONE = "none"
    REPLAY = "replay"
    """Frames carry values recorded ``replay_lag_ms`` earlier (sequence numbers kept current)."""
    FALSE_DATA = "false-data"
    """A fake internal fault is added to both currents: a pulse of ``injection_a`` at its peak."""
    MODIFICATION = "modification"
    """Every value is multiplied by ``gain``."""
    DELAY = "delay"
    """Every frame is held ``delay_ms`` longer."""


class AttackConfig(_Section):
    kind: AttackKind = AttackKind.NONE
    start_ms: float = Field(5.0, ge=0)
    """When the attacker starts tampering with the main channel (before the fault, as in the
    book's Fig. 10 case: the link is under attack when the fault comes)."""
    replay_lag_ms: float = Field(5.0, gt=0)
    injection_a: float = Field(30.0)
    """Peak of the injected fake fault current (false data)."""
    injection_rise_ms: float = Field(1.0, gt=0)
    """Time to the injected pulse's peak."""
    gain: float = Field(0.2)
    """Factor of a modification attack (0.2 hides most of a fault)."""
    delay_ms: float = Field(5.0, gt=0)


class ProtectionConfig(_Section):
    """Everything one fault case needs; every default is the labelled choice above."""

    circuit: CircuitConfig = CircuitConfig()
    fault: FaultConfig = FaultConfig()
    sampling: SamplingConfig = SamplingConfig()
    relay: RelayConfig = RelayConfig()
    channel: ChannelConfig = ChannelConfig()
    attack: AttackConfig = AttackConfig()

    @model_validator(mode="after")
    def _fits_the_window(self) -> Self:
        window_us = self.sampling.window_ms * 1000.0
        if self.sampling.interval_us > window_us:
            raise ValueError(
                f"sampling.interval_us: {self.sampling.interval_us:g} µs is longer than the "
                f"simulated window ({self.sampling.window_ms:g} ms)"
            )
        if self.fault.time_ms >= self.sampling.window_ms:
            raise ValueError(
                f"fault.time_ms: {self.fault.time_ms:g} ms is not inside the simulated window "
                f"({self.sampling.window_ms:g} ms)"
            )
        if self.sampling.window_ms / self.sampling.interval_us * 1000.0 > MAX_SAMPLES:
            raise ValueError(f"sampling.interval_us: more than {MAX_SAMPLES} samples in the window")
        return self

    def replace(self, **sections: dict[str, Any]) -> ProtectionConfig:
        """A copy with some fields of some sections changed, validated again."""
        data = self.model_dump(mode="json")
        for name, fields in sections.items():
            data[name] = {**data[name], **fields}
        return protection_config_from_dict(data)


MAX_SAMPLES = 5_000_000
"""Most samples per channel one case may have (1 µs over 5 s)."""


def protection_config_from_dict(data: dict[str, Any], source: str = "") -> ProtectionConfig:
    try:
        return ProtectionConfig.model_validate(data)
    except ValidationError as exc:
        prefix = f"{source}: " if source else ""
        raise ScenarioError(prefix + _one_line(exc)) from None


def load_protection_config(path: str | Path) -> ProtectionConfig:
    """Read and validate a protection configuration (TOML; ``-`` is standard input)."""
    data = read_toml(path, what="protection configuration", error=ScenarioError)
    return protection_config_from_dict(data, source_name(path))


def _one_line(exc: ValidationError) -> str:
    field, message = first_validation_error(exc)
    if not field:  # a check across sections names its own field
        return message
    return f"{field}: {message}"
