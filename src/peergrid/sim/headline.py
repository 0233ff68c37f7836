"""The report's headline: a run's few figures a person reads first, in words and units.

Each :class:`HeadlineFigure` names the summary figure it shows (``key``, a field of
:class:`~peergrid.sim.summary.RunSummary`) and carries its exact value beside the words, so a
reader (or a test in a browser) can hold the page against ``summary.json``.
"""

from __future__ import annotations

from dataclasses import dataclass

from peergrid.sim.summary import RunSummary


@dataclass(frozen=True)
class HeadlineFigure:
    """One headline: a short title, the figure in words and units, and a line of context."""

    key: str  # the RunSummary field shown
    value: float | int | bool | None  # its exact value, as in summary.json
    title: str
    shown: str  # the value as a person reads it, with its unit
    context: str


def headline(summary: RunSummary) -> list[HeadlineFigure]:
    """The headline figures of a run, in the order the report shows them: the energy market's,
    then the ancillary-service sessions' when the run has them (theirs alone without the
    energy market); an EV quota day's alone."""
    if summary.ancillary_only:
        return _ancillary(summary)
    if summary.ev_quota_only:
        return _ev_quota(summary)
    s, cur = summary, summary.currency
    saved = s.community_saving
    share_saved = saved / abs(s.community_bill_baseline) if s.community_bill_baseline else 0.0
    figures = [
        HeadlineFigure(
            "self_sufficiency",
            s.self_sufficiency,
            "Self-sufficiency",
            f"{s.self_sufficiency:.1%}",
            f"of the community's consumption not imported; {s.self_sufficiency_baseline:.1%} "
            "without the market",
        ),
        HeadlineFigure(
            "community_saving",
            saved,
            "Money saved by the community",
            f"{_money(saved, cur)}",
            f"{share_saved:.1%} of the {_money(s.community_bill_baseline, cur)} it would pay "
            f"without the market; {s.households_better_off} of {s.households} households "
            "better off",
        ),
        HeadlineFigure(
            "p2p_traded_kwh",
            s.p2p_traded_kwh,
            "Peer-to-peer energy",
            f"{s.p2p_traded_kwh:,.1f} kWh",
            f"in {s.trades:,} trades"
            + (
                f" at {s.average_p2p_price:.3f} {cur}/kWh on average"
                if s.average_p2p_price is not None
                else ""
            )
            + f"; {s.p2p_undelivered_kwh:,.1f} kWh contracted but not delivered",
        ),
        HeadlineFigure(
            "dso_income",
            s.dso_income,
            "The DSO's income",
            _money(s.dso_income, cur),
            f"network fees {_money(s.dso_network_fees, cur)}, penalties "
            f"{_money(s.penalties, cur)}, true-ups of deviations {_money(s.dso_imbalance, cur)}",
        ),
        _grid(s),
        _ledger(s),
    ]
    return figures + (_ancillary(s) if s.ancillary_sessions is not None else [])


def _ancillary(s: RunSummary) -> list[HeadlineFigure]:
    matched, asked = s.ancillary_matched_kwh or 0.0, s.ancillary_asked_kwh or 0.0
    price = s.ancillary_average_price
    figures = [
        HeadlineFigure(
            "ancillary_matched_kwh",
            s.ancillary_matched_kwh,
            "Ancillary service matched",
            f"{matched:,.0f} kWh",
            f"of {asked:,.0f} kWh asked in {s.ancillary_sessions:,} {s.ancillary_mechanism} "
            f"sessions; {s.ancillary_unsatisfied_kwh or 0.0:,.0f} kWh left to external resources"
            + (f"; {price:.3f} {s.currency}/kWh on average" if price is not None else ""),
        ),
    ]
    checked = s.ancillary_sessions_checked or 0
    bad = s.ancillary_infeasible_sessions or 0
    figures.append(
        HeadlineFigure(
            "ancillary_infeasible_sessions",
            s.ancillary_infeasible_sessions,
            "Sessions breaking grid limits",
            f"{bad:,} of {checked:,}" if checked else "not checked",
            f"{s.ancillary_violations or 0:,} limits broken by the matches, checked by AC power "
            "flow"
            if checked
            else "power flow off",
        )
    )
    if s.ancillary_cost_eur_per_session is not None:
        figures.append(
            HeadlineFigure(
                "ancillary_cost_eur_per_session",
                s.ancillary_cost_eur_per_session,
                "Cost per session on chain",
                f"{s.ancillary_cost_eur_per_session:,.2f} €",
                f"{s.ancillary_gas_used or 0:,} gas in all, priced by Eq. 1 (3.2 gwei, "
                "273.90 €/eth)",
            )
        )
    return figures


