"""Compare the clearing mechanisms on one feeder: the same households and day under each, and
every household's bill against the no-market baseline.

    python examples/compare_mechanisms.py --households 20 --out-file bills.png

Prints one line per mechanism (self-sufficiency, P2P energy, the community's bill, the DSO's
income) and plots each household's bill change per mechanism.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # a script writes a picture; it opens no window
import matplotlib.pyplot as plt
import pandas as pd

import peergrid


def compare(households: int, days: int) -> pd.DataFrame:
    """One row per mechanism with the run's headline figures; the bills per household in
    ``frame.attrs["bills"]``."""
    base = peergrid.Scenario().replace(
        households={"count": households}, time={"days": days}, ledger={"enabled": False}
    )
    rows, bills = [], {}
    for mechanism in peergrid.mechanisms():
        if (
            not mechanism.energy_market
        ):  # a service market or the EV quota auction: no day of its own
            continue
        result = peergrid.run(base.replace(market={"mechanism": mechanism.name}))
        s = result.summary
        rows.append(
            {
                "mechanism": mechanism.name,
                "self_sufficiency": s.self_sufficiency,
                "p2p_kwh": s.p2p_traded_kwh,
                "community_bill": s.community_bill,
                "baseline_bill": s.community_bill_baseline,
                "dso_income": s.dso_income,
            }
        )
        bills[mechanism.name] = result.households.set_index("household")["bill_change"]
    frame = pd.DataFrame(rows).set_index("mechanism")
    frame.attrs["bills"] = pd.DataFrame(bills)
    return frame


def plot(bills: pd.DataFrame, path: Path) -> Path:
    ax = bills.plot.bar(figsize=(10, 4), width=0.8)
    ax.set_ylabel("bill change against no market (EUR)")
    ax.set_xlabel("household")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=100)
    plt.close(ax.figure)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=20)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--out-file", type=Path, default=Path("bills-by-mechanism.png"))
    args = parser.parse_args(argv)
    frame = compare(args.households, args.days)
    print(frame.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"plot: {plot(frame.attrs['bills'], args.out_file)}")


if __name__ == "__main__":
    main()
