"""The grid-level DR rules off chain (``DrGridModel``) on the worked event of
``tests/ledger/test_dr_events.py``: the same numbers as the contract."""

from __future__ import annotations

import pytest

from peergrid.mechanisms.dr.baselines import DrRates
from peergrid.mechanisms.dr.events import DrGridModel
from peergrid.mechanisms.dr.two_stage import DemandResponseError

HISTORY = [
    [[1000, 2000, 3000, 1000], [1200, 2200, 3200, 1000]],
    [[500, 1500, 2500, 500], [500, 1500, 2500, 500]],
    [[-200, 0, 1000, 0], [-300, 0, 1001, 0]],
]


def model_after_history() -> DrGridModel:
    model = DrGridModel(3, 4, genesis=(400, 300, 300))
    for day in range(2):
        for t in range(4):
            for p in range(3):
                assert model.post(p, day * 4 + t, HISTORY[p][day][t]) is None
    model.set_rates(DrRates(200_000, 100_000, 50), threshold_wh=4000, duration=2)
    return model


def test_the_worked_event_off_chain() -> None:
    model = model_after_history()
    for p, wh in enumerate([1100, 500, -250]):
        assert model.post(p, 8, wh) is None
    assert model.post(0, 9, 2100) is None and model.post(1, 9, 1500) is None
    event = model.post(2, 9, 600)
    assert event is not None and (event.start, event.trigger_state) == (10, 4200)
    assert model.baseline(2, 0) == -250 and model.baseline(0, 2) == 3100
    model.command(event, 0, [2600, 800])
    model.command(event, 1, [2000, 500])
    for k, row in enumerate([[2700, 2600, 1000], [700, 500, 0]]):
        for p, wh in enumerate(row):
            assert model.post(p, 10 + k, wh) is None  # no second event while one runs
    # C's readings went to its baseline; A's event readings did not.
    assert model.baseline(2, 2) == 1000 and model.baseline(0, 2) == 3100
    out = model.close(event)
    assert (out[0].reward, out[0].penalty, out[1].penalty) == (120_000, 5_000, 45_000)
    assert model.total_stake() == 1000


def test_confirmation_credits_stake() -> None:
    model = model_after_history()
    for p, wh in enumerate(
        [
            1100,
            500,
            -250,
        ]
    ):
        model.post(p, 8, wh)
    model.post(0, 9, 2100)
    model.post(1, 9, 1500)
    event = model.post(2, 9, 600)
    assert event is not None
    model.command(event, 0, [2600, 800])
    for k, wh in enumerate([2700, 700]):
        model.post(0, 10 + k, wh)
    model.close(event)
    assert not model.confirm(event, [3]) and model.stakes[0].incentives == 0
    assert model.active is None and model.epoch == 0


def test_confirmed_rewards_become_stake() -> None:
    model = model_after_history()
    model.post(0, 8, 5000)  # 5000 > 4000
    event = model.active
    assert event is not None and event.start == 9
    model.command(event, 0, [1000, 2000])
    with pytest.raises(DemandResponseError, match="readings incomplete"):
        model.close(event)
    model.post(0, 9, 1000)
    model.post(0, 10, 2000)
    model.close(event)
    assert model.confirm(event, [3, 4])
    reward = event.settlements[0].reward
    assert reward == (1100 + 1100) * 200
    assert model.stakes[0].stake(model.epoch) == reward + reward // 24
    assert model.epoch == 1


def test_bad_input_is_named() -> None:
    model = model_after_history()
    model.post(0, 8, 5000)
    assert model.active is not None
    with pytest.raises(DemandResponseError, match="has 3 values, the event has 2"):
        model.command(model.active, 1, [1, 2, 3])
    with pytest.raises(DemandResponseError, match="duration: 0"):
        model.set_rates(DrRates(1, 1), threshold_wh=1, duration=0)
    with pytest.raises(DemandResponseError, match="no baseline"):
        DrGridModel(1, 4).baseline(0, 3)
