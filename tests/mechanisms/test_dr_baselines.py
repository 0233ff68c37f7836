"""DR baselines, delivered flexibility, rewards and penalties (001b_book.md §8.3 and §8.5's
minimal rule set, our integers), and the stake-weighted quorum (§8.2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peergrid.mechanisms.dr.baselines import (
    DrRates,
    baseline_wh,
    settle_event,
    trunc_div,
)
from peergrid.mechanisms.dr.stake import AGE_CAP, ValidatorStake, confirmed, disputed
from peergrid.mechanisms.dr.two_stage import DemandResponseError

RATES = DrRates(reward_rate=200_000, penalty_rate=100_000, tolerance_wh=50)


def test_baseline_is_the_mean_at_the_same_time_of_day() -> None:
    history = [[1000, 2000, -300], [1200, 2100, -400], [1100, 2300, -400]]
    assert baseline_wh(history) == [1100, 2133, -366]  # -1100/3 truncated toward zero


def test_trunc_div_rounds_toward_zero_as_the_evm() -> None:
    assert [trunc_div(7, 2), trunc_div(-7, 2), trunc_div(7, -2), trunc_div(-7, -2)] == [
        3,
        -3,
        -3,
        3,
    ]


def test_baseline_needs_a_day() -> None:
    with pytest.raises(DemandResponseError, match="at least one day"):
        baseline_wh([[]][:0])


def test_a_reduction_event_worked_by_hand() -> None:
    # Baseline 2000 Wh in three slots; the DSO asks for 1500, 1500, 1000 (requests 500, 500, 1000).
    # The prosumer uses 1400 (over-delivers: 500 credited), 1800 (200 of 500) and 2100 (none).
    out = settle_event([2000, 2000, 2000], [1500, 1500, 1000], [1400, 1800, 2100], RATES)
    assert out.delivered_wh == 600 + 200 - 100
    assert out.requested_wh == 2000
    assert out.flexibility_wh == 700
    assert out.shortfall_wh == (0) + (300 - 50) + (1000 - 50)
    assert out.reward == 700 * 200_000 // 1000 == 140_000
    assert out.penalty == 1200 * 100_000 // 1000 == 120_000
    assert out.net == 20_000


def test_an_increase_event_credits_consumption_above_the_baseline() -> None:
    # Reverse flow: the DSO asks a PV prosumer exporting 1000 Wh (reading -1000) to export 200 less.
    out = settle_event([-1000], [-800], [-700], RATES)
    assert (out.delivered_wh, out.flexibility_wh, out.shortfall_wh) == (-300, 200, 0)
    out = settle_event([-1000], [-800], [-1100], RATES)
    assert (out.flexibility_wh, out.shortfall_wh) == (0, 150)


def test_bad_input_is_named() -> None:
    with pytest.raises(DemandResponseError, match="commanded: has 2 values, the event has 3"):
        settle_event([1, 2, 3], [1, 2], [1, 2, 3], RATES)
    with pytest.raises(DemandResponseError, match="reward_rate: -1 is negative"):
        DrRates(reward_rate=-1, penalty_rate=0)
    with pytest.raises(DemandResponseError, match="penalty_rate: -5 is negative"):
        DrRates(reward_rate=1, penalty_rate=-5)


profiles = st.integers(1, 12).flatmap(
    lambda n: st.tuples(*(st.lists(st.integers(-5000, 5000), min_size=n, max_size=n),) * 3)
)


@given(profiles, st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 500))
def test_credited_flexibility_is_bounded(
    rows: tuple[list[int], list[int], list[int]], reward: int, penalty: int, tolerance: int
) -> None:
    b, c, a = rows
    out = settle_event(b, c, a, DrRates(reward, penalty, tolerance))
    assert 0 <= out.flexibility_wh <= out.requested_wh
    assert 0 <= out.shortfall_wh <= out.requested_wh - out.flexibility_wh
    # Following the command exactly earns the whole request and no penalty.
    exact = settle_event(b, c, c, DrRates(reward, penalty, tolerance))
    assert (exact.flexibility_wh, exact.shortfall_wh) == (exact.requested_wh, 0)
    assert out.reward <= exact.reward


def test_stake_grows_with_incentives_and_their_age() -> None:
    v = ValidatorStake(genesis=10).credit(1000, epoch=0)
    assert v.stake(0) == 1010
    assert v.stake(AGE_CAP // 2) == 10 + 1000 + 500
    assert v.stake(AGE_CAP) == v.stake(10 * AGE_CAP) == 2010
    # A second receipt moves the mean epoch by its weight.
    w = v.credit(3000, epoch=8)
    assert (w.incentives, w.mean_epoch) == (4000, 6)
    assert w.stake(8) == 10 + 4000 + 4000 * 2 // AGE_CAP


def test_two_thirds_quorum() -> None:
    assert not confirmed(200, 300) and confirmed(201, 300)
    assert not disputed(99, 300) and disputed(100, 300)
