"""``peergrid dr run``: S7, a DR day on an LV feeder through the DR contracts of 001b_book.md
chapter 8 (baselines, events, rewards, penalties, stake-weighted verification)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from peergrid.cli.common import Command, Overwrite, feeder, group, output_folder
from peergrid.cli.console import err, stdout

dr_app = group("DR contracts (S7): baselines, DR events, rewards, penalties, stake verification.")


@dr_app.command("run", cls=Command)
def dr_run_command(
    scenario: Annotated[
        Path | None,
        typer.Argument(
            metavar="SCENARIO",
            help="TOML settings (examples/dr-events.toml; every field has a default); '-' reads "
            "standard input",
            show_default=False,
        ),
    ] = None,
    feeder_name: Annotated[
        feeder | None,
        typer.Option("--feeder", metavar="<feeder>", help="LV feeder (default ieee-eu-lv)"),
    ] = None,
    day: Annotated[
        str | None,
        typer.Option("--day", metavar="<date>", help="the DR day in 2016 (default 2016-01-20)"),
    ] = None,
    prosumers: Annotated[
        int | None, typer.Option("--prosumers", metavar="<n>", help="households, 1..128 (40)")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="<folder>",
            help="write summary.json, prosumers.csv, events.csv and report.md there",
        ),
    ] = None,
    overwrite: Annotated[bool, Overwrite] = False,
    as_json: Annotated[
        bool,
        typer.Option("--json", metavar="", help="print the summary as one JSON object"),
    ] = False,
) -> None:
    """Run a DR day on an LV feeder through the DR contracts (DrEvents.vy).

    Simbench households' meters post baseline days and the DR day to the contract on the
    embedded chain; events, commanded profiles, flexibility, rewards, penalties and the
    stake-weighted confirmation follow; the same day runs off chain and must agree; the
    feeder's AC power flow is checked without and with DR.

    The book's (chapter 8): the contracts' state variables, events started on the grid's
    imbalance, settlement from ledger readings, validators staking their DR incentives with a
    coin-age factor. Ours (docs/decisions.md, "S7"): every formula and number — baseline = mean
    of past readings at the same hour, flexibility = baseline - actual credited up to the
    request, reward = rate x flexibility, penalty = rate x shortfall beyond a tolerance, event
    when the hourly feeder load exceeds a share of the baseline days' peak, stake = genesis +
    incentives x (1 to 2 with age), confirmed above two thirds of the stake.
    """
    from peergrid.core.errors import ScenarioError
    from peergrid.sim.dr_events import load_dr_settings, run_dr_day
    from peergrid.sim.dr_events.output import write_dr_day

    if day is not None:
        try:
            dt.date.fromisoformat(day)
        except ValueError:
            raise ScenarioError(f"--day: {day!r} is not a date (YYYY-MM-DD)") from None
    settings = load_dr_settings(
        scenario,
        feeder=None if feeder_name is None else str(feeder_name),
        day=day,
        prosumers=prosumers,
    )
    if output is not None:
        output_folder(output, overwrite=overwrite)
    result = run_dr_day(settings)
    summary = result.summary()
    if output is not None:
        paths = write_dr_day(result, output)
        err.print(f"wrote {len(paths)} files to {output}; start with {paths['report']}")
    if as_json:
        typer.echo(json.dumps(summary, allow_nan=False))
        return
    table = Table(title=f"DR day on {settings.feeder}, {settings.day}")
    for column in (
        "prosumer",
        "bus",
        "events",
        "delivered kWh",
        "flexibility kWh",
        "shortfall kWh",
        "reward",
        "penalty",
    ):
        table.add_column(column, justify="right")
    for p in result.prosumers:
        if p.events:
            table.add_row(
                p.id,
                str(p.bus),
                str(p.events),
                f"{p.delivered_wh / 1000:.3f}",
                f"{p.flexibility_wh / 1000:.3f}",
                f"{p.shortfall_wh / 1000:.3f}",
                f"{p.reward / 1e6:.4f}",
                f"{p.penalty / 1e6:.4f}",
            )
    out = stdout()
    out.print(table)
    for key, value in summary.items():
        out.print(f"{key}: {value}", highlight=False)
