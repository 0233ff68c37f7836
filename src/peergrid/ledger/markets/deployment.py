"""Deploy a community's contracts and write where they are, for later commands to read.

``peergrid deploy --rpc URL`` calls :func:`deploy_community` on an
:class:`~peergrid.ledger.chain.rpc.RpcChain` and :func:`write_addresses`; later commands call
:func:`read_addresses` (or :func:`open_deployment`, which also reconnects) and get a
:class:`~peergrid.ledger.markets.community.CommunityLedger` bound to the deployed contracts with
:meth:`Deployment.community`.

The addresses file is JSON (``format`` 1)::

    {
      "format": 1,
      "chain_id": 31337,
      "rpc_url": "http://127.0.0.1:8545",
      "block_number": 5,
      "contracts": {"SettlementToken": "0x…", "Community": "0x…"},
      "accounts": {"operator": "0x…", "dso": "0x…", "issuer": "0x…"},
      "keys": {"operator": "0x…", "dso": "0x…", "issuer": "0x…"},
      "compiler": {"vyper": "0.4.3", "evm_version": "cancun", "source_hash": "…"}
    }

Private keys. ``keys`` holds a role's private key **only if it is one of anvil's public dev keys**
(:data:`~peergrid.ledger.chain.anvil.ANVIL_DEV_KEYS`, published by Foundry, worthless on any real
network), so that on a dev node ``peergrid deploy`` followed by other commands just works. Any
other key is never written: on a consortium network each role's key comes from its holder (pass
``keys=`` to :func:`open_deployment`), and the file can be shared freely.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.anvil import ANVIL_DEV_ADDRESSES, ANVIL_DEV_KEYS
from peergrid.ledger.chain.base import Chain
from peergrid.ledger.chain.compile import compile_contract
from peergrid.ledger.markets.community import CommunityLedger

logger = logging.getLogger(__name__)

ADDRESSES_FORMAT = 1
DEFAULT_SUPPLY_MICRO = 10**15
"""The settlement token's whole supply by default: 10⁹ currency units in micro-units."""

ROLES = ("operator", "dso", "issuer")
COMMUNITY_CONTRACTS = ("SettlementToken", "Community")


@dataclass(frozen=True)
class Deployment:
    """Where a community's contracts are, who holds its roles, and what compiled them."""

    chain_id: int
    contracts: Mapping[str, str]
    """Contract name -> checksum address."""
    accounts: Mapping[str, str]
    """Role (operator, dso, issuer) -> checksum address."""
    rpc_url: str | None = None
    block_number: int | None = None
    """The chain's height right after the deployment (``None`` on the embedded chain)."""
    keys: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Role -> private key, for anvil's public dev keys only (see the module docstring)."""
    compiler: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": ADDRESSES_FORMAT,
            "chain_id": self.chain_id,
            "rpc_url": self.rpc_url,
            "block_number": self.block_number,
            "contracts": dict(self.contracts),
            "accounts": dict(self.accounts),
            "keys": {role: key for role, key in self.keys.items() if key in ANVIL_DEV_KEYS},
            "compiler": dict(self.compiler),
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any], *, source: str = "addresses") -> Deployment:
        def need(key: str) -> Any:
            if key not in document:
                raise LedgerError("read_addresses", f"{source}: missing field {key!r}")
            return document[key]

        if document.get("format") != ADDRESSES_FORMAT:
            raise LedgerError(
                "read_addresses",
                f"{source}: format {document.get('format')!r}, expected {ADDRESSES_FORMAT}",
            )
        contracts = need("contracts")
        accounts = need("accounts")
        missing = [n for n in COMMUNITY_CONTRACTS if n not in contracts]
        missing += [r for r in ROLES if r not in accounts]
        if missing:
            raise LedgerError("read_addresses", f"{source}: missing {', '.join(missing)}")
        return cls(
            chain_id=int(need("chain_id")),
            contracts={str(k): str(v) for k, v in contracts.items()},
            accounts={str(k): str(v) for k, v in accounts.items()},
            rpc_url=document.get("rpc_url"),
            block_number=document.get("block_number"),
            keys={str(k): str(v) for k, v in (document.get("keys") or {}).items()},
            compiler={str(k): str(v) for k, v in (document.get("compiler") or {}).items()},
        )

    def community(self, chain: Chain) -> CommunityLedger:
        """The client of these contracts on ``chain`` (which must sign for the roles to act)."""
        if chain.chain_id != self.chain_id:
            raise LedgerError(
                "Deployment.community",
                f"the deployment is on chain {self.chain_id}, the chain given is {chain.chain_id}",
            )
        token_artifact = compile_contract("SettlementToken")
        community_artifact = compile_contract("Community")
        recorded = self.compiler.get("source_hash")
        if recorded and recorded != community_artifact.source_hash:
            logger.warning(
                "the contract sources changed since this deployment (source hash %s, now %s); "
                "the ABI used may not match the deployed code",
                recorded[:12],
                community_artifact.source_hash[:12],
            )
        token = chain.at(token_artifact, self.contracts["SettlementToken"])
        community = chain.at(community_artifact, self.contracts["Community"])
        return CommunityLedger(
            chain,
            token,
            community,
            operator=self.accounts["operator"],
            dso=self.accounts["dso"],
            issuer=self.accounts["issuer"],
        )


