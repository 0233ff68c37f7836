"""``peergrid chain consortium init``: the files of a consortium ledger on Besu QBFT validators."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from peergrid.cli.common import Command, Overwrite, group
from peergrid.cli.console import err

consortium_app = group("A permissioned validator network for the ledger (Besu, QBFT).")


@consortium_app.command("init", cls=Command)
def init_command(
    output: Annotated[
        Path,
        typer.Option("--output", "-o", metavar="<dir>", help="folder to write (genesis.json, …)"),
    ],
    validators: Annotated[
        int, typer.Option("--validators", metavar="<n>", help="validator nodes, 1 to 200")
    ] = 4,
    members: Annotated[
        int,
        typer.Option("--members", metavar="<m>", help="member accounts funded in the genesis"),
    ] = 0,
    chain_id: Annotated[
        int | None,
        typer.Option("--chain-id", metavar="<id>", help="the chain id (default 7410)"),
    ] = None,
    block_period: Annotated[
        int,
        typer.Option("--block-period", metavar="<seconds>", help="seconds per block, 1 to 3600"),
    ] = 2,
    rpc_port: Annotated[
        int,
        typer.Option("--rpc-port", metavar="<port>", help="node 1's JSON-RPC port on 127.0.0.1"),
    ] = 8545,
    overwrite: Annotated[bool, Overwrite] = False,
) -> None:
    """Write a Besu QBFT network: node keys, genesis.json (validators in extraData, roles and
    members funded), static-nodes.json, docker-compose.yml, accounts.json, keys/ and a README
    with the `peergrid deploy` command that puts the contracts on it."""
    from peergrid.ledger.network.kit import DEFAULT_CHAIN_ID, NetworkSpec, write_network

    # Every option is checked (NetworkSpec) before the folder is touched.
    spec = NetworkSpec(
        validators=validators,
        members=members,
        chain_id=DEFAULT_CHAIN_ID if chain_id is None else chain_id,
        block_period_s=block_period,
        rpc_port=rpc_port,
    )
    network = write_network(output, spec, overwrite=overwrite)
    for index, pair in enumerate(network.validators, start=1):
        err.print(f"validator node-{index}: {pair.address}", highlight=False, markup=False)
    err.print(
        Text.assemble(
            "wrote ",
            (str(output), "bold"),
            f" ({spec.validators} validators, {spec.members} members, chain {spec.chain_id})",
        ),
        highlight=False,
    )
    # One line, never wrapped: it is meant to be copied.
    err.print(
        f"next, in {output}: docker compose up -d, then peergrid deploy --rpc {spec.rpc_url} "
        "--keys keys/roles.json --out-file deployment.json (README.md has the steps)",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
