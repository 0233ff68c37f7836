"""Bids learned by Q-learning with experience replay (001a_book.md §2.2, Fig. 2).

Our reading of the book's template (G3–G5, G16), per prosumer and vectorised across prosumers:

- **State**: the hour of the day only. The book takes the Q-values "independent of the system's
  states" (L2010); the hour is what makes them "time dependent" (L2052). The next state of hour
  ``t`` is ``t + 1``; the last hour is terminal.
- **Action**: the bid price, one of ``price_levels`` shares of the slot's upstream price (evenly
  spaced from ``lowest_level`` to 1). The offered demand follows from Eq. (1) at that price, so
  one action fixes the whole bid ``(π_{p,t}, d_{p,t})``; the offered supply is the PV forecast
  (L1998, L2054).
- **Reward**: the prosumer's profit in the slot after both settlements (G5;
  :func:`~peergrid.mechanisms.dr.day.play_day`).
- **Q-function**: a table ``Q[t, p, a]`` (no network: "deep" appears only in the algorithm's
  title, G16); a "gradient step on (y − Q)²" is ``Q ← Q + η (y − Q)``, with
  ``y = r + δ max_a' Q[t+1, p, a']`` (``r`` at the last hour).
- **Exploration**: a random action with probability ε (the book's ρ, G3), from ``epsilon_start``
  down to ``epsilon_end`` linearly over the episodes (ours).
- **Replay**: each prosumer's last ``replay_capacity`` transitions ``(t, a, r)``; every episode
  each prosumer trains on ``batch`` of them drawn at random.

One episode is a day: every prosumer bids in every hour, the market settles both stages, each
prosumer stores its 24 transitions and trains. Each episode may draw a new upstream price
scenario (the book's roulette wheel), so the bids are learned against the price distribution.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from peergrid.mechanisms.dr.day import DayMarket, DayOutcome, play_day
from peergrid.mechanisms.dr.scheduling import FloatArray, Prosumers
from peergrid.mechanisms.dr.two_stage import DemandResponseError

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class LearningSettings:
    """Hyper-parameters of the learners (the book gives none: all ours)."""

    episodes: int = 1000
    price_levels: int = 11
    lowest_level: float = 0.5
    epsilon_start: float = 1.0
    epsilon_end: float = 0.05
    discount: float = 0.5
    learning_rate: float = 0.1
    replay_capacity: int = 2400
    batch: int = 48
    seed: int = 2020

    def __post_init__(self) -> None:
        checks = (
            ("episodes", self.episodes >= 1),
            ("price_levels", self.price_levels >= 1),
            ("lowest_level", 0 < self.lowest_level <= 1),
            ("epsilon_start", 0 <= self.epsilon_start <= 1),
            ("epsilon_end", 0 <= self.epsilon_end <= 1),
            ("discount", 0 <= self.discount < 1),
            ("learning_rate", 0 < self.learning_rate <= 1),
            ("replay_capacity", self.replay_capacity >= 1),
            ("batch", self.batch >= 1),
        )
        for name, ok in checks:
            if not ok:
                raise DemandResponseError(
                    f"learning: field {name!r} out of range, got {getattr(self, name)!r}"
                )

    @property
    def levels(self) -> FloatArray:
        """The bid prices as shares of the upstream price."""
        return np.linspace(self.lowest_level, 1.0, self.price_levels)

    def epsilon(self, episode: int) -> float:
        if self.episodes == 1:
            return self.epsilon_end
        share = episode / (self.episodes - 1)
        return self.epsilon_start + share * (self.epsilon_end - self.epsilon_start)


class ReplayMemory:
    """Each prosumer's last ``capacity`` transitions ``(hour, action, reward)``, a ring buffer."""

    def __init__(self, prosumers: int, capacity: int) -> None:
        self.capacity = capacity
        self.hour = np.zeros((prosumers, capacity), dtype=np.int64)
        self.action = np.zeros((prosumers, capacity), dtype=np.int64)
        self.reward = np.zeros((prosumers, capacity))
        self.size = 0
        self._next = 0

    def push(self, actions: IntArray, rewards: FloatArray) -> None:
        """Store a day: ``actions`` and ``rewards`` are ``(slots, prosumers)``."""
        slots = actions.shape[0]
        if slots > self.capacity:
            raise DemandResponseError(
                f"learning: field 'replay_capacity' ({self.capacity}) is below a day's "
                f"{slots} slots"
            )
        where = (self._next + np.arange(slots)) % self.capacity
        self.hour[:, where] = np.arange(slots)[None, :]
        self.action[:, where] = actions.T
        self.reward[:, where] = rewards.T
        self._next = (self._next + slots) % self.capacity
        self.size = min(self.size + slots, self.capacity)

    def sample(self, rng: np.random.Generator, batch: int) -> tuple[IntArray, IntArray, FloatArray]:
        """``batch`` stored transitions per prosumer, drawn independently (with replacement)."""
        if self.size == 0:
            raise DemandResponseError("replay memory is empty")
        pick = rng.integers(0, self.size, size=(self.hour.shape[0], batch))
        rows = np.arange(self.hour.shape[0])[:, None]
        return self.hour[rows, pick], self.action[rows, pick], self.reward[rows, pick]