def _dev_key(address: str) -> str | None:
    try:
        return ANVIL_DEV_KEYS[ANVIL_DEV_ADDRESSES.index(address)]
    except ValueError:
        return None


def deploy_community(
    chain: Chain,
    *,
    operator: str | None = None,
    dso: str | None = None,
    issuer: str | None = None,
    supply_micro: int = DEFAULT_SUPPLY_MICRO,
    token_name: str = "peergrid settlement token",
    token_symbol: str = "PGS",
) -> Deployment:
    """Deploy the settlement token and the Community contract; the :class:`Deployment`.

    A role not given gets ``chain.new_account(role)`` (on anvil through
    :func:`~peergrid.ledger.chain.open_chain`: its dev accounts 1, 2, 3).
    """
    roles = {
        "operator": operator or chain.new_account("operator"),
        "dso": dso or chain.new_account("dso"),
        "issuer": issuer or chain.new_account("issuer"),
    }
    ledger = CommunityLedger.deploy(
        chain,
        operator=roles["operator"],
        dso=roles["dso"],
        issuer=roles["issuer"],
        supply_micro=supply_micro,
        token_name=token_name,
        token_symbol=token_symbol,
    )
    artifact = compile_contract("Community")
    keys = {role: key for role, address in roles.items() if (key := _dev_key(address))}
    block_number = getattr(chain, "block_number", None)
    return Deployment(
        chain_id=chain.chain_id,
        contracts={"SettlementToken": ledger.token.address, "Community": ledger.community.address},
        accounts=roles,
        rpc_url=getattr(chain, "url", None),
        block_number=int(block_number()) if callable(block_number) else None,
        keys=keys,
        compiler={
            "vyper": artifact.compiler_version,
            "evm_version": artifact.evm_version,
            "source_hash": artifact.source_hash,
        },
    )


def write_addresses(deployment: Deployment, path: Path | str) -> Path:
    """Write ``deployment`` as JSON to ``path`` (atomically); the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(deployment.to_json(), indent=2) + "\n"
    with tempfile.NamedTemporaryFile(
        "w", dir=target.parent, prefix=f".{target.name}.", delete=False, encoding="utf-8"
    ) as handle:
        handle.write(text)
        tmp = Path(handle.name)
    os.replace(tmp, target)
    return target


def read_addresses(path: Path | str) -> Deployment:
    """The :class:`Deployment` written by :func:`write_addresses`."""
    source = Path(path)
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise LedgerError(
            "read_addresses", f"no addresses file {source}: run `peergrid deploy --rpc URL` first"
        ) from exc
    except (OSError, ValueError) as exc:
        raise LedgerError("read_addresses", f"{source}: {exc}") from exc
    if not isinstance(document, Mapping):
        raise LedgerError("read_addresses", f"{source}: not a JSON object")
    return Deployment.from_json(document, source=str(source))


def open_deployment(
    path: Path | str,
    *,
    url: str | None = None,
    keys: Mapping[str, str] | None = None,
    **options: Any,
) -> CommunityLedger:
    """Reconnect to a deployment: read ``path``, open its node, sign for the roles' keys.

    ``url`` overrides the file's ``rpc_url``; ``keys`` (role -> private key) adds to the dev
    keys the file may hold. ``options`` go to :class:`~peergrid.ledger.chain.rpc.RpcChain`.
    """
    from peergrid.ledger.chain.rpc import RpcChain

    deployment = read_addresses(path)
    endpoint = url or deployment.rpc_url
    if not endpoint:
        raise LedgerError("open_deployment", f"{path}: no rpc_url; pass url=")
    chain = RpcChain(endpoint, **options)
    for role, key in {**deployment.keys, **(keys or {})}.items():
        address = chain.add_account(key, role)
        expected = deployment.accounts.get(role)
        if expected is not None and address != expected:
            raise LedgerError(
                "open_deployment", f"the key given for {role} is for {address}, not {expected}"
            )
    return deployment.community(chain)
