"""Clearing speed: DPDA with Score Matching, and DAM / DPDA alone on large books.

    python benchmarks/mechanisms.py [--repeat 7]

Random books in the thesis's style (prices around a reference, energies 15-80 kWh) on the
reduced IEEE EU LV feeder (buses: its 55 customer vertices). Prints the median wall time of
``--repeat`` runs of each case, and the machine.

The DAM and the DPDA are timed on both paths: arrays in, arrays out (``clear_*_arrays`` on an
``OrderArrays`` built beforehand), and orders in, ``Clearing`` with ``Trade`` objects out
(``clear_*``, which is ``OrderArrays.from_orders`` → arrays → ``to_clearing``); the two
conversions are also timed on their own.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np

from peergrid.core.orders import Order, Side
from peergrid.grid.distance import distance_matrix
from peergrid.grid.feeders import load_feeder
from peergrid.mechanisms.arrays import OrderArrays
from peergrid.mechanisms.dpda import clear_dpda, clear_dpda_arrays
from peergrid.mechanisms.mcafee import clear_mcafee, clear_mcafee_arrays
from peergrid.mechanisms.score_matching import clear_dpda_score


def random_book(n: int, buses: list[int], seed: int) -> list[Order]:
    rng = np.random.default_rng(seed)
    sides = rng.random(n) < 0.5
    prices = np.round(0.2023 + rng.normal(0, 0.02, n), 4)
    energy = rng.uniform(15, 80, n).round(2)
    radius = rng.uniform(50, 300, n)
    bus = rng.choice(buses, n)
    return [
        Order(
            id=str(i),
            agent=str(i),
            side=Side.SELL if sides[i] else Side.BUY,
            quantity_kwh=float(energy[i]),
            price=float(max(prices[i], 0.0)),
            bus=str(bus[i]),
            max_distance_m=float(radius[i]),
            submitted_at=i,
        )
        for i in range(n)
    ]


def median_seconds(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    feeder = load_feeder("ieee-eu-lv-reduced")
    distances = distance_matrix(feeder)
    buses = feeder.household_buses
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    for n, target in ((55, "5 ms"), (1000, "1 s")):
        book = random_book(n, buses, seed=n)
        t = median_seconds(lambda book=book: clear_dpda_score(book, distances), args.repeat)
        print(f"DPDA + Score Matching, {n:>6} participants: {t * 1e3:9.2f} ms  (target {target})")
    orders = random_book(100_000, buses, seed=1)
    book = OrderArrays.from_orders(orders)
    t = median_seconds(lambda: OrderArrays.from_orders(orders), args.repeat)
    print(f"100000 orders to OrderArrays:             {t * 1e3:9.2f} ms")
    paths = (
        ("DAM ", clear_mcafee_arrays, clear_mcafee),
        ("DPDA", clear_dpda_arrays, clear_dpda),
    )
    for name, on_arrays, on_orders in paths:
        t = median_seconds(lambda f=on_arrays: f(book), args.repeat)
        print(f"{name} alone, 100000 orders, arrays:    {t * 1e3:9.2f} ms  (target 30 ms)")
        clearing = on_arrays(book)
        t = median_seconds(clearing.to_clearing, args.repeat)
        print(f"{name} to_clearing ({len(clearing)} trades):   {t * 1e3:9.2f} ms")
        t = median_seconds(lambda f=on_orders: f(orders), args.repeat)
        print(f"{name} alone, 100000 orders, objects:   {t * 1e3:9.2f} ms  (target 500 ms)")


if __name__ == "__main__":
    main()
