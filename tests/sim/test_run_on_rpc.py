"""A scenario settles on an external node (``ledger.rpc``) exactly as on the embedded EVM."""

from __future__ import annotations

from typing import Any

import pytest

from peergrid.ledger.chain.anvil import start_anvil
from peergrid.sim.runner import RunResult, run_scenario
from peergrid.sim.scenario import ScenarioError, scenario_from_dict


def _scenario(**ledger: Any) -> Any:
    return scenario_from_dict(
        {
            "name": "rpc",
            "seed": 11,
            "households": {"count": 6, "pv_share": 0.5},
            "time": {"start": "2016-06-09", "slot_minutes": 180},
            "market": {"mechanism": "dpda+score", "late_order_share": 0.0},
            "grid": {"power_flow": False},
            "ledger": {"market": "batch", **ledger},
        }
    )


def _money(result: RunResult) -> dict[str, Any]:
    s = result.summary
    return {
        "bills": result.bills["ledger_net_micro"].tolist(),
        "dso": s["ledger_dso_balance"],
        "conserved": s["ledger_money_conserved"],
        "unpaid": s["ledger_unpaid"],
        "trades": s["trades"],
        "transactions": s["transactions"],
    }


@pytest.mark.slow
def test_a_scenario_settles_on_anvil_as_on_the_embedded_chain() -> None:
    embedded = run_scenario(_scenario())
    with start_anvil() as node:
        remote = run_scenario(_scenario(rpc=node.url))
    assert embedded.summary["trades"] > 0
    assert remote.summary["ledger_money_conserved"]
    assert _money(remote) == _money(embedded)
    assert remote.trades.equals(embedded.trades)


def test_the_node_url_is_checked_when_the_scenario_loads() -> None:
    with pytest.raises(ScenarioError, match=r"ledger\.rpc: must be an http"):
        _scenario(rpc="127.0.0.1:8545")
    with pytest.raises(ScenarioError, match=r"ledger\.market: unknown ledger market 'nope'"):
        _scenario(market="nope")


def test_prices_the_batch_market_cannot_hold_are_refused_when_the_scenario_loads() -> None:
    with pytest.raises(ScenarioError, match=r"tariffs\.retail_per_kwh: the batch market takes"):
        scenario_from_dict({"tariffs": {"retail_per_kwh": 5000.0}})
    assert scenario_from_dict(
        {"tariffs": {"retail_per_kwh": 5000.0}, "ledger": {"market": "community"}}
    )
