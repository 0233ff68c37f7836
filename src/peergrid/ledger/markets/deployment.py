"""Deploy a community's market and write where it is, for later commands to read.

``peergrid deploy --rpc URL`` calls :func:`deploy_market` on an
:class:`~peergrid.ledger.chain.rpc.RpcChain` (the sealed-bid batch market by default, the
market a scenario settles on; or the Community contract) and :func:`write_addresses`; later
commands call :func:`read_addresses` (or :func:`open_deployment`, which also reconnects) and get
the market's client bound to the deployed contracts with :meth:`Deployment.ledger`.

The addresses file is JSON (``format`` 2)::

    {
      "format": 2,
      "market": "batch",
      "chain_id": 31337,
      "rpc_url": "http://127.0.0.1:8545",
      "block_number": 7,
      "contracts": {"SettlementToken": "0x…", "BatchMarket": "0x…"},
      "accounts": {"operator": "0x…", "dso": "0x…", "issuer": "0x…", "meter": "0x…"},
      "keys": {"operator": "0x…", "dso": "0x…", "issuer": "0x…", "meter": "0x…"},
      "parameters": {"supply_micro": 1000000000000000, "clearing_deadline_s": 1800, …},
      "compiler": {"vyper": "0.4.3", "evm_version": "cancun", "source_hash": "…"}
    }

The Community market has no meter and its contract is ``Community``. A file of format 1 (the
Community contract only, before the batch market could be deployed) is read as ``market``
``"community"``.

The batch market is left in its bootstrap with the meter admitted: the operator admits the first
members (:meth:`~peergrid.ledger.markets.consortium.ConsortiumClient.bootstrap`) and ends it.

Private keys. ``keys`` holds a role's private key **only if it is one of anvil's public dev keys**
(:data:`~peergrid.ledger.chain.anvil.ANVIL_DEV_KEYS`, published by Foundry, worthless on any real
network), so that on a dev node ``peergrid deploy`` followed by other commands just works. Any
other key is never written: on a consortium network each role's key comes from its holder (pass
``keys=`` to :func:`open_deployment`), and the file can be shared freely.

Writing the file (:func:`write_addresses`): an existing file is refused unless ``overwrite``;
:func:`check_addresses_path` makes the same checks and proves the folder writable *before*
anything is deployed; the file is written to a temporary file in the same folder and renamed over
the target, and the temporary file is removed whatever fails, so no copy of the keys is left
behind.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.anvil import ANVIL_DEV_ADDRESSES, ANVIL_DEV_KEYS
from peergrid.ledger.chain.base import Chain
from peergrid.ledger.chain.compile import compile_contract
from peergrid.ledger.markets.batch_market import (
    DEFAULT_CLEARING_DEADLINE_S,
    MAX_CLEARING_DEADLINE_S,
    BatchMarketLedger,
)
from peergrid.ledger.markets.community import CommunityLedger
from peergrid.ledger.markets.consortium import Role, RoleGrant

logger = logging.getLogger(__name__)

ADDRESSES_FORMAT = 2
DEFAULT_SUPPLY_MICRO = 10**15
"""The settlement token's whole supply by default: 10⁹ currency units in micro-units."""

MARKETS = ("batch", "community")
"""The markets :func:`deploy_market` deploys, by the name a scenario gives as ``ledger.market``."""

DEFAULT_MARKET = "batch"

CONTRACTS: Mapping[str, tuple[str, str]] = {
    "batch": ("SettlementToken", "BatchMarket"),
    "community": ("SettlementToken", "Community"),
}
"""The contracts each market's deployment holds: the token and the market contract."""

ROLES: Mapping[str, tuple[str, ...]] = {
    "batch": ("operator", "dso", "issuer", "meter"),
    "community": ("operator", "dso", "issuer"),
}
"""The accounts each market's deployment names."""


