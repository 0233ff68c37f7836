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
    """The headline figures of a run, in the order the report shows them."""
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
