"""``summary.md`` of the VDMA reproduction: the paper's numbers beside ours, each difference
explained.

The paper's figures (004_vdma.md §4, with the line of the source they come from) are written
once, in :data:`PAPER`; every sentence here that says how ours compare is computed from the
measured figures it is given, never written in advance.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from peergrid.ledger.chain.gas import EUR_PER_GAS

PAPER: dict[str, Any] = {
    "ncda_share": (0.90, 1.00, 0.95),  # "around a 95% probability … 90–100% range" (L170)
    "cda_share": (0.70, 0.85),  # "average in around the 70–85% probability range" (L170)
    "eur_per_shout": 0.10,  # L193, L215
    "eur_per_day_per_brp": 2.3,  # L193
    "eur_per_day_clearing": 6.5,  # L193 ("less than 10 €/day", L217)
    "eur_per_day_total": 23.0,  # L195
    "sessions_per_day": 24,  # L191
}
PAPER_GAS_PER_SHOUT = PAPER["eur_per_shout"] / EUR_PER_GAS  # ≈ 1.14e5 (derived, §4)
PAPER_GAS_PER_SOLVING = PAPER["eur_per_day_clearing"] / 24 / EUR_PER_GAS  # ≈ 3.1e5 (derived)

_LOWER_IS_BETTER = {
    "mean_line_loading_pct": "mean line loading",
    "losses_share": "losses / total load",
    "std_v_pu": "std |V|",
}


def summary_markdown(
    headline: Mapping[str, Any], details: Mapping[str, Any], table: pd.DataFrame
) -> str:
    settings = details["settings"]
    cost = details["cost"]
    cigre = cost["cigre-mv-vdma"]
    limits = settings["limits"]
    parts = [
        "# VDMA paper (Troncia et al., Energies 2019), reproduced",
        "",
        f"Random-shout study: {settings['runs_per_s']} runs for each s in "
        f"{', '.join(f'{s:g}' for s in settings['spreads'])} (seed {settings['seed']}), Table 1's "
        f"23 devices on `cigre-mv-vdma`, each shouting with probability ½ "
        f"({_roles(settings['roles'])}), one {_pool(settings['pool'])} per run, cleared by "
        f"{', '.join(m.upper() for m in settings['mechanisms'])} on the same shouts; every "
        "solution checked by an AC power flow against our limits: "
        f"{limits['v_min_pu']:g}–{limits['v_max_pu']:g} p.u., lines and transformers at most "
        f"{limits['max_line_loading_pct']:g} % / {limits['max_trafo_loading_pct']:g} % (the "
        "paper gives none). Cost study: gas measured on `OrderBook.vy` on the embedded chain, "
        f"{settings['cost_rounds']} NCDA sessions with f = {settings['shout_fraction']:g} on the "
        f"15 nodes of the feeder and on random trees of "
        f"{', '.join(str(n) for n in settings['tree_sizes'])} nodes, priced with Eq. 1 "
        f"({EUR_PER_GAS:.4e} €/gas). How each choice was made: `docs/decisions.md`, "
        '"VDMA reproduction".',
        "",
        "## Share of solutions within the network limits (Fig. 6)",
        "",
        _share_table(
            headline["constraint_satisfaction"],
            details["constraint_satisfaction_within_tolerance"],
            table,
        ),
        "",
        _share_notes(headline["constraint_satisfaction"], details, table),
        "",
        "## Network indices (Fig. 7a–d), means over the runs that converged",
        "",
        _frame_md(table, _INDEX_FORMATS),
        "",
        _index_verdict(table),
        "",
        "## Cost (Eq. 1, §3.5)",
        "",
        _cost_table(cigre, cost),
        "",
        _cost_notes(cigre, cost, settings),
        "",
        "## Growth up to 50 nodes (random trees)",
        "",
        _frame_md(pd.DataFrame(cost["trees"]), _GROWTH_FORMATS),
        "",
        _growth_notes(cost["log_log_slopes"]),
        "",
        "## Files",
        "",
        "`runs.csv` (every run and mechanism), `by_s_and_mechanism.csv` and `s_<s>.csv` (the "
        "tables above), `gas_placements.csv` and `gas_sessions.csv` (every placement and session "
        "measured on the 15-node feeder), `gas_growth.csv`, `network.png`, `gas_growth.png`, "
        "`summary.json`.",
        "",
        f"Run time on this machine: network study {details['seconds']['network_study']:.1f} s "
        f"({_clearing_times(details['seconds'])}), cost study "
        f"{details['seconds']['cost_study']:.1f} s.",
        "",
    ]
    return "\n".join(parts)


def _roles(roles: str) -> str:
    return (
        "generators offer, loads ask, L142–L143"
        if roles == "generators-offer"
        else "loads offer, generators ask, the reading of L67"
    )


def _pool(pool: str) -> str:
    return "upward pool (AS+)" if pool == "up" else "downward pool (AS−)"


def _clearing_times(seconds: Mapping[str, float]) -> str:
    times = {
        k.removeprefix("clearing_"): v for k, v in seconds.items() if k.startswith("clearing_")
    }
    return "clearing: " + ", ".join(f"{m.upper()} {t:.1f} s" for m, t in times.items())


def _share_table(
    shares: Mapping[str, float], tolerant: Mapping[str, float], table: pd.DataFrame
) -> str:
    lo, hi, mid = PAPER["ncda_share"]
    paper = {
        "ncda": f"≈ {mid:.2f} on average, {lo:.2f}–{hi:.2f} by s (L170)",
        "cda": f"{PAPER['cda_share'][0]:.2f}–{PAPER['cda_share'][1]:.2f} (L170)",
        "ocda": "valid by construction (L71); its share is only drawn in Fig. 6",
    }
    lines = [
        "| mechanism | paper | ours, all runs | ours by s ("
        + ", ".join(f"{s:g}" for s in sorted(table.s.unique()))
        + ") | ours within the tolerance |",
        "|---|---|---|---|---|",
    ]
    for mechanism, share in shares.items():
        by_s = table[table.mechanism == mechanism].sort_values("s").feasible_share
        lines.append(
            f"| {mechanism.upper()} | {paper.get(mechanism, '-')} | {share:.3f} | "
            + ", ".join(f"{v:.2f}" for v in by_s)
            + f" | {tolerant[mechanism]:.3f} |"
        )
    return "\n".join(lines)


def _within(value: float, low: float, high: float) -> str:
    if low <= value <= high:
        return "within the paper's range"
    return "above the paper's range" if value > high else "below the paper's range"


def _share_notes(
    shares: Mapping[str, float], details: Mapping[str, Any], table: pd.DataFrame
) -> str:
    violations: Mapping[str, Mapping[str, int]] = details["violations"]
    base: Mapping[str, Any] = details["base_case"]
    tolerant: Mapping[str, float] = details["constraint_satisfaction_within_tolerance"]
    overshoot: Mapping[str, float | None] = details["largest_overshoot_pct"]
    tol = details["limit_tolerance"]
    notes = [
        '"Within the tolerance": within the limits widened by '
        f"{tol['max_line_loading_pct']:g} percentage points of loading and "
        f"{tol['v_max_pu']:g} p.u. of voltage, the precision at which an optimal power flow's "
        "network model and the AC check can agree on a binding limit."
    ]
    if "ncda" in shares:
        lo, hi, _ = PAPER["ncda_share"]
        notes.append(f"NCDA: {shares['ncda']:.3f}, {_within(shares['ncda'], lo, hi)}.")
    if "cda" in shares:
        lo, hi = PAPER["cda_share"]
        notes.append(f"CDA: {shares['cda']:.3f}, {_within(shares['cda'], lo, hi)}.")
    if "ocda" in shares:
        if shares["ocda"] == 1.0:
            notes.append(f"OCDA: {shares['ocda']:.3f}, every solution valid as the paper says.")
        else:
            worst = overshoot.get("ocda")
            near = (
                f" (the highest loading among them {worst:.3f} %)"
                if worst is not None and worst == worst
                else ""
            )
            notes.append(
                f"OCDA: {shares['ocda']:.3f} strictly, {tolerant['ocda']:.3f} within the "
                "tolerance. Its optimal power flow (the grid layer's branch-flow model with its "
                "SOC relaxation) serves an ask until a line reaches its limit exactly; the AC "
                "check of the same dispatch finds that line a little past it" + near + ". The "
                'paper\'s "network valid" holds to the precision of the two models'
                + (
                    "."
                    if tolerant["ocda"] == 1.0
                    else "; the rest are past the tolerance too (see `runs.csv`)."
                )
            )
    if "cda" in shares and "ncda" in shares:
        ordered = all(
            n >= c
            for n, c in zip(
                table[table.mechanism == "ncda"].sort_values("s").feasible_share,
                table[table.mechanism == "cda"].sort_values("s").feasible_share,
                strict=True,
            )
        )
        notes.append(
            "NCDA is at least as often feasible as CDA for every s, as in the paper."
            if ordered
            else "NCDA is not at least as often feasible as CDA for every s, unlike the paper."
        )
        notes.append(_ncda_against_cda(details))
    for mechanism, tally in violations.items():
        if tally:
            top = ", ".join(f"{k} ({v})" for k, v in list(tally.items())[:3])
            notes.append(f"{mechanism.upper()}'s violations, most frequent first: {top}.")
    notes.append(
        "Why the shares can differ from the paper's: the paper does not say how a match "
        "becomes nodal power, which pool its shouts go to, nor its limits. Ours: a match of "
        "q kWh moves q/Δt kW from the offeror's bus to the asker's (the couple stays "
        "net-neutral, `peergrid.grid.service`); every shout goes to the one pool of the run; "
        "the limits above. The shout energy's mean is the device's whole power (L142), so a "
        "matched offer of the 6 MW generator at bus 4 nearly doubles the flow on line 3-4 (line "
        f"2); in the base case the most loaded line is at {base['max_line_loading_pct']:.1f} % "
        f"and |V| spans {base['v_min_pu']:.4f}–{base['v_max_pu']:.4f} p.u. Whether a solution "
        "is feasible depends mostly on where the large offers are delivered, which is what "
        "NCDA's distance ordering changes."
    )
    return "\n\n".join(notes)


def _ncda_against_cda(details: Mapping[str, Any]) -> str:
    versus = details["compared_with_cda"].get("ncda")
    nearest = details["nearest_offer_bus"]
    if not versus:
        return ""
    text = (
        "Run by run on the same shouts, NCDA's matches differ from CDA's in "
        f"{versus['differs_share']:.0%} of the runs; NCDA alone keeps "
        f"{versus['feasible_only_here']} of them within the limits, CDA alone "
        f"{versus['feasible_only_with_cda']}. A session has few offers (Table 1 has 5 "
        f"generators, so about {details['mean_offers']:.1f} shout), and the order in which an "
        "ask takes them matters only where it has a choice."
    )
    if nearest:
        by_offer: dict[str, list[str]] = {}
        for ask_bus, offer_bus in nearest["nearest"].items():
            by_offer.setdefault(str(offer_bus), []).append(ask_bus)
        groups = "; ".join(f"bus {o} for asks at {', '.join(a)}" for o, a in by_offer.items())
        text += (
            f" NCDA's distance is {nearest['metric']} (the mechanism's default); by it the "
            f"nearest offering bus is {groups}. Where the nearest offer is the 6 MW unit at "
            "bus 4 and the ask is not at bus 4, 5 or 6, the delivery crosses line 3-4: nearest "
            "in hops is not least loading on the line that binds."
        )
    return text


_INDEX_FORMATS = {
    "s": "{:g}",
    "mechanism": "{}",
    "runs": "{:.0f}",
    "feasible_share": "{:.2f}",
    "mean_line_loading_pct": "{:.2f}",
    "max_line_loading_pct": "{:.1f}",
    "losses_share": "{:.4f}",
    "mean_v_pu": "{:.4f}",
    "std_v_pu": "{:.4f}",
    "trades": "{:.1f}",
    "matched_kwh": "{:.0f}",
    "unsatisfied_kwh": "{:.0f}",
}

_GROWTH_FORMATS = {
    "nodes": "{:.0f}",
    "shouts": "{:.0f}",
    "gas_per_shout": "{:.0f}",
    "trades_per_session": "{:.2f}",
    "placement_gas_per_session": "{:.0f}",
    "matching_gas_per_session": "{:.0f}",
    "clearing_gas_per_session": "{:.0f}",
    "eur_per_day_clearing": "{:.3f}",
}


def _frame_md(frame: pd.DataFrame, formats: Mapping[str, str]) -> str:
    columns = [c for c in formats if c in frame.columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for _, row in frame.iterrows():
        cells = []
        for c in columns:
            value = row[c]
            cells.append("-" if pd.isna(value) else formats[c].format(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _index_verdict(table: pd.DataFrame) -> str:
    """Which mechanism is best on each index, s by s (the paper: NCDA in all cases, L177)."""
    spreads = sorted(table.s.unique())
    lines = [
        'The paper: "In all cases, the NCDA methodology shows the ability to find better '
        'quality solutions than both the classic CDA and the OCDA" (L177), with no numbers. '
        "Ours, the best mechanism on each index for each s (lower is better; for mean |V|, "
        "nearer 1 p.u.):",
        "",
    ]
    best_counts = []
    winners_all: set[str] = set()
    for column, label in (*_LOWER_IS_BETTER.items(), ("mean_v_pu", "mean |V|")):
        winners: list[set[str]] = []
        for s in spreads:
            rows = table[table.s == s].dropna(subset=[column])
            if rows.empty:
                winners.append(set())
                continue
            key = (rows[column] - 1.0).abs() if column == "mean_v_pu" else rows[column]
            best = key.min()
            winners.append({str(m) for m in rows.mechanism[key <= best + 1e-12]})
        ncda = sum("ncda" in w for w in winners)
        best_counts.append(ncda)
        winners_all.update(*winners)
        shown = ", ".join("=".join(sorted(m.upper() for m in w)) or "-" for w in winners)
        lines.append(f"- {label}: {shown} (NCDA best or tied for {ncda} of {len(spreads)})")
    pairwise = _ncda_against_cda_indices(table, spreads)
    if pairwise:
        lines.append(f"- NCDA against CDA alone: {pairwise}")
    total, cases = sum(best_counts), len(best_counts) * len(spreads)
    lines += ["", f"NCDA is best or tied in {total} of {cases} (index, s) cases"]
    if total == cases:
        lines[-1] += ", as the paper says."
        return "\n".join(lines)
    lines[-1] += "; the paper says all."
    served = table.groupby("mechanism").matched_kwh.mean()
    if "ocda" in winners_all and served.get("ocda", 0.0) < served.drop("ocda").min():
        lines.append(
            "\nOCDA also serves less: "
            + ", ".join(f"{m.upper()} {v:.0f} kWh" for m, v in served.items())
            + " matched per session on average; what its optimal power flow does not dispatch "
            "goes to external resources at gate closure, so part of its better indices is "
            "service it does not deliver."
        )
    if "ocda" in winners_all:
        lines.append(
            "\nOur OCDA minimises the cost of losses under the limits with its optimal power "
            "flow, so where it wins on losses and loading it does what its objective asks; the "
            "paper's finding that NCDA beats OCDA on every index is the one the digest flags as "
            "surprising (§5), and its figures cannot be checked."
        )
    if "cda" in winners_all:
        lines.append(
            "\nWhere CDA wins, the nearest suitable offers NCDA takes were not the ones that load "
            "the network least: distance on the feeder is only a proxy for a match's effect on "
            "the flows (`runs.csv` has every run's figures to look into)."
        )
    return "\n".join(lines)


def _ncda_against_cda_indices(table: pd.DataFrame, spreads: list[float]) -> str:
    """For each index, in how many s NCDA's mean is at least as good as CDA's."""
    both = table[table.mechanism.isin(["cda", "ncda"])]
    if set(both.mechanism) != {"cda", "ncda"}:
        return ""
    wide = both.pivot(index="s", columns="mechanism")
    parts = []
    for column, label in (*_LOWER_IS_BETTER.items(), ("mean_v_pu", "mean |V|")):
        ncda, cda = wide[column]["ncda"], wide[column]["cda"]
        if column == "mean_v_pu":
            ncda, cda = (ncda - 1.0).abs(), (cda - 1.0).abs()
        parts.append(f"{label} in {int((ncda <= cda).sum())} of {len(spreads)}")
    return "at least as good on " + ", ".join(parts) + " values of s."


def _cost_table(cigre: Mapping[str, float], cost: Mapping[str, Any]) -> str:
    gas_shout, gas_clear = cigre["gas_per_shout"], cigre["clearing_gas_per_session"]
    rows = [
        ("gas per shout", f"≈ {PAPER_GAS_PER_SHOUT:,.0f} (derived)", f"{gas_shout:,.0f}",
         gas_shout / PAPER_GAS_PER_SHOUT),
        ("€ per shout", f"{PAPER['eur_per_shout']:.2f} (L193, L215)",
         f"{cigre['eur_per_shout']:.4f}", cigre["eur_per_shout"] / PAPER["eur_per_shout"]),
        ("€ per day per BRP", f"{PAPER['eur_per_day_per_brp']:.1f} (L193)",
         f"{cigre['eur_per_day_per_brp']:.3f}",
         cigre["eur_per_day_per_brp"] / PAPER["eur_per_day_per_brp"]),
        ("gas per solving call (session)", f"≈ {PAPER_GAS_PER_SOLVING:,.0f} (derived)",
         f"{gas_clear:,.0f}", gas_clear / PAPER_GAS_PER_SOLVING),
        ("€ per day, operator's clearing", f"{PAPER['eur_per_day_clearing']:.1f} (L193)",
         f"{cigre['eur_per_day_clearing']:.3f}",
         cigre["eur_per_day_clearing"] / PAPER["eur_per_day_clearing"]),
        ("€ per day, whole system", f"≈ {PAPER['eur_per_day_total']:.0f} (L195)",
         f"{cost['total_eur_per_day']:.2f} ({cigre['nodes']:.0f} BRPs + clearing)",
         cost["total_eur_per_day"] / PAPER["eur_per_day_total"]),
    ]  # fmt: skip
    lines = ["| figure | paper | ours (15-node feeder) | ours / paper |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d:.2f} |" for a, b, c, d in rows]
    return "\n".join(lines)


def _cost_notes(
    cigre: Mapping[str, float], cost: Mapping[str, Any], settings: Mapping[str, Any]
) -> str:
    per_day = settings["sessions_per_day"]
    shouts_a_day = per_day * settings["shout_fraction"]
    paper_shouts = PAPER["eur_per_day_per_brp"] / PAPER["eur_per_shout"]
    at_paper_rate = paper_shouts * cigre["eur_per_shout"]
    overhead = cigre["clearing_gas_per_session"] - cigre["matching_gas_per_session"]
    return "\n\n".join(
        [
            f"Per shout: {cigre['gas_per_shout']:,.0f} gas (std {cigre['gas_per_shout_std']:,.0f} "
            "over the placements that rested, "
            + (
                "little variability whatever the quantity and price, as L215 says"
                if cigre["gas_per_shout_std"] < 0.05 * cigre["gas_per_shout"]
                else 'more variability than L215\'s "very little"'
            )
            + "). Ours is "
            f"{cigre['gas_per_shout'] / PAPER_GAS_PER_SHOUT:.2f} of the paper's implied figure "
            "because our placement packs the whole order into one storage word (one new slot "
            "and the rewrite of the order it rests behind, one word of calldata), where the "
            "paper's shout has six fields (L65): stored one to a slot under 2019's gas rules, "
            "that alone is 6 × 20 000 gas plus the 21 000 of the transaction, the order of the "
            "1.14·10⁵ its 0.10 € implies.",
            f"Per BRP and day: {shouts_a_day:g} shouts on average (24 sessions, f = "
            f"{settings['shout_fraction']:g}) at our € per shout. The paper's 2.3 €/day at "
            f"0.10 € a shout implies {paper_shouts:.0f} shouts a day, about one per hourly "
            "session (f = 1, or one shout in each pool): at that count ours would be "
            f"{at_paper_rate:.2f} €/day.",
            "Clearing: our book has no separate solving call; an order that crosses is matched "
            "as it is placed and touches only the orders it fills (NCDA reads the distances of "
            "the crossing offers). We count as clearing the gas of crossing placements beyond a "
            "resting placement, plus the operator's opening and gate closure of the session "
            f"({overhead:,.0f} gas of the {cigre['clearing_gas_per_session']:,.0f} per session; "
            f"{cigre['trades_per_session']:.2f} trades a session, "
            f"{cigre['crossing_share']:.0%} of placements crossed). The paper's "
            "solving function scans the Ā × Ō ask–offer pairs of a session once (L67) and "
            "writes every couple"
            + (
                ", so it costs more per session."
                if cigre["clearing_gas_per_session"] < PAPER_GAS_PER_SOLVING
                else "; ours costs as much or more per session all the same."
            ),
            "Whole system: our BRPs are the feeder's 15 nodes (\"each node corresponds to a "
            "market participant\", L101); the paper's 23 €/day does not split into its own "
            "figures cleanly (the digest, §4).",
        ]
    )


def _growth_notes(slopes: Mapping[str, float]) -> str:
    if not slopes:
        return "No trees were measured."
    placement, matching = slopes["placement"], slopes["matching"]
    clearing = slopes["clearing"]

    def verdict(value: float, low: float, high: float, low_open: bool) -> str:
        ok = (value > low if low_open else value >= low) and value <= high
        return "as the paper says" if ok else "unlike the paper"

    return (
        f"log–log slopes over the trees: shouts per session {placement:.2f} (the paper: "
        f'"almost linear", L197; {verdict(placement, 0.8, 1.2, False)}), matching per session '
        f"{matching:.2f} (the paper: more than linear, at most quadratic, L197, L221: a slope in "
        f"(1, 2]; {verdict(matching, 1.0, 2.0, True)}), clearing with the session's opening and "
        f"closure {clearing:.2f} (their fixed gas flattens it). More nodes give more crossing "
        "placements per session and more fills per crossing, and NCDA reads one distance per "
        "crossing offer"
        + (
            ": hence a matching cost that grows faster than the number of nodes."
            if matching > 1.0
            else "; on these trees that did not make the matching cost grow faster than the "
            "number of nodes."
        )
    )
