"""Eq. (1), the prosumers' model, and Q-learning with experience replay (001a_book.md §2.2)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peergrid.mechanisms.dr.day import DayMarket, play_day
from peergrid.mechanisms.dr.learning import (
    LearningSettings,
    QLearner,
    ReplayMemory,
    learn_bids,
)
from peergrid.mechanisms.dr.scheduling import (
    Prosumers,
    demand_response,
    prosumers_from_profiles,
)
from peergrid.mechanisms.dr.two_stage import DemandResponseError


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        (0.9, 1.0),  # (1 - 0.9) / 0.5 = 0.2, below d_min: d_min
        (0.25, 1.5),  # inside the bounds: (beta - pi) / gamma
        (0.5, 1.0),  # exactly d_min: the boundary value
        (0.0, 2.0),  # exactly d_max
        (-0.5, 2.0),  # 3.0, above d_max: d_max
    ],
)
def test_eq1_cases(price: float, expected: float) -> None:
    # beta 1, gamma 0.5, bounds [1, 2] (AC-01).
    got = demand_response(
        np.array(1.0), np.array(0.5), np.array(price), np.array(1.0), np.array(2.0)
    )
    assert got == pytest.approx(expected)


@settings(max_examples=60, deadline=None)
@given(
    st.floats(0.1, 5),
    st.floats(0.01, 5),
    st.floats(0, 3),
    st.floats(0, 3),
    st.floats(0, 2),
    st.floats(0, 2),
)
def test_eq1_non_increasing_and_within_bounds(
    beta: float, gamma: float, lo: float, span: float, p1: float, dp: float
) -> None:
    args = (np.array(beta), np.array(gamma))
    bounds = (np.array(lo), np.array(lo + span))
    a = demand_response(*args, np.array(p1), *bounds)
    b = demand_response(*args, np.array(p1 + dp), *bounds)
    assert lo <= b <= a <= lo + span


def test_profiles_give_the_load_at_the_reference_price() -> None:
    load = np.array([[1.0, 2.0], [0.5, 1.5]])
    ref = np.array([0.1, 0.2])
    pros = prosumers_from_profiles(load, np.zeros_like(load), ref, elasticity=0.4)
    assert np.allclose(pros.demand(ref[:, None]), load)
    # Elasticity at the reference point: -dd/dpi * pi / d = 1/gamma * pi / d.
    assert np.allclose(ref[:, None] / (pros.gamma * load), 0.4)


def test_bad_prosumer_names_the_field() -> None:
    one = np.ones((1, 1))
    with pytest.raises(DemandResponseError, match="prosumer 0, slot 0: field 'gamma' must be > 0"):
        Prosumers(one, 0 * one, one, 2 * one, one)
    with pytest.raises(DemandResponseError, match="field 'd_max_kwh' must be >= d_min_kwh"):
        Prosumers(one, one, 2 * one, one, one)
    with pytest.raises(DemandResponseError, match="field 'alpha' must be at least 1"):
        DayMarket(np.ones(1), np.array([0.9]), np.zeros(1), np.ones(1, dtype=bool))


def test_replay_memory_keeps_the_last_transitions() -> None:
    memory = ReplayMemory(prosumers=2, capacity=5)
    memory.push(np.array([[1, 2], [3, 4], [5, 6]]), np.array([[1.0, 2], [3, 4], [5, 6]]))
    memory.push(np.array([[7, 8], [9, 10], [11, 12]]), np.array([[7.0, 8], [9, 10], [11, 12]]))
    assert memory.size == 5
    # Ring buffer: the first transition was overwritten by the last one.
    assert sorted(memory.action[0].tolist()) == [3, 5, 7, 9, 11]
    hour, action, reward = memory.sample(np.random.default_rng(0), 50)
    assert hour.shape == (2, 50) and set(action[0].tolist()) <= {3, 5, 7, 9, 11}
    assert (reward[0] == action[0]).all()
    with pytest.raises(DemandResponseError, match="replay_capacity"):
        ReplayMemory(1, 2).push(np.zeros((3, 1), dtype=np.int64), np.zeros((3, 1)))


def test_epsilon_one_explores_and_zero_exploits() -> None:
    s = LearningSettings(price_levels=4)
    rng = np.random.default_rng(1)
    learner = QLearner(3, 50, s, rng)
    learner.q[:] = 0
    learner.q[:, :, 2] = 1
    assert (learner.act(rng, 0.0) == 2).all()
    explored = learner.act(rng, 1.0)
    assert set(np.unique(explored).tolist()) == {0, 1, 2, 3}


def test_targets_are_reward_at_the_last_hour_else_discounted() -> None:
    s = LearningSettings(price_levels=2, discount=0.5)
    learner = QLearner(2, 1, s, np.random.default_rng(0))
    learner.q[:] = np.array([[[0.0, 4.0]], [[6.0, 2.0]]])
    y = learner.targets(np.array([[0, 1]]), np.array([[1.0, 1.0]]))
    assert y.tolist() == [[1.0 + 0.5 * 6.0, 1.0]]
    learner.train(np.array([[1]]), np.array([[0]]), np.array([[10.0]]))
    assert learner.q[1, 0, 0] == pytest.approx(6.0 + 0.1 * (10.0 - 6.0))


def test_a_lone_buyer_learns_to_bid_the_upstream_price() -> None:
    # Alone, a buyer is served upstream: its profit U(d) - pi_up d peaks at d = Eq. 1(pi_up),
    # the demand it offers when it bids the upstream price, the top level (AC-15).
    load = np.array([[2.0], [3.0]])
    up = np.array([0.2, 0.3])
    pros = prosumers_from_profiles(load, np.zeros_like(load), up * 0.6)
    market = DayMarket(up, np.ones(2), np.zeros(2), np.zeros(1, dtype=bool))
    learned = learn_bids(pros, market, LearningSettings(episodes=300, price_levels=6, seed=4))
    assert (learned.share == 1.0).all()
    assert learned.mean_profit[-50:].mean() > learned.mean_profit[:50].mean()


def test_play_day_profit_and_rescheduling() -> None:
    load = np.array([[2.0, 1.0, 0.2]])
    pv = np.array([[0.0, 0.0, 2.0]])
    up = np.array([0.3])
    pros = prosumers_from_profiles(load, pv, up)
    market = DayMarket(up, np.array([1.5]), np.array([0.5]), np.array([True, False, True]))
    out = play_day(pros, np.array([[0.3, 0.2, 0.1]]), market)
    assert out.dr_price[0] > 0
    # The participant reduces, the non-participant keeps its offer; the seller is unchanged.
    assert out.consumed_kwh[0, 0] < out.offered_kwh[0, 0]
    assert out.consumed_kwh[0, 1] == out.offered_kwh[0, 1]
    assert out.consumed_kwh[0, 2] == out.offered_kwh[0, 2]
    # AC-13: the participant's own objective at the stage-1 prices does not fall.
    price = out.price[0] + out.dr_price[0]
    before = pros.utility(out.offered_kwh)[0, 0] - price * out.offered_kwh[0, 0]
    after = pros.utility(out.consumed_kwh)[0, 0] - price * out.consumed_kwh[0, 0]
    assert after >= before
