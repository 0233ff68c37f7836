"""A run's ancillary-service figures, from its ``sessions`` table (the ``ancillary_*`` keys of
``summary.json``)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from peergrid.sim.scenario import Scenario


def session_figures(scenario: Scenario, sessions: pd.DataFrame) -> dict[str, Any]:
    """Volumes, prices, constraint violations and cost of the run's sessions.

    Prices: ``ancillary_average_price`` is weighted by the matched kWh; the lowest and highest
    are over every match. Violations: sessions whose matches, added to the base case, break a
    grid limit (``ancillary_infeasible_sessions``) and the limits broken (``_violations``).
    Cost: gas and € (Eq. 1) of the sessions cleared on chain, None off chain.
    """
    anc = scenario.ancillary
    matched = float(sessions["matched_kwh"].sum())
    value = float(
        (sessions["price_mean"].astype(float).fillna(0.0) * sessions["matched_kwh"]).sum()
    )
    checked = sessions[sessions["checked"].astype(bool)]
    feasible = checked["feasible"].astype(bool)
    by_pool = sessions.groupby("pool")["matched_kwh"].sum()
    on_chain = scenario.ancillary_on_chain
    gas = int(sessions["gas_used"].astype(float).sum()) if on_chain else None
    cost = float(sessions["cost_eur"].astype(float).sum()) if on_chain else None
    n = len(sessions)
    return {
        "ancillary_only": not scenario.market.enabled,
        "ancillary_mechanism": anc.mechanism,
        "ancillary_on_chain": on_chain,
        "ancillary_sessions": n,
        "ancillary_asks": int(sessions["asks"].sum()),
        "ancillary_offers": int(sessions["offers"].sum()),
        "ancillary_asked_kwh": float(sessions["asked_kwh"].sum()),
        "ancillary_offered_kwh": float(sessions["offered_kwh"].sum()),
        "ancillary_matched_kwh": matched,
        "ancillary_up_matched_kwh": float(by_pool.get("up", 0.0)),
        "ancillary_down_matched_kwh": float(by_pool.get("down", 0.0)),
        "ancillary_unsatisfied_kwh": float(sessions["unsatisfied_kwh"].sum()),
        "ancillary_unsold_kwh": float(sessions["unsold_kwh"].sum()),
        "ancillary_trades": int(sessions["trades"].sum()),
        "ancillary_average_price": value / matched if matched > 0 else None,
        "ancillary_min_price": _extreme(sessions["price_min"], min),
        "ancillary_max_price": _extreme(sessions["price_max"], max),
        "ancillary_sessions_checked": len(checked),
        "ancillary_infeasible_sessions": int((~feasible).sum()),
        "ancillary_violations": int(sessions["violations"].sum()),
        "ancillary_gas_used": gas,
        "ancillary_cost_eur": cost,
        "ancillary_cost_eur_per_session": cost / n if cost is not None and n else None,
    }


def _extreme(column: pd.Series, pick: Any) -> float | None:
    values = column.dropna().astype(float)
    return float(pick(values)) if len(values) else None
