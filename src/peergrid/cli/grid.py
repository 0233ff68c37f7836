"""``peergrid grid ...``: the feeder catalogue, pictures, distances and AC validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from peergrid.cli.common import (
    Command,
    Json,
    Overwrite,
    feeder,
    group,
    input_file,
    number,
    output_file,
)
from peergrid.cli.console import err, stdout
from peergrid.core.errors import PeergridError

grid_app = group("Feeders: catalogue, pictures, distances, AC validation.")

FeederName = Annotated[
    feeder,
    typer.Argument(metavar="FEEDER", parser=feeder, help="feeder name, see `peergrid grid list`"),
]

# The limits `grid validate` takes, with their units: the scenario's [grid] bounds.
V_MIN_PU = (0.5, 1.0)
V_MAX_PU = (1.0, 1.5)
MAX_LOADING_PCT = 1000.0


@grid_app.command("list", cls=Command)
def list_command() -> None:
    """List the feeders peergrid knows."""
    from peergrid.grid.feeders import list_feeders

    table = Table(title="Feeders")
    table.add_column("name")
    table.add_column("description")
    for info in list_feeders():
        table.add_row(Text(info.name), Text(info.description))
    stdout().print(table)


@grid_app.command("show", cls=Command)
def show_command(
    name: FeederName,
    out_file: Annotated[
        Path | None,
        typer.Option(
            "--out-file", metavar="<path>", help="PNG picture to write (default FEEDER.png)"
        ),
    ] = None,
    overwrite: Annotated[bool, Overwrite] = False,
    as_json: Annotated[bool, Json] = False,
) -> None:
    """Summarise a feeder and draw it, buses coloured by a base-case power flow."""
    from peergrid.grid.feeders import check_feeder_name

    check_feeder_name(name)
    path = out_file if out_file is not None else Path(f"{name.replace(':', '_')}.png")
    output_file(path, overwrite=overwrite)
    if path.suffix.lower() != ".png":
        raise PeergridError(
            f"{path}: unknown picture type {path.suffix!r}: grid show draws PNG, name the file .png"
        )

    from peergrid.grid.feeders import load_feeder
    from peergrid.grid.plot import base_case_power_flow, draw_feeder, feeder_summary

    feeder = load_feeder(name)
    base = base_case_power_flow(feeder)
    summary = feeder_summary(feeder, base)
    vm = None if base is None else base.res_bus.vm_pu.dropna().to_dict()
    draw_feeder(feeder, path, vm, title=f"{name}: base-case voltages (p.u.)")
    summary["picture"] = str(path)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    table = Table(title=Text(f"Feeder {name}"), show_header=False)
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        table.add_row(Text(key), Text(_fmt(value)))
    stdout().print(table)


@grid_app.command("distances", cls=Command)
def distances_command(
    name: FeederName,
    metric: Annotated[
        str,
        typer.Option("--metric", metavar="<metric>", help="length (m) | hops | impedance (ohm)"),
    ] = "length",
    as_json: Annotated[bool, typer.Option("--json", metavar="", help="the whole matrix")] = False,
    buses: Annotated[
        str | None,
        typer.Option(
            "--buses", metavar="<bus,…>", help="comma-separated buses (default: households)"
        ),
    ] = None,
) -> None:
    """All-pairs distances along the radial feeder."""
    from peergrid.grid.distance import distance_matrix
    from peergrid.grid.feeders import check_feeder_name, load_feeder

    if metric not in ("length", "hops", "impedance"):
        raise PeergridError(f"--metric: unknown metric {metric!r} (known: length, hops, impedance)")
    chosen = None if buses is None else [_bus(b) for b in buses.split(",")]
    if chosen is not None and not chosen:
        raise PeergridError("--buses: name at least one bus")
    check_feeder_name(name)
    feeder = load_feeder(name)
    matrix = distance_matrix(feeder, metric)  # type: ignore[arg-type]
    if chosen is not None:
        known = set(matrix.buses)
        for bus in chosen:
            if bus not in known:
                raise PeergridError(f"--buses: bus {bus} is not a bus of feeder {name!r}")
        matrix = matrix.restrict(chosen)
    elif not as_json:
        matrix = matrix.restrict(feeder.household_buses)
    if as_json:
        typer.echo(json.dumps(matrix.to_json()))
        return
    table = Table(title=Text(f"{name}: {metric} ({matrix.unit}) between {len(matrix.buses)} buses"))
    shown = matrix.buses[:12]
    table.add_column("bus")
    for b in shown:
        table.add_column(str(b), justify="right")
    for b in shown:
        table.add_row(str(b), *(f"{matrix.between(b, c):.3f}" for c in shown))
    stdout().print(table)
    if len(matrix.buses) > len(shown):
        err.print(f"showing {len(shown)} of {len(matrix.buses)} buses; --json for all")


def _bus(text: str) -> int:
    cleaned = text.strip()
    if not cleaned:
        return _no_bus(text)
    try:
        return int(cleaned)
    except ValueError:
        return _no_bus(text)


def _no_bus(text: str) -> int:
    raise PeergridError(f"--buses: {text!r} is not a bus id")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4f}"
    return str(value)


@grid_app.command("validate", cls=Command)
def validate_command(
    name: FeederName,
    injections_file: Annotated[
        Path | None,
        typer.Argument(
            metavar="INJECTIONS",
            help="JSON or CSV injections, kW drawn per bus ('-': standard input)",
            show_default=False,
        ),
    ] = None,
    injections_option: Annotated[
        Path | None,
        typer.Option(
            "--injections", "-i", metavar="<path>", hidden=True, help="the same as INJECTIONS"
        ),
    ] = None,
    as_json: Annotated[bool, Json] = False,
    v_min_pu: Annotated[
        float | None,
        typer.Option(metavar="<p.u.>", help="lower voltage limit, 0.5..1.0 (default: feeder's)"),
    ] = None,
    v_max_pu: Annotated[
        float | None,
        typer.Option(metavar="<p.u.>", help="upper voltage limit, 1.0..1.5 (default: feeder's)"),
    ] = None,
    max_loading_pct: Annotated[
        float | None,
        typer.Option(
            metavar="<%>", help="line and transformer loading limit, above 0 and at most 1000"
        ),
    ] = None,
) -> None:
    """AC power flow of every slot of an injection file, checked against the limits.

    Exit status 0 when every slot converged within the limits, 1 when any slot violates a limit
    or does not converge (each violation is listed), 2 for bad input.
    """
    from dataclasses import replace

    from peergrid.grid.feeders import check_feeder_name, load_feeder
    from peergrid.grid.injections import read_injections
    from peergrid.grid.powerflow import validate

    # The options and the file first: nothing is built for input that is refused.
    if v_min_pu is not None:
        number(v_min_pu, "--v-min-pu", "p.u.", low=V_MIN_PU[0], high=V_MIN_PU[1])
    if v_max_pu is not None:
        number(v_max_pu, "--v-max-pu", "p.u.", low=V_MAX_PU[0], high=V_MAX_PU[1])
    if max_loading_pct is not None:
        number(
            max_loading_pct, "--max-loading-pct", "%", low=0, high=MAX_LOADING_PCT, low_open=True
        )
    check_feeder_name(name)
    path = input_file(
        injections_file, injections_option, what="injection file", option_name="--injections"
    )
    injections = read_injections(path)
    feeder = load_feeder(name)
    limits = feeder.limits
    for field, value in (("v_min_pu", v_min_pu), ("v_max_pu", v_max_pu)):
        if value is not None:
            limits = replace(limits, **{field: value})
    if max_loading_pct is not None:
        limits = replace(
            limits, max_line_loading_pct=max_loading_pct, max_trafo_loading_pct=max_loading_pct
        )
    if limits.v_min_pu >= limits.v_max_pu:
        raise PeergridError(
            f"--v-min-pu ({limits.v_min_pu:g}) must be below --v-max-pu ({limits.v_max_pu:g})"
        )
    try:
        injections.check_buses(feeder)
    except PeergridError as exc:
        raise PeergridError(f"{path}: {exc}") from None
    report = validate(feeder, injections, limits)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        table = Table(title=Text(f"AC validation on {name}: {len(report.slots)} slot(s)"))
        for column in ("slot", "converged", "V min", "V max", "line %", "trafo %", "violations"):
            table.add_column(column, justify="right")
        for s in report.slots:
            table.add_row(
                str(s.slot),
                "yes" if s.converged else "[red]NO[/]",
                f"{s.v_min_pu:.5f}",
                f"{s.v_max_pu:.5f}",
                f"{s.max_line_loading_pct:.2f}",
                f"{s.max_trafo_loading_pct:.2f}",
                str(len(s.violations)) if s.converged else "not converged",
            )
        stdout().print(table)
        violations = [v for s in report.slots for v in s.violations]
        if violations:
            listing = Table(title=f"{len(violations)} violation(s)")
            for column in ("slot", "kind", "element", "value", "limit"):
                listing.add_column(column, justify="right")
            for v in violations:
                listing.add_row(
                    str(v.slot), v.kind, v.element, _fmt_limit(v.value), _fmt_limit(v.limit)
                )
            stdout().print(listing)
    if not report.passed:
        raise typer.Exit(code=1)


def _fmt_limit(value: float) -> str:
    return "-" if value != value else f"{value:.4f}"
