"""Deploying a market on anvil and the addresses file later commands read."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from peergrid.core.errors import LedgerError
from peergrid.ledger import BatchMarketLedger, CommunityLedger, EmbeddedChain, Role, RoleGrant
from peergrid.ledger.chain import open_chain
from peergrid.ledger.chain.anvil import ANVIL_DEV_ADDRESSES, ANVIL_DEV_KEYS, AnvilProcess
from peergrid.ledger.chain.rpc import RpcChain
from peergrid.ledger.markets.deployment import (
    Deployment,
    deploy_community,
    deploy_market,
    open_deployment,
    read_addresses,
    write_addresses,
)

pytestmark = pytest.mark.slow

PRIVATE_KEY = re.compile(r"0x[0-9a-fA-F]{64}\b")


def test_deploy_on_anvil_write_read_and_act_again(anvil_node: AnvilProcess, tmp_path: Path) -> None:
    chain = open_chain("rpc", anvil_node.url)
    try:
        deployment = deploy_community(chain, supply_micro=10**12)
    finally:
        chain.close()
    # On anvil the roles are dev accounts 1, 2, 3, whose public keys are written.
    assert deployment.accounts == {
        "operator": ANVIL_DEV_ADDRESSES[1],
        "dso": ANVIL_DEV_ADDRESSES[2],
        "issuer": ANVIL_DEV_ADDRESSES[3],
    }
    assert deployment.keys == {
        "operator": ANVIL_DEV_KEYS[1],
        "dso": ANVIL_DEV_KEYS[2],
        "issuer": ANVIL_DEV_KEYS[3],
    }
    assert deployment.chain_id == 31337 and deployment.rpc_url == anvil_node.url
    assert deployment.block_number is not None and deployment.block_number > 0
    assert deployment.compiler["evm_version"] == "cancun"

    path = write_addresses(deployment, tmp_path / "deploy" / "addresses.json")
    document = json.loads(path.read_text())
    assert set(document) == {
        "format",
        "market",
        "chain_id",
        "rpc_url",
        "block_number",
        "contracts",
        "accounts",
        "keys",
        "parameters",
        "compiler",
    }
    assert (document["format"], document["market"]) == (2, "community")
    assert set(document["contracts"]) == {"SettlementToken", "Community"}
    assert read_addresses(path) == deployment

    # A later command: reconnect from the file alone and act with the roles' keys.
    ledger = open_deployment(path)
    assert isinstance(ledger, CommunityLedger)
    try:
        newcomer = ANVIL_DEV_ADDRESSES[8]
        ledger.register_members([newcomer])  # the operator signs
        ledger.fund(newcomer, 1234)  # the issuer signs
        assert ledger.is_member(newcomer) and ledger.token_balance(newcomer) == 1234
        assert ledger.token_total_supply() == 10**12
    finally:
        assert isinstance(ledger.chain, RpcChain)
        ledger.chain.close()


def test_the_batch_market_is_deployed_with_its_meter_and_reopened(
    anvil_node: AnvilProcess, tmp_path: Path
) -> None:
    with open_chain("rpc", anvil_node.url) as chain:
        deployment = deploy_market(chain, supply_micro=10**12, clearing_deadline_s=900)
    # The batch market by default: the roles are dev accounts 1 to 4, the meter admitted.
    assert deployment.market == "batch"
    assert set(deployment.contracts) == {"SettlementToken", "BatchMarket"}
    assert deployment.accounts == {
        "operator": ANVIL_DEV_ADDRESSES[1],
        "dso": ANVIL_DEV_ADDRESSES[2],
        "issuer": ANVIL_DEV_ADDRESSES[3],
        "meter": ANVIL_DEV_ADDRESSES[4],
    }
    roles = enumerate(deployment.accounts, 1)
    assert deployment.keys == {role: ANVIL_DEV_KEYS[i] for i, role in roles}
    assert deployment.parameters == {"supply_micro": 10**12, "clearing_deadline_s": 900}
    path = write_addresses(deployment, tmp_path / "deployment.json")
    assert read_addresses(path) == deployment

    ledger = open_deployment(path)
    assert isinstance(ledger, BatchMarketLedger)
    try:
        assert ledger.clearing_deadline() == 900
        assert ledger.consortium.roles_of(deployment.accounts["meter"]) == Role.METER
        newcomer = ANVIL_DEV_ADDRESSES[8]
        ledger.consortium.bootstrap([RoleGrant(newcomer, Role.PROSUMER)])  # the operator signs
        ledger.escrow.fund(newcomer, 1234)  # the issuer signs
        assert ledger.escrow.token_balance(newcomer) == 1234
    finally:
        ledger.chain.close()


def test_other_keys_are_never_written(anvil_node: AnvilProcess, tmp_path: Path) -> None:
    with RpcChain(anvil_node.url, funder=ANVIL_DEV_KEYS[0]) as chain:
        deployment = deploy_community(chain)
        keys = {
            role: "0x" + bytes(chain._signers[a].key).hex()
            for role, a in deployment.accounts.items()
        }
    assert deployment.keys == {}
    path = write_addresses(deployment, tmp_path / "addresses.json")
    assert PRIVATE_KEY.findall(path.read_text()) == []
    # Keys handed over out of band work; a key for another account is refused.
    ledger = open_deployment(path, keys={"operator": keys["operator"]})
    assert isinstance(ledger, CommunityLedger)
    try:
        ledger.register_members([ANVIL_DEV_ADDRESSES[7]])
        assert ledger.is_member(ANVIL_DEV_ADDRESSES[7])
    finally:
        assert isinstance(ledger.chain, RpcChain)
        ledger.chain.close()
    with pytest.raises(LedgerError, match="the key given for dso is for"):
        open_deployment(path, keys={"dso": keys["operator"]})


def test_a_deployment_belongs_to_its_chain(anvil_node: AnvilProcess, tmp_path: Path) -> None:
    embedded = EmbeddedChain()
    deployment = deploy_community(embedded)
    assert deployment.rpc_url is None and deployment.block_number is None
    assert deployment.chain_id == embedded.chain_id
    assert read_addresses(write_addresses(deployment, tmp_path / "a.json")) == deployment
    assert deployment.community(embedded).member_count() == 0
    with RpcChain(anvil_node.url) as other, pytest.raises(LedgerError, match="is on chain 1337"):
        deployment.community(other)


def test_bad_addresses_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match=r"run `peergrid deploy --rpc URL` first"):
        read_addresses(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(LedgerError, match=r"bad\.json"):
        read_addresses(bad)
    bad.write_text(json.dumps({"format": 99}))
    with pytest.raises(LedgerError, match="format 99, expected 2"):
        read_addresses(bad)
    # Format 1 files (the Community contract only) are read as the community market.
    bad.write_text(json.dumps({"format": 1, "chain_id": 1, "contracts": {}, "accounts": {}}))
    with pytest.raises(LedgerError, match="missing SettlementToken, Community, operator"):
        read_addresses(bad)
    batch = {"format": 2, "market": "batch", "chain_id": 1, "contracts": {}, "accounts": {}}
    bad.write_text(json.dumps(batch))
    with pytest.raises(LedgerError, match="missing SettlementToken, BatchMarket, operator, dso"):
        read_addresses(bad)
    bad.write_text(json.dumps({**batch, "market": "auction"}))
    with pytest.raises(LedgerError, match="unknown market 'auction'"):
        read_addresses(bad)
    with pytest.raises(LedgerError, match="missing field 'contracts'"):
        Deployment.from_json({"format": 1})
