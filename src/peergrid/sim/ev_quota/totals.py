"""The EV quota day's figures (the ``ev_quota_*`` keys of ``summary.json``), and the grid
figures of the run (voltages, loadings, violations) taken from its periods."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pandas as pd

from peergrid.sim.ev_quota.day import CURRENCY, EvQuotaDay
from peergrid.sim.scenario import Scenario

FULL = 1.0 - 1e-9  # satisfaction counted as fully charged (floats of kWh sums)


def ev_quota_figures(scenario: Scenario, day: EvQuotaDay) -> dict[str, Any]:
    """Satisfaction, quota prices and money, and the transformer's loading with quota trading
    and, when run, without (the baseline)."""
    p, evs, trades = day.periods, day.evs, day.trades
    needed = float(evs["energy_needed_kwh"].sum()) if len(evs) else 0.0
    delivered = float(evs["energy_delivered_kwh"].sum()) if len(evs) else 0.0
    traded = float(trades["quantity_kw"].sum()) if len(trades) else 0.0
    value = float((trades["price"] * trades["quantity_kw"]).sum()) if len(trades) else 0.0
    kinds = Counter(v.kind for v in day.violations)
    figures: dict[str, Any] = {
        # The run's own figures, from the periods (the energy market's are zero).
        "households": len(day.households),
        "households_with_pv": sum(h.pv_kwp > 0 for h in day.households),
        "slots": len(p),
        "currency": CURRENCY,
        "grid_checked": True,
        "grid_violations": len(day.violations),
        "grid_violations_by_kind": dict(kinds),
        "slots_with_violations": int((p["violations"] > 0).sum()),
        "power_flow_failures": int(kinds.get("not_converged", 0)),
        "v_min_pu": _extreme(p["v_min_pu"], min),
        "v_max_pu": _extreme(p["v_max_pu"], max),
        "max_line_loading_pct": _extreme(p["max_line_loading_pct"], max),
        "max_trafo_loading_pct": _extreme(p["trafo_loading_pct"], max),
        "ev_quota_only": True,
        "ev_quota_evs": len(evs),
        "ev_quota_periods": len(p),
        "ev_quota_transformer_kva": day.rating_kva,
        "ev_quota_loading_limit_pct": day.limit_pct,
        "ev_quota_min_margin_kw": float(p["capacity_margin_kw"].min()),
        "ev_quota_auctions": int(p["auction_held"].sum()),
        "ev_quota_min_beta": float(p["beta"].min()),
        "ev_quota_trades": len(trades),
        "ev_quota_traded_kw": traded,
        "ev_quota_average_price": value / traded if traded > 0 else None,
        "ev_quota_min_price": _extreme(p["price_min"], min),
        "ev_quota_max_price": _extreme(p["price_max"], max),
        "ev_quota_auction_paid": float(trades["value"].sum()) if len(trades) else 0.0,
        "ev_quota_auction_balance": float(p["auction_balance"].sum()),
        "ev_quota_charging_fees": float(p["charging_fees"].sum()),
        "ev_quota_energy_needed_kwh": needed,
        "ev_quota_energy_delivered_kwh": delivered,
        "ev_quota_satisfaction": delivered / needed if needed > 0 else 1.0,
        "ev_quota_min_satisfaction": float(evs["satisfaction"].min()) if len(evs) else 1.0,
        "ev_quota_evs_fully_charged": int((evs["satisfaction"] >= FULL).sum()),
        "ev_quota_peak_charging_kw": float(p["charging_kw"].max()),
        "ev_quota_peak_trafo_loading_pct": _extreme(p["trafo_loading_pct"], max),
        "ev_quota_overload_periods": int((~p["within_rating"].astype(bool)).sum()),
    }
    if "baseline_trafo_loading_pct" in p:
        got = float(evs["baseline_delivered_kwh"].sum()) if len(evs) else 0.0
        figures |= {
            "ev_quota_baseline_energy_delivered_kwh": got,
            "ev_quota_baseline_satisfaction": got / needed if needed > 0 else 1.0,
            "ev_quota_baseline_peak_charging_kw": float(p["baseline_charging_kw"].max()),
            "ev_quota_baseline_peak_trafo_loading_pct": _extreme(
                p["baseline_trafo_loading_pct"], max
            ),
            "ev_quota_baseline_overload_periods": int(
                (~p["baseline_within_rating"].astype(bool)).sum()
            ),
            "ev_quota_baseline_violations": len(day.baseline_violations),
        }
    return figures


def _extreme(column: pd.Series, pick: Any) -> float | None:
    values = column.dropna().astype(float)
    return float(pick(values)) if len(values) else None
