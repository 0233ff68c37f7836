"""A region's results: per-feeder figures, the region's totals and its MV check.

Written to the region's folder:

- ``feeders.parquet``: one row per feeder (id, grid, seed, status, error, wall time, its MV
  bus, every figure of its ``summary.json``; ``grid_violations_by_kind`` as JSON text);
- ``import_profile.csv``: per slot, the feeders' aggregate import (kW) and, with the MV check,
  the rest of the MV grid's load and generation, the import from HV and the MV grid's voltages,
  loadings and violations; ``mv_violations.csv``: every MV violation;
- ``region.json``: the region's figures (:func:`region_figures`);
- ``summary.md`` and ``plots/import_profile.png``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from peergrid.sim.region.execute import RegionOutcome
from peergrid.sim.region.spec import Region

SUMS = (
    "households",
    "households_with_pv",
    "consumption_kwh",
    "pv_production_kwh",
    "p2p_traded_kwh",
    "imported_kwh",
    "exported_kwh",
    "community_bill",
    "community_bill_baseline",
    "dso_network_fees",
    "penalties",
    "dso_imbalance",
    "dso_income",
    "grid_violations",
    "slots_with_violations",
)
"""Figures of the feeders that add up to the region's."""
COUNTS = frozenset({"households", "households_with_pv", "grid_violations", "slots_with_violations"})


def feeders_frame(region: Region, outcome: RegionOutcome) -> pd.DataFrame:
    rows = []
    for feeder, record in zip(region.feeders, outcome.records, strict=True):
        row: dict[str, Any] = {
            "feeder_id": feeder.feeder_id,
            "grid": feeder.grid,
            "seed": feeder.scenario.seed,
            "status": record["status"],
            "error": record["error"],
            "elapsed_s": record["elapsed_s"],
            "mv_bus": outcome.mv_connections.get(feeder.feeder_id),
        }
        for key, value in (record["summary"] or {}).items():
            row[key] = json.dumps(value, sort_keys=True) if isinstance(value, dict) else value
        rows.append(row)
    return pd.DataFrame(rows)


def import_profile(region: Region, outcome: RegionOutcome) -> pd.DataFrame:
    """Per slot, the aggregate import of the feeders that finished, with the MV check's rows."""
    ok = [r["import_kw"] for r in outcome.records if r["status"] == "ok"]
    time_ = region.feeders[0].scenario.time
    n_slots = time_.days * 24 * 60 // time_.slot_minutes
    total = np.sum(np.array(ok, dtype=float), axis=0) if ok else np.full(n_slots, np.nan)
    start = dt.datetime.combine(time_.start, dt.time())
    frame = pd.DataFrame(
        {
            "slot": range(n_slots),
            "time": [
                (start + dt.timedelta(minutes=time_.slot_minutes * k)).isoformat(timespec="minutes")
                for k in range(n_slots)
            ],
            "feeders_import_kw": total,
        }
    )
    if outcome.mv_slots is not None:
        frame = frame.merge(
            outcome.mv_slots.drop(columns=["time", "feeders_import_kw"]), on="slot", how="left"
        )
    return frame


def region_figures(
    region: Region, frame: pd.DataFrame, profile: pd.DataFrame, outcome: RegionOutcome
) -> dict[str, Any]:
    """The region's figures: sums over the feeders that finished, violations by feeder, the
    aggregate import's peak, and the MV check's."""
    ok = frame[frame["status"] == "ok"]
    figures: dict[str, Any] = {
        "region": region.name,
        "feeders": len(frame),
        "feeders_ok": len(ok),
        "feeders_failed": len(frame) - len(ok),
        "days": region.feeders[0].scenario.time.days,
        "mechanism": region.base.market.mechanism,
    }
    for key in SUMS:
        total = _number(ok[key].sum()) if key in ok else None
        figures[key] = int(total) if total is not None and key in COUNTS else total
    consumption = figures.get("consumption_kwh") or 0.0
    if consumption:
        figures["self_sufficiency"] = 1.0 - figures["imported_kwh"] / consumption
    violations = ok.set_index("feeder_id")["grid_violations"] if len(ok) else pd.Series()
    figures["violations_by_feeder"] = {k: int(v) for k, v in violations.items() if v}
    figures["feeders_with_violations"] = int((violations > 0).sum())
    figures["peak_feeders_import_kw"] = _number(profile["feeders_import_kw"].max())
    figures["peak_feeders_export_kw"] = _number(-profile["feeders_import_kw"].min())
    figures["mv_grid"] = region.spec.mv.grid
    figures["mv_checked"] = outcome.mv_slots is not None
    figures["mv_skipped"] = outcome.mv_skipped
    if outcome.mv_slots is not None:
        mv = outcome.mv_slots
        kinds: dict[str, int] = {}
        for v in outcome.mv_violations:
            kinds[v["kind"]] = kinds.get(v["kind"], 0) + 1
        figures |= {
            "mv_violations": len(outcome.mv_violations),
            "mv_violations_by_kind": kinds,
            "mv_slots_with_violations": int((mv["violations"] > 0).sum()),
            "mv_not_converged": int((~mv["converged"]).sum()),
            "mv_v_min_pu": _number(mv["v_min_pu"].min()),
            "mv_v_max_pu": _number(mv["v_max_pu"].max()),
            "mv_max_line_loading_pct": _number(mv["max_line_loading_pct"].max()),
            "mv_max_trafo_loading_pct": _number(mv["max_trafo_loading_pct"].max()),
            "peak_hv_import_kw": _number(mv["hv_import_kw"].max()),
            "peak_hv_export_kw": _number(-mv["hv_import_kw"].min()),
        }
    return figures


