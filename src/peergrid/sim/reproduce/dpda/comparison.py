"""DPDA against the standard double auction (DAM), both paired by Score Matching.

Each of the thesis's printed books is cleared by both mechanisms on the reduced IEEE EU LV
feeder; per book and mechanism: price, winners, trades, energy traded, winning demand left
unserved, cost per trade (energy value plus the DSO's charge), DSO income and average distance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pandas as pd

from peergrid.core.orders import Order
from peergrid.core.trades import Clearing
from peergrid.grid.distance import DistanceMatrix
from peergrid.mechanisms.score_matching import clear_dpda_score, clear_mcafee_score
from peergrid.sim.reproduce.thesis_books import (
    P50_COOP,
    P50_NONCOOP,
    SCENARIO_10,
    TABLE_2_2,
)


def mechanism_comparison(distances: DistanceMatrix) -> pd.DataFrame:
    """DPDA against the standard auction, both paired by Score Matching, on the thesis's books."""
    records: list[dict[str, Any]] = []
    books = {
        "Table 2.2": TABLE_2_2,
        "Scenario 10": SCENARIO_10,
        "P-50 cooperative": P50_COOP,
        "P-50 non-cooperative": P50_NONCOOP,
    }
    clearers: dict[str, Callable[..., Clearing]] = {
        "DAM": clear_mcafee_score,
        "DPDA": clear_dpda_score,
    }
    for book_name, book in books.items():
        orders: list[Order] = [replace(o, bus=o.id) for o in book.orders()]
        for mech, clearer in clearers.items():
            result = clearer(orders, distances)
            trades = result.trades
            costs = [t.value + t.grid_fee for t in trades]
            demand = sum(o.quantity_kwh for o in orders if o.id in result.info["winning_buyers"])
            traded = sum(t.quantity_kwh for t in trades)
            records.append(
                {
                    "book": book_name,
                    "mechanism": mech,
                    "price": result.price,
                    "winning_buyers": len(result.info["winning_buyers"]),
                    "winning_sellers": len(result.info["winning_sellers"]),
                    "trades": len(trades),
                    "traded_kwh": traded,
                    "unserved_winning_demand_kwh": max(0.0, round(demand - traded, 9)),
                    "average_cost_per_trade": sum(costs) / len(costs) if costs else None,
                    "max_cost_per_trade": max(costs) if costs else None,
                    "min_cost_per_trade": min(costs) if costs else None,
                    "dso_income": sum(t.grid_fee for t in trades),
                    "average_distance_m": (
                        sum(distances.between(int(t.buyer), int(t.seller)) for t in trades)
                        / len(trades)
                        if trades
                        else None
                    ),
                }
            )
    return pd.DataFrame(records)
