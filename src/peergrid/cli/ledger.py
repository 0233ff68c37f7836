"""``peergrid chain up``, ``peergrid deploy`` and ``peergrid bench gas``."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from peergrid.cli.common import Command, Json, group, number, output_file
from peergrid.cli.console import err
from peergrid.core.errors import PeergridError

chain_app = group("A local EVM node (anvil from npm) for development.")
bench_app = group("Benchmarks that print figures.")


@chain_app.command("up", cls=Command)
def chain_up_command(
    port: Annotated[
        int, typer.Option("--port", "-p", metavar="<port>", help="port on 127.0.0.1, 0..65535")
    ] = 8545,
    block_time: Annotated[
        float | None,
        typer.Option(
            "--block-time",
            metavar="<seconds>",
            help="seconds per block, above 0 and at most 3600 (default: one block per tx)",
        ),
    ] = None,
    state: Annotated[
        Path | None,
        typer.Option("--state", metavar="<path>", help="load this state file and write it on exit"),
    ] = None,
) -> None:
    """Run anvil (npm @foundry-rs/anvil) on 127.0.0.1 until Ctrl-C or SIGTERM."""
    from peergrid.ledger.chain.anvil import start_anvil

    if not 0 <= port <= 65535:
        raise PeergridError(f"--port: must be a port from 0 to 65535, got {port}")
    if block_time is not None:
        number(block_time, "--block-time", "seconds", low=0, high=3600, low_open=True)
    if state is not None:
        # anvil writes its state only when it stops: a path it cannot write would lose it.
        output_file(state, overwrite=True, option="--state")
    # SIGTERM (and SIGHUP) stop the node as Ctrl-C does: anvil dumps its state, the temporary
    # folder holding its log is removed, nothing is left behind.
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        node = start_anvil(port, block_time=block_time, state=state)
        with node:
            err.print(
                Text.assemble(
                    "anvil at ",
                    (node.url, "bold"),
                    f" (chain id {node.chain_id}); its dev keys are public. Ctrl-C stops it",
                ),
                highlight=False,
            )
            try:
                node.wait()
            except KeyboardInterrupt:
                err.print("stopping anvil")
    except KeyboardInterrupt:
        err.print("stopped before anvil answered")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def deploy_command(
    rpc: Annotated[str, typer.Option("--rpc", help="JSON-RPC URL of the node")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="addresses file that later commands read")
    ] = Path("deployment.json"),
    supply: Annotated[int, typer.Option("--supply-micro", help="token supply, micro-units")] = (
        10**15
    ),
) -> None:
    """Deploy the settlement token and the Community contract; write their addresses."""
    from peergrid.ledger.chain import open_chain
    from peergrid.ledger.markets.deployment import deploy_community, write_addresses

    deployment = deploy_community(open_chain("rpc", rpc), supply_micro=supply)
    path = write_addresses(deployment, out)
    for name, address in deployment.contracts.items():
        err.print(f"{name}: {address}")
    err.print(f"wrote [bold]{path}[/] (chain {deployment.chain_id})")


@bench_app.command("gas", cls=Command)
def bench_gas_command(as_json: Annotated[bool, Json] = False) -> None:
    """Gas per contract function and its cost in euro (the VDMA paper's Eq. 1)."""
    from peergrid.bench.gas import format_gas_table, gas_table

    table = gas_table()
    typer.echo(json.dumps(table, indent=2) if as_json else format_gas_table(table))
