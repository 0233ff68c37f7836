"""Sweep the share of households with PV and see how much the market adds to
self-sufficiency.

    python examples/sweep_pv_share.py --shares 0.2 0.5 0.8 --out-file pv-share.png

For each share, one run (ledger off); prints self-sufficiency with and without the market and
the P2P energy, and plots both curves.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

import peergrid


def sweep(shares: list[float], households: int, days: int) -> pd.DataFrame:
    base = peergrid.Scenario().replace(
        households={"count": households}, time={"days": days}, ledger={"enabled": False}
    )
    rows = []
    for share in shares:
        s = peergrid.run(base.replace(households={"pv_share": share})).summary
        rows.append(
            {
                "pv_share": share,
                "self_sufficiency": s.self_sufficiency,
                "self_sufficiency_without_market": s.self_sufficiency_baseline,
                "p2p_kwh": s.p2p_traded_kwh,
            }
        )
    return pd.DataFrame(rows).set_index("pv_share")


def plot(frame: pd.DataFrame, path: Path) -> Path:
    ax = frame[["self_sufficiency", "self_sufficiency_without_market"]].plot(
        marker="o", figsize=(6, 4)
    )
    ax.set_xlabel("share of households with PV")
    ax.set_ylabel("self-sufficiency")
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=100)
    plt.close(ax.figure)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shares", type=float, nargs="+", default=[0.1, 0.3, 0.5, 0.7, 0.9])
    parser.add_argument("--households", type=int, default=30)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--out-file", type=Path, default=Path("pv-share.png"))
    args = parser.parse_args(argv)
    frame = sweep(args.shares, args.households, args.days)
    print(frame.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"plot: {plot(frame, args.out_file)}")


if __name__ == "__main__":
    main()
