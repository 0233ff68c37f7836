"""``peergrid chain consortium init`` as a user runs it: the folder it writes hangs together
(keys, genesis, static nodes, compose file, accounts, README), bad options are refused before
anything is written, and ``peergrid deploy --keys`` puts the contracts on a node whose genesis
is the one written (anvil: not Besu, see docs/reference/consortium.md)."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from peergrid.cli.main import app
from peergrid.ledger.chain.anvil import start_anvil
from peergrid.ledger.chain.jsonrpc import JsonRpcClient
from peergrid.ledger.network.compose import BESU_IMAGE
from peergrid.ledger.network.genesis import DEFAULT_BALANCE_WEI
from peergrid.ledger.network.node_keys import KeyPair, public_key_address, read_besu_key_file
from peergrid.ledger.network.qbft import QbftExtraData

from .test_cli import peergrid
from .test_deploy_cli import NO_NODE, one_line_error

yaml: Any
try:
    import yaml
except ImportError:  # pragma: no cover - pyyaml comes with the dev tools here
    yaml = None


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("consortium") / "net"
    code, output = invoke(
        "chain", "consortium", "init", "--validators", "4", "--members", "3",
        "--chain-id", "4321", "--block-period", "3", "-o", str(folder),
    )  # fmt: skip
    assert code == 0, output
    return folder


def test_the_folder_holds_what_the_readme_lists(network: Path) -> None:
    names = sorted(p.name for p in network.iterdir())
    assert names == [
        "README.md",
        "accounts.json",
        "docker-compose.yml",
        "genesis.json",
        "keys",
        "node-1",
        "node-2",
        "node-3",
        "node-4",
        "static-nodes.json",
    ]
    assert sorted(p.name for p in (network / "keys").iterdir()) == [
        "member-01.key",
        "member-02.key",
        "member-03.key",
        "roles.json",
    ]
    for secret in [*(network / "keys").iterdir(), *network.glob("node-*/key")]:
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret


def test_genesis_validators_are_the_node_keys(network: Path) -> None:
    genesis = json.loads((network / "genesis.json").read_text())
    assert genesis["config"]["chainId"] == 4321
    assert genesis["config"]["qbft"]["blockperiodseconds"] == 3
    nodes = [read_besu_key_file(network / f"node-{i}" / "key") for i in range(1, 5)]
    for i, pair in enumerate(nodes, start=1):
        assert public_key_address((network / f"node-{i}" / "key.pub").read_text()) == pair.address
    assert QbftExtraData.decode(genesis["extraData"]).validators == tuple(p.address for p in nodes)
    # Validators seal; they hold no funds (their keys stay in the node folders).
    assert not {p.address[2:].lower() for p in nodes} & set(genesis["alloc"])


def test_accounts_are_funded_and_match_their_keys(network: Path) -> None:
    genesis = json.loads((network / "genesis.json").read_text())
    accounts = json.loads((network / "accounts.json").read_text())
    roles = json.loads((network / "keys" / "roles.json").read_text())
    assert set(roles) == {"operator", "dso", "issuer", "meter"}
    for role, key in roles.items():
        assert KeyPair.from_hex(key).address == accounts["roles"][role]
    for name, address in accounts["members"].items():
        key = (network / "keys" / f"{name}.key").read_text()
        assert KeyPair.from_hex(key).address == address
    funded = [*accounts["roles"].values(), *accounts["members"].values()]
    assert genesis["alloc"] == {
        a[2:].lower(): {"balance": hex(DEFAULT_BALANCE_WEI)} for a in funded
    }
    assert accounts["chain_id"] == 4321
    assert accounts["rpc_url"] == "http://127.0.0.1:8545"


def test_no_private_key_is_in_a_public_file(network: Path) -> None:
    secrets = [p.read_text() for p in network.glob("node-*/key")]
    secrets += [(network / "keys" / f"member-0{j}.key").read_text() for j in (1, 2, 3)]
    secrets += list(json.loads((network / "keys" / "roles.json").read_text()).values())
    for name in ("genesis.json", "accounts.json", "static-nodes.json", "docker-compose.yml"):
        text = (network / name).read_text().lower()
        for secret in secrets:
            assert secret.removeprefix("0x") not in text, name
    assert not any(s.removeprefix("0x") in (network / "README.md").read_text() for s in secrets)


def test_static_nodes_and_compose_file(network: Path) -> None:
    enodes = json.loads((network / "static-nodes.json").read_text())
    ips = []
    for i, enode in enumerate(enodes, start=1):
        match = re.fullmatch(r"enode://([0-9a-f]{128})@(172\.16\.239\.\d+):30303", enode)
        assert match, enode
        assert "0x" + match.group(1) == (network / f"node-{i}" / "key.pub").read_text()
        ips.append(match.group(2))
    assert len(set(ips)) == 4
    text = (network / "docker-compose.yml").read_text()
    if yaml is None:  # pragma: no cover
        assert text.count(f"image: {BESU_IMAGE}") == 4
        return
    compose = yaml.safe_load(text)
    services = compose["services"]
    assert list(services) == [f"validator-{i}" for i in range(1, 5)]
    for i, (name, service) in enumerate(services.items(), start=1):
        assert service["image"] == BESU_IMAGE and not BESU_IMAGE.endswith(":latest")
        assert f"./node-{i}:/data" in service["volumes"]
        assert "./genesis.json:/config/genesis.json:ro" in service["volumes"]
        assert service["networks"]["ledger"]["ipv4_address"] == ips[i - 1]
        command = service["command"]
        assert f"--p2p-host={ips[i - 1]}" in command
        assert "--node-private-key-file=/data/key" in command
        assert "--min-gas-price=0" in command and "--profile=ENTERPRISE" in command
        assert not any(arg.startswith("--host-allowlist") for arg in command)
        # JSON-RPC on node 1 only, published on the loopback address only
        assert ("ports" in service) == (i == 1), name
        assert ("--rpc-http-enabled=true" in command) == (i == 1), name
    assert services["validator-1"]["ports"] == ["127.0.0.1:8545:8545"]
    assert compose["networks"]["ledger"]["ipam"]["config"] == [{"subnet": "172.16.239.0/24"}]


def test_readme_gives_the_deploy_command(network: Path) -> None:
    readme = (network / "README.md").read_text()
    assert (
        "peergrid deploy --rpc http://127.0.0.1:8545 --keys keys/roles.json "
        "--out-file deployment.json" in readme
    )
    assert "docker compose up -d" in readme and "Chain id 4321" in readme
    assert "QBFT tolerates 1 faulty validator(s) of 4" in readme


def test_an_existing_folder_needs_overwrite(tmp_path: Path) -> None:
    folder = tmp_path / "net"
    assert invoke("chain", "consortium", "init", "--validators", "5", "-o", str(folder))[0] == 0
    before = (folder / "genesis.json").read_text()
    code, output = invoke("chain", "consortium", "init", "-o", str(folder))
    assert code == 2
    assert output.strip() == (
        f"error: consortium: {folder}: the folder is not empty; pass --overwrite to replace it"
    )
    assert (folder / "genesis.json").read_text() == before
    code, output = invoke(
        "chain", "consortium", "init", "--validators", "4", "-o", str(folder), "--overwrite"
    )
    assert code == 0, output
    assert (folder / "genesis.json").read_text() != before
    # the fifth node of the earlier network (its key and chain data) is gone
    assert sorted(p.name for p in folder.glob("node-*")) == [f"node-{i}" for i in range(1, 5)]


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--validators", "0"], "--validators must be 1 to 200, got 0"),
        (["--validators", "-3"], "--validators must be 1 to 200, got -3"),
        (["--validators", "201"], "--validators must be 1 to 200, got 201"),
        (["--members", "-1"], "--members must be 0 to 10000, got -1"),
        (["--chain-id", "0"], "--chain-id: the chain id must be 1 to 9007199254740991, got 0"),
        (["--chain-id", str(2**53)], "--chain-id: the chain id must be 1 to"),
        (["--block-period", "0"], "--block-period must be 1 to 3600 s, got 0"),
        (["--block-period", "3601"], "--block-period must be 1 to 3600 s, got 3601"),
        (["--rpc-port", "70000"], "--rpc-port must be 1 to 65535, got 70000"),
        (["--validators", "four"], "Invalid value for '--validators'"),
    ],
)
def test_bad_options_are_one_line_and_write_nothing(
    tmp_path: Path, options: list[str], words: str
) -> None:
    folder = tmp_path / "net"
    code, output = invoke("chain", "consortium", "init", "-o", str(folder), *options)
    assert code == 2
    assert len(output.strip().splitlines()) == 1, output
    assert words in output
    assert not folder.exists()


def test_an_output_that_is_a_file_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code, output = invoke("chain", "consortium", "init", "-o", str(blocker))
    assert (code, output.strip()) == (2, f"error: consortium: {blocker}: is a file, not a folder")


def _roles(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "roles.json"
    path.write_text(json.dumps(document))
    return path


GOOD_KEY = "0x" + "11" * 32


@pytest.mark.parametrize(
    ("document", "words"),
    [
        ([GOOD_KEY], "not a JSON object of role -> private key"),
        ({"operator": GOOD_KEY}, "no key for 'dso' (the batch market needs operator, dso, "),
        (
            {"operator": GOOD_KEY, "dso": "0x22", "issuer": GOOD_KEY, "meter": GOOD_KEY},
            "dso: not a 0x-prefixed 32-byte hex key",
        ),
        ({"auditor": GOOD_KEY}, "unknown role 'auditor'"),
        (
            {r: GOOD_KEY for r in ("operator", "dso", "issuer", "meter")},
            "two roles have the same key",
        ),
    ],
)
def test_deploy_refuses_a_bad_keys_file_before_connecting(
    tmp_path: Path, document: object, words: str
) -> None:
    path = _roles(tmp_path, document)
    out = tmp_path / "deployment.json"
    code, output = invoke("deploy", "--rpc", NO_NODE, "--keys", str(path), "--out-file", str(out))
    assert code == 2
    assert output.strip().startswith(f"error: deploy: --keys: {path}: ")
    assert words in output
    assert not out.exists()
    code, output = invoke("deploy", "--rpc", NO_NODE, "--keys", str(tmp_path / "none.json"))
    assert (code, output.strip()) == (2, f"error: deploy: --keys: no file {tmp_path}/none.json")


@pytest.mark.slow
def test_deploy_with_the_role_keys_on_a_node_started_from_the_genesis(network: Path) -> None:
    """anvil initialised from the written genesis.json (its alloc) with its chain id: the role
    accounts are funded there, and `peergrid deploy --keys keys/roles.json`, the README's
    command, deploys with exactly those accounts. anvil is not Besu: QBFT sealing, the
    extraData and the compose file are not exercised here."""
    accounts = json.loads((network / "accounts.json").read_text())
    node = start_anvil(
        chain_id=accounts["chain_id"],
        hardfork="cancun",
        # zero base fee and gas price, as the genesis's zeroBaseFee and --min-gas-price=0
        extra_args=["--init", str(network / "genesis.json"), "--base-fee", "0", "--gas-price", "0"],
    )
    out = network.parent / "deployment.json"
    keys = str(network / "keys" / "roles.json")
    with node:
        client = JsonRpcClient(node.url)
        try:
            assert int(client.call("eth_chainId"), 16) == 4321
            assert client.call("eth_getBlockByNumber", ["latest", False])["baseFeePerGas"] == "0x0"
            for address in [*accounts["roles"].values(), *accounts["members"].values()]:
                balance = int(client.call("eth_getBalance", [address, "latest"]), 16)
                assert balance == DEFAULT_BALANCE_WEI
            done = peergrid("deploy", "--rpc", node.url, "--keys", keys, "--out-file", str(out))
            assert done.returncode == 0, done.stderr
            deployment = json.loads(out.read_text())
            assert deployment["chain_id"] == 4321
            assert deployment["accounts"] == accounts["roles"]
            assert deployment["keys"] == {}  # a consortium's keys are never written there
            for address in deployment["contracts"].values():
                assert len(client.call("eth_getCode", [address, "latest"])) > 2
            assert client.call("eth_getBlockByNumber", ["latest", False])["baseFeePerGas"] == "0x0"
            # With a zero base fee the deployer pays only the tip the node suggests (anvil's
            # eth_maxPriorityFeePerGas: 1 gwei), far below what the genesis gave it.
            operator = accounts["roles"]["operator"]
            spent = DEFAULT_BALANCE_WEI - int(
                client.call("eth_getBalance", [operator, "latest"]), 16
            )
            assert 0 < spent < 10**16
        finally:
            client.close()
    # Deploying again without --overwrite is refused (one line), the file is kept.
    done = peergrid("deploy", "--rpc", NO_NODE, "--keys", keys, "--out-file", str(out))
    assert one_line_error(done).endswith("exists; pass --overwrite to replace it")
