"""``peergrid serve``: the market as an HTTP service (FastAPI on uvicorn), on a clock; with
``--demo``, the scenario's households' agents and meters trade on it from the same process."""

from __future__ import annotations

import logging
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from peergrid.core.errors import PeergridError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from peergrid.api.service import Service
    from peergrid.sim.scenario import Scenario

logger = logging.getLogger(__name__)

DEFAULT_INTAKE_WORKERS = 0
"""Intake processes in front of the market's by default (docs/decisions.md, "Intake
processes")."""
TICK_REAL_S = 0.02
"""How often the service looks at the clock, in real seconds at speed 1 (divided by the
speed, at least 5 ms): a phase boundary is acted on within a second of market time."""


def serve(
    scenario_file: Annotated[
        Path | None,
        typer.Option(
            "--scenario",
            metavar="<path>",
            help="scenario TOML, as for 'peergrid run' (with --demo: default the demo's)",
        ),
    ] = None,
    rpc: Annotated[
        str | None,
        typer.Option("--rpc", metavar="<url>", help="EVM JSON-RPC node (default: embedded chain)"),
    ] = None,
    chain: Annotated[
        str,
        typer.Option(
            "--chain",
            metavar="<embedded|anvil>",
            help="without --rpc, where the market runs: py-evm in this process, or a private "
            "anvil node started and stopped here (npm ci installs it); both journaled in the "
            "run dir (default embedded)",
        ),
    ] = "embedded",
    db: Annotated[
        str | None,
        typer.Option(
            "--db", metavar="<url>", help="SQLAlchemy URL (default: SQLite in the run dir)"
        ),
    ] = None,
    clock: Annotated[
        str | None,
        typer.Option(
            "--clock",
            metavar="<real|fast:N>",
            help="market time: real, or N× faster (default real; fast:60 with --demo)",
        ),
    ] = None,
    port: Annotated[int, typer.Option("--port", "-p", metavar="<port>", help="TCP port")] = 8000,
    host: Annotated[str, typer.Option("--host", metavar="<host>", help="address to listen on")] = (
        "127.0.0.1"
    ),
    run_dir: Annotated[
        Path | None,
        typer.Option(
            "--run-dir",
            metavar="<folder>",
            help="keys, chain journal and state (default: <output.directory>/service; with "
            "--demo: a temporary folder, removed at exit)",
        ),
    ] = None,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            metavar="",
            help="also run every household's agent and meter in this process: a live market",
        ),
    ] = False,
    intake_workers: Annotated[
        int,
        typer.Option(
            "--intake-workers",
            metavar="<N>",
            help="processes that check signed orders in front of the market's "
            f"(0: the market's process serves all; default {DEFAULT_INTAKE_WORKERS})",
        ),
    ] = DEFAULT_INTAKE_WORKERS,
) -> None:
    """Run the market as a service: signed orders, meters and the DSO over HTTP (docs at /docs,
    the live dashboard at /)."""
    from peergrid.platform.service.clock import clock_speed
    from peergrid.sim.scenario import Scenario, load_scenario

    speed = clock_speed(clock if clock is not None else ("fast:60" if demo else "real"))
    if not 0 < port < 65536:
        raise PeergridError(f"--port must be from 1 to 65535, got {port}")
    from peergrid.api.intake import MAX_INTAKE_WORKERS

    if not 0 <= intake_workers <= MAX_INTAKE_WORKERS:
        raise PeergridError(
            f"--intake-workers must be from 0 to {MAX_INTAKE_WORKERS}, got {intake_workers}"
        )
    from peergrid.api.service import check_service_chain

    check_service_chain(chain, rpc)
    if chain == "anvil":
        from peergrid.ledger.chain.anvil import find_anvil

        find_anvil()  # not installed: say how, before anything is written
    if scenario_file is None and not demo:
        raise PeergridError("give the market's scenario with --scenario <path> (or run --demo)")
    scenario = load_scenario(scenario_file) if scenario_file is not None else Scenario()
    import uvicorn

    from peergrid.api.app import create_app
    from peergrid.api.service import open_service
    from peergrid.grid.feeders import load_feeder

    with ExitStack() as stack:
        if run_dir is not None:
            folder = run_dir
        elif demo:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="peergrid-demo-")))
        else:
            folder = scenario.output_directory / "service"
        service = open_service(
            scenario, run_dir=folder, db_url=db, rpc=rpc, speed=speed, chain=chain
        )
        stack.callback(service.close)
        app = create_app(
            service.market,
            tick_s=max(0.005, TICK_REAL_S / speed),
            feeder=load_feeder(scenario.feeder.name),
        )
        logger.info("serving %s on http://%s:%d (run dir %s)", scenario.name, host, port, folder)
        typer.echo(
            f"peergrid serve: dashboard http://{host}:{port}/  API http://{host}:{port}/docs  "
            f"run dir {folder}",
            err=True,
        )
        if demo:
            _run_demo(service, scenario, app, host, port, intake_workers)
        elif intake_workers:
            _run_with_intake(service, app, host, port, intake_workers)
        else:
            uvicorn.run(app, host=host, port=port, log_level="warning")


@contextmanager
def _served(
    service: Service, app: FastAPI, host: str, port: int, intake_workers: int
) -> Iterator[str]:
    """The service listening on ``host:port`` (the market's process alone, or behind intake
    processes) for as long as the block runs; yields its URL."""
    from peergrid.api.server import local_url, serving

    if not intake_workers:
        with serving(app, host, port) as url:
            yield url
        return
    from peergrid.api.intake import intake_front

    with intake_front(app, service.market, host, port, intake_workers):
        yield local_url(host, port)


def _run_with_intake(service: Service, app: FastAPI, host: str, port: int, workers: int) -> None:
    """Serve until Ctrl-C or SIGTERM, then stop the workers, the server and the clock."""
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        with _served(service, app, host, port, workers):
            while not stop.wait(0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run_demo(
    service: Service, scenario: Scenario, app: FastAPI, host: str, port: int, intake_workers: int
) -> None:
    """The service in a thread (its intake processes beside it); the households' agents and
    meters in this one, over HTTP."""
    from peergrid.api.client import ServiceClient
    from peergrid.api.demo import demo_community

    with (
        _served(service, app, host, port, intake_workers) as url,
        ServiceClient(url) as client,
    ):
        community = demo_community(service, scenario, client, say=typer.echo)
        typer.echo(f"{len(community.agents)} households trading; Ctrl-C stops the demo", err=True)
        stop = threading.Event()
        # A stop asked by the system (SIGTERM) ends the demo as Ctrl-C does: the server stops
        # and the temporary run directory is removed.
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            community.run(stop)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
        typer.echo("stopped", err=True)