def _number(value: Any) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def write_region(
    region: Region, outcome: RegionOutcome, directory: Path, *, wall_s: float | None = None
) -> dict[str, Path]:
    frame = feeders_frame(region, outcome)
    profile = import_profile(region, outcome)
    figures = region_figures(region, frame, profile, outcome)
    if wall_s is not None:
        figures["wall_s"] = wall_s
    paths = {
        "feeders": directory / "feeders.parquet",
        "import_profile": directory / "import_profile.csv",
        "region": directory / "region.json",
    }
    frame.to_parquet(paths["feeders"], index=False)
    profile.to_csv(paths["import_profile"], index=False)
    paths["region"].write_text(json.dumps(figures, indent=2, allow_nan=False), encoding="utf-8")
    if outcome.mv_slots is not None:
        paths["mv_violations"] = directory / "mv_violations.csv"
        pd.DataFrame(
            outcome.mv_violations, columns=["slot", "kind", "element", "value", "limit"]
        ).to_csv(paths["mv_violations"], index=False)
    paths["plot"] = _plot(profile, directory / "plots" / "import_profile.png")
    paths["summary"] = directory / "summary.md"
    paths["summary"].write_text(_markdown(region, frame, figures), encoding="utf-8")
    return paths


def _plot(profile: pd.DataFrame, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 4))
    times = pd.to_datetime(profile["time"])
    ax.plot(times, profile["feeders_import_kw"], label="the region's feeders (sum)")
    if "hv_import_kw" in profile:
        ax.plot(times, profile["hv_import_kw"], label="HV/MV transformers (MV power flow)")
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.set_ylabel("import, kW (negative: export)")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _markdown(region: Region, frame: pd.DataFrame, f: dict[str, Any]) -> str:
    cur = region.base.tariffs.currency
    lines = [
        f"# Region {region.name}",
        "",
        f"{f['feeders']} feeders ({f['feeders_ok']} ok, {f['feeders_failed']} failed), "
        f"{f['days']} day(s), {f['mechanism']} on every feeder.",
        "",
        "| figure | value |",
        "|---|---|",
    ]

    def row(label: str, value: str) -> None:
        lines.append(f"| {label} | {value} |")

    def num(key: str, fmt: str) -> str:
        value = f.get(key)
        return "-" if value is None else fmt.format(value)

    row("households", num("households", "{:.0f}"))
    row(
        "consumption / PV, kWh",
        f"{num('consumption_kwh', '{:,.1f}')} / {num('pv_production_kwh', '{:,.1f}')}",
    )
    row("P2P energy metered, kWh", num("p2p_traded_kwh", "{:,.1f}"))
    row("self-sufficiency", num("self_sufficiency", "{:.1%}"))
    row(
        f"bills (no market), {cur}",
        f"{num('community_bill', '{:,.2f}')} ({num('community_bill_baseline', '{:,.2f}')})",
    )
    row(
        f"DSO income: fees + penalties + true-ups, {cur}",
        f"{num('dso_network_fees', '{:.3f}')} + {num('penalties', '{:.3f}')} + "
        f"{num('dso_imbalance', '{:.3f}')} = {num('dso_income', '{:.3f}')}",
    )
    row(
        "LV violations (feeders with any)",
        f"{num('grid_violations', '{:.0f}')} ({f['feeders_with_violations']})",
    )
    row(
        "peak aggregate import / export, kW",
        f"{num('peak_feeders_import_kw', '{:,.1f}')} / {num('peak_feeders_export_kw', '{:,.1f}')}",
    )
    if f["mv_checked"]:
        row("MV grid", str(f["mv_grid"]))
        row(
            "MV violations (slots)",
            f"{f['mv_violations']} ({f['mv_slots_with_violations']}) "
            + (", ".join(f"{k} {v}" for k, v in f["mv_violations_by_kind"].items()) or ""),
        )
        row(
            "MV voltage range, p.u.",
            f"{num('mv_v_min_pu', '{:.4f}')}-{num('mv_v_max_pu', '{:.4f}')}",
        )
        row(
            "MV max line / trafo loading, %",
            f"{num('mv_max_line_loading_pct', '{:.1f}')} / "
            f"{num('mv_max_trafo_loading_pct', '{:.1f}')}",
        )
        row(
            "peak import / export from HV, kW",
            f"{num('peak_hv_import_kw', '{:,.1f}')} / {num('peak_hv_export_kw', '{:,.1f}')}",
        )
    elif f["mv_grid"]:
        row("MV check", f"not run: {f['mv_skipped']}")
    lines += ["", "## Feeders", ""]
    header = [
        "feeder",
        "grid",
        "households",
        "status",
        "self-suff.",
        f"bill, {cur}",
        f"DSO income, {cur}",
        "violations",
        "MV bus",
    ]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for r in frame.to_dict("records"):
        ok = r["status"] == "ok"
        cells = [
            f"`{r['feeder_id']}`",
            r["grid"],
            f"{r['households']:.0f}" if ok else "",
            r["status"] if ok else f"failed: {r['error']}",
            f"{r['self_sufficiency']:.1%}" if ok else "",
            f"{r['community_bill']:.2f}" if ok else "",
            f"{r['dso_income']:.3f}" if ok else "",
            f"{r['grid_violations']:.0f}" if ok else "",
            "" if r["mv_bus"] is None or pd.isna(r["mv_bus"]) else f"{r['mv_bus']:.0f}",
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    lines += ["", "![import profile](plots/import_profile.png)"]
    return "\n".join(lines) + "\n"
