"""``peergrid microgrid run``: S8, an islanded microgrid run by agents that trade through ledger
auctions (001b_book.md chapter 10)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from peergrid.cli.common import Command, Overwrite, group, output_folder
from peergrid.cli.console import err

microgrid_app = group("Islanded microgrid (S8): agents that trade through ledger auctions.")


@microgrid_app.command("run", cls=Command)
def run_command(
    scenario: Annotated[
        Path,
        typer.Argument(
            metavar="SCENARIO",
            help="TOML agent scenario (examples/microgrid.toml); '-' reads standard input",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", metavar="<folder>", help="folder for the results"),
    ] = Path("results/microgrid"),
    overwrite: Annotated[bool, Overwrite] = False,
) -> None:
    """Run the island (discrete events, one-minute steps) with its agents on the embedded
    ledger: device logs, anomaly events and the operator's actions, the auction of lots,
    the operator's offer and the energy injector's imports.

    Writes summary.json (lots_sold, energy_imported_kwh, unserved_kwh, audits_failed,
    events), balance.csv, lots.csv, events.csv, report.md and balance.png; prints the summary.
    """
    from peergrid.microgrid import load_microgrid_scenario, run_microgrid
    from peergrid.microgrid.output import write_microgrid

    settings = load_microgrid_scenario(scenario)
    output_folder(output, overwrite=overwrite)
    result = run_microgrid(settings)
    paths = write_microgrid(result, output)
    err.print(
        f"wrote {len(paths)} files to {output}; start with {paths['report']}", highlight=False
    )
    typer.echo(json.dumps(result.summary(), indent=2, allow_nan=False))
