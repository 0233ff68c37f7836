"""A self-contained HTML report of a market run: the headline in words and units, an
interactive chart (:mod:`peergrid.sim.report_interactive`), then static plots for print
(matplotlib, images inlined), the ancillary-service sessions when the run has them
(:mod:`peergrid.sim.ancillary.report`) and every summary figure. A run of the sessions alone
(no energy market) has only the headline, the sessions and the figures.

Up to :data:`MAX_POINTS` slots are drawn one by one. A longer run (a year is 35 040 slots, each a
bar that matplotlib draws as its own patch, minutes of drawing) is drawn in bins of consecutive
slots, whole hours or days (:func:`_binned`): energies and prices are the bin's mean per slot,
the voltage envelope and loadings its extremes, cumulative sums its last value.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib.dates as mdates
import pandas as pd

# Figures are drawn on matplotlib's object API with no pyplot state: no backend is chosen and
# nothing global changes when this module is imported or a report is written.
from matplotlib.figure import Figure

from peergrid.sim.ancillary.report import sessions_figure, sessions_table_html
from peergrid.sim.ev_quota.report import block_html as ev_quota_block_html
from peergrid.sim.report_interactive import (
    HEADLINE_CSS,
    feeder_picture,
    headline_html,
    interactive_chart,
    plotly_script,
)
from peergrid.sim.services.report import block_html as services_block_html

if TYPE_CHECKING:
    from peergrid.sim.runner import RunResult


def _subplots(*grid: int, figsize: tuple[float, float], **options: Any) -> tuple[Figure, Any]:
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*grid, **options)


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode()


MAX_POINTS = 14 * 96  # two weeks of 15-minute slots
BIN_MINUTES = (60, 120, 180, 240, 360, 480, 720, 1440, 2 * 1440, 7 * 1440)
_MEAN = (
    "clearing_price",
    "p2p_kwh",
    "demand_kwh",
    "supply_kwh",
    "import_kwh",
    "export_kwh",
)
_MIN = ("v_min_pu",)
_MAX = ("v_max_pu", "max_line_loading_pct", "max_trafo_loading_pct")
_LAST = ("fees_cumulative", "penalties_cumulative", "income_cumulative")


def _times(slots: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(slots["time"])


def _plotted(slots: pd.DataFrame, slot_minutes: int) -> tuple[pd.DataFrame, str]:
    """The slot columns the figures draw, with the DSO's cumulative income; binned when the
    run is longer than :data:`MAX_POINTS` slots. Returns the frame and the span of a point
    ("" when a point is a slot)."""
    s = slots[["time", *_MEAN, *_MIN, *_MAX]].copy()
    s["clearing_price"] = s["clearing_price"].astype(float)
    for column in (*_MIN, *_MAX):
        s[column] = s[column].astype(float)
    s["fees_cumulative"] = slots["network_fees"].cumsum()
    s["penalties_cumulative"] = s["fees_cumulative"] + slots["penalties"].cumsum()
    s["income_cumulative"] = s["penalties_cumulative"] + slots["dso_imbalance"].cumsum()
    return _binned(s, slot_minutes)


def _binned(s: pd.DataFrame, slot_minutes: int) -> tuple[pd.DataFrame, str]:
    if len(s) <= MAX_POINTS:
        return s, ""
    least = -(-len(s) // MAX_POINTS) * slot_minutes
    # Whole hours or days, so that the points (slot 0 starts at midnight) fall on the calendar.
    minutes = next((m for m in BIN_MINUTES if m >= least and m % slot_minutes == 0), least)
    per_point = minutes // slot_minutes
    groups = s.groupby(pd.RangeIndex(len(s)) // per_point)
    binned = pd.concat(
        [
            groups["time"].first(),
            groups[list(_MEAN)].mean(),
            groups[list(_MIN)].min(),
            groups[list(_MAX)].max(),
            groups[list(_LAST)].last(),
        ],
        axis=1,
    )
    return binned.reset_index(drop=True), _span(minutes)


def _span(minutes: int) -> str:
    if minutes % 1440 == 0:
        return f"{minutes // 1440} day" + ("s" if minutes > 1440 else "")
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"


def _per(span: str) -> str:
    return f" (mean per slot, one point per {span})" if span else ""


def _prices_volumes(result: RunResult, s: pd.DataFrame, span: str) -> str:
    t = _times(s)
    fig, (ax1, ax2) = _subplots(2, 1, figsize=(10, 6), sharex=True)
    ax1.step(t, s["clearing_price"], where="post", label="P2P clearing price")
    ax1.axhline(result.summary["retail_price"], color="tab:red", ls="--", label="retail")
    ax1.axhline(result.summary["feed_in_price"], color="tab:green", ls="--", label="feed-in")
    ax1.set_ylabel(f"price ({result.summary['currency']}/kWh)")
    ax1.legend(loc="best", fontsize=8)
    if not span:
        width = _bar_width(result)
        ax2.bar(t, s["p2p_kwh"], width=width, label="traded P2P", color="tab:purple")
    else:
        # One polygon, not a patch per bar.
        ax2.fill_between(t, s["p2p_kwh"], step="post", label="traded P2P", color="tab:purple", lw=0)
    ax2.step(t, s["demand_kwh"], where="post", label="bids", color="tab:red", lw=1)
    ax2.step(t, s["supply_kwh"], where="post", label="offers", color="tab:green", lw=1)
    ax2.set_ylabel("energy per slot (kWh)")
    ax2.legend(loc="best", fontsize=8)
    _time_axis(ax2)
    fig.suptitle("Prices and volumes" + _per(span))
    return _png(fig)


def _import_export(s: pd.DataFrame, span: str) -> str:
    t = _times(s)
    fig, ax = _subplots(figsize=(10, 3.5))
    ax.step(t, s["import_kwh"], where="post", label="imported from supplier", color="tab:red")
    ax.step(t, -s["export_kwh"], where="post", label="exported to supplier", color="tab:green")
    ax.step(t, s["p2p_kwh"], where="post", label="traded P2P", color="tab:purple")
    ax.axhline(0, color="black", lw=0.5)
    ax.set_ylabel("kWh per slot")
    ax.legend(loc="best", fontsize=8)
    _time_axis(ax)
    fig.suptitle("Community import and export" + _per(span))
    return _png(fig)


def _voltage(result: RunResult, s: pd.DataFrame, span: str) -> str | None:
    if s["v_min_pu"].isna().all():
        return None
    t = _times(s)
    limits = result.scenario.grid
    fig, (ax1, ax2) = _subplots(2, 1, figsize=(10, 5.5), sharex=True)
    ax1.fill_between(t, s["v_min_pu"], s["v_max_pu"], step="post", alpha=0.4, label="bus voltages")
    ax1.axhline(limits.v_min_pu, color="tab:red", ls="--", lw=1, label="limits")
    ax1.axhline(limits.v_max_pu, color="tab:red", ls="--", lw=1)
    ax1.set_ylabel("voltage (p.u.)")
    ax1.legend(loc="best", fontsize=8)
    ax2.step(t, s["max_line_loading_pct"], where="post", label="highest line loading")
    ax2.step(t, s["max_trafo_loading_pct"], where="post", label="transformer loading")
    ax2.axhline(limits.max_line_loading_pct, color="tab:red", ls="--", lw=1)
    ax2.set_ylabel("loading (%)")
    ax2.legend(loc="best", fontsize=8)
    _time_axis(ax2)
    extremes = f" (extremes, one point per {span})" if span else ""
    fig.suptitle("Voltage envelope and loading (AC power flow)" + extremes)
    return _png(fig)


def _bill_change(result: RunResult) -> str:
    b = result.bills.sort_values("bill_change")
    fig, ax = _subplots(figsize=(10, 4))
    colours = ["tab:green" if v < 0 else "tab:red" for v in b["bill_change"]]
    ax.bar(b["household"], b["bill_change"], color=colours)
    ax.axhline(0, color="black", lw=0.5)
    ax.set_ylabel(f"bill change vs. no market ({result.summary['currency']})")
    ax.tick_params(axis="x", labelrotation=90, labelsize=6)
    fig.suptitle("Bill change per household (negative: saves)")
    return _png(fig)


def _distances_and_fees(result: RunResult, s: pd.DataFrame) -> str | None:
    # Of the trades, only the two columns drawn: a year has hundreds of thousands.
    t = result.tables.trades.frame(["distance_m", "quantity_kwh"])
    if not len(t):
        return None
    fig, (ax1, ax2) = _subplots(1, 2, figsize=(10, 3.5))
    ax1.hist(t["distance_m"], bins=30, weights=t["quantity_kwh"], color="tab:purple")
    ax1.set_xlabel("path length buyer-seller along the feeder (m)")
    ax1.set_ylabel("energy traded (kWh)")
    times = _times(s)
    fees, penalties = s["fees_cumulative"], s["penalties_cumulative"]
    income = s["income_cumulative"]
    ax2.step(times, fees, where="post", color="tab:orange", label="fees")
    ax2.step(times, penalties, where="post", color="tab:red", label="+ penalties")
    ax2.step(times, income, where="post", color="black", label="+ true-ups (income)")
    ax2.legend(fontsize=7)
    ax2.set_ylabel(f"DSO income, cumulative ({result.summary['currency']})")
    _time_axis(ax2)
    fig.suptitle("Trade distances and the DSO's income")
    return _png(fig)


def _bar_width(result: RunResult) -> float:
    return result.scenario.time.slot_minutes / (24 * 60) * 0.9


def _time_axis(ax: Any) -> None:
    low, high = ax.get_xlim()  # days
    # Over more than two weeks the ticks are days apart: the month, not the hour, tells them.
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %H:%M" if high - low <= 14 else "%d %b"))
    ax.figure.autofmt_xdate()


def _energy_sections(result: RunResult, s: pd.DataFrame, span: str) -> str:
    """The energy market's plots."""
    feeder = feeder_picture(result)
    figures = [
        ("The feeder at its worst", _png(feeder) if feeder is not None else None),
        ("Prices and volumes over the day", _prices_volumes(result, s, span)),
        ("Community import and export", _import_export(s, span)),
        ("Voltage envelope", _voltage(result, s, span)),
        ("Bill change per household", _bill_change(result)),
        ("Trade distances and DSO income", _distances_and_fees(result, s)),
    ]
    sections = "".join(
        f"<h2>{html.escape(title)}</h2><img alt='{html.escape(title)}' "
        f"src='data:image/png;base64,{data}'>"
        for title, data in figures
        if data is not None
    )
    if result.summary["grid_checked"] and not sections.count("Voltage"):
        sections += "<p>No power flow converged: no voltage envelope to show.</p>"
    return sections