@dataclass(frozen=True)
class Deployment:
    """Where a community's contracts are, who holds its roles, and what compiled them."""

    chain_id: int
    contracts: Mapping[str, str]
    """Contract name -> checksum address."""
    accounts: Mapping[str, str]
    """Role (operator, dso, issuer, and the batch market's meter) -> checksum address."""
    market: str = "community"
    """Which market: ``"batch"`` or ``"community"``."""
    rpc_url: str | None = None
    block_number: int | None = None
    """The chain's height right after the deployment (``None`` on the embedded chain)."""
    keys: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Role -> private key, for anvil's public dev keys only (see the module docstring)."""
    parameters: Mapping[str, int] = field(default_factory=dict)
    """What the deployment was given: token supply, rates, the clearing deadline."""
    compiler: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": ADDRESSES_FORMAT,
            "market": self.market,
            "chain_id": self.chain_id,
            "rpc_url": self.rpc_url,
            "block_number": self.block_number,
            "contracts": dict(self.contracts),
            "accounts": dict(self.accounts),
            "keys": {role: key for role, key in self.keys.items() if key in ANVIL_DEV_KEYS},
            "parameters": dict(self.parameters),
            "compiler": dict(self.compiler),
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any], *, source: str = "addresses") -> Deployment:
        def need(key: str) -> Any:
            if key not in document:
                raise LedgerError("read_addresses", f"{source}: missing field {key!r}")
            return document[key]

        version = document.get("format")
        if version not in (1, ADDRESSES_FORMAT):
            raise LedgerError(
                "read_addresses",
                f"{source}: format {version!r}, expected {ADDRESSES_FORMAT}",
            )
        market = "community" if version == 1 else need("market")
        if market not in MARKETS:
            raise LedgerError("read_addresses", f"{source}: unknown market {market!r}")
        contracts = need("contracts")
        accounts = need("accounts")
        missing = [n for n in CONTRACTS[market] if n not in contracts]
        missing += [r for r in ROLES[market] if r not in accounts]
        if missing:
            raise LedgerError("read_addresses", f"{source}: missing {', '.join(missing)}")
        return cls(
            chain_id=int(need("chain_id")),
            contracts={str(k): str(v) for k, v in contracts.items()},
            accounts={str(k): str(v) for k, v in accounts.items()},
            market=str(market),
            rpc_url=document.get("rpc_url"),
            block_number=document.get("block_number"),
            keys={str(k): str(v) for k, v in (document.get("keys") or {}).items()},
            parameters={str(k): int(v) for k, v in (document.get("parameters") or {}).items()},
            compiler={str(k): str(v) for k, v in (document.get("compiler") or {}).items()},
        )

    def ledger(self, chain: Chain) -> BatchMarketLedger | CommunityLedger:
        """The client of this deployment's market on ``chain``."""
        return self.batch_market(chain) if self.market == "batch" else self.community(chain)

    def community(self, chain: Chain) -> CommunityLedger:
        """The client of the Community contract on ``chain`` (which must sign for the roles to
        act)."""
        token, community = self._attach(chain, "community")
        return CommunityLedger(
            chain,
            token,
            community,
            operator=self.accounts["operator"],
            dso=self.accounts["dso"],
            issuer=self.accounts["issuer"],
        )

    def batch_market(self, chain: Chain) -> BatchMarketLedger:
        """The client of the batch market on ``chain`` (which must sign for the roles to act)."""
        self._attach(chain, "batch")  # checks the chain and the sources
        return BatchMarketLedger.at(
            chain,
            token=self.contracts["SettlementToken"],
            market=self.contracts["BatchMarket"],
            operator=self.accounts["operator"],
            dso=self.accounts["dso"],
            issuer=self.accounts["issuer"],
        )

    def _attach(self, chain: Chain, market: str) -> tuple[Any, Any]:
        call = f"Deployment.{'batch_market' if market == 'batch' else 'community'}"
        if self.market != market:
            raise LedgerError(call, f"the deployment is of the {self.market} market")
        if chain.chain_id != self.chain_id:
            raise LedgerError(
                call,
                f"the deployment is on chain {self.chain_id}, the chain given is {chain.chain_id}",
            )
        token_name, market_name = CONTRACTS[market]
        market_artifact = compile_contract(market_name)
        recorded = self.compiler.get("source_hash")
        if recorded and recorded != market_artifact.source_hash:
            logger.warning(
                "the contract sources changed since this deployment (source hash %s, now %s); "
                "the ABI used may not match the deployed code",
                recorded[:12],
                market_artifact.source_hash[:12],
            )
        return (
            chain.at(compile_contract(token_name), self.contracts[token_name]),
            chain.at(market_artifact, self.contracts[market_name]),
        )


_PRIVATE_KEY = re.compile(r"0x[0-9a-fA-F]{64}")


def _dev_key(address: str) -> str | None:
    try:
        return ANVIL_DEV_KEYS[ANVIL_DEV_ADDRESSES.index(address)]
    except ValueError:
        return None


