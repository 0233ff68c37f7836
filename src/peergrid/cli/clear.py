"""``peergrid clear``: any mechanism on a JSON order set, the result as JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from peergrid.core.errors import PeergridError


def clear_command(
    orders: Annotated[Path, typer.Option("--orders", help="JSON order set ('-' for stdin)")],
    mechanism: Annotated[
        str, typer.Option("--mechanism", "-m", help="mcafee, dpda or dpda+score")
    ] = "dpda",
    feeder: Annotated[
        str | None, typer.Option("--feeder", help="feeder for grid distances (dpda+score)")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="mechanism parameter key=value")
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
