"""``peergrid clear``: any mechanism on a JSON order set, the result as JSON."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from peergrid.cli.common import Json, input_file
from peergrid.cli.console import stdout
from peergrid.core.errors import PeergridError
from peergrid.core.inputs import parse_json, source_name
from peergrid.mechanisms.registry import MECHANISMS, MechanismSpec


def clear_command(
    orders_file: Annotated[
        Path | None,
        typer.Argument(
            metavar="ORDERS",
            help="JSON order set; '-' reads it from standard input",
            show_default=False,
        ),
    ] = None,
    orders_option: Annotated[
        Path | None,
        typer.Option("--orders", metavar="<path>", hidden=True, help="the same as ORDERS"),
    ] = None,
    mechanism: Annotated[
        str,
        typer.Option("--mechanism", "-m", metavar="<name>", help=f"one of {', '.join(MECHANISMS)}"),
    ] = "dpda",
    feeder: Annotated[
        str | None,
        typer.Option(
            "--feeder",
            metavar="<feeder>",
            help="feeder for grid distances (the +score mechanisms) or the ancillary-service "
            "markets' feeder (ncda, ocda; cda: paths), e.g. cigre-mv-vdma; `peergrid grid list`",
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            metavar="<key=value>",
            help="mechanism parameter, repeatable (names, units, bounds: `peergrid mechanisms`)",
        ),
    ] = None,
) -> None:
    """Clear a JSON order set and print the result as JSON.

    Ancillary-service sessions (cda, ncda, ocda; 004_vdma.md): an ask is a
    buy order, an offer a sell order; one file is one pool ("pool": "up" or
    "down" at the top, or --param pool=) of one session. NCDA fills an ask
    from the nearest suitable offers first: hops on the feeder graph with
    open switches respected (--param distance=length|impedance to change);
    equidistant offers go cheaper first, then older (submitted_at, else the
    order of the file).
    """
    from peergrid import public
    from peergrid.core.orders import read_order_book
    from peergrid.mechanisms.registry import mechanism_spec

    # Everything that can be refused without reading the feeder is, first.
    spec = mechanism_spec(mechanism)
    path = input_file(orders_file, orders_option, what="order file", option_name="--orders")
    book, params = read_order_book(path)
    _check_params(spec, params, source_name(path))
    for item in param or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise PeergridError(f"--param {item!r}: expected key=value")
        params[key] = parse_json(value, f"--param {key}", plain_text=True)
    _check_params(spec, params, "--param")
    result = public.clear(book, mechanism, feeder=feeder, params=params)
    try:
        text = json.dumps(result.to_dict(), indent=2, allow_nan=False)
    except ValueError:
        raise PeergridError(f"the clearing of {path} holds a number that is not finite") from None
    typer.echo(text)


def _check_params(spec: MechanismSpec, params: dict[str, Any], origin: str) -> None:
    try:
        spec.check_params(params)
    except PeergridError as exc:
        raise PeergridError(f"{origin}: {str(exc).removeprefix(_PARAMS_PREFIX)}") from None


_PARAMS_PREFIX = "field 'params': "


def mechanisms_command(as_json: Annotated[bool, Json] = False) -> None:
    """List the mechanisms, what each needs and its parameters with units and defaults."""
    if as_json:
        typer.echo(
            json.dumps(
                {
                    spec.name: {
                        "module": spec.module,
                        "summary": spec.summary,
                        "needs_distances": spec.needs_distances,
                        "needs_feeder": spec.needs_feeder,
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
            Text(spec.name),
            Text(spec.summary),
            Text("--feeder" if spec.needs_distances or spec.needs_feeder else ""),
            Text(params or "none"),
        )
    stdout().print(table)
