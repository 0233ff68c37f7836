"""Write everything a consortium needs to run its ledger on Besu QBFT validators, into one folder.

:func:`write_network` generates the validators' node keys and the accounts' keys (the four roles
``peergrid deploy`` needs and the members'), then writes::

    genesis.json          the chain: QBFT validators in extraData, every account funded
    static-nodes.json     the validators' enode URLs (fixed addresses on the compose network)
    docker-compose.yml    one Besu container per validator; JSON-RPC of node 1 on 127.0.0.1
    node-<i>/key          validator i's private node key (owner-only), and node-<i>/key.pub
    accounts.json         public: chain id, validators (address, enode), role and member addresses
    keys/roles.json       private (owner-only): the role keys `peergrid deploy --keys` reads
    keys/member-<j>.key   private (owner-only): member j's account key, one file to hand over
    README.md             the steps, with the exact commands

Keys are generated here from the operating system's randomness and written only into the
folder, private key files with mode 0600. In a real consortium each validator and member would
rather generate its own key and send only the address or public key; the folder is a complete,
runnable starting point, and ``accounts.json`` says which address is whose.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from peergrid.core.errors import LedgerError
from peergrid.ledger.network.compose import (
    BESU_IMAGE,
    MAX_NODES,
    RPC_PORT,
    compose_file,
    node_ip,
    static_nodes,
)
from peergrid.ledger.network.genesis import (
    DEFAULT_BALANCE_WEI,
    QbftParameters,
    check_chain_id,
    qbft_genesis,
)
from peergrid.ledger.network.node_keys import KeyPair, write_besu_key_files, write_secret
from peergrid.ledger.network.readme import network_readme

DEFAULT_CHAIN_ID = 7410
"""A private chain id; a real network should pick one no public chain uses (chainlist.org)."""

DEPLOY_ROLES = ("operator", "dso", "issuer", "meter")
"""The accounts ``peergrid deploy`` names for the batch market (the community market uses the
first three)."""

MAX_MEMBERS = 10_000
MIN_REQUEST_TIMEOUT_S = 10


@dataclass(frozen=True, slots=True)
class NetworkSpec:
    """What to generate: ``validators`` nodes, ``members`` funded member accounts, the chain id
    and QBFT's seconds per block; ``rpc_port`` is node 1's JSON-RPC port on 127.0.0.1."""

    validators: int = 4
    members: int = 0
    chain_id: int = DEFAULT_CHAIN_ID
    block_period_s: int = 2
    rpc_port: int = RPC_PORT

    def __post_init__(self) -> None:
        if not 1 <= self.validators <= MAX_NODES:
            raise LedgerError(
                "consortium", f"--validators must be 1 to {MAX_NODES}, got {self.validators}"
            )
        if not 0 <= self.members <= MAX_MEMBERS:
            raise LedgerError(
                "consortium", f"--members must be 0 to {MAX_MEMBERS}, got {self.members}"
            )
        if isinstance(self.chain_id, bool) or not isinstance(self.chain_id, int):
            raise LedgerError("consortium", f"--chain-id must be an integer, got {self.chain_id}")
        try:
            check_chain_id(self.chain_id)
        except LedgerError as exc:
            raise LedgerError("consortium", f"--chain-id: {exc.reason}") from None
        if not 1 <= self.block_period_s <= 3600:
            raise LedgerError(
                "consortium", f"--block-period must be 1 to 3600 s, got {self.block_period_s}"
            )
        if not 1 <= self.rpc_port <= 65535:
            raise LedgerError("consortium", f"--rpc-port must be 1 to 65535, got {self.rpc_port}")

    @property
    def qbft(self) -> QbftParameters:
        # A round must be allowed to last longer than a block period, else every round times out.
        timeout = max(MIN_REQUEST_TIMEOUT_S, 2 * self.block_period_s)
        return QbftParameters(block_period_s=self.block_period_s, request_timeout_s=timeout)

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.rpc_port}"


@dataclass(frozen=True)
class Network:
    """The keys of a generated network (what :func:`write_network` wrote)."""

    spec: NetworkSpec
    validators: tuple[KeyPair, ...]
    roles: dict[str, KeyPair]
    members: tuple[KeyPair, ...]
    genesis: dict[str, Any] = field(repr=False)

    @property
    def enodes(self) -> list[str]:
        return static_nodes([v.public_key_hex for v in self.validators])


def generate_network(spec: NetworkSpec, *, timestamp: int | None = None) -> Network:
    """Fresh keys for ``spec`` and the genesis document that funds and seals with them."""
    validators = tuple(KeyPair.generate() for _ in range(spec.validators))
    roles = {role: KeyPair.generate() for role in DEPLOY_ROLES}
    members = tuple(KeyPair.generate() for _ in range(spec.members))
    balances = {pair.address: DEFAULT_BALANCE_WEI for pair in (*roles.values(), *members)}
    genesis = qbft_genesis(
        spec.chain_id,
        [v.address for v in validators],
        balances,
        qbft=spec.qbft,
        timestamp=int(time.time()) if timestamp is None else timestamp,
    )
    return Network(spec, validators, roles, members, genesis)


def write_network(folder: Path, spec: NetworkSpec, *, overwrite: bool = False) -> Network:
    """Generate a network for ``spec`` and write its files into ``folder`` (see the module
    docstring). An existing folder with entries is refused unless ``overwrite``; then the
    files this function writes are replaced and earlier ``node-*`` folders (keys and chain
    data of the earlier network, which the new genesis makes useless) and ``keys/`` removed."""
    if folder.exists() and not folder.is_dir():
        raise LedgerError("consortium", f"{folder}: is a file, not a folder")
    if folder.is_dir() and any(folder.iterdir()):
        if not overwrite:
            raise LedgerError(
                "consortium", f"{folder}: the folder is not empty; pass --overwrite to replace it"
            )
        _remove_earlier(folder)
    network = generate_network(spec)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _write(folder, network)
    except OSError as exc:
        raise LedgerError("consortium", f"{folder}: cannot write there ({exc.strerror})") from None
    return network


def _remove_earlier(folder: Path) -> None:
    for entry in folder.iterdir():
        if entry.is_dir() and (entry.name == "keys" or _is_node_folder(entry.name)):
            shutil.rmtree(entry)


def _is_node_folder(name: str) -> bool:
    prefix, _, number = name.partition("-")
    return prefix == "node" and number.isdigit()


def _write(folder: Path, network: Network) -> None:
    spec = network.spec
    _write_json(folder / "genesis.json", network.genesis)
    _write_json(folder / "static-nodes.json", network.enodes)
    (folder / "docker-compose.yml").write_text(
        compose_file(spec.validators, rpc_port=spec.rpc_port), encoding="utf-8"
    )
    for index, pair in enumerate(network.validators, start=1):
        write_besu_key_files(pair, folder / f"node-{index}")
    keys = folder / "keys"
    keys.mkdir(mode=0o700, exist_ok=True)
    write_secret(
        keys / "roles.json",
        json.dumps({r: p.private_key_hex for r, p in network.roles.items()}, indent=2) + "\n",
    )
    for number, pair in enumerate(network.members, start=1):
        write_secret(keys / f"{member_name(number)}.key", pair.private_key_hex)
    _write_json(folder / "accounts.json", public_accounts(network))
    (folder / "README.md").write_text(network_readme(network_summary(network)), encoding="utf-8")


def member_name(number: int) -> str:
    return f"member-{number:02d}"


def public_accounts(network: Network) -> dict[str, Any]:
    """What may be shared: chain id, validators (address, public key, enode), the role and
    member addresses. No private key."""
    return {
        "chain_id": network.spec.chain_id,
        "consensus": "qbft",
        "client": BESU_IMAGE,
        "rpc_url": network.spec.rpc_url,
        "validators": [
            {
                "node": f"node-{i}",
                "address": pair.address,
                "public_key": pair.public_key_hex,
                "enode": enode,
                "ip": node_ip(i),
            }
            for i, (pair, enode) in enumerate(
                zip(network.validators, network.enodes, strict=True), start=1
            )
        ],
        "roles": {role: pair.address for role, pair in network.roles.items()},
        "members": {member_name(j): p.address for j, p in enumerate(network.members, start=1)},
    }


def network_summary(network: Network) -> dict[str, Any]:
    """The figures the README states."""
    spec = network.spec
    return {
        "validators": spec.validators,
        "members": spec.members,
        "chain_id": spec.chain_id,
        "block_period_s": spec.block_period_s,
        "request_timeout_s": spec.qbft.request_timeout_s,
        "rpc_url": spec.rpc_url,
        "image": BESU_IMAGE,
        "fault_tolerance": (spec.validators - 1) // 3,
    }


def _write_json(path: Path, document: object) -> None:
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
