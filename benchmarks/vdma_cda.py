"""Throughput of the off-chain CDA and NCDA (004_vdma.md §2.2, §2.4): orders per second.

A stream of random orders (default 10⁶) on random buses of ``cigre-mv-vdma``: side buy or sell
with probability ½, price ~ N(0.35, 0.025) €/kWh (the paper's shouts, §3.2), quantity ~
lognormal (median 1 kWh, always positive), agent one of 1 000. The orders are built first; what
is timed is:

- ``continuous``: every order placed, in stream order, on one :class:`ContinuousBook` (CDA, and
  NCDA with the feeder's hop distances from the grid layer's cached matrix);
- ``session``: the stream cut into sessions of ``--session`` orders (default 12, the paper's
  study), each cleared by :func:`clear_session` (offers rest first, then the asks);
- ``mechanism`` (``--mechanism-sessions``, default 500): the registry's ``cda``/``ncda``/``ocda``
  on sessions of ``--session`` orders with the feeder, as ``peergrid clear`` runs them (checks,
  paths, the clearing's JSON-ready info; OCDA's OPF per ask).

Each figure is the median of ``--runs`` runs (default 3). The machine's load (``uptime``) is
printed with the figures: the machine may be shared.

    python benchmarks/vdma_cda.py [--orders 1000000] [--runs 3] [--session 12] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np

from peergrid.core.orders import Order, Side
from peergrid.grid.distance import distance_matrix
from peergrid.grid.feeders import load_feeder
from peergrid.mechanisms.cda import BusDistances, ContinuousBook, clear_session
from peergrid.mechanisms.registry import clear


def random_orders(n: int, seed: int, buses: list[str]) -> list[Order]:
    rng = np.random.default_rng(seed)
    sides = rng.random(n) < 0.5
    prices = np.clip(rng.normal(0.35, 0.025, n), 0.0, None)
    quantities = rng.lognormal(0.0, 0.75, n)
    bus = rng.integers(0, len(buses), n)
    agent = rng.integers(0, 1000, n)
    return [
        Order(
            f"o{k}",
            f"a{agent[k]}",
            Side.BUY if sides[k] else Side.SELL,
            float(quantities[k]),
            float(prices[k]),
            bus=buses[bus[k]],
            submitted_at=k,
        )
        for k in range(n)
    ]


def timed(run: Callable[[], int], runs: int) -> tuple[float, list[float], int]:
    """Median seconds over ``runs``, every run's seconds, and the last run's fill count."""
    seconds = []
    fills = 0
    for _ in range(runs):
        t0 = time.perf_counter()
        fills = run()
        seconds.append(time.perf_counter() - t0)
    return statistics.median(seconds), seconds, fills


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--session", type=int, default=12)
    parser.add_argument("--mechanism-sessions", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    feeder = load_feeder("cigre-mv-vdma")
    hops = BusDistances.from_matrix(distance_matrix(feeder, "hops"))
    orders = random_orders(args.orders, args.seed, list(hops.labels))
    n = len(orders)
    results: dict[str, dict[str, object]] = {}

    def continuous(ncda: bool) -> Callable[[], int]:
        def run() -> int:
            book = ContinuousBook(ncda=ncda, distances=hops if ncda else None)
            place = book.place
            return sum(len(place(o)) for o in orders)

        return run

    def sessions(ncda: bool) -> Callable[[], int]:
        chunks = [orders[i : i + args.session] for i in range(0, n, args.session)]

        def run() -> int:
            return sum(
                len(clear_session(c, ncda=ncda, distances=hops if ncda else None).fills)
                for c in chunks
            )

        return run

    for name, run in (
        ("continuous cda", continuous(False)),
        ("continuous ncda", continuous(True)),
        ("session cda", sessions(False)),
        ("session ncda", sessions(True)),
    ):
        median, seconds, fills = timed(run, args.runs)
        results[name] = {
            "orders_per_s": n / median,
            "median_s": median,
            "runs_s": seconds,
            "fills": fills,
        }
        if not args.json:
            print(
                f"{name:<16} {n / median:>12,.0f} orders/s  (median {median:.3f} s of "
                f"{', '.join(f'{s:.3f}' for s in seconds)}; {fills:,} fills)"
            )

    m = min(args.mechanism_sessions, n // args.session)
    chunks = [orders[i * args.session : (i + 1) * args.session] for i in range(m)]
    for mechanism in ("cda", "ncda", "ocda"):
        clear(mechanism, chunks[0], {}, feeder=feeder)  # builds the caches (distances, OPF)

        def run(mechanism: str = mechanism) -> int:
            return sum(len(clear(mechanism, c, {}, feeder=feeder).trades) for c in chunks)

        median, seconds, fills = timed(run, args.runs)
        key = f"mechanism {mechanism}"
        results[key] = {
            "sessions": m,
            "session_orders": args.session,
            "median_s": median,
            "sessions_per_s": m / median,
            "runs_s": seconds,
            "trades": fills,
        }
        if not args.json:
            print(
                f"{key:<16} {m} sessions of {args.session} orders in {median:.2f} s "
                f"({m / median:,.0f} sessions/s; runs {', '.join(f'{s:.2f}' for s in seconds)})"
            )

    load = os.getloadavg()
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    if args.json:
        print(json.dumps({"machine": machine, "load": load, "orders": n, "results": results}))
    else:
        print(f"{machine}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
