"""The labelled configuration and its bad inputs: one line naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from peergrid.core.errors import ScenarioError
from peergrid.protection import ProtectionConfig, load_protection_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "protection.toml"


def test_the_example_is_the_labelled_default() -> None:
    assert load_protection_config(EXAMPLE) == ProtectionConfig()


@pytest.mark.parametrize(
    ("toml", "field"),
    [
        ("[circuit]\ncapacitance_f = -1e-3", "circuit.capacitance_f"),
        ("[circuit]\nline_resistance_ohm = -0.1", "circuit.line_resistance_ohm"),
        ("[circuit]\ncapacitor_esr_ohm = -0.1", "circuit.capacitor_esr_ohm"),
        ("[fault]\nresistance_ohm = -1", "fault.resistance_ohm"),
        ("[fault]\nlocation = 1.2", "fault.location"),
        ("[fault]\nlocation = -0.1", "fault.location"),
        ("[sampling]\ninterval_us = 60000", "sampling.interval_us"),
        ("[fault]\ntime_ms = 80", "fault.time_ms"),
        ("[circuit]\nvoltage = 3", "circuit.voltage"),
        ('[attack]\nkind = "jamming"', "attack.kind"),
        ("[circuit]\ncapacitance_f = nan", "circuit.capacitance_f"),
    ],
)
def test_bad_input_names_the_field(tmp_path: Path, toml: str, field: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml + "\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_protection_config(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {field}")
