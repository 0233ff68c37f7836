"""Upstream price scenarios for ``peergrid reproduce dr-scheduling``: a roulette wheel over a
price history (001a_book.md L2125).

The book draws its scenarios "through the use of the roulette wheel mechanism according to the
historical data of the Australian electricity market", without naming the series. No market
history ships with peergrid's dependencies and nothing is downloaded at run time, so the history
here is a **substitute**: a synthetic year of hourly prices (AUD/kWh) shaped like a NEM
region's — a night trough, a morning shoulder, a solar dip at midday, an evening peak, weekends
lower — with log-normal noise and rare spikes, drawn once from a fixed seed
(:func:`synthetic_history`). Its parameters are stated in the module's constants and in the
reproduction's summary; it is not AEMO data.

The roulette wheel (:class:`RouletteWheel`): for each weekday and hour, the history's values are
binned (equal-width bins); a draw spins the wheel, choosing a bin with probability equal to its
share of the history, then a value uniformly inside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

HISTORY_SEED = 2012
HISTORY_WEEKS = 52
NIGHT_PRICE = 0.045
"""AUD/kWh at 03:00 on a weekday, before noise."""
MORNING_PEAK = 0.035
EVENING_PEAK = 0.085
SOLAR_DIP = 0.025
WEEKEND_FACTOR = 0.85
NOISE_SIGMA = 0.2
SPIKE_PROBABILITY = 0.01
SPIKE_FACTOR = 4.0


def price_shape(hours: FloatArray) -> FloatArray:
    """The weekday price before noise (AUD/kWh) at each hour of the day."""
    h = np.asarray(hours, dtype=float)
    return (
        NIGHT_PRICE
        + MORNING_PEAK * np.exp(-((h - 8.0) ** 2) / 3.0)
        + EVENING_PEAK * np.exp(-((h - 18.5) ** 2) / 5.0)
        - SOLAR_DIP * np.exp(-((h - 13.0) ** 2) / 6.0)
    )


def synthetic_history(weeks: int = HISTORY_WEEKS, seed: int = HISTORY_SEED) -> FloatArray:
    """A year of hourly prices, ``(weeks, 7, 24)``, Monday first (AUD/kWh)."""
    rng = np.random.default_rng(seed)
    base = np.tile(price_shape(np.arange(24, dtype=float)), (7, 1))
    base[5:] *= WEEKEND_FACTOR
    noise = rng.lognormal(0.0, NOISE_SIGMA, size=(weeks, 7, 24))
    spikes = np.where(rng.random((weeks, 7, 24)) < SPIKE_PROBABILITY, SPIKE_FACTOR, 1.0)
    return base[None] * noise * spikes


@dataclass(frozen=True)
class RouletteWheel:
    """Binned price history per weekday and hour: bin ``edges`` ``(7, 24, bins + 1)`` and
    ``frequency`` ``(7, 24, bins)`` (shares of the history, summing to 1)."""

    edges: FloatArray
    frequency: FloatArray

    @classmethod
    def from_history(cls, history: FloatArray, bins: int = 10) -> RouletteWheel:
        weeks = history.shape[0]
        edges = np.empty((7, 24, bins + 1))
        frequency = np.empty((7, 24, bins))
        for day in range(7):
            for hour in range(24):
                counts, edge = np.histogram(history[:, day, hour], bins=bins)
                edges[day, hour], frequency[day, hour] = edge, counts / weeks
        return cls(edges=edges, frequency=frequency)

    def mean(self, weekday: int) -> FloatArray:
        """The expected price of each hour of ``weekday`` (0 = Monday) under the wheel."""
        mids = 0.5 * (self.edges[weekday, :, 1:] + self.edges[weekday, :, :-1])
        return (self.frequency[weekday] * mids).sum(axis=1)

    def spin(self, rng: np.random.Generator, weekday: int) -> FloatArray:
        """One scenario: a price for each hour of ``weekday``."""
        cumulative = np.cumsum(self.frequency[weekday], axis=1)
        u = rng.random(24)[:, None]
        chosen = np.minimum((cumulative < u).sum(axis=1), cumulative.shape[1] - 1)
        hours = np.arange(24)
        low = self.edges[weekday, hours, chosen]
        high = self.edges[weekday, hours, chosen + 1]
        return low + rng.random(24) * (high - low)

    def bin_of(self, weekday: int, prices: FloatArray) -> npt.NDArray[np.int64]:
        """The bin of each hour's price (for checking draws against the history)."""
        inner = self.edges[weekday, :, 1:-1]
        return (np.asarray(prices)[:, None] >= inner).sum(axis=1)