def check_deploy_options(
    market: str,
    supply_micro: int,
    clearing_deadline_s: int = DEFAULT_CLEARING_DEADLINE_S,
) -> None:
    """Refuse, before anything is deployed, what the deployment would refuse midway: an unknown
    market, a token supply that is not a positive number of micro-units, a clearing deadline
    out of the batch market's range (1 s to a year)."""
    if market not in MARKETS:
        raise LedgerError("deploy", f"unknown market {market!r} (known: {', '.join(MARKETS)})")
    if isinstance(supply_micro, bool) or not isinstance(supply_micro, int) or supply_micro <= 0:
        raise LedgerError("deploy", f"the token supply must be > 0 micro-units, got {supply_micro}")
    if market == "batch" and not 1 <= clearing_deadline_s <= MAX_CLEARING_DEADLINE_S:
        raise LedgerError(
            "deploy",
            f"the clearing deadline must be 1 to {MAX_CLEARING_DEADLINE_S} s, "
            f"got {clearing_deadline_s}",
        )


def deploy_market(
    chain: Chain,
    market: str = DEFAULT_MARKET,
    *,
    supply_micro: int = DEFAULT_SUPPLY_MICRO,
    clearing_deadline_s: int = DEFAULT_CLEARING_DEADLINE_S,
    roles: Mapping[str, str] | None = None,
) -> Deployment:
    """Deploy ``market`` (``"batch"``, the default, or ``"community"``): the settlement token
    (``supply_micro`` to the issuer) and the market contract; the :class:`Deployment`.

    A role not in ``roles`` gets ``chain.new_account(role)`` (on anvil through
    :func:`~peergrid.ledger.chain.open_chain`: its dev accounts 1, 2, 3 and, for the batch
    market's meter, 4). The batch market's meter is admitted (the consortium stays in bootstrap).
    """
    check_deploy_options(market, supply_micro, clearing_deadline_s)
    if market == "community":
        return deploy_community(chain, supply_micro=supply_micro, **_given(roles, "community"))
    accounts = {role: _role(chain, roles, role) for role in ROLES["batch"]}
    ledger = BatchMarketLedger.deploy(
        chain,
        operator=accounts["operator"],
        dso=accounts["dso"],
        issuer=accounts["issuer"],
        supply_micro=supply_micro,
        clearing_deadline_s=clearing_deadline_s,
    )
    ledger.consortium.bootstrap([RoleGrant(accounts["meter"], Role.METER)])
    return _deployment(
        chain,
        "batch",
        {"SettlementToken": ledger.token.address, "BatchMarket": ledger.market.address},
        accounts,
        {"supply_micro": supply_micro, "clearing_deadline_s": clearing_deadline_s},
    )


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
    check_deploy_options("community", supply_micro)
    accounts = {
        "operator": operator or chain.new_account("operator"),
        "dso": dso or chain.new_account("dso"),
        "issuer": issuer or chain.new_account("issuer"),
    }
    ledger = CommunityLedger.deploy(
        chain,
        operator=accounts["operator"],
        dso=accounts["dso"],
        issuer=accounts["issuer"],
        supply_micro=supply_micro,
        token_name=token_name,
        token_symbol=token_symbol,
    )
    return _deployment(
        chain,
        "community",
        {"SettlementToken": ledger.token.address, "Community": ledger.community.address},
        accounts,
        {"supply_micro": supply_micro},
    )


def _role(chain: Chain, roles: Mapping[str, str] | None, role: str) -> str:
    given = (roles or {}).get(role)
    return given if given else chain.new_account(role)


def _given(roles: Mapping[str, str] | None, market: str) -> dict[str, str]:
    return {r: a for r, a in (roles or {}).items() if r in ROLES[market] and a}


def _deployment(
    chain: Chain,
    market: str,
    contracts: Mapping[str, str],
    accounts: Mapping[str, str],
    parameters: Mapping[str, int],
) -> Deployment:
    artifact = compile_contract(CONTRACTS[market][1])
    keys = {role: key for role, address in accounts.items() if (key := _dev_key(address))}
    block_number = getattr(chain, "block_number", None)
    return Deployment(
        chain_id=chain.chain_id,
        contracts=dict(contracts),
        accounts=dict(accounts),
        market=market,
        rpc_url=getattr(chain, "url", None),
        block_number=int(block_number()) if callable(block_number) else None,
        keys=keys,
        parameters=dict(parameters),
        compiler={
            "vyper": artifact.compiler_version,
            "evm_version": artifact.evm_version,
            "source_hash": artifact.source_hash,
        },
    )