def _summary_table(summary: dict[str, Any]) -> str:
    rows = []
    for key, value in summary.items():
        if isinstance(value, float):
            text = f"{value:,.4f}"
        elif isinstance(value, dict):
            text = ", ".join(f"{k}: {v}" for k, v in value.items()) or "none"
        else:
            text = str(value)
        rows.append(f"<tr><th>{html.escape(key)}</th><td>{html.escape(text)}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def _ancillary_block(result: RunResult) -> str:
    """Volumes, prices, constraint violations and cost per session (empty without sessions)."""
    if not result.has_sessions:
        return ""
    sessions = result.sessions
    figure = sessions_figure(sessions)
    image = (
        f"<img alt='Ancillary-service sessions' src='data:image/png;base64,{_png(figure)}'>"
        if figure is not None
        else ""
    )
    return (
        "<h2>Ancillary-service sessions</h2>"
        f"<p>Every hour, one session per pool cleared by "
        f"<code>{html.escape(result.scenario.ancillary.mechanism)}</code>; what an ask leaves "
        "unsatisfied goes to external resources at gate closure. A session breaks a grid limit "
        "when its matches, added to the base case, do in an AC power flow.</p>"
        f"{image}{sessions_table_html(sessions, result.summary['currency'])}"
    )


def write_report(result: RunResult, path: Path) -> Path:
    if result.scenario.market.enabled:
        s, span = _plotted(result.slots, result.scenario.time.slot_minutes)
        chart = interactive_chart(result, s, span)
        sections = _energy_sections(result, s, span)
        what = (
            f"{result.summary['households']} households on "
            f"<code>{html.escape(result.summary['feeder'])}</code>, mechanism "
            f"<code>{html.escape(result.summary['mechanism'])}</code>, "
            f"{result.summary['slots']} slots"
        )
    elif result.ev_quota is not None:
        chart = ""
        sections = ev_quota_block_html(result.ev_quota, _png)
        what = (
            f"EV charging under quota trading: {result.summary['ev_quota_evs']} EVs on "
            f"<code>{html.escape(result.summary['feeder'])}</code>, 48 half-hour periods from noon"
        )
    else:
        chart, sections = "", ""
        what = (
            f"Ancillary-service sessions alone (no energy market) on "
            f"<code>{html.escape(result.summary['feeder'])}</code>, "
            f"{result.summary['ancillary_sessions']} sessions"
        )
    sections += _ancillary_block(result)
    sections += services_block_html(result.summary)
    violations = result.tables.violations.frame(["kind"])
    if len(violations):
        counts = violations.groupby("kind").size().to_dict()
        grid_note = ", ".join(f"{k}: {v}" for k, v in counts.items())
    else:
        grid_note = "none" if result.summary["grid_checked"] else "power flow not run"
    if result.has_sessions:
        summary = result.summary
        grid_note += (
            f"; {summary['ancillary_infeasible_sessions']} of "
            f"{summary['ancillary_sessions_checked']} ancillary-service sessions break a limit"
            if summary["ancillary_sessions_checked"]
            else "; ancillary-service sessions not checked"
        )
    scenario = html.escape(result.scenario.to_toml())
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>peergrid report: {html.escape(result.scenario.name)}</title>
{plotly_script()}
<style>{HEADLINE_CSS}
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; }}
table {{ border-collapse: collapse; }}
th, td {{ padding: 2px 10px; border-bottom: 1px solid #ddd; }}
th {{ text-align: left; font-weight: 500; }} img {{ max-width: 100%; }}
pre {{ background: #f6f6f6; padding: 1em; }}
</style></head><body>
<h1>peergrid: {html.escape(result.scenario.name)}</h1>
<p>{what}
from {html.escape(str(result.scenario.time.start))}. Grid violations: {html.escape(grid_note)}.</p>
{headline_html(result)}
{chart}
{sections}
<h2>Every figure</h2>{_summary_table(result.summary)}
<h2>Scenario as it ran</h2><pre>{scenario}</pre>
</body></html>
"""
    path.write_text(page, encoding="utf-8")
    return path
