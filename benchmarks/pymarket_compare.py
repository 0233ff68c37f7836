"""peergrid's DAM and DPDA side by side with pymarket's Huang and MUDA double auctions.

    python benchmarks/pymarket_compare.py [--repeat 5] [--sizes 55,1000,10000]

pymarket 0.7.6 needs numpy < 2 and pandas < 2, which peergrid's environment cannot hold, so it
runs in its own virtual environment (`.venv-pymarket`, created and filled from PyPI on first
use) on the same order books, written to a temporary JSON file. Timed: the clearing call only
(peergrid: `clear_mcafee_arrays` / `clear_dpda_arrays` on the book in arrays, and `clear_mcafee`
on the orders, which builds the `Trade` objects; pymarket: `Market.run`, after the bids are
accepted). Huang's mechanism is a trade-reduction double auction like McAfee's, so the
Huang/DAM ratio is the meaningful one; MUDA splits the market at random and is shown for scale.
Both ratios are against peergrid's DAM on arrays. A ratio is marked "no trade" where pymarket
cleared nothing (Huang from about 1000 bids on these books): it then times an empty answer.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from peergrid.core.orders import orders_from_dicts
from peergrid.mechanisms.arrays import OrderArrays
from peergrid.mechanisms.dpda import clear_dpda_arrays
from peergrid.mechanisms.mcafee import clear_mcafee, clear_mcafee_arrays

ROOT = Path(__file__).resolve().parents[1]
PYMARKET_VENV = ROOT / ".venv-pymarket"
PYMARKET_PINS = ["pymarket==0.7.6", "numpy<2", "pandas<2"]


def pymarket_python() -> Path:
    python = PYMARKET_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PYMARKET_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PYMARKET_PINS], check=True)
    return python


def random_book(n: int, seed: int) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    return [
        {
            "id": str(i),
            "side": "sell" if rng.random() < 0.5 else "buy",
            "price": round(float(0.2023 + rng.normal(0, 0.02)), 4),
            "quantity_kwh": round(float(rng.uniform(15, 80)), 2),
        }
        for i in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sizes", default="55,1000,10000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    books = {f"n={n}": random_book(n, seed=n) for n in sizes}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(books, handle)
    try:
        done = subprocess.run(
            [
                str(pymarket_python()),
                str(ROOT / "benchmarks" / "pymarket_side.py"),
                handle.name,
                str(args.repeat),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(handle.name)
    theirs = json.loads(done.stdout)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; median of {args.repeat}"
    )
    print(
        f"{'book':>8} {'DAM arrays':>12} {'DPDA arrays':>12} {'DAM objects':>12} "
        f"{'pymarket Huang':>15} {'pymarket MUDA':>14} {'Huang/DAM':>19} {'MUDA/DAM':>19}"
    )
    for name, book in books.items():
        orders = orders_from_dicts(book)
        arrays = OrderArrays.from_orders(orders)
        runs: dict[str, Callable[[], object]] = {
            "dam": partial(clear_mcafee_arrays, arrays),
            "dpda": partial(clear_dpda_arrays, arrays),
            "dam objects": partial(clear_mcafee, orders),
        }
        ours = {label: median_seconds(run, args.repeat) for label, run in runs.items()}
        traded = {
            "dam": float(clear_mcafee_arrays(arrays).quantity_kwh.sum()),
            "dpda": float(clear_dpda_arrays(arrays).quantity_kwh.sum()),
        }
        huang, muda = theirs[name]["huang"], theirs[name]["muda"]
        print(
            f"{name:>8} {ours['dam'] * 1e3:9.3f} ms {ours['dpda'] * 1e3:9.3f} ms "
            f"{ours['dam objects'] * 1e3:9.2f} ms {huang['seconds'] * 1e3:12.2f} ms "
            f"{muda['seconds'] * 1e3:11.2f} ms {ratio(huang, ours['dam'])} "
            f"{ratio(muda, ours['dam'])}"
        )
        print(
            f"{'':>8} traded kWh: DAM {traded['dam']:.1f}, DPDA {traded['dpda']:.1f}, "
            f"Huang {huang['traded_kwh']:.1f}, MUDA {muda['traded_kwh']:.1f}"
        )


def median_seconds(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def ratio(theirs: dict[str, float], ours_seconds: float) -> str:
    """pymarket's time over ours, marked where pymarket traded nothing."""
    text = f"{theirs['seconds'] / ours_seconds:9.0f}x"
    return f"{text} (no trade)" if theirs["traded_kwh"] <= 0 else f"{text}{'':>10}"


if __name__ == "__main__":
    main()
