"""``peergrid chain up``, ``peergrid deploy`` and ``peergrid bench gas``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from peergrid.cli.console import err

chain_app = typer.Typer(help="A local EVM node (anvil from npm) for development.")
bench_app = typer.Typer(help="Benchmarks that print figures.")


@chain_app.command("up")
def chain_up_command(
    port: Annotated[int, typer.Option("--port", "-p", help="port on 127.0.0.1")] = 8545,
    block_time: Annotated[
        float | None, typer.Option("--block-time", help="seconds per block (default: one per tx)")
    ] = None,
    state: Annotated[
        Path | None, typer.Option("--state", help="load this state file and write it on exit")
    ] = None,
) -> None:
    """Run anvil (npm @foundry-rs/anvil) on 127.0.0.1 until Ctrl-C."""
    from peergrid.ledger.chain.anvil import start_anvil

    node = start_anvil(port, block_time=block_time, state=state)
    with node:
        err.print(
            f"anvil at [bold]{node.url}[/] (chain id {node.chain_id}); its dev keys are public. "
            "Ctrl-C stops it"
        )
        try:
            node.wait()
        except KeyboardInterrupt:
            err.print("stopping anvil")


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


@bench_app.command("gas")
def bench_gas_command(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Gas per contract function and its cost in euro (the VDMA paper's Eq. 1)."""
    from peergrid.bench.gas import format_gas_table, gas_table

    table = gas_table()
    typer.echo(json.dumps(table, indent=2) if as_json else format_gas_table(table))
