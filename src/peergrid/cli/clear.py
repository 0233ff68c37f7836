"""``peergrid clear``: any mechanism on a JSON order set, the result as JSON."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from peergrid.cli.console import stdout
from peergrid.core.errors import PeergridError
from peergrid.mechanisms.registry import MECHANISMS


def clear_command(
    orders: Annotated[Path, typer.Option("--orders", help="JSON order set ('-' for stdin)")],
    mechanism: Annotated[
        str, typer.Option("--mechanism", "-m", help=f"one of {', '.join(MECHANISMS)}")
    ] = "dpda",
    feeder: Annotated[
        str | None,
        typer.Option("--feeder", help="feeder for grid distances (the +score mechanisms)"),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="mechanism parameter key=value (`peergrid mechanisms`)"),
    ] = None,
) -> None:
    """Clear a JSON order set and print the result as JSON."""
    from peergrid.core.orders import parse_order_book
    from peergrid.mechanisms import clear

    text = sys.stdin.read() if str(orders) == "-" else _read(orders)
    book, params = parse_order_book(text)
    for item in param or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise PeergridError(f"--param {item!r}: expected key=value")
        params[key] = _parse_value(value)
    distances = None
    if feeder is not None:
        from peergrid.grid.distance import distance_matrix
        from peergrid.grid.feeders import load_feeder

        distances = distance_matrix(load_feeder(feeder))
    result = clear(mechanism, book, params, distances=distances)
    typer.echo(json.dumps(result.to_dict(), indent=2))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PeergridError(f"{path}: cannot read the order file ({exc.strerror})") from None


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def mechanisms_command(
    as_json: Annotated[bool, typer.Option("--json", help="print the registry as JSON")] = False,
) -> None:
    """List the mechanisms, what each needs and its parameters with units and defaults."""
    from rich.table import Table

    if as_json:
        typer.echo(
            json.dumps(
                {
                    spec.name: {
                        "module": spec.module,
                        "summary": spec.summary,
                        "needs_distances": spec.needs_distances,
                        "parameters": [dataclasses.asdict(p) for p in spec.parameters],
                    }
                    for spec in MECHANISMS.values()
                },
                indent=2,
            )
        )
        return

    table = Table(title="Mechanisms (peergrid clear --mechanism, scenario market.mechanism)")
    for column in ("name", "what it is", "needs", "parameters (unit, default)"):
        table.add_column(column)
    for spec in MECHANISMS.values():
        params = "\n".join(f"{p.name} ({p.unit or '-'}, {p.default})" for p in spec.parameters)
        table.add_row(
            spec.name,
            spec.summary,
            "--feeder" if spec.needs_distances else "",
            params or "none",
        )
    stdout().print(table)
