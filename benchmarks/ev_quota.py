"""The EV charging quota auction off chain (001b_book.md ch. 9): seconds for ``--evs`` stations.

Random stations (default 10 000, each one EV): demand ~ U(3, 22) kW on the one-hour basis,
charger rating 22 kW; the margin is ``--beta`` (default 0.8) of the total demand, so the auction
is held. Every station places one quota order: with probability ½ a bid for up to its shortfall
(demand − initial quota) at U(20, 40) token/kWh, else an offer of up to its initial quota at
U(10, 30) token/kWh. Orders and stations are built first; what is timed is
:func:`~peergrid.mechanisms.ev_quota.clear_ev_quota` (checks, pre-allocation, Algorithm 1,
quotas, payments and fees), and separately ``peergrid.clear`` from plain dictionaries as an
order file gives them (validation of every order and station included).

Each figure is the median of ``--runs`` runs (default 5); the machine's load (``uptime``) is
printed beside it: the machine may be shared.

    python benchmarks/ev_quota.py [--evs 10000] [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import peergrid
from peergrid.core.orders import Order, Side
from peergrid.mechanisms.ev_quota import ChargingStation, QuotaParameters, clear_ev_quota

RATING_KW = 22.0


def random_market(
    n: int, beta: float, seed: int
) -> tuple[list[ChargingStation], list[Order], float]:
    rng = np.random.default_rng(seed)
    demands = np.round(rng.uniform(3.0, RATING_KW, n), 3)
    margin = float(beta * demands.sum())
    stations = [ChargingStation(f"ev{k}", float(demands[k]), RATING_KW) for k in range(n)]
    buy = rng.random(n) < 0.5
    share = rng.uniform(0.05, 1.0, n)
    orders = []
    for k in range(n):
        initial = demands[k] * beta
        room = demands[k] - initial if buy[k] else initial
        quantity = round(float(share[k] * room) * 0.999, 3)
        if quantity <= 0:
            continue
        price = rng.uniform(20, 40) if buy[k] else rng.uniform(10, 30)
        orders.append(
            Order(
                f"q{k}",
                f"ev{k}",
                Side.BUY if buy[k] else Side.SELL,
                quantity,
                round(float(price), 2),
                submitted_at=k,
            )
        )
    return stations, orders, margin


def timed(run: Callable[[], Any], runs: int) -> tuple[float, list[float], Any]:
    seconds, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - t0)
    return statistics.median(seconds), seconds, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--evs", type=int, default=10_000)
    parser.add_argument("--beta", type=float, default=0.8)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    stations, orders, margin = random_market(args.evs, args.beta, args.seed)
    parameters = QuotaParameters(margin)
    auction, auction_runs, result = timed(
        lambda: clear_ev_quota(orders, stations, parameters), args.runs
    )
    evs = [{"id": s.id, "demand_kwh": s.demand_kwh, "rating_kw": s.rating_kw} for s in stations]
    raw = [
        {
            "id": o.id,
            "agent": o.agent,
            "side": o.side.value,
            "quantity_kwh": o.quantity_kwh,
            "price": o.price,
        }
        for o in orders
    ]
    params = {"evs": evs, "capacity_margin_kw": margin}
    from_file, file_runs, _ = timed(
        lambda: peergrid.clear(raw, mechanism="ev-quota", params=params), args.runs
    )
    figures = {
        "evs": args.evs,
        "orders": len(orders),
        "trades": len(result.trades),
        "traded_kwh": result.info["traded_kwh"],
        "auction_s": auction,
        "auction_runs_s": auction_runs,
        "from_dicts_s": from_file,
        "from_dicts_runs_s": file_runs,
        "goal_s": 0.1,
        "load": os.getloadavg(),
        "python": platform.python_version(),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{args.evs} EVs, {len(orders)} quota orders, {len(result.trades)} trades")
    print(f"  clear_ev_quota (Order objects)   median {auction * 1000:7.1f} ms  (goal ≤ 100 ms)")
    print(f"  peergrid.clear (from dicts)       median {from_file * 1000:7.1f} ms")
    print(f"  load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
