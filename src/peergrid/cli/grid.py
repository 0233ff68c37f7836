"""``peergrid grid ...``: the feeder catalogue, pictures, distances and AC validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from peergrid.cli.console import err, stdout
from peergrid.core.errors import PeergridError

grid_app = typer.Typer(help="Feeders: catalogue, pictures, distances, AC validation.")


@grid_app.command("list")
def list_command() -> None:
    """List the feeders peergrid knows."""
    from peergrid.grid.feeders import list_feeders

    table = Table(title="Feeders")
    table.add_column("name")
    table.add_column("description")
    for info in list_feeders():
        table.add_row(info.name, info.description)
    stdout().print(table)


@grid_app.command("show")
def show_command(
    name: Annotated[str, typer.Argument(help="feeder name, see `peergrid grid list`")],
    picture: Annotated[
        Path | None, typer.Option("--picture", "-p", help="PNG to write (default NAME.png)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Summarise a feeder and draw it, buses coloured by a base-case power flow."""
    from peergrid.grid.feeders import load_feeder
    from peergrid.grid.plot import base_case_power_flow, draw_feeder, feeder_summary

    feeder = load_feeder(name)
    base = base_case_power_flow(feeder)
    summary = feeder_summary(feeder, base)
    vm = None if base is None else base.res_bus.vm_pu.dropna().to_dict()
    path = picture or Path(f"{name.replace(':', '_')}.png")
    draw_feeder(feeder, path, vm, title=f"{name}: base-case voltages (p.u.)")
    summary["picture"] = str(path)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    table = Table(title=f"Feeder {name}", show_header=False)
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        table.add_row(key, _fmt(value))
    stdout().print(table)


@grid_app.command("distances")
def distances_command(
    name: Annotated[str, typer.Argument(help="feeder name")],
    metric: Annotated[
        str, typer.Option("--metric", "-m", help="length (m) | hops | impedance (ohm)")
    ] = "length",
    as_json: Annotated[bool, typer.Option("--json", help="the whole matrix as JSON")] = False,
    buses: Annotated[
        str | None, typer.Option("--buses", help="comma-separated buses (default: households)")
    ] = None,
) -> None:
    """All-pairs distances along the radial feeder."""
    from peergrid.grid.distance import distance_matrix
    from peergrid.grid.feeders import load_feeder

    if metric not in ("length", "hops", "impedance"):
        raise PeergridError(f"--metric: unknown metric {metric!r}")
    feeder = load_feeder(name)
    matrix = distance_matrix(feeder, metric)  # type: ignore[arg-type]
    if buses:
        matrix = matrix.restrict([_bus(b) for b in buses.split(",")])
    elif not as_json:
        matrix = matrix.restrict(feeder.household_buses)
    if as_json:
        typer.echo(json.dumps(matrix.to_json()))
        return
    table = Table(title=f"{name}: {metric} ({matrix.unit}) between {len(matrix.buses)} buses")
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
    try:
        return int(text.strip())
    except ValueError:
        raise PeergridError(f"--buses: {text!r} is not a bus id") from None


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4f}"
    return str(value)


@grid_app.command("validate")
def validate_command(
    name: Annotated[str, typer.Argument(help="feeder name")],
    injections: Annotated[
        Path, typer.Option("--injections", "-i", help="JSON or CSV injections (kW drawn per bus)")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    v_min_pu: Annotated[float | None, typer.Option(help="lower voltage limit")] = None,
    v_max_pu: Annotated[float | None, typer.Option(help="upper voltage limit")] = None,
    max_loading_pct: Annotated[
        float | None, typer.Option(help="line and transformer loading limit")
    ] = None,
) -> None:
    """AC power flow of every slot of an injection file, checked against the limits.

    Exit status 0 when every slot converged within the limits, 1 when any slot violates a limit
    or does not converge, 2 for bad input.
    """
    from dataclasses import replace

    from peergrid.grid.feeders import load_feeder
    from peergrid.grid.injections import read_injections
    from peergrid.grid.powerflow import validate

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
        raise PeergridError("--v-min-pu must be below --v-max-pu")
    report = validate(feeder, read_injections(injections, feeder), limits)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        table = Table(title=f"AC validation on {name}: {len(report.slots)} slot(s)")
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
    if not report.passed:
        raise typer.Exit(code=1)
