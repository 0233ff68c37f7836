"""``peergrid serve``: the market as an HTTP service (FastAPI on uvicorn), on a clock."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from peergrid.core.errors import PeergridError

logger = logging.getLogger(__name__)

TICK_REAL_S = 0.02
"""How often the service looks at the clock, in real seconds at speed 1 (divided by the
speed, at least 5 ms): a phase boundary is acted on within a second of market time."""


def serve(
    scenario_file: Annotated[
        Path,
        typer.Option("--scenario", metavar="<path>", help="scenario TOML, as for 'peergrid run'"),
    ],
    rpc: Annotated[
        str | None,
        typer.Option("--rpc", metavar="<url>", help="EVM JSON-RPC node (default: embedded chain)"),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db", metavar="<url>", help="SQLAlchemy URL (default: SQLite in the run dir)"
        ),
    ] = None,
    clock: Annotated[
        str,
        typer.Option("--clock", metavar="<real|fast:N>", help="market time: real, or N× faster"),
    ] = "real",
    port: Annotated[int, typer.Option("--port", "-p", metavar="<port>", help="TCP port")] = 8000,
    host: Annotated[str, typer.Option("--host", metavar="<host>", help="address to listen on")] = (
        "127.0.0.1"
    ),
    run_dir: Annotated[
        Path | None,
        typer.Option(
            "--run-dir",
            metavar="<folder>",
            help="keys, chain journal and state (default: <output.directory>/service)",
        ),
    ] = None,
) -> None:
    """Run the market as a service: signed orders, meters and the DSO over HTTP (docs at /docs)."""
    from peergrid.platform.service.clock import clock_speed
    from peergrid.sim.scenario import load_scenario

    speed = clock_speed(clock)
    if not 0 < port < 65536:
        raise PeergridError(f"--port must be from 1 to 65535, got {port}")
    scenario = load_scenario(scenario_file)
    import uvicorn

    from peergrid.api.app import create_app
    from peergrid.api.service import open_service

    folder = run_dir or scenario.output_directory / "service"
    service = open_service(scenario, run_dir=folder, db_url=db, rpc=rpc, speed=speed)
    try:
        app = create_app(service.market, tick_s=max(0.005, TICK_REAL_S / speed))
        logger.info("serving %s on http://%s:%d (run dir %s)", scenario.name, host, port, folder)
        typer.echo(f"peergrid serve: http://{host}:{port}/docs  run dir {folder}", err=True)
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        service.close()
