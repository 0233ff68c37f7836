"""``peergrid dvpp ...``: the community virtual power plant's coordination (002_dvpp.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from peergrid.cli.common import Command, group, input_file
from peergrid.core.errors import PeergridError
from peergrid.core.inputs import read_json, source_name

dvpp_app = group("The community virtual power plant (S4): battery coordination.")


@dvpp_app.command("setpoints", cls=Command)
def setpoints_command(
    input_argument: Annotated[
        Path | None,
        typer.Argument(
            metavar="INPUT", help="JSON state; '-' reads it from standard input", show_default=False
        ),
    ] = None,
    input_option: Annotated[
        Path | None,
        typer.Option("--input", "-i", metavar="<path>", help="the same as INPUT"),
    ] = None,
    rule: Annotated[
        str,
        typer.Option(
            "--rule",
            metavar="paper|code",
            help="paper: the first z or z-1 batteries, whichever optimal points sum closer to "
            "the target; code: always z (the published contract)",
        ),
    ] = "paper",
) -> None:
    """One interval's battery set-points by the sorting heuristic (002_dvpp.md §2.2).

    INPUT is {"target_w": 7000, "batteries": [{"id": "b1", "soc": 0.8,
    "p_opt_w": 3000}, ...]} (optional per battery: "p_opt_charge_w"); a
    positive target and set-point discharge. Discharging takes the highest
    state of charge first, charging the lowest; equal states keep the order
    of the file. Prints {"setpoints_w": {...}, "rule": ..., "target_w": ...}.
    """
    from peergrid.mechanisms.dvpp import RULES, read_setpoint_request, setpoints

    if rule not in RULES:
        raise PeergridError(f"--rule: expected paper or code, got {rule!r}")
    path = input_file(
        input_argument, input_option, what="battery state file", option_name="--input"
    )
    target, batteries = read_setpoint_request(
        read_json(path, what="battery state file"), source_name(path)
    )
    result = setpoints(batteries, target, rule)
    typer.echo(json.dumps({"setpoints_w": result, "rule": rule, "target_w": target}, indent=2))
