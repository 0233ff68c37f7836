"""The report's parts a person reads first or explores: the headline in words and units, an
interactive chart of the run (Plotly, its script inlined once so the page works offline, no CDN)
and the feeder drawn by its worst voltages and loadings.

Each headline figure carries its exact value in ``data-key``/``data-value`` attributes, so that
the page can be checked against ``summary.json`` (the tests do so in a real browser).
"""

from __future__ import annotations

import html
import json
import math
from functools import cache
from typing import TYPE_CHECKING

import pandas as pd

from peergrid.sim.headline import headline
from peergrid.sim.summary import RunSummary

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from peergrid.sim.runner import RunResult

HEADLINE_CSS = """
.headline { display: grid; grid-template-columns: repeat(auto-fit, minmax(230px, 1fr));
  gap: 12px; margin: 1em 0 2em; }
.figure { border: 1px solid #ddd; border-radius: 6px; padding: 10px 14px; }
.figure .title { color: #555; font-size: 0.9em; }
.figure .shown { font-size: 1.8em; font-weight: 600; margin: 2px 0; }
.figure .context { color: #444; font-size: 0.85em; }
.figure.warning .shown { color: #b00020; }
"""


def headline_html(result: RunResult) -> str:
    """The headline block: one card per figure of :func:`~peergrid.sim.headline.headline`."""
    cards = []
    for figure in headline(RunSummary.from_mapping(result.summary)):
        warning = (
            (figure.key in ("grid_violations", "ancillary_infeasible_sessions"))
            and bool(figure.value)
        ) or (figure.key == "ledger_money_conserved" and figure.value is False)
        value = json.dumps(figure.value)
        cards.append(
            f'<div class="figure{" warning" if warning else ""}" '
            f'data-key="{html.escape(figure.key)}" data-value="{html.escape(value)}">'
            f'<div class="title">{html.escape(figure.title)}</div>'
            f'<div class="shown">{html.escape(figure.shown)}</div>'
            f'<div class="context">{html.escape(figure.context)}</div></div>'
        )
    return f'<section class="headline">{"".join(cards)}</section>'


@cache
def plotly_script() -> str:
    """Plotly's JavaScript, inlined once per page."""
    from plotly.offline import get_plotlyjs

    return f'<script type="text/javascript">{get_plotlyjs()}</script>'


def interactive_chart(result: RunResult, s: pd.DataFrame, span: str) -> str:
    """Prices, energy and the voltage envelope on one time axis: drag to zoom on a day of a
    year, double-click to zoom out. ``s`` is the report's plotted frame (binned for long runs)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    summary = result.summary
    t = pd.to_datetime(s["time"])
    per = f" (mean per slot, one point per {span})" if span else ""
    rows = 3 if summary["grid_checked"] else 2
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.06)
    line = {"shape": "hv", "width": 1.2}
    fig.add_trace(
        go.Scatter(x=t, y=s["clearing_price"], name="P2P clearing price", line=line), 1, 1
    )
    for name, price, colour in (
        ("retail", summary["retail_price"], "#d62728"),
        ("feed-in", summary["feed_in_price"], "#2ca02c"),
    ):
        fig.add_trace(
            go.Scatter(
                x=[t.iloc[0], t.iloc[-1]],
                y=[price, price],
                name=name,
                line={"dash": "dash", "color": colour, "width": 1},
            ),
            1,
            1,
        )
    for column, name, colour, sign in (
        ("p2p_kwh", "traded P2P", "#9467bd", 1.0),
        ("import_kwh", "imported", "#d62728", 1.0),
        ("export_kwh", "exported (negative)", "#2ca02c", -1.0),
    ):
        fig.add_trace(
            go.Scatter(
                x=t, y=sign * s[column], name=name, line=line | {"color": colour}, fill="tozeroy"
            ),
            2,
            1,
        )
    if rows == 3:
        for column, name in (("v_min_pu", "lowest voltage"), ("v_max_pu", "highest voltage")):
            fig.add_trace(go.Scatter(x=t, y=s[column], name=name, line=line), 3, 1)
        fig.update_yaxes(title_text="voltage (p.u.)", row=3, col=1)
    fig.update_yaxes(title_text=f"price ({summary['currency']}/kWh)", row=1, col=1)
    fig.update_yaxes(title_text="kWh per slot", row=2, col=1)
    fig.update_layout(
        height=260 * rows,
        margin={"l": 60, "r": 20, "t": 40, "b": 40},
        title={"text": "The run, slot by slot" + per, "font": {"size": 15}},
        hovermode="x unified",
        legend={"orientation": "h", "y": -0.08},
    )
    chart: str = fig.to_html(full_html=False, include_plotlyjs=False, config={"responsive": True})
    return chart


def feeder_picture(result: RunResult) -> Figure | None:
    """The feeder, buses coloured by their lowest voltage of the run and lines by their highest
    loading; None when the run checked no power flow."""
    envelope = result.grid_envelope
    if envelope is None:
        return None
    from peergrid.grid.feeders import load_feeder
    from peergrid.grid.plot import feeder_figure

    feeder = load_feeder(result.scenario.feeder.name)
    worst_v = {
        int(b): float(v)
        for b, v in zip(envelope.bus_ids.tolist(), envelope.v_min_pu.tolist(), strict=True)
        if not math.isnan(v)
    }
    if not worst_v:
        return None
    loading = {
        int(i): float(x)
        for i, x in zip(
            envelope.line_ids.tolist(), envelope.line_loading_max_pct.tolist(), strict=True
        )
    }
    return feeder_figure(
        feeder,
        worst_v,
        line_loading_pct=loading,
        title=f"{feeder.name}: each bus's lowest voltage (p.u.), each line's highest loading",
        figsize=(10, 7),
    )
