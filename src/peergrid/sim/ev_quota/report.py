"""The report's block on an EV quota day: satisfaction per EV, the margin, demand and quota
prices per period, the transformer's loading per period (with quotas and without), and the
periods as a table."""

from __future__ import annotations

import html
from collections.abc import Callable

import pandas as pd
from matplotlib.figure import Figure

from peergrid.sim.ev_quota.day import CURRENCY, EvQuotaDay


def satisfaction_figure(evs: pd.DataFrame) -> Figure | None:
    """Each EV's satisfaction (delivered / needed), lowest first; the baseline's as dots."""
    if evs.empty:
        return None
    e = evs.sort_values(["satisfaction", "ev"]).reset_index(drop=True)
    fig = Figure(figsize=(10, 3.8))
    ax = fig.subplots()
    ax.bar(range(len(e)), e["satisfaction"], color="tab:blue", label="with quota trading")
    if "baseline_satisfaction" in e:
        ax.plot(range(len(e)), e["baseline_satisfaction"], "k.", label="without quotas (baseline)")
    ax.set_xticks(range(len(e)), e["ev"], rotation=90, fontsize=6)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("delivered / needed")
    ax.legend(loc="lower right", fontsize=8)
    fig.suptitle("Satisfaction per EV")
    return fig


def periods_figure(periods: pd.DataFrame, limit_pct: float) -> Figure:
    """Per period: margin, demand and charging (kW); quota prices; transformer loading."""
    p = periods
    x = pd.to_datetime(p["time"])
    fig = Figure(figsize=(10, 8.5))
    power, prices, loading = fig.subplots(3, 1, sharex=True)
    power.step(x, p["capacity_margin_kw"], where="post", label="capacity margin", color="k")
    power.step(x, p["total_demand_kw"], where="post", label="EVs' demand", color="tab:red")
    power.step(x, p["charging_kw"], where="post", label="charged (final quotas)", color="tab:blue")
    if "baseline_charging_kw" in p:
        power.step(
            x, p["baseline_charging_kw"], where="post", ls="--", color="tab:gray",
            label="charged without quotas",
        )  # fmt: skip
    power.set_ylabel("kW")
    power.legend(fontsize=8, loc="upper right")
    prices.fill_between(
        x, p["price_min"], p["price_max"], step="post", alpha=0.3, label="lowest–highest trade"
    )
    prices.step(x, p["price_mean"], where="post", label="mean (kW-weighted)")
    prices.step(x, p["tariff_per_kwh"] / 10, where="post", ls=":", color="tab:green",
                label="tariff / 10")  # fmt: skip
    prices.set_ylabel(f"{CURRENCY}s per kWh")
    prices.legend(fontsize=8, loc="upper right")
    loading.step(x, p["trafo_loading_pct"], where="post", label="with quota trading")
    if "baseline_trafo_loading_pct" in p:
        loading.step(
            x, p["baseline_trafo_loading_pct"], where="post", ls="--", color="tab:gray",
            label="without quotas",
        )  # fmt: skip
    loading.axhline(limit_pct, color="tab:red", lw=1, label="limit")
    loading.set_ylabel("transformer loading (%)")
    loading.legend(fontsize=8, loc="upper right")
    fig.autofmt_xdate()
    fig.suptitle("Margin, demand, quota prices and transformer loading per period")
    return fig


TABLE_COLUMNS = {
    "time": "period",
    "capacity_margin_kw": "margin kW",
    "total_demand_kw": "demand kW",
    "beta": "β",
    "bids": "bids",
    "offers": "offers",
    "trades": "trades",
    "price_min": "lowest price",
    "price_mean": "mean price",
    "price_max": "highest price",
    "charging_kw": "charged kW",
    "trafo_loading_pct": "loading %",
    "baseline_trafo_loading_pct": "loading % without quotas",
    "violations": "limits broken",
}


def periods_table_html(periods: pd.DataFrame) -> str:
    """The periods with EVs asking for quota, as an HTML table."""
    rows = periods[periods["evs_asking"] > 0]
    if rows.empty:
        return "<p>No EV asked for quota.</p>"
    columns = {k: v for k, v in TABLE_COLUMNS.items() if k in rows}
    head = "".join(f"<th>{html.escape(label)}</th>" for label in columns.values())
    body = []
    for record in rows[list(columns)].to_dict("records"):
        cells = "".join(f"<td>{html.escape(_cell(v))}</td>" for v in record.values())
        body.append(f"<tr>{cells}</tr>")
    return f"<table class='ev-quota'><tr>{head}</tr>{''.join(body)}</table>"


def block_html(day: EvQuotaDay, png: Callable[[Figure], str]) -> str:
    """The block: the figures (drawn to PNG by ``png``, the report's) and the table."""
    figures = [
        ("Satisfaction per EV", satisfaction_figure(day.evs)),
        (
            "Quota prices and transformer loading per period",
            periods_figure(day.periods, day.limit_pct),
        ),
    ]
    images = "".join(
        f"<h3>{html.escape(title)}</h3><img alt='{html.escape(title)}' "
        f"src='data:image/png;base64,{png(figure)}'>"
        for title, figure in figures
        if figure is not None
    )
    return (
        "<h2>EV charging under quota trading</h2>"
        "<p>Each half-hour period's quotas are allocated and traded during the period before "
        "(001b_book.md ch. 9): the DSO's capacity margin from the base-case power flow, the EVs' "
        "demands pre-allocated at the satisfaction rate β and, when short, traded in the quota "
        f"double auction; money in {CURRENCY}s (0.01 CNY). Every period is then checked by an AC "
        "power flow with the EVs' charging added.</p>"
        f"{images}<h3>Periods with demand</h3>{periods_table_html(day.periods)}"
    )


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)
