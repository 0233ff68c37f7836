"""A run of the island: the forecast agent's models, the run's invariants (energy balance,
money conserved on the ledger), the same scenario gives the same run, and the example day."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from peergrid.microgrid import generated_island, load_microgrid_scenario, run_microgrid
from peergrid.microgrid.forecast import ForecastAgent
from peergrid.microgrid.profiles import load_kw, production_kw, wholesale_price

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "microgrid.toml"


def test_the_forecast_agent_learns_the_daily_shape() -> None:
    scenario = generated_island(10)
    entities = scenario.entities
    days = [
        (
            np.array([production_kw(e, i, 1, -d, 1440) for i, e in enumerate(entities)]),
            np.array([load_kw(e, i, 1, -d, 1440) for i, e in enumerate(entities)]),
        )
        for d in (1, 2)
    ]
    forecast = ForecastAgent(entities, 60).fit(
        [d[0] for d in days], [d[1] for d in days], [wholesale_price(1, -d, 1440) for d in (1, 2)]
    )
    today = np.array([production_kw(e, i, 1, 0, 1440) for i, e in enumerate(entities)])
    load = np.array([load_kw(e, i, 1, 0, 1440) for i, e in enumerate(entities)])
    pv = next(i for i, e in enumerate(entities) if e.kind.value == "pv")
    morning, _ = forecast.energy_ahead(9 * 60, today[:, 9 * 60], load[:, 9 * 60])
    night, _ = forecast.energy_ahead(22 * 60, today[:, 22 * 60], load[:, 22 * 60])
    actual = today[pv, 9 * 60 + 1 : 10 * 60 + 1].sum() / 60
    assert night[pv] < 0.05 * morning[pv]
    assert abs(morning[pv] - actual) < 0.25 * actual
    forecast.excluded.add(pv)
    excluded, _ = forecast.energy_ahead(9 * 60, today[:, 9 * 60], load[:, 9 * 60])
    assert excluded[pv] == 0.0
    assert forecast.price_ahead(19 * 60) > forecast.price_ahead(3 * 60)


def test_a_short_run_balances_energy_and_conserves_money() -> None:
    scenario = generated_island(10, minutes=180, seed=3)
    result = run_microgrid(scenario)
    t = result.totals
    # money: what the entities deposited is all on the ledger, the operator's included
    assert sum(result.balances.values()) == pytest.approx(result.deposited, abs=1e-9)
    assert result.balances["operator"] > 0
    # energy: the island's stores changed by what came in less what went out
    initial = sum(e.battery_initial_kwh for e in scenario.entities)
    initial += scenario.microgrid.operator_initial_kwh
    final = t.stored[-1] + t.buffer[-1]
    inflow = t.production.sum() + t.imported.sum() + t.unserved.sum()
    outflow = t.consumption.sum() + t.curtailed.sum()
    assert final == pytest.approx(initial + inflow - outflow, abs=1e-6)
    assert result.lots and all(
        lot.price <= scenario.microgrid.operator_price for lot in result.lots
    )
    again = run_microgrid(scenario)
    assert again.summary() == result.summary()


@pytest.mark.slow
def test_the_example_day_runs_as_it_is() -> None:
    result = run_microgrid(load_microgrid_scenario(EXAMPLE))
    summary = result.summary()
    assert summary["lots_sold"] > 10
    assert summary["unserved_kwh"] == 0.0
    # the example's faults are found: the diesel's meter, the wind sensor, the ageing battery
    assert summary["audits_failed"] >= 1 and summary["events"]["FlowMismatch"] >= 1
    assert summary["events"]["AtypicalProduction"] == 1
    assert summary["events"]["MaintenanceNeeded"] == 1