def _ev_quota(s: RunSummary) -> list[HeadlineFigure]:
    satisfaction = s.ev_quota_satisfaction or 0.0
    baseline = s.ev_quota_baseline_satisfaction
    peak = s.ev_quota_peak_trafo_loading_pct
    base_peak = s.ev_quota_baseline_peak_trafo_loading_pct
    figures = [
        HeadlineFigure(
            "ev_quota_satisfaction",
            s.ev_quota_satisfaction,
            "EV energy delivered",
            f"{satisfaction:.1%}",
            f"of the {s.ev_quota_energy_needed_kwh or 0.0:,.1f} kWh {s.ev_quota_evs} EVs need; "
            f"{s.ev_quota_evs_fully_charged} fully charged"
            + (f"; {baseline:.1%} without quotas" if baseline is not None else ""),
        ),
        HeadlineFigure(
            "ev_quota_peak_trafo_loading_pct",
            peak,
            "Transformer at its highest",
            f"{peak:.1f} %" if peak is not None else "not converged",
            f"{s.ev_quota_overload_periods} of {s.ev_quota_periods} periods above "
            f"{s.ev_quota_loading_limit_pct:g} % of {s.ev_quota_transformer_kva:,.0f} kVA"
            + (
                f"; {base_peak:.1f} % and {s.ev_quota_baseline_overload_periods} periods "
                "above without quotas"
                if base_peak is not None
                else ""
            ),
        ),
        HeadlineFigure(
            "ev_quota_traded_kw",
            s.ev_quota_traded_kw,
            "Quota traded",
            f"{s.ev_quota_traded_kw or 0.0:,.1f} kW",
            f"in {s.ev_quota_trades} trades over {s.ev_quota_auctions} auctions"
            + (
                f" at {s.ev_quota_average_price:.2f} {s.currency}/kWh on average"
                if s.ev_quota_average_price is not None
                else ""
            )
            + f"; lowest β {s.ev_quota_min_beta:.3f}",
        ),
        _grid(s),
    ]
    return figures


def _grid(s: RunSummary) -> HeadlineFigure:
    if not s.grid_checked:
        return HeadlineFigure(
            "grid_violations", s.grid_violations, "Grid limits", "not checked", "power flow off"
        )
    if s.grid_violations == 0:
        shown = "none violated"
        context = f"in {s.slots:,} slots checked by AC power flow"
    else:
        shown = f"{s.grid_violations:,} violation{'s' if s.grid_violations != 1 else ''}"
        kinds = ", ".join(
            f"{kind.replace('_', ' ')} {count:,}"
            for kind, count in sorted(s.grid_violations_by_kind.items())
        )
        context = f"in {s.slots_with_violations:,} of {s.slots:,} slots: {kinds}"
    if s.v_min_pu is not None and s.v_max_pu is not None:
        context += f"; voltages {s.v_min_pu:.3f}–{s.v_max_pu:.3f} p.u."
    return HeadlineFigure("grid_violations", s.grid_violations, "Grid limits", shown, context)


def _ledger(s: RunSummary) -> HeadlineFigure:
    if not s.ledger:
        return HeadlineFigure(
            "ledger_money_conserved", None, "Ledger", "off", "the trades were not settled on chain"
        )
    conserved = bool(s.ledger_money_conserved)
    return HeadlineFigure(
        "ledger_money_conserved",
        conserved,
        "Money conserved on chain",
        "yes" if conserved else "NO",
        f"settled on the {s.ledger_market} market in {s.transactions:,} transactions, "
        f"{s.gas_used / 1e6:,.1f} M gas",
    )


def _money(amount: float, currency: str) -> str:
    sign = "−" if amount < 0 else ""
    return f"{sign}{abs(amount):,.2f} {currency}"
