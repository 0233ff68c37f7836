"""The platform's services beside the S1 market in ``peergrid run`` (``[services]``): the example
shortened to its most congested day, its summary's keys and invariants, and the refusals."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import tomli_w
from typer.testing import CliRunner

import peergrid
from peergrid.cli import app
from peergrid.core.errors import ScenarioError
from peergrid.sim.scenario import Scenario
from peergrid.sim.summary import SERVICES_FIGURES, RunSummary

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "services.toml"
CONGESTED_DAY = "2016-01-23"  # the example's week peaks on its sixth day


def _one_day(tmp_path: Path) -> Path:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    data["time"] |= {"start": CONGESTED_DAY, "days": 1}
    path = tmp_path / "services-day.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def test_the_example_loads_with_every_service() -> None:
    scenario = Scenario.load(EXAMPLE)
    services = scenario.services
    assert services is not None and scenario.time.days == 7
    assert services.certificates is not None and services.flexibility is not None
    assert len(services.otc) == 3 and services.community_battery is not None


def test_a_day_of_the_example_runs_every_service(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = CliRunner().invoke(app, ["run", str(_one_day(tmp_path)), "-o", str(out), "-q"])
    assert done.exit_code == 0, done.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert set(SERVICES_FIGURES) <= set(summary)
    assert RunSummary.from_mapping(summary).to_dict().keys() == summary.keys() - {"timings_s"}
    scenario = Scenario.load(out / "scenario.toml")
    assert scenario.services is not None
    slots = summary["slots"]

    # money conserved on the services' chain: each market's book is its tokens, the supply is
    # where it was put
    assert summary["services_money_conserved"] is True

    # certificates: every Wh of the producers' metered PV issued, never more than the PV made
    issued, cancelled = summary["certificates_issued"], summary["certificates_cancelled"]
    assert issued == summary["services_metered_pv_wh"] > 0
    rounding = summary["services_certificate_producers"] * slots * 0.5
    assert issued <= summary["pv_production_kwh"] * 1000 + rounding
    assert 0 < cancelled <= issued

    # OTC: the energy settled is the contracted volume of every slot of every contract
    contracted_wh = 0
    for entry in scenario.services.otc:
        last = entry.last_slot if entry.last_slot is not None else slots - 1
        contracted_wh += entry.wh_per_slot(15) * (last - entry.first_slot + 1)
    assert summary["services_otc_contracts"] == 3 and summary["services_otc_refused"] == 0
    assert summary["otc_kwh"] == pytest.approx(contracted_wh / 1000)

    # flexibility on the congested day: bought, partly delivered, congestion relieved
    assert summary["services_congested_slots_before"] >= 1
    assert summary["services_congested_slots_after"] <= summary["services_congested_slots_before"]
    assert 0 < summary["flexibility_kwh"] <= summary["services_flexibility_bought_kwh"] + 1e-9

    # the battery's revenue goes to its holders, but for the fractions of a micro-unit the
    # contract keeps for them
    revenue, paid = summary["services_battery_revenue"], summary["dividends_paid"]
    assert summary["services_battery_raised"] == pytest.approx(240 * 50.0)
    assert 0 < paid <= revenue + 1e-9
    assert revenue - paid <= 55e-6

    report = (out / "report.html").read_text(encoding="utf-8")
    assert "Platform services" in report and "congested slots" in report


def test_a_run_without_services_has_none_of_their_figures() -> None:
    result = peergrid.run(Scenario().replace(households={"count": 6}, ledger={"enabled": False}))
    figures = result.summary.to_dict()
    assert not set(SERVICES_FIGURES) & set(figures)
    assert not [k for k in figures if k.startswith("services_")]


@pytest.mark.parametrize(
    ("services", "change", "message"),
    [
        ({}, {}, "services: name at least one service"),
        ({"community_battery": {}}, {}, "services: community_battery: its revenue comes from"),
        (
            {"otc": [{"seller": 1, "buyer": 1, "price_per_kwh": 0.2, "kw": 1}]},
            {},
            "services.otc.0: seller and buyer must differ",
        ),
        (
            {"otc": [{"seller": 1, "buyer": 2, "price_per_kwh": 0.2}]},
            {},
            "services.otc.0: give exactly one of kw and kwh_per_slot",
        ),
        (
            {"otc": [{"seller": 1, "buyer": 99, "price_per_kwh": 0.2, "kw": 1}]},
            {},
            "services.otc.0.buyer: there are 55 households, got 99",
        ),
        (
            {"otc": [{"seller": 1, "buyer": 2, "price_per_kwh": 0.2, "kw": 1, "last_slot": 96}]},
            {},
            "services.otc.0: the run has slots 0..95, got 0..96",
        ),
        (
            {"certificates": {"producers": [0]}},
            {},
            "services.certificates.producers.0: there are 55 households, got 0",
        ),
        (
            {"flexibility": {"max_price": -1}},
            {},
            "services.flexibility.max_price: Input should be greater than 0",
        ),
        (
            {"flexibility": {}, "community_battery": {"household": 56}},
            {},
            "services.community_battery.household: there are 55 households, got 56",
        ),
        ({"certificates": {}}, {"time": {"slot_minutes": 30}}, "services: the flexibility"),
        (
            {"certificates": {}},
            {"ancillary": {"enabled": True}, "feeder": {"name": "cigre-mv-vdma"}},
            "services: run beside the energy market alone",
        ),
    ],
)
def test_bad_services_are_one_line_at_load(
    services: dict[str, object], change: dict[str, object], message: str
) -> None:
    with pytest.raises(ScenarioError) as caught:
        Scenario().replace(services=services, **change)
    text = str(caught.value)
    assert message in text and "\n" not in text
