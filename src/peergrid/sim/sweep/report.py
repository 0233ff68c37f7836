"""A sweep's comparison report: ``summary.md`` (every run's axis values and headline figures,
the failed runs with their errors) and PNG plots of the headline figures against one axis.

The plots' x axis is the first axis with several numeric values (else the first with several
values, as categories); one line per value of the next axis with several values (e.g. one per
mechanism); every other axis, and the seeds, averaged (the caption says so). Failed runs are
left out of the plots.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from peergrid.sim.sweep.spec import AXIS_ALIASES, Sweep

PLOTS_FOLDER = "plots"
REPORT_FILE = "summary.md"
PLOTTED = (
    ("self_sufficiency", "self_sufficiency_baseline", "self-sufficiency"),
    ("community_bill", "community_bill_baseline", "community bill"),
    ("p2p_traded_kwh", None, "P2P energy metered, kWh"),
    ("dso_income", None, "DSO income"),
)
"""figure, its no-market baseline (drawn dashed), the y label."""
TABLE_FIGURES = (
    ("self_sufficiency", "self-suff.", "{:.1%}"),
    ("community_bill", "bill", "{:.2f}"),
    ("community_bill_baseline", "bill w/o market", "{:.2f}"),
    ("p2p_traded_kwh", "P2P kWh", "{:.1f}"),
    ("dso_income", "DSO income", "{:.3f}"),
    ("grid_violations", "violations", "{:.0f}"),
)
_SHORT = {path: alias for alias, path in AXIS_ALIASES.items()}


def short_name(axis: str) -> str:
    """An axis path's short name where it has one (``households.pv_share`` -> ``pv_share``)."""
    return _SHORT.get(axis, axis)


def write_report(
    sweep: Sweep, frame: pd.DataFrame, directory: Path, *, wall_s: float | None = None
) -> dict[str, Path]:
    """``summary.md`` and the plots; returns their paths by name."""
    paths: dict[str, Path] = {}
    ok = frame[frame["status"] == "ok"]
    x, hue = _plot_axes(sweep, ok)
    if x is not None and len(ok):
        paths.update(_plots(ok, x, hue, directory / PLOTS_FOLDER))
    paths["summary"] = directory / REPORT_FILE
    paths["summary"].write_text(_markdown(sweep, frame, paths, x, hue, wall_s), encoding="utf-8")
    return paths


def _plot_axes(sweep: Sweep, ok: pd.DataFrame) -> tuple[str | None, str | None]:
    varied = [a for a in sweep.axes if a != "seed" and a in ok and _distinct(ok[a]) > 1]
    numeric = [a for a in varied if _numeric(ok[a])]
    x = numeric[0] if numeric else (varied[0] if varied else None)
    others = [a for a in varied if a != x]
    return x, (others[0] if others else None)


def _distinct(column: pd.Series) -> int:
    # An axis of tables or lists (market.params) is not plotted against: it has no order.
    try:
        return int(column.nunique())
    except TypeError:
        return 0


def _numeric(column: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column))


def _plots(ok: pd.DataFrame, x: str, hue: str | None, folder: Path) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    groups = [(None, ok)] if hue is None else list(ok.groupby(hue, sort=False))
    for figure, baseline, label in PLOTTED:
        if figure not in ok or ok[figure].isna().all():
            continue
        fig, ax = plt.subplots(figsize=(6, 4))
        for key, group in groups:
            columns = [figure] + ([baseline] if baseline else [])
            means = group.groupby(x, sort=True)[columns].mean(numeric_only=True)
            positions = means.index if _numeric(ok[x]) else [str(v) for v in means.index]
            name = f"{short_name(hue)} = {key}" if hue is not None else "market"
            (line,) = ax.plot(positions, means[figure], marker="o", label=name)
            if baseline:
                ax.plot(
                    positions,
                    means[baseline],
                    linestyle="--",
                    color=line.get_color(),
                    label=f"{name}, no market" if hue is not None else "no market",
                )
        ax.set_xlabel(short_name(x))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
        fig.tight_layout()
        path = folder / f"{figure}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths[figure] = path
    return paths


def _markdown(
    sweep: Sweep,
    frame: pd.DataFrame,
    paths: dict[str, Path],
    x: str | None,
    hue: str | None,
    wall_s: float | None,
) -> str:
    n_ok = int((frame["status"] == "ok").sum())
    n_failed = len(frame) - n_ok
    lines = [
        f"# Sweep {sweep.name}",
        "",
        f"Base scenario `{sweep.spec.base}`, {sweep.spec.mode} of "
        + ", ".join(f"`{short_name(a)}`" for a in sweep.axes)
        + f": {len(frame)} runs, {n_ok} ok, {n_failed} failed"
        + (f"; wall time {wall_s:.1f} s." if wall_s is not None else "."),
        "",
        "Every run's results are in `runs/<run>/` (what `peergrid run` writes); every figure of "
        "every run is in `runs.parquet`.",
        "",
    ]
    header = ["run", *(short_name(a) for a in sweep.axes), "status"]
    header += [title for _, title, _ in TABLE_FIGURES]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for values in frame.to_dict("records"):
        cells = [f"`{values['run_id']}`", *(_cell(values[a]) for a in sweep.axes)]
        cells.append(str(values["status"]))
        for figure, _, fmt in TABLE_FIGURES:
            value = values.get(figure)
            cells.append("" if value is None or pd.isna(value) else fmt.format(value))
        lines.append("| " + " | ".join(cells) + " |")
    failed = frame[frame["status"] != "ok"]
    if len(failed):
        lines += ["", "## Failed runs", ""]
        for _, row in failed.iterrows():
            lines.append(f"- `{row['run_id']}`: {row['error']}")
    plots = [(name, path) for name, path in paths.items() if path.suffix == ".png"]
    if plots and x is not None:
        averaged = [short_name(a) for a in sweep.axes if a not in (x, hue)]
        note = f" (mean over {', '.join(averaged)})" if averaged else ""
        by = f", one line per {short_name(hue)}" if hue else ""
        lines += [
            "",
            "## Plots",
            "",
            f"Against `{short_name(x)}`{by}{note}; dashed: no market.",
            "",
        ]
        for name, path in plots:
            lines.append(f"![{name}]({PLOTS_FOLDER}/{path.name})")
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    return "" if value is None else str(value)
