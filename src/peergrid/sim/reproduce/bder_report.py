"""The report's Tables 4 and 5 (000_bder.md §4.2–4.3) beside ours, and the orderings checked.

The report's figures are those of the digest, as printed; ``None`` where the report has "–".
Its relative rows are recomputed here from its absolute ones (four printed relative cells do
not match their absolute values, digest §4.2), so only the absolute rows are kept.
"""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SCENARIOS = ("BS", "GS", "TS", "TGS", "BW", "GW", "TW", "TGW")
DISTRIBUTED = ("GS", "TS", "TGS", "GW", "TW", "TGW")

# Table 4 (L635–656), EUR over the week and all households.
REPORT_TABLE4: dict[str, tuple[float | None, ...]] = {
    "prosumer_import_cost": (90.17, 53.46, 70.84, 60.06, 150.82, 126.56, 132.76, 136.05),
    "consumer_import_cost": (92.23, 30.01, 59.59, 58.74, 151.44, 118.19, 148.02, 147.32),
    "prosumer_trade_cost": (None, None, -37.40, -49.37, None, None, 0.0, 0.0),
    "consumer_trade_cost": (None, None, 37.40, 49.37, None, None, 0.0, 0.0),
    "total_prosumer_cost": (90.17, 53.46, 33.44, 10.69, 150.82, 126.56, 132.76, 136.05),
    "total_consumer_cost": (92.23, 30.01, 96.99, 108.11, 151.44, 118.19, 148.02, 147.32),
    "import_cost": (182.40, 83.47, 130.43, 118.8, 302.26, 244.75, 280.78, 283.37),
    "trade_cost": (None, None, 37.40, 49.37, None, None, 0.0, 0.0),
    "total_cost": (182.40, 83.47, 167.83, 168.17, 302.26, 244.75, 280.78, 283.37),
}
# Indicators of ours with no row in the report.
OURS_ONLY_TABLE4 = ("loss_cost", "coefficient_cost")

# Table 5 (L680–687), kWh over the week and all households.
REPORT_TABLE5: dict[str, tuple[float | None, ...]] = {
    "exchange_kwh": (None, 495, 291, 468, None, 52, 5, 17),
    "total_import_kwh": (999, 788, 895, 856, 2638, 2333, 2530, 2455),
    "peak_import_kwh": (731, 273, 620, 302, 1199, 843, 1140, 876),
}

FAR_BELOW = 0.75
""""Far below" (§4.3): at most this share of the smaller of the two (the report: 302/620)."""
TINY_EXCHANGE = 0.25
"""Winter exchange "tiny" (D.17): at most this share of the same design's summer exchange."""
NEGLIGIBLE_TRADE = 0.05
"""Winter trade costs "about 0" (D.17): at most this share of the design's import cost."""


def report_value(indicator: str, scenario: str) -> float | None:
    table = REPORT_TABLE4 if indicator in REPORT_TABLE4 else REPORT_TABLE5
    if indicator == "peak_ratio":
        peak, total = (
            report_value("peak_import_kwh", scenario),
            report_value("total_import_kwh", scenario),
        )
        assert peak is not None and total is not None
        return peak / total
    row = table.get(indicator)
    return None if row is None else row[SCENARIOS.index(scenario)]


def _baseline(scenario: str) -> str:
    return "BS" if scenario.endswith("S") else "BW"


def _rel(value: float | None, base: float | None) -> float | None:
    if value is None or base is None or not math.isfinite(value) or base == 0:
        return None
    return 100.0 * value / base


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None or not math.isfinite(value):
        return ""
    return f"{value:.{digits}f}"


def write_table(
    path: Path, indicators: tuple[str, ...], week: Mapping[str, Mapping[str, float]]
) -> None:
    """Long form: one row per indicator and scenario, the report's and ours, absolute and
    relative to the season's baseline (in %)."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "indicator",
                "scenario",
                "report",
                "ours",
                "report_rel_baseline_pct",
                "ours_rel_baseline_pct",
            ]
        )
        for indicator in indicators:
            for sc in SCENARIOS:
                rep = report_value(indicator, sc) if indicator not in OURS_ONLY_TABLE4 else None
                ours = week[sc][indicator]
                base = _baseline(sc)
                rep_base = (
                    report_value(indicator, base) if indicator not in OURS_ONLY_TABLE4 else None
                )
                writer.writerow(
                    [
                        indicator,
                        sc,
                        _fmt(rep, 4),
                        _fmt(ours, 4),
                        _fmt(_rel(rep, rep_base), 1),
                        _fmt(_rel(ours, week[base][indicator]), 1),
                    ]
                )


@dataclass(frozen=True)
class Ordering:
    """One of the report's orderings on our numbers."""

    source: str  # where the report states it
    claim: str
    passed: bool
    ours: str  # the numbers it was decided on
    report: str
    note: str = ""


def _chain(week: Mapping[str, Mapping[str, float]], key: str, codes: tuple[str, ...]) -> bool:
    """``codes`` strictly increasing in ``key``."""
    values = [week[c][key] for c in codes]
    return all(a < b for a, b in itertools.pairwise(values))


def _nums(week: Mapping[str, Mapping[str, float]], key: str, codes: tuple[str, ...]) -> str:
    return ", ".join(f"{c} {week[c][key]:.2f}" for c in codes)


