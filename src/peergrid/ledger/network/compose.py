"""The docker-compose file that runs the validators with Hyperledger Besu, one container each.

Every node runs the pinned image :data:`BESU_IMAGE` on a bridge network with fixed addresses
(:func:`node_ip`), so the enode URLs in ``static-nodes.json`` are known before anything starts;
discovery is off and each node dials the others from that file. The nodes run Besu's
``ENTERPRISE`` profile (private networks: full sync, the FOREST archive storage, no minimum gas
price, a sequenced transaction pool). Each node's folder
(``node-<i>/``, holding its ``key``) is its data path. Only node 1 serves JSON-RPC, published on
the host's 127.0.0.1 only, with Besu's default host allow-list (``localhost``, ``127.0.0.1``):
the ledger is reached from this machine (or through a tunnel or a reverse proxy the operator
sets up, which then needs ``--host-allowlist``), never from the open network.

The file is written as text (no YAML library needed); ``tests/ledger/network`` parses it back.
"""

from __future__ import annotations

from collections.abc import Sequence

BESU_VERSION = "26.2.0"
"""The Besu release the compose file pins (26.2.0 fixed QBFT with Shanghai's withdrawals
validation, which a Cancun genesis needs)."""

BESU_IMAGE = f"hyperledger/besu:{BESU_VERSION}"
SUBNET = "172.16.239.0/24"
P2P_PORT = 30303
RPC_PORT = 8545
RPC_APIS = "ETH,NET,WEB3,QBFT,TXPOOL"
_FIRST_HOST = 11
MAX_NODES = 200
"""Addresses .11 to .210 of :data:`SUBNET`."""


def node_ip(index: int) -> str:
    """The fixed address of node ``index`` (1-based) on the compose network."""
    if not 1 <= index <= MAX_NODES:
        raise ValueError(f"node index {index} outside 1..{MAX_NODES}")
    return f"172.16.239.{_FIRST_HOST + index - 1}"


def node_name(index: int) -> str:
    return f"validator-{index}"


def compose_file(validators: int, *, rpc_port: int = RPC_PORT) -> str:
    """The ``docker-compose.yml`` text for ``validators`` nodes."""
    if not 1 <= validators <= MAX_NODES:
        raise ValueError(f"validators {validators} outside 1..{MAX_NODES}")
    lines = [
        "# Hyperledger Besu QBFT validators of a peergrid consortium ledger.",
        "# Start: docker compose up -d    Stop: docker compose down",
        "name: peergrid-consortium",
        "services:",
    ]
    for index in range(1, validators + 1):
        lines += _service(index, rpc_port if index == 1 else None)
    lines += [
        "networks:",
        "  ledger:",
        "    driver: bridge",
        "    ipam:",
        "      config:",
        f"        - subnet: {SUBNET}",
        "",
    ]
    return "\n".join(lines)


def _service(index: int, rpc_port: int | None) -> list[str]:
    command = [
        # Besu's profile for private networks (sequenced transaction pool, no gas price floor,
        # ...); the options below that it also sets are repeated so the file says what runs.
        "--profile=ENTERPRISE",
        "--data-path=/data",
        "--genesis-file=/config/genesis.json",
        "--node-private-key-file=/data/key",
        "--static-nodes-file=/config/static-nodes.json",
        "--discovery-enabled=false",
        f"--p2p-host={node_ip(index)}",
        f"--p2p-port={P2P_PORT}",
        "--sync-mode=FULL",
        "--data-storage-format=FOREST",
        "--min-gas-price=0",
        "--logging=INFO",
    ]
    if rpc_port is not None:
        command += [
            "--rpc-http-enabled=true",
            "--rpc-http-host=0.0.0.0",
            f"--rpc-http-port={RPC_PORT}",
            f"--rpc-http-api={RPC_APIS}",
        ]
    lines = [
        f"  {node_name(index)}:",
        f"    image: {BESU_IMAGE}",
        "    restart: unless-stopped",
        "    command:",
        *(f'      - "{arg}"' for arg in command),
        "    volumes:",
        "      - ./genesis.json:/config/genesis.json:ro",
        "      - ./static-nodes.json:/config/static-nodes.json:ro",
        f"      - ./node-{index}:/data",
    ]
    if rpc_port is not None:
        # 127.0.0.1 only: the node's JSON-RPC accepts any transaction a key signs; it is not
        # for the open network.
        lines += ["    ports:", f'      - "127.0.0.1:{rpc_port}:{RPC_PORT}"']
    lines += [
        "    networks:",
        "      ledger:",
        f"        ipv4_address: {node_ip(index)}",
    ]
    return lines


def static_nodes(public_keys_hex: Sequence[str]) -> list[str]:
    """The enode URLs of the nodes (their 128-hex public keys, in node order) on the network."""
    return [
        f"enode://{key.removeprefix('0x')}@{node_ip(i)}:{P2P_PORT}"
        for i, key in enumerate(public_keys_hex, start=1)
    ]
