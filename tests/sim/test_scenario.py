from __future__ import annotations

from pathlib import Path

import pytest

from peergrid.core.errors import ScenarioError
from peergrid.sim.scenario import Scenario, load_scenario, scenario_from_dict

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_example_is_the_demo() -> None:
    assert load_scenario(EXAMPLES / "demo.toml") == Scenario()


def test_round_trip_through_toml(tmp_path: Path) -> None:
    scenario = scenario_from_dict({"name": "x", "market": {"reference_price": 0.2}})
    path = tmp_path / "s.toml"
    path.write_text(scenario.to_toml())
    assert load_scenario(path) == scenario


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"bogus": 1}, "bogus", "unknown field"),
        ({"households": {"count": "many"}}, "households.count", "integer"),
        ({"households": {"count": 0}}, "households.count", "greater than or equal to 1"),
        ({"time": {"slot_minutes": 20}}, "time.slot_minutes", "multiple of 15"),
        ({"time": {"start": "2016-12-31", "days": 2}}, "time", "profile year"),
        ({"time": {"start": "2019-01-01"}}, "time", "profile year"),
        ({"market": {"mechanism": "vickrey"}}, "market.mechanism", "unknown mechanism"),
        ({"market": {"behaviour": "greedy"}}, "market.behaviour", "cooperative"),
        ({"tariffs": {"feed_in_per_kwh": 0.5}}, "tariffs.feed_in_per_kwh", "below"),
        ({"tariffs": {"retail_per_kwh": -1}}, "tariffs.retail_per_kwh", "greater than 0"),
        ({"households": {"pv_kwp": [5, 1]}}, "households.pv_kwp", "low <= high"),
        ({"households": {"load_profiles": ["H9"]}}, "households.load_profiles", "unknown profile"),
        ({"grid": {"v_min_pu": 1.2}}, "grid", "v_min_pu"),
        ({"market": {"reference_price": 0.5}}, "market.reference_price", "between"),
        ({"output": {"format": "xlsx"}}, "output.format", "csv"),
    ],
)
def test_bad_field_is_named(data: dict[str, object], field: str, words: str) -> None:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data)
    message = str(info.value)
    assert "\n" not in message
    assert field in message
    assert words in message


def test_bad_toml_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("name = \n")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "nope.toml")


def test_a_change_applies_before_validation(tmp_path: Path) -> None:
    # A retail price beyond the batch market's 32-bit prices is refused for the batch market,
    # not for a run off chain.
    path = tmp_path / "dear.toml"
    path.write_text("[tariffs]\nretail_per_kwh = 5000.0\n")
    with pytest.raises(ScenarioError, match="the batch market takes prices up to"):
        load_scenario(path)
    scenario = load_scenario(path, changes={"ledger": {"enabled": False}})
    assert scenario.tariffs.retail_per_kwh == 5000.0 and not scenario.ledger.enabled
