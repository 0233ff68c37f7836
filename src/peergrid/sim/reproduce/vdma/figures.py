"""The reproduction's two figures: Fig. 6–7 of the paper from our runs, and the gas growth.

Drawn on matplotlib's object API (no pyplot state, no backend chosen), as the run report does.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from peergrid.sim.reproduce.vdma.cost import CostStudy

_INDICES = (
    ("feasible_share", "solutions within the limits (share)"),
    ("mean_line_loading_pct", "mean line loading (%)"),
    ("losses_share", "losses / total load"),
    ("mean_v_pu", "mean |V| (p.u.)"),
    ("std_v_pu", "std |V| (p.u.)"),
)


def network_figure(table: pd.DataFrame, path: Path) -> Path:
    """Per mechanism against s: the share of feasible solutions (Fig. 6) and the means of the
    four network indices (Fig. 7a–d)."""
    figure = Figure(figsize=(15, 3.2), layout="constrained")
    axes = figure.subplots(1, len(_INDICES))
    for ax, (column, label) in zip(axes, _INDICES, strict=True):
        for mechanism, rows in table.groupby("mechanism", sort=False):
            ax.plot(rows.s, rows[column], marker="o", label=str(mechanism).upper())
        ax.set_xlabel("s")
        ax.set_title(label, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.savefig(path, dpi=110)
    return path


def gas_figure(cost: CostStudy, path: Path) -> Path:
    """Gas per session against the number of nodes on the random trees (log–log)."""
    growth = cost.growth()
    figure = Figure(figsize=(5.5, 4), layout="constrained")
    ax = figure.subplots()
    for column, label in (
        ("placement_gas_per_session", "shouts (all BRPs)"),
        ("matching_gas_per_session", "matching"),
        ("clearing_gas_per_session", "clearing (matching + session open/close)"),
    ):
        ax.loglog(growth.nodes, growth[column], marker="o", label=label)
    ax.set_xlabel("nodes of the random tree")
    ax.set_ylabel("gas per session")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    figure.savefig(path, dpi=110)
    return path
