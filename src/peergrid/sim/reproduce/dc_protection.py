"""``peergrid reproduce dc-protection``: the four cases of 001b_book.md §11.4, regenerated.

The chapter's MATLAB study gives no circuit, only results: a 1 Ω fault at 33 % of the line
("almost 25 A", detected in 1.4 ms), a 10 Ω high-impedance fault at the middle ("approximately
4 A", 0.5 ms), and each under a cyber-attack on the relay's communication link (detected in less
than 29 ms and less than 2.5 ms). We run the four on the labelled configuration of
:mod:`peergrid.protection.config` (our circuit, chosen to land near those figures), the attack
being a replay that starts before the fault (the main channel keeps delivering the healthy
pre-fault currents, so the relay would never see the fault without the ledger), and, beside them,
every attack of the chapter's taxonomy on the 1 Ω fault and on a healthy line (AC11-6, AC11-7).

Files: for each case ``{case}-currents.csv``, ``{case}-summary.json`` and ``{case}-currents.png``;
``cases.csv`` (ours beside the book's), ``attacks.csv``, ``cases.png`` (the four cases),
``headline.json`` and ``summary.md``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from peergrid.protection.case import CaseResult, run_case
from peergrid.protection.config import AttackKind, FaultKind, ProtectionConfig
from peergrid.protection.output import draw_case, write_case

CASE_KEYS = ("1ohm", "10ohm", "1ohm_attack", "10ohm_attack")
"""The keys of ``--json`` (a test pins them)."""

HEADLINE_FIELDS = ("peak_current_a", "detect_ms", "tripped", "attack_detected")

REPRODUCTION_ATTACK = AttackKind.REPLAY


@dataclass(frozen=True)
class BookCase:
    """One of §11.4's cases as the chapter states it."""

    resistance_ohm: float
    location: float
    attacked: bool
    peak_a: float | None
    detect_ms: float
    detect_is_bound: bool
    """The chapter says "less than" (an upper bound), not "in"."""
    line: str


BOOK: dict[str, BookCase] = {
    "1ohm": BookCase(1.0, 0.33, False, 25.0, 1.4, False, "L3167, L3181"),
    "10ohm": BookCase(10.0, 0.5, False, 4.0, 0.5, False, "L3181"),
    "1ohm_attack": BookCase(1.0, 0.33, True, None, 29.0, True, "L3198"),
    "10ohm_attack": BookCase(10.0, 0.5, True, None, 2.5, True, "L3198, L3215"),
}


def case_config(key: str, base: ProtectionConfig | None = None) -> ProtectionConfig:
    """The configuration of one of the four cases."""
    book = BOOK[key]
    config = base if base is not None else ProtectionConfig()
    attack = REPRODUCTION_ATTACK if book.attacked else AttackKind.NONE
    return config.replace(
        fault={
            "kind": FaultKind.INTERNAL.value,
            "resistance_ohm": book.resistance_ohm,
            "location": book.location,
        },
        attack={"kind": attack.value},
    )


def headline_of(results: dict[str, CaseResult]) -> dict[str, dict[str, Any]]:
    """The ``--json`` object: per case, exactly :data:`HEADLINE_FIELDS`."""
    return {
        key: {field: results[key].summary()[field] for field in HEADLINE_FIELDS}
        for key in CASE_KEYS
    }


@dataclass(frozen=True)
class DcProtectionReproduction:
    results: dict[str, CaseResult]
    attacks: list[dict[str, Any]]
    headline: dict[str, dict[str, Any]]
    paths: dict[str, Path]


Progress = Callable[[str, int, int], None]


def attack_rows(base: ProtectionConfig, progress: Progress | None = None) -> list[dict[str, Any]]:
    """Every attack on the 1 Ω fault (it must trip as without the attack, on the ledger's
    values) and on a healthy line (it must not trip)."""
    rows = []
    kinds = [k for k in AttackKind if k is not AttackKind.NONE]
    plans = [(fault, kind) for fault in (FaultKind.INTERNAL, FaultKind.NONE) for kind in kinds]
    for done, (fault, kind) in enumerate(plans, start=1):
        config = case_config("1ohm", base).replace(
            fault={"kind": fault.value}, attack={"kind": kind.value}
        )
        summary = run_case(config).summary()
        rows.append(
            {
                "line": "faulted (1 Ω at 33 %)" if fault is FaultKind.INTERNAL else "healthy",
                "attack": kind.value,
                "attack_detected": summary["attack_detected"],
                "tripped": summary["tripped"],
                "decided_on": summary["decided_on"],
                "detect_ms": summary["detect_ms"],
                "trip_ms": summary["trip_ms"],
            }
        )
        if progress is not None:
            progress("attacks", done, len(plans))
    return rows


