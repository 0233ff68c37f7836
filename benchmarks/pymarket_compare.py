"""peergrid's DAM and DPDA side by side with pymarket's Huang and MUDA double auctions.

    python benchmarks/pymarket_compare.py [--repeat 5] [--sizes 55,1000,5000]

pymarket 0.7.6 needs numpy < 2 and pandas < 2, which peergrid's environment cannot hold, so it
runs in its own virtual environment (`.venv-pymarket`, created and filled from PyPI on first
use) on the same order books, written to a temporary JSON file. Timed: the clearing call only
(peergrid: `clear_mcafee` / `clear_dpda` on the orders; pymarket: `Market.run`, after the bids
are accepted). Huang's mechanism is a trade-reduction double auction like McAfee's, so the
DAM/Huang ratio is the meaningful one; MUDA splits the market at random and is shown for scale.
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
from pathlib import Path

import numpy as np

from peergrid.core.orders import orders_from_dicts
from peergrid.mechanisms.dpda import clear_dpda
from peergrid.mechanisms.mcafee import clear_mcafee

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
    parser.add_argument("--sizes", default="55,200,1000")
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
        f"{'book':>8} {'peergrid DAM':>14} {'peergrid DPDA':>14} {'pymarket Huang':>15} "
        f"{'pymarket MUDA':>14} {'Huang/DAM':>10}"
    )
    for name, book in books.items():
        orders = orders_from_dicts(book)
        ours = {}
        traded = {}
        for label, clear in (("dam", clear_mcafee), ("dpda", clear_dpda)):
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                result = clear(orders)
                times.append(time.perf_counter() - start)
            ours[label] = statistics.median(times)
            traded[label] = sum(t.quantity_kwh for t in result.trades)
        huang, muda = theirs[name]["huang"], theirs[name]["muda"]
        # A ratio only where pymarket's Huang clears the book: on large books it returns no
        # transaction at all (seen from about 1000 bids), and timing an empty answer means nothing.
        ratio = (
            f"{huang['seconds'] / ours['dam']:9.1f}x" if huang["traded_kwh"] > 0 else "   no trade"
        )
        print(
            f"{name:>8} {ours['dam'] * 1e3:11.2f} ms {ours['dpda'] * 1e3:11.2f} ms "
            f"{huang['seconds'] * 1e3:12.2f} ms {muda['seconds'] * 1e3:11.2f} ms {ratio}"
        )
        print(
            f"{'':>8} traded kWh: DAM {traded['dam']:.1f}, DPDA {traded['dpda']:.1f}, "
            f"Huang {huang['traded_kwh']:.1f}, MUDA {muda['traded_kwh']:.1f}"
        )


if __name__ == "__main__":
    main()