def _rep(key: str, codes: tuple[str, ...]) -> str:
    parts = []
    for c in codes:
        v = report_value(key, c)
        parts.append(f"{c} {'–' if v is None else f'{v:g}'}")
    return ", ".join(parts)


def check_orderings(week: Mapping[str, Mapping[str, float]]) -> list[Ordering]:
    """§4.2–4.4 and the digest's B.8–B.13 and D.17 on our week totals."""
    w = week
    out: list[Ordering] = []

    def add(source: str, claim: str, passed: bool, key: str, codes: tuple[str, ...]) -> None:
        out.append(Ordering(source, claim, passed, _nums(w, key, codes), _rep(key, codes)))

    tc = "total_cost"
    for s in ("S", "W"):
        b, g, t, tg = f"B{s}", f"G{s}", f"T{s}", f"TG{s}"
        season = "summer" if s == "S" else "winter"
        src = "§4.4, B.8" if s == "S" else "§4.2 (winter column)"
        add(
            src,
            f"{g} has the lowest total cost of the {season} scenarios",
            w[g][tc] < min(w[b][tc], w[t][tc], w[tg][tc]),
            tc,
            (g, t, tg, b),
        )
        for x in (t, tg):
            add(
                src,
                f"{x} lies between {g} and {b} in total cost",
                w[g][tc] <= w[x][tc] <= w[b][tc],
                tc,
                (g, x, b),
            )
        pk = "peak_import_kwh"
        if s == "S":
            far = max(w[g][pk], w[tg][pk]) <= FAR_BELOW * min(w[b][pk], w[t][pk])
            claim = (
                f"peak imports of {g} and {tg} far below {b} and {t} (at most {FAR_BELOW:.0%} "
                "of the smaller)"
            )
            add("§4.3, §4.4, B.11", claim, far, pk, (g, tg, t, b))
        else:  # the report says "far below" of summer only; its winter column is milder
            below = max(w[g][pk], w[tg][pk]) < min(w[b][pk], w[t][pk])
            add(
                "§4.3 (winter column)",
                f"peak imports of {g} and {tg} below {b} and {t}",
                below,
                pk,
                (g, tg, t, b),
            )
        ratio = {c: w[c]["peak_import_kwh"] / w[c]["total_import_kwh"] for c in (b, g, t, tg)}
        lower = max(ratio[g], ratio[tg]) < min(ratio[b], ratio[t])
        out.append(
            Ordering(
                "B.11, D.17",
                f"grid constraints lower the peak/total import ratio ({g}, {tg} below {b}, {t})",
                lower,
                ", ".join(f"{c} {ratio[c]:.3f}" for c in (g, tg, t, b)),
                ", ".join(f"{c} {report_value('peak_ratio', c):.3f}" for c in (g, tg, t, b)),
            )
        )
    add(
        "B.9",
        "import costs GS < TGS < TS < BS",
        _chain(w, "import_cost", ("GS", "TGS", "TS", "BS")),
        "import_cost",
        ("GS", "TGS", "TS", "BS"),
    )
    add(
        "B.10",
        "total imports GS < TGS < TS < BS",
        _chain(w, "total_import_kwh", ("GS", "TGS", "TS", "BS")),
        "total_import_kwh",
        ("GS", "TGS", "TS", "BS"),
    )
    add(
        "B.12",
        "local exchange GS > TGS > TS",
        _chain(w, "exchange_kwh", ("TS", "TGS", "GS")),
        "exchange_kwh",
        ("GS", "TGS", "TS"),
    )
    add(
        "B.13",
        "prosumers' trade revenue higher in TGS than in TS",
        -w["TGS"]["prosumer_trade_cost"] > -w["TS"]["prosumer_trade_cost"],
        "prosumer_trade_cost",
        ("TS", "TGS"),
    )

    def spread(s: str) -> float:
        base = w[f"B{s}"][tc]
        values = [w[f"{k}{s}"][tc] / base for k in ("B", "G", "T", "TG")]
        return max(values) - min(values)

    out.append(
        Ordering(
            "§4.4 (L700), D.17",
            "winter differences between scenarios smaller than summer's (spread of total cost "
            "relative to the baseline)",
            spread("W") < spread("S"),
            f"summer {spread('S'):.3f}, winter {spread('W'):.3f}",
            "summer 0.542, winter 0.190",
        )
    )
    tiny = all(
        w[f"{k}W"]["exchange_kwh"] <= TINY_EXCHANGE * w[f"{k}S"]["exchange_kwh"]
        for k in ("G", "T", "TG")
    )
    out.append(
        Ordering(
            "D.17",
            f"winter exchange tiny (each design at most {TINY_EXCHANGE:.0%} of its summer's)",
            tiny,
            _nums(w, "exchange_kwh", ("GW", "TW", "TGW", "GS", "TS", "TGS")),
            _rep("exchange_kwh", ("GW", "TW", "TGW", "GS", "TS", "TGS")),
        )
    )
    negligible = all(
        w[c]["trade_cost"] <= NEGLIGIBLE_TRADE * abs(w[c]["import_cost"]) for c in ("TW", "TGW")
    )
    out.append(
        Ordering(
            "D.17",
            f"winter trade costs about 0 (at most {NEGLIGIBLE_TRADE:.0%} of the import cost)",
            negligible,
            _nums(w, "trade_cost", ("TW", "TGW")),
            _rep("trade_cost", ("TW", "TGW")),
        )
    )
    return out
