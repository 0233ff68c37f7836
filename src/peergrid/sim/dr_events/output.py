"""What ``peergrid dr run -o DIR`` writes: summary.json, prosumers.csv, events.csv, report.md."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

from peergrid.sim.dr_events.run import DrDayResult

BOOK_VS_OURS = """\
The book's (001b_book.md chapter 8): the per-prosumer contract's state (baseline, current
profile from the meters, commanded profile), the grid contract's state (energy state as the sum
of imbalances, DR signals, reward and penalty rates), events started on an imbalance, settlement
from ledger readings, and verification by validators whose stake is their DR incentives with a
coin-age factor. Ours (docs/decisions.md, "S7"): every formula and number — the baseline
(mean of past non-event readings at the same hour), delivered flexibility (baseline - actual),
credited flexibility, shortfall and tolerance, reward and penalty, the threshold rule and event
length, the coin-age factor (1x to 2x over 24 confirmed events), the genesis stakes of the
stakeholder validators and the more-than-two-thirds quorum, the prosumers' compliance model.
"""


def write_dr_day(result: DrDayResult, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "summary": folder / "summary.json",
        "prosumers": folder / "prosumers.csv",
        "events": folder / "events.csv",
        "report": folder / "report.md",
    }
    summary = result.summary()
    paths["summary"].write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")
    for name, rows in (("prosumers", result.prosumers), ("events", result.events)):
        with paths[name].open("w", newline="") as handle:
            fields = [f.name for f in dataclasses.fields(rows[0])] if rows else ["id"]
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(dataclasses.asdict(r) for r in rows)
    paths["report"].write_text(report(result))
    return paths


def report(result: DrDayResult) -> str:
    s = result.summary()
    lines = [
        f"# DR day on {s['feeder']}, {s['day']}",
        "",
        f"{s['prosumers']} prosumers; event threshold {s['threshold_wh']} Wh of hourly feeder "
        f"load; {s['events']} event(s), {s['events_confirmed']} confirmed by stake.",
        "",
        "| event | start hour | hours | state at start (Wh) | participants | phase | rewards | "
        "penalties | stake for / total |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for e in result.events:
        lines.append(
            f"| {e.id} | {e.start_hour} | {e.duration} | {e.trigger_state_wh} | {e.participants} "
            f"| {e.phase} | {e.total_reward / 1e6:.4f} | {e.total_penalty / 1e6:.4f} | "
            f"{e.stake_for} / {e.total_stake} |"
        )
    before, after = s["ac_before"], s["ac_after"]
    assert isinstance(before, dict) and isinstance(after, dict)
    lines += [
        "",
        f"Delivered flexibility {s['delivered_flexibility_kwh']} kWh (credited "
        f"{s['credited_flexibility_kwh']} kWh); rewards {s['rewards']}, penalties "
        f"{s['penalties']} (currency units). Feeder peak {s['peak_before_kwh']} kWh/h without "
        f"DR, {s['peak_after_kwh']} kWh/h with it.",
        "",
        "| AC check | passed | violations | V min (p.u.) | line loading max (%) | "
        "transformer loading max (%) |",
        "|---|---|---|---|---|---|",
    ]
    for name, ac in (("without DR", before), ("with DR", after)):
        lines.append(
            f"| {name} | {ac['passed']} | {ac['violations']} | {ac['v_min_pu']} | "
            f"{ac['max_line_loading_pct']} | {ac['max_trafo_loading_pct']} |"
        )
    lines += [
        "",
        f"On chain equals off chain: {s['onchain_equals_offchain']} "
        f"({s['transactions']} transactions, {s['gas']} gas).",
        "",
        "## Which rules are the book's and which are ours",
        "",
        BOOK_VS_OURS,
    ]
    if result.mismatches:
        lines += ["## Mismatches", "", *(f"- {m}" for m in result.mismatches), ""]
    return "\n".join(lines)
