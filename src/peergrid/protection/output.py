"""What a fault case writes: the sampled currents with the relay's quantities (CSV), the
figures (JSON) and a plot of the currents and the trip (PNG).

The CSV is thinned to at most :data:`MAX_ROWS` rows around the fault (every sample of the
first milliseconds after inception is kept) so that a 1 µs case stays a small file; the JSON's
figures come from every sample.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from peergrid.protection.case import CaseResult

MAX_ROWS = 20_000
DENSE_MS = 5.0
"""Every sample of the first milliseconds after inception goes to the CSV."""

CSV_COLUMNS = (
    "t_ms",
    "i1_a",
    "i2_a",
    "fault_a",
    "main_i1_a",
    "main_i2_a",
    "s1",
    "s2",
    "s_t",
    "alpha_a_per_s",
    "alpha_min_a_per_s",
    "trip_rule",
)


def csv_rows(result: CaseResult) -> np.ndarray:
    """The rows written (indices of samples)."""
    t = result.record.t_s
    n = len(t)
    if n <= MAX_ROWS:
        return np.arange(n)
    fault = result.record.fault_time_s
    dense = np.flatnonzero((t >= fault - 1e-3) & (t <= fault + DENSE_MS * 1e-3))
    step = max(1, n // (MAX_ROWS // 2))
    return np.union1d(np.arange(0, n, step), dense[: MAX_ROWS // 2])


def write_currents_csv(result: CaseResult, path: Path) -> Path:
    r, d = result.record, result.decision
    trace = d.ledger_trace if d.source is not None and d.source.value == "ledger" else d.main_trace
    rows = csv_rows(result)
    columns = [
        r.t_s * 1e3,
        r.i1_a,
        r.i2_a,
        r.fault_current_a,
        result.main.values_ua[0] * 1e-6,
        result.main.values_ua[1] * 1e-6,
        trace.s1,
        trace.s2,
        trace.s_t,
        trace.alpha,
        trace.alpha_min,
        trace.trip.astype(np.int64),
    ]
    table = np.column_stack([np.asarray(c, dtype=np.float64)[rows] for c in columns])
    formats = [
        "%.6f",
        "%.6f",
        "%.6f",
        "%.6f",
        "%.6f",
        "%.6f",
        "%d",
        "%d",
        "%d",
        "%.6g",
        "%.6g",
        "%d",
    ]
    np.savetxt(path, table, delimiter=",", header=",".join(CSV_COLUMNS), comments="", fmt=formats)
    return path


def case_figure(result: CaseResult, title: str) -> Figure:
    """One case's plot (:func:`draw_case`)."""
    fig = Figure(figsize=(7.5, 4.2))
    draw_case(fig.subplots(), result, title)
    return fig


def draw_case(ax: Any, result: CaseResult, title: str) -> None:
    """Both line-end currents and the fault current around inception, with the detection and
    the trip marked (and the main channel's values where an attack changed them)."""
    r, d = result.record, result.decision
    t_ms = (r.t_s - r.fault_time_s) * 1e3
    shown = (t_ms >= -1.0) & (t_ms <= 10.0)
    ax.plot(t_ms[shown], r.i1_a[shown], label="i1 (bus 1, into the line)")
    ax.plot(t_ms[shown], r.i2_a[shown], label="i2 (bus 2, into the line)")
    ax.plot(t_ms[shown], r.fault_current_a[shown], label="fault current i1 + i2", color="black")
    tampered = (result.main.values_ua != np.rint(np.vstack([r.i1_a, r.i2_a]) * 1e6)).any(axis=0)
    if (tampered & shown).any():
        ax.plot(
            t_ms[shown],
            result.main.values_ua[0][shown] * 1e-6,
            ":",
            label="i1 as the main channel delivered it",
        )
    for at_s, style, label in (
        (d.detect_s, "--", "detection"),
        (d.trip_s, "-", "trip sent to both breakers"),
    ):
        if at_s is not None:
            ax.axvline((at_s - r.fault_time_s) * 1e3, linestyle=style, color="red", label=label)
    ax.set_xlabel("time from fault inception (ms)")
    ax.set_ylabel("current (A)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")


def write_case(
    result: CaseResult, folder: Path, *, stem: str = "", title: str = ""
) -> dict[str, Path]:
    """Write ``{stem}currents.csv``, ``{stem}summary.json`` and ``{stem}currents.png``."""
    paths = {
        "currents": write_currents_csv(result, folder / f"{stem}currents.csv"),
        "summary": folder / f"{stem}summary.json",
        "plot": folder / f"{stem}currents.png",
    }
    paths["summary"].write_text(
        json.dumps(result.summary(), indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    figure = case_figure(result, title or _title(result))
    figure.savefig(paths["plot"], dpi=110, bbox_inches="tight")
    return paths


def _title(result: CaseResult) -> str:
    f = result.config.fault
    attack = result.config.attack.kind.value
    where = f"{f.kind.value} fault, {f.resistance_ohm:g} Ω at {f.location:.0%} of the line"
    return where + ("" if attack == "none" else f", {attack} attack on the main channel")
