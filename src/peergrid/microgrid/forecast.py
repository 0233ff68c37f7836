"""The data-analytics organisation (001b_book.md §10.2, organisation 2): the knowledge extractor
(KEA) learns models from past days, the forecast agent (FA) answers the sale, buyer and
market-crawler agents' prediction requests with them.

The models are scikit-learn's: a gradient-boosted regression tree ensemble per quantity
(PV production, wind production, consumption), pooled over the entities of a kind with values
scaled by each entity's rating, predicting the mean of the next ``horizon`` minutes from the
time of day and the value now; and a ridge regression of the upstream price on daily Fourier
terms for the market crawler. The data parser's job (fusing the ledger's logs with outside data)
is the arrays this module is given: the simulated history days.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from threadpoolctl import threadpool_limits

from peergrid.microgrid.config import EntitySpec, Kind
from peergrid.microgrid.profiles import MINUTES_PER_DAY

TRAIN_EVERY_MIN = 5
"""Training rows are taken every 5 minutes of the history (enough for a smooth daily shape)."""


def _time_features(minutes: NDArray[np.int64]) -> NDArray[np.float64]:
    angle = 2.0 * np.pi * (minutes % MINUTES_PER_DAY) / MINUTES_PER_DAY
    return np.column_stack([np.sin(angle), np.cos(angle), np.sin(2 * angle), np.cos(2 * angle)])


def _ahead_mean(values: NDArray[np.float64], horizon: int) -> NDArray[np.float64]:
    """Mean of values[t+1 .. t+horizon] for each t (the last ones over what remains)."""
    padded = np.concatenate([values, np.full(horizon, values[-1])])
    cumulative = np.concatenate([[0.0], np.cumsum(padded)])
    t = np.arange(values.size)
    return np.asarray((cumulative[t + 1 + horizon] - cumulative[t + 1]) / horizon)


def _quantity(kind: Kind) -> str | None:
    if kind in (Kind.PV, Kind.PROSUMER):
        return "pv"
    if kind is Kind.WIND:
        return "wind"
    return None


@dataclass
class ForecastAgent:
    """FA with the KEA's models. ``excluded``: stations whose data the operator excluded after an
    atypical production (their production is then predicted as nothing)."""

    entities: Sequence[EntitySpec]
    horizon_min: int
    models: dict[str, HistGradientBoostingRegressor] = field(default_factory=dict)
    price_model: Ridge | None = None
    excluded: set[int] = field(default_factory=set)

    def fit(self, *args: Sequence[NDArray[np.float64]]) -> ForecastAgent:
        """:meth:`_fit` on one thread: the models are small, and OpenMP's threads cost more than
        they save (16 ms a tree on a busy two-core machine)."""
        with threadpool_limits(limits=1):
            return self._fit(*args)

    def _fit(
        self,
        production_days: Sequence[NDArray[np.float64]],
        load_days: Sequence[NDArray[np.float64]],
        price_days: Sequence[NDArray[np.float64]],
    ) -> ForecastAgent:
        """Learn from history: ``production_days[d][e]`` and ``load_days[d][e]`` (kW per minute
        of day ``d``, entity ``e``), ``price_days[d]`` (per minute)."""
        rows: dict[str, list[NDArray[np.float64]]] = {"pv": [], "wind": [], "load": []}
        targets: dict[str, list[NDArray[np.float64]]] = {"pv": [], "wind": [], "load": []}
        sample = np.arange(0, MINUTES_PER_DAY, TRAIN_EVERY_MIN)
        times = _time_features(sample)
        for production, load in zip(production_days, load_days, strict=True):
            for e, entity in enumerate(self.entities):
                series = (
                    (_quantity(entity.kind), production[e], entity.generation_kw),
                    ("load", load[e], entity.load_kw),
                )
                for name, values, scale in series:
                    if name is None or scale == 0:
                        continue
                    scaled = values[:MINUTES_PER_DAY] / scale
                    rows[name].append(np.column_stack([times, scaled[sample]]))
                    targets[name].append(_ahead_mean(scaled, self.horizon_min)[sample])
        for name in rows:
            if rows[name]:
                model = HistGradientBoostingRegressor(max_iter=60, random_state=0)
                self.models[name] = model.fit(np.vstack(rows[name]), np.concatenate(targets[name]))
        price_rows = [_time_features(np.arange(MINUTES_PER_DAY)) for _ in price_days]
        self.price_model = Ridge(alpha=1e-3).fit(
            np.vstack(price_rows), np.concatenate([p[:MINUTES_PER_DAY] for p in price_days])
        )
        return self

    def energy_ahead(
        self, minute: int, production_kw: NDArray[np.float64], load_kw: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Predicted production and consumption (kWh) of every entity over the next horizon,
        from the values (kW) now. A diesel station's production is not predicted (0: it is
        dispatched)."""
        n = len(self.entities)
        produced = np.zeros(n)
        consumed = np.zeros(n)
        time = _time_features(np.array([minute]))
        hours = self.horizon_min / 60.0
        for name, out, now, scale_of in (
            ("pv", produced, production_kw, "generation_kw"),
            ("wind", produced, production_kw, "generation_kw"),
            ("load", consumed, load_kw, "load_kw"),
        ):
            members = [
                e
                for e, entity in enumerate(self.entities)
                if getattr(entity, scale_of) > 0
                and (name == "load" or _quantity(entity.kind) == name)
                and not (name != "load" and e in self.excluded)
            ]
            if not members or name not in self.models:
                continue
            scale = np.array([getattr(self.entities[e], scale_of) for e in members])
            features = np.column_stack(
                [np.repeat(time, len(members), axis=0), now[members] / scale]
            )
            with threadpool_limits(limits=1):
                mean = np.clip(self.models[name].predict(features), 0.0, None)
            out[members] = mean * scale * hours
        return produced, consumed

    def price_ahead(self, minute: int) -> float:
        """The market crawler's prediction of the upstream price over the next horizon."""
        if self.price_model is None:
            raise RuntimeError("the forecast agent has not been fitted")
        ahead = np.arange(minute, minute + self.horizon_min)
        return float(np.mean(self.price_model.predict(_time_features(ahead))))

    def mean_price(self) -> float:
        """The predicted mean price of a whole day (the market crawler's reference)."""
        if self.price_model is None:
            raise RuntimeError("the forecast agent has not been fitted")
        return float(np.mean(self.price_model.predict(_time_features(np.arange(MINUTES_PER_DAY)))))
