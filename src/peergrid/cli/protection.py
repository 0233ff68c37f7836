"""``peergrid protection simulate`` and ``peergrid reproduce dc-protection``: S9, the DC line's
differential protection with a ledger backup channel (001b_book.md chapter 11)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from peergrid.cli.common import Command, Overwrite, Quiet, group, output_folder
from peergrid.cli.console import err, stdout
from peergrid.cli.reproduce import stage_progress

protection_app = group("DC microgrid protection (S9): a line's differential relay and its backup.")


@protection_app.command("simulate", cls=Command)
def simulate_command(
    config: Annotated[
        Path,
        typer.Argument(
            metavar="CONFIG",
            help="TOML configuration (examples/protection.toml); '-' reads standard input",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", metavar="<folder>", help="folder for the results"),
    ] = Path("results/protection"),
    overwrite: Annotated[bool, Overwrite] = False,
) -> None:
    """One fault case: the line through the fault, the samples over the main channel (and the
    attack, if any) and through the ledger, and the relay's decision.

    Writes currents.csv (both line ends' currents and the relay's S1, S2, S_T, α, α_min),
    summary.json (peak current, detection and trip times from inception, whether the attack
    was found) and currents.png; prints the summary.
    """
    from peergrid.protection import load_protection_config, run_case, write_case

    settings = load_protection_config(config)
    output_folder(output, overwrite=overwrite)
    result = run_case(settings)
    paths = write_case(result, output)
    err.print(f"wrote {len(paths)} files to {output}", highlight=False)
    typer.echo(json.dumps(result.summary(), indent=2, allow_nan=False))


def reproduce_dc_protection_command(
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", metavar="<folder>", help="folder for the tables and summary.md"
        ),
    ] = Path("results/reproduce-dc-protection"),
    overwrite: Annotated[bool, Overwrite] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            metavar="",
            help="print the headline as one JSON object, last on stdout: {case: "
            '{"peak_current_a", "detect_ms", "tripped", "attack_detected"}} for the cases '
            "1ohm, 10ohm, 1ohm_attack, 10ohm_attack",
        ),
    ] = False,
    quiet: Annotated[bool, Quiet] = False,
) -> None:
    """The DC protection chapter (001b ch. 11): its four cases (1 Ω at 33 % of the line, 10 Ω
    at the middle, each with and without an attack on the main channel) beside the book's
    peak currents and detection times, every attack on a faulted and a healthy line, and
    plots of the currents and the trip."""
    from peergrid.sim.reproduce.dc_protection import BOOK, reproduce_dc_protection

    output_folder(output, overwrite=overwrite)
    with stage_progress(quiet) as progress:
        result = reproduce_dc_protection(output, progress=progress)
    err.print(
        f"wrote {len(result.paths)} files to {output}; start with {result.paths['summary']}",
        highlight=False,
    )
    if as_json:
        typer.echo(json.dumps(result.headline, allow_nan=False))
        return
    table = Table(title="Chapter 11 reproduced (peergrid reproduce dc-protection)")
    for column in ("case", "peak A (book)", "peak A", "detect ms (book)", "detect ms", "tripped"):
        table.add_column(column)
    for key, figures in result.headline.items():
        book = BOOK[key]
        table.add_row(
            key,
            _shown(book.peak_a),
            f"{figures['peak_current_a']:.2f}",
            f"{'< ' if book.detect_is_bound else ''}{book.detect_ms:g}",
            _shown(figures["detect_ms"]),
            str(figures["tripped"]),
        )
    stdout().print(table)


def _shown(value: Any) -> str:
    return "—" if value is None else f"{value:g}"