class QLearner:
    """The Q-tables of every prosumer, ``q[t, p, a]``, initialised with small random values."""

    def __init__(
        self, slots: int, prosumers: int, settings: LearningSettings, rng: np.random.Generator
    ) -> None:
        self.settings = settings
        self.q = rng.normal(0.0, 1e-6, size=(slots, prosumers, settings.price_levels))

    def act(self, rng: np.random.Generator, epsilon: float) -> IntArray:
        """ε-greedy actions ``(slots, prosumers)``: random with probability ε, else greedy."""
        greedy = self.greedy()
        explore = rng.random(greedy.shape) < epsilon
        random = rng.integers(0, self.settings.price_levels, size=greedy.shape)
        return np.where(explore, random, greedy)

    def greedy(self) -> IntArray:
        return np.argmax(self.q, axis=2)

    def targets(self, hour: IntArray, reward: FloatArray) -> FloatArray:
        """``y = r`` at the last hour, else ``r + δ max_a' Q[t+1, p, a']``."""
        slots = self.q.shape[0]
        best_next = self.q.max(axis=2)  # (slots, prosumers)
        prosumer = np.arange(hour.shape[0])[:, None]
        following = best_next[np.minimum(hour + 1, slots - 1), prosumer]
        return np.where(hour == slots - 1, reward, reward + self.settings.discount * following)

    def train(self, hour: IntArray, action: IntArray, reward: FloatArray) -> None:
        """One step on ``(y − Q)²`` for each sampled transition, ``(prosumers, batch)`` arrays."""
        prosumer = np.broadcast_to(np.arange(hour.shape[0])[:, None], hour.shape)
        y = self.targets(hour, reward)
        error = y - self.q[hour, prosumer, action]
        np.add.at(self.q, (hour, prosumer, action), self.settings.learning_rate * error)


@dataclass(frozen=True)
class LearnedBids:
    """What training leaves: the greedy bid-price shares ``(slots, prosumers)`` and the Q-tables,
    with the mean profit per episode (currency per prosumer-day) to show convergence."""

    share: FloatArray
    q: FloatArray
    mean_profit: FloatArray

    def bid_price(self, upstream_price: FloatArray) -> FloatArray:
        return self.share * np.asarray(upstream_price)[:, None]


def learn_bids(
    prosumers: Prosumers,
    market: DayMarket,
    settings: LearningSettings,
    *,
    scenario: Callable[[np.random.Generator], FloatArray] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LearnedBids:
    """Train every prosumer's Q-table over ``settings.episodes`` days. ``scenario`` draws the
    upstream prices of an episode (default: the market's own every time)."""
    slots, n = prosumers.shape
    if market.participants.shape != (n,) or np.shape(market.upstream_price) != (slots,):
        raise DemandResponseError(
            f"market: {np.shape(market.upstream_price)} slots and {market.participants.shape} "
            f"participants for {slots} slots and {n} prosumers"
        )
    rng = np.random.default_rng(settings.seed)
    learner = QLearner(slots, n, settings, rng)
    memory = ReplayMemory(n, settings.replay_capacity)
    levels = settings.levels
    mean_profit = np.zeros(settings.episodes)
    for episode in range(settings.episodes):
        day = market
        if scenario is not None:
            day = _with_prices(market, scenario(rng))
        actions = learner.act(rng, settings.epsilon(episode))
        outcome = play_day(prosumers, levels[actions] * day.upstream_price[:, None], day)
        memory.push(actions, outcome.profit)
        learner.train(*memory.sample(rng, settings.batch))
        mean_profit[episode] = outcome.profit.sum(axis=0).mean()
        if progress is not None:
            progress(episode + 1, settings.episodes)
    return LearnedBids(share=levels[learner.greedy()], q=learner.q, mean_profit=mean_profit)


def _with_prices(market: DayMarket, upstream: FloatArray) -> DayMarket:
    return DayMarket(
        upstream_price=np.asarray(upstream, dtype=float),
        alpha=market.alpha,
        penalty_rate=market.penalty_rate,
        participants=market.participants,
    )


def play_learned(
    prosumers: Prosumers, bids: LearnedBids, market: DayMarket, **kwargs: FloatArray
) -> DayOutcome:
    """The day played with the learned (greedy) bids."""
    return play_day(prosumers, bids.bid_price(market.upstream_price), market, **kwargs)
