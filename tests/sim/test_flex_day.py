"""The flexibility day's scenario: its settings' checks, the crowdsale's allocation, and the same
day cleared off and on chain."""

from __future__ import annotations

import pytest

from peergrid.core.errors import PeergridError, ScenarioError
from peergrid.sim.flex_day import FlexDaySettings, run_flex_day_scenario, share_allocation


def test_share_allocation_reaches_the_target() -> None:
    settings = FlexDaySettings(community_battery_kw=20, share_price=50)
    allocation = share_allocation(settings, [f"h{k}" for k in range(13)])
    assert sum(allocation.values()) == 240  # 40 kWh * 300 / 50
    assert sorted(set(allocation.values())) == [18, 19]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ev_share": -0.1}, "ev_share"),
        ({"load_response": 1.5}, "load_response"),
        ({"battery_kw": float("nan")}, "battery_kw"),
        ({"share_price": 0}, "share_price"),
        ({"battery_every": 0}, "battery_every"),
        ({"day": -1}, "day"),
    ],
)
def test_bad_settings(changes: dict[str, float], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        FlexDaySettings(**changes).check()  # type: ignore[arg-type]


def test_unknown_feeder() -> None:
    with pytest.raises(PeergridError, match="unknown feeder"):
        FlexDaySettings(feeder="atlantis").check()


def test_off_and_on_chain_agree() -> None:
    off = run_flex_day_scenario(FlexDaySettings(ledger=False)).summary()
    on = run_flex_day_scenario(FlexDaySettings(ledger=True)).summary()
    assert on["needs"] == off["needs"]
    # the contract's Wh, ppm weights and rounded-down money: within a few per cent
    for key in ("flexibility_kwh", "cost", "penalties"):
        assert on[key] == pytest.approx(off[key], rel=0.02)
    assert on["congested_slots_after"] == off["congested_slots_after"] == 0
