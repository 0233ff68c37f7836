"""The report's block on a run's ancillary-service sessions: volumes, prices, constraint
violations and cost per session (shown only when the run has sessions).

A chart per pool of the hour's volumes (matched, unsatisfied, unsold) and the matches' prices
(mean, lowest and highest), the sessions that break a grid limit marked; then the sessions
themselves as a table, one row per session for up to :data:`MAX_TABLE_ROWS` sessions, else one
row per day and pool.
"""

from __future__ import annotations

import html

import pandas as pd
from matplotlib.figure import Figure

MAX_TABLE_ROWS = 96
"""Two days of hourly sessions in both pools; a longer run's table has a row per day and pool."""


def sessions_figure(sessions: pd.DataFrame) -> Figure | None:
    """Volumes and prices per hour, one column of plots per pool; None without sessions."""
    if sessions.empty:
        return None
    pools = list(dict.fromkeys(sessions["pool"]))
    fig = Figure(figsize=(11, 6))
    axes = fig.subplots(2, len(pools), squeeze=False, sharex=True)
    for k, pool in enumerate(pools):
        s = sessions[sessions["pool"] == pool]
        hours = s["hour"].to_numpy()
        volumes, prices = axes[0][k], axes[1][k]
        volumes.step(hours, s["matched_kwh"], where="mid", label="matched")
        volumes.step(hours, s["unsatisfied_kwh"], where="mid", label="unsatisfied (external)")
        volumes.step(hours, s["unsold_kwh"], where="mid", label="unsold")
        bad = s[s["checked"].astype(bool) & ~s["feasible"].fillna(True).astype(bool)]
        if len(bad):
            volumes.plot(
                bad["hour"], bad["matched_kwh"], "rx", label="breaks a grid limit", markersize=8
            )
        volumes.set_title(f"{'AS+ (up)' if pool == 'up' else 'AS− (down)'}")
        volumes.set_ylabel("kWh per session")
        volumes.legend(fontsize="small")
        mean = s["price_mean"].astype(float)
        prices.fill_between(
            hours,
            s["price_min"].astype(float),
            s["price_max"].astype(float),
            alpha=0.3,
            step="mid",
            label="lowest-highest match",
        )
        prices.step(hours, mean, where="mid", label="mean (kWh-weighted)")
        prices.set_ylabel("price per kWh")
        prices.set_xlabel("hour of the run")
        prices.legend(fontsize="small")
    fig.suptitle("Ancillary-service sessions: volumes and prices")
    return fig


def sessions_table_html(sessions: pd.DataFrame, currency: str) -> str:
    """The sessions as an HTML table (per session, or per day and pool for a long run)."""
    if sessions.empty:
        return "<p>No session.</p>"
    frame = sessions.copy()
    if len(frame) > MAX_TABLE_ROWS:
        frame["day"] = frame["hour"] // 24
        value = frame["price_mean"].astype(float).fillna(0.0) * frame["matched_kwh"]
        frame = (
            frame.assign(value=value, infeasible=~frame["feasible"].fillna(True).astype(bool))
            .groupby(["day", "pool"], as_index=False)
            .agg(
                sessions=("hour", "size"),
                asks=("asks", "sum"),
                offers=("offers", "sum"),
                matched_kwh=("matched_kwh", "sum"),
                unsatisfied_kwh=("unsatisfied_kwh", "sum"),
                unsold_kwh=("unsold_kwh", "sum"),
                value=("value", "sum"),
                infeasible=("infeasible", "sum"),
                violations=("violations", "sum"),
                cost_eur=("cost_eur", lambda c: c.astype(float).sum(min_count=1)),
            )
        )
        frame["price_mean"] = frame["value"] / frame["matched_kwh"].where(frame["matched_kwh"] > 0)
        columns = {
            "day": "day",
            "pool": "pool",
            "sessions": "sessions",
            "asks": "asks",
            "offers": "offers",
            "matched_kwh": "matched kWh",
            "unsatisfied_kwh": "unsatisfied kWh",
            "unsold_kwh": "unsold kWh",
            "price_mean": f"mean price {currency}/kWh",
            "infeasible": "sessions breaking limits",
            "violations": "limits broken",
            "cost_eur": "cost €",
        }
    else:
        columns = {
            "time": "hour",
            "pool": "pool",
            "asks": "asks",
            "offers": "offers",
            "matched_kwh": "matched kWh",
            "unsatisfied_kwh": "unsatisfied kWh",
            "unsold_kwh": "unsold kWh",
            "price_mean": f"mean price {currency}/kWh",
            "price_min": "lowest",
            "price_max": "highest",
            "feasible": "within limits",
            "violation_kinds": "limits broken",
            "gas_used": "gas",
            "cost_eur": "cost €",
        }
    head = "".join(f"<th>{html.escape(label)}</th>" for label in columns.values())
    rows = []
    for record in frame[list(columns)].to_dict("records"):
        cells = "".join(f"<td>{html.escape(_cell(value))}</td>" for value in record.values())
        rows.append(f"<tr>{cells}</tr>")
    return f"<table class='sessions'><tr>{head}</tr>{''.join(rows)}</table>"


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)