def check_addresses_path(path: Path | str, *, overwrite: bool = False) -> Path:
    """Refuse, before anything is deployed, an addresses file that could not be written.

    An existing file is refused unless ``overwrite``; so is a folder, or a place whose folder
    cannot be made or written: the folder is made if missing and a probe file (empty, no key in
    it) is created in it and removed. Returns the path.
    """
    target = Path(path)
    call = "deploy"
    if target.is_dir():
        raise LedgerError(call, f"{target} is a folder, not a file")
    if target.exists() and not overwrite:
        raise LedgerError(call, f"{target} exists; pass --overwrite to replace it")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.probe."):
            pass
    except OSError as exc:
        raise LedgerError(call, f"cannot write {target}: {exc.strerror or exc}") from exc
    return target


def write_addresses(deployment: Deployment, path: Path | str, *, overwrite: bool = False) -> Path:
    """Write ``deployment`` as JSON to ``path``, atomically; the path.

    An existing file is refused unless ``overwrite``. The text goes to a temporary file in the
    same folder, which is renamed over ``path``; if anything fails the temporary file is removed
    (it may hold dev keys), and :class:`LedgerError` names the path.
    """
    target = check_addresses_path(path, overwrite=overwrite)
    text = json.dumps(deployment.to_json(), indent=2) + "\n"
    tmp: Path | None = None
    try:
        with tempfile.NamedTemporaryFile(
            "w", dir=target.parent, prefix=f".{target.name}.", delete=False, encoding="utf-8"
        ) as handle:
            tmp = Path(handle.name)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if target.exists() and not overwrite:  # appeared while deploying
            raise LedgerError("deploy", f"{target} exists; pass --overwrite to replace it")
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise LedgerError("deploy", f"cannot write {target}: {exc.strerror or exc}") from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()
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


def read_role_keys(path: Path | str, market: str = DEFAULT_MARKET) -> dict[str, str]:
    """The role keys of a JSON file ``{"operator": "0x…", "dso": "0x…", …}`` (what
    ``peergrid chain consortium init`` writes as ``keys/roles.json``): every role ``market``
    names, each a 32-byte hex private key; roles the market does not name are ignored, an
    unknown name is refused. Checked before anything is deployed."""
    source = Path(path)
    call = "deploy"
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LedgerError(call, f"--keys: no file {source}") from None
    except (OSError, ValueError) as exc:
        raise LedgerError(call, f"--keys: {source}: {exc}") from None
    if not isinstance(document, Mapping):
        raise LedgerError(call, f"--keys: {source}: not a JSON object of role -> private key")
    known = {role for roles in ROLES.values() for role in roles}
    unknown = sorted(set(map(str, document)) - known)
    if unknown:
        raise LedgerError(
            call,
            f"--keys: {source}: unknown role {unknown[0]!r} (roles: {', '.join(sorted(known))})",
        )
    missing = [role for role in ROLES[market] if role not in document]
    if missing:
        raise LedgerError(
            call,
            f"--keys: {source}: no key for {missing[0]!r} (the {market} market needs "
            f"{', '.join(ROLES[market])})",
        )
    keys = {}
    for role in ROLES[market]:
        key = document[role]
        if not isinstance(key, str) or not _PRIVATE_KEY.fullmatch(key):
            raise LedgerError(call, f"--keys: {source}: {role}: not a 0x-prefixed 32-byte hex key")
        keys[role] = key
    if len(set(keys.values())) != len(keys):
        raise LedgerError(call, f"--keys: {source}: two roles have the same key")
    return keys


def open_deployment(
    path: Path | str,
    *,
    url: str | None = None,
    keys: Mapping[str, str] | None = None,
    **options: Any,
) -> BatchMarketLedger | CommunityLedger:
    """Reconnect to a deployment: read ``path``, open its node, sign for the roles' keys; the
    client of its market (:meth:`Deployment.ledger`).

    ``url`` overrides the file's ``rpc_url``; ``keys`` (role -> private key) adds to the dev
    keys the file may hold. ``options`` go to :class:`~peergrid.ledger.chain.rpc.RpcChain`.
    """
    from peergrid.ledger.chain.rpc import RpcChain

    deployment = read_addresses(path)
    endpoint = url or deployment.rpc_url
    if not endpoint:
        raise LedgerError("open_deployment", f"{path}: no rpc_url; pass url=")
    chain = RpcChain(endpoint, **options)
    try:
        for role, key in {**deployment.keys, **(keys or {})}.items():
            address = chain.add_account(key, role)
            expected = deployment.accounts.get(role)
            if expected is not None and address != expected:
                raise LedgerError(
                    "open_deployment", f"the key given for {role} is for {address}, not {expected}"
                )
        return deployment.ledger(chain)
    except BaseException:
        chain.close()
        raise