def reproduce_dc_protection(
    output: Path,
    base: ProtectionConfig | None = None,
    *,
    progress: Progress | None = None,
) -> DcProtectionReproduction:
    """Run and write the reproduction (module docstring) into ``output``."""
    base = base if base is not None else ProtectionConfig()
    results: dict[str, CaseResult] = {}
    paths: dict[str, Path] = {}
    for done, key in enumerate(CASE_KEYS, start=1):
        results[key] = run_case(case_config(key, base))
        written = write_case(results[key], output, stem=f"{key}-", title=_case_title(key))
        paths.update({f"{key}-{name}": path for name, path in written.items()})
        if progress is not None:
            progress("cases", done, len(CASE_KEYS))
    attacks = attack_rows(base, progress)
    headline = headline_of(results)
    paths["cases"] = _write_cases_csv(results, output / "cases.csv")
    paths["attacks"] = _write_rows(attacks, output / "attacks.csv")
    paths["cases_plot"] = _write_cases_plot(results, output / "cases.png")
    paths["headline"] = output / "headline.json"
    paths["headline"].write_text(json.dumps(headline, indent=2) + "\n", encoding="utf-8")
    paths["summary"] = output / "summary.md"
    paths["summary"].write_text(_summary_md(results, attacks, base), encoding="utf-8")
    return DcProtectionReproduction(results, attacks, headline, paths)


def _case_title(key: str) -> str:
    book = BOOK[key]
    attack = f", {REPRODUCTION_ATTACK.value} attack" if book.attacked else ""
    return f"{book.resistance_ohm:g} Ω at {book.location:.0%} of the line{attack}"


def _comparison(results: dict[str, CaseResult]) -> list[dict[str, Any]]:
    rows = []
    for key in CASE_KEYS:
        book, ours = BOOK[key], results[key].summary()
        rows.append(
            {
                "case": key,
                "book_peak_a": "" if book.peak_a is None else book.peak_a,
                "peak_current_a": round(ours["peak_current_a"], 2),
                "book_detect_ms": f"{'< ' if book.detect_is_bound else ''}{book.detect_ms:g}",
                "detect_ms": ours["detect_ms"],
                "trip_ms": ours["trip_ms"],
                "tripped": ours["tripped"],
                "attack_detected": ours["attack_detected"],
                "decided_on": ours["decided_on"],
                "book_lines": book.line,
            }
        )
    return rows


def _write_rows(rows: list[dict[str, Any]], path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _write_cases_csv(results: dict[str, CaseResult], path: Path) -> Path:
    return _write_rows(_comparison(results), path)


def _write_cases_plot(results: dict[str, CaseResult], path: Path) -> Path:
    figure = Figure(figsize=(13, 8))
    axes = figure.subplots(2, 2).ravel()
    for ax, key in zip(axes, CASE_KEYS, strict=True):
        draw_case(ax, results[key], _case_title(key))
    figure.savefig(path, dpi=100, bbox_inches="tight")
    return path


def _fmt(value: Any) -> str:
    return "—" if value is None or value == "" else str(value)


def _summary_md(
    results: dict[str, CaseResult], attacks: list[dict[str, Any]], base: ProtectionConfig
) -> str:
    c, ch = base.circuit, base.channel
    lines = [
        "# DC microgrid protection (001b_book.md chapter 11), reproduced",
        "",
        "The chapter gives no circuit; ours is the labelled configuration of "
        "`peergrid.protection.config`: a "
        f"{c.nominal_voltage_v:g} V line, C = {c.capacitance_f * 1e3:g} mF per converter, "
        f"reactors of {c.reactor_h * 1e3:g} mH at both ends, line {c.line_resistance_ohm:g} Ω / "
        f"{c.line_inductance_h * 1e3:g} mH, I_load = {c.load_current_a:g} A; samples every "
        f"{base.sampling.interval_us:g} µs; a ledger block every {ch.block_interval_ms:g} ms.",
        "",
        "| case | peak A (book) | peak A (ours) | detection ms (book) | detection ms (ours) "
        "| trip sent ms | tripped | attack found | decided on |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in _comparison(results):
        lines.append(
            f"| {row['case']} | {_fmt(row['book_peak_a'])} | {row['peak_current_a']} | "
            f"{row['book_detect_ms']} | {_fmt(row['detect_ms'])} | {_fmt(row['trip_ms'])} | "
            f"{row['tripped']} | {row['attack_detected']} | {_fmt(row['decided_on'])} |"
        )
    lines += [
        "",
        "Detection is counted from the fault's inception to the moment the relay's rule "
        "(Eqs. 1-6) is met on the values it trusts, the main channel's latency included; the "
        "trip is sent once the ledger has confirmed the samples it used (``confirm_trips``), "
        "so without an attack the trip follows the detection by the wait for the next block. "
        f"The attacked cases use a {REPRODUCTION_ATTACK.value} attack from "
        f"{base.attack.start_ms:g} ms of the window (the fault comes at "
        f"{base.fault.time_ms:g} ms).",
        "",
        "## Every attack, on the faulted line and on a healthy one",
        "",
        "| line | attack | found | tripped | decided on | detection ms | trip ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in attacks:
        lines.append(
            f"| {row['line']} | {row['attack']} | {row['attack_detected']} | {row['tripped']} | "
            f"{_fmt(row['decided_on'])} | {_fmt(row['detect_ms'])} | {_fmt(row['trip_ms'])} |"
        )
    lines += [
        "",
        "How close, and why: see docs/systems/s9.md. The 10 Ω peak cannot fall much below "
        "V_n / (R_f + loop resistance) ≈ 4.4 A on a 48 V line; the chapter's faster detection "
        "of the high-impedance fault follows from the equations: the trip rule is met just after "
        "the fault current's peak, which a 10 Ω fault reaches sooner (its L/R is ten times "
        "shorter).",
        "",
    ]
    return "\n".join(lines)
