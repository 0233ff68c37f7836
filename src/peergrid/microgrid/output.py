"""What a microgrid run writes: ``summary.json`` (the headline), ``balance.csv`` (the island
minute by minute), ``lots.csv`` (every lot sold), ``events.csv`` (every anomaly event the
listener passed to the operator), ``report.md`` (the figures, auction prices, the operator's
actions, money) and ``balance.png`` (the island's balance over the day)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from peergrid.microgrid.simulation import MicrogridResult

BALANCE_COLUMNS = (
    "minute",
    "production_kwh",
    "consumption_kwh",
    "stored_kwh",
    "operator_storage_kwh",
    "imported_kwh",
    "unserved_kwh",
    "curtailed_kwh",
)


def write_microgrid(result: MicrogridResult, folder: Path) -> dict[str, Path]:
    """Write every file of the run to ``folder`` (which exists); their paths by name."""
    paths = {
        "summary": folder / "summary.json",
        "balance": folder / "balance.csv",
        "lots": folder / "lots.csv",
        "events": folder / "events.csv",
        "report": folder / "report.md",
        "plot": folder / "balance.png",
    }
    paths["summary"].write_text(json.dumps(result.summary(), indent=2) + "\n", encoding="utf-8")
    t = result.totals
    table = np.column_stack(
        [
            np.arange(t.minutes),
            t.production,
            t.consumption,
            t.stored,
            t.buffer,
            t.imported,
            t.unserved,
            t.curtailed,
        ]
    )
    np.savetxt(
        paths["balance"],
        table,
        delimiter=",",
        header=",".join(BALANCE_COLUMNS),
        comments="",
        fmt=["%d"] + ["%.4f"] * (len(BALANCE_COLUMNS) - 1),
    )
    with paths["lots"].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["lot", "minute", "seller", "buyer", "quantity_kwh", "price", "flow_kwh"])
        for lot in result.lots:
            writer.writerow(
                [
                    lot.id,
                    lot.minute,
                    lot.seller,
                    lot.buyer,
                    lot.quantity_kwh,
                    lot.price,
                    round(lot.metered_kwh, 4),
                ]
            )
    with paths["events"].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["minute", "event", "details"])
        for minute, name, args in result.anomalies:
            writer.writerow([minute, name, json.dumps(args, sort_keys=True, default=str)])
    paths["report"].write_text(report_markdown(result), encoding="utf-8")
    _plot(result, paths["plot"])
    return paths


def report_markdown(result: MicrogridResult) -> str:
    t = result.totals
    prices = [price for _, price in result.prices]
    lines = [
        "# Islanded microgrid run",
        "",
        f"{len(result.scenario.entities)} entities, {t.minutes} one-minute steps.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| production (kWh) | {t.production.sum():.2f} |",
        f"| consumption (kWh) | {t.consumption.sum():.2f} |",
        f"| energy bought from outside by the EIA (kWh) | {t.imported.sum():.2f} |",
        f"| its cost at the upstream price | {result.import_cost:.2f} |",
        f"| unserved (kWh) | {t.unserved.sum():.3f} |",
        f"| curtailed (kWh) | {t.curtailed.sum():.2f} |",
        f"| lots sold | {len(result.lots)} |",
        f"| energy in lots sold (kWh) | {sum(lot.quantity_kwh for lot in result.lots):.2f} |",
        f"| sold by the operator's offer (kWh) | {result.operator_sales_kwh:.2f} |",
        "| auction prices (min / mean / max per kWh) | "
        + (f"{min(prices):.4f} / {np.mean(prices):.4f} / {max(prices):.4f}" if prices else "—")
        + " |",
        f"| audits failed | {result.summary()['audits_failed']} |",
        f"| ledger transactions | {result.transactions} |",
        "",
        "## Events raised on the ledger and the operator's actions",
        "",
        "| event | count |",
        "|---|---|",
        *(f"| {name} | {count} |" for name, count in sorted(result.event_counts.items())),
        "",
        "| action | count |",
        "|---|---|",
        *(f"| {name} | {count} |" for name, count in sorted(result.actions.items())),
        "",
        "## Money",
        "",
        f"Deposited by the entities: {result.deposited:.6f}; held on the ledger at the end: "
        f"{sum(result.balances.values()):.6f} (the operator {result.balances['operator']:.6f}).",
        "",
    ]
    return "\n".join(lines)


def _plot(result: MicrogridResult, path: Path) -> None:
    t = result.totals
    hours = np.arange(t.minutes) / 60.0
    figure = Figure(figsize=(10, 6))
    top, bottom = figure.subplots(2, 1, sharex=True)
    top.plot(hours, t.production * 60, label="production (kW)")
    top.plot(hours, t.consumption * 60, label="consumption (kW)")
    top.plot(hours, t.imported * 60, label="imported by the EIA (kW)")
    top.plot(hours, t.unserved * 60, label="unserved (kW)")
    top.legend(loc="upper left", fontsize=8)
    top.set_title("Balance of the island")
    bottom.plot(hours, t.stored, label="batteries (kWh)")
    bottom.plot(hours, t.buffer, label="operator's storage (kWh)")
    for minute, _ in result.prices:
        bottom.axvline(minute / 60.0, color="0.85", linewidth=0.5)
    bottom.legend(loc="upper left", fontsize=8)
    bottom.set_xlabel("hour")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
