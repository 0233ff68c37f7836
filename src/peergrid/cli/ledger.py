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

chain_app = group(
    "EVM nodes: a local anvil (npm) for development, a consortium of validators (Besu)."
)
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
    rpc: Annotated[str, typer.Option("--rpc", metavar="<url>", help="JSON-RPC URL of the node")],
    market: Annotated[
        str,
        typer.Option(
            "--market",
            metavar="<market>",
            help="the market to deploy: batch (sealed bids, the scenarios' default) or community",
        ),
    ] = "batch",
    out_file: Annotated[
        Path,
        typer.Option(
            "--out-file", metavar="<path>", help="addresses file that later commands read"
        ),
    ] = Path("deployment.json"),
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", metavar="", help="replace the addresses file if it exists"),
    ] = False,
    supply: Annotated[
        int,
        typer.Option("--supply-micro", metavar="<micro>", help="token supply, micro-units (> 0)"),
    ] = 10**15,
    keys: Annotated[
        Path | None,
        typer.Option(
            "--keys",
            metavar="<path>",
            help="JSON file of role -> private key (operator, dso, issuer, meter) to deploy "
            "with, e.g. keys/roles.json of `peergrid chain consortium init` (default: anvil's "
            "dev keys, on anvil only)",
        ),
    ] = None,
    clearing_deadline: Annotated[
        int,
        typer.Option(
            "--clearing-deadline",
            metavar="<seconds>",
            help="batch market: seconds after a slot's reveals start by which its clearing "
            "must be closed, else members reclaim their escrow",
        ),
    ] = 1800,
) -> None:
    """Deploy the settlement token and a market contract; write every address the operator
    needs (contracts, operator, DSO, issuer, meter) to the addresses file."""
    from peergrid.ledger.chain import open_chain
    from peergrid.ledger.chain.rpc import RpcChain
    from peergrid.ledger.markets.deployment import (
        check_addresses_path,
        check_deploy_options,
        deploy_market,
        read_role_keys,
        write_addresses,
    )

    # Everything that can be refused is refused before a contract is deployed.
    check_deploy_options(market, supply, clearing_deadline)
    role_keys = read_role_keys(keys, market) if keys is not None else None
    check_addresses_path(out_file, overwrite=overwrite)
    # With --keys the node's own accounts are never used (no anvil dev keys either).
    with open_chain("rpc", rpc, accounts=() if role_keys else None) as chain:
        roles = None
        if role_keys:
            if not isinstance(chain, RpcChain):  # what open_chain("rpc") returns
                raise PeergridError("deploy: --keys needs a JSON-RPC node")
            roles = {role: chain.add_account(key, role) for role, key in role_keys.items()}
        deployment = deploy_market(
            chain, market, supply_micro=supply, clearing_deadline_s=clearing_deadline, roles=roles
        )
    # Shown first, so that a file that cannot be written after all does not lose them.
    for name, address in {**deployment.contracts, **deployment.accounts}.items():
        err.print(f"{name}: {address}", highlight=False, markup=False)
    path = write_addresses(deployment, out_file, overwrite=overwrite)
    where = f" (the {market} market, chain {deployment.chain_id})"
    err.print(Text.assemble("wrote ", (str(path), "bold"), where), highlight=False)


@bench_app.command("gas", cls=Command)
def bench_gas_command(as_json: Annotated[bool, Json] = False) -> None:
    """Gas per contract function and its cost in euro (the VDMA paper's Eq. 1)."""
    from peergrid.bench.gas import format_gas_table, gas_table

    table = gas_table()
    typer.echo(json.dumps(table, indent=2) if as_json else format_gas_table(table))
