"""A service from a scenario file: its members and keys, its chain, database and clock.

The run directory (``<output.directory>/service`` unless ``--run-dir`` is given) holds what a
restart needs beside the database: ``keys/`` (each member's signing key, each meter's key and
the DSO's, hex, made on first start, readable by the owner only), ``chain.jsonl`` (the chain's
journal, see :mod:`peergrid.ledger.chain.persisted`: the embedded chain's by default, the
managed anvil node's with ``chain="anvil"``, in one format), ``anvil.log`` (that node's log),
``market.json`` (the contracts'
addresses and the operator's accounts, and the seed of the commitments' salts; readable by the
owner only) and ``clock.json`` (the market's start, so that a restart keeps the same cycle
numbers). On a node (``--rpc``) the accounts the operator made there (its roles and the
members' chain accounts) have keys only this process holds: they are written to
``keys/chain-accounts.json`` (mode 600) before the market's state, and loaded on restart.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from eth_account import Account

from peergrid.core.errors import PeergridError
from peergrid.grid.distance import distance_matrix
from peergrid.grid.feeders import load_feeder
from peergrid.ledger.chain.base import Chain
from peergrid.ledger.chain.open import open_chain
from peergrid.ledger.chain.persisted import PersistedEmbeddedChain
from peergrid.ledger.chain.rpc import RpcChain
from peergrid.mechanisms.registry import distance_charge_per_m, mechanism_spec
from peergrid.platform.cycle import CycleTimes
from peergrid.platform.service.clock import Clock, WallClock
from peergrid.platform.service.market import LiveMarket, MarketConfig, Member
from peergrid.platform.service.readmodel import open_database
from peergrid.sim.population import place_households
from peergrid.sim.scenario import Scenario


@dataclass(frozen=True)
class Keys:
    """Private keys (hex) by holder: ``members`` and ``meters`` by agent, and the DSO's."""

    members: dict[str, str]
    meters: dict[str, str]
    dso: str


def load_keys(folder: Path, agents: list[str]) -> Keys:
    """The keys in ``folder``; a holder without one is given a new key, written there."""
    folder.mkdir(parents=True, exist_ok=True)

    def key(name: str) -> str:
        path = folder / f"{name}.key"
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
        value = "0x" + bytes(Account.create().key).hex()
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as f:
            f.write(value + "\n")
        return value

    return Keys(
        members={a: key(a) for a in agents},
        meters={a: key(f"{a}-meter") for a in agents},
        dso=key("dso"),
    )


def market_config(
    scenario: Scenario, keys: Keys, agents: list[str], buses: list[int]
) -> MarketConfig:
    """The live market of ``scenario``'s community (its mechanism, tariffs and deposits)."""
    market = scenario.market
    spec = mechanism_spec(market.mechanism)
    charge = distance_charge_per_m(market.mechanism, market.params)
    feeder = load_feeder(scenario.feeder.name)
    return MarketConfig(
        members=tuple(
            Member(
                agent=a,
                bus=str(b),
                signer=Account.from_key(keys.members[a]).address,
                meter=Account.from_key(keys.meters[a]).address,
            )
            for a, b in zip(agents, buses, strict=True)
        ),
        dso=Account.from_key(keys.dso).address,
        mechanism=market.mechanism,
        params=dict(market.params),
        distances=distance_matrix(feeder),
        needs_distances=spec.needs_distances,
        times=CycleTimes.scaled(float(scenario.time.slot_minutes)),
        deposit_per_member=scenario.ledger.deposit_per_member,
        penalty_per_kwh=market.penalty_per_kwh,
        network_fee_per_kwh=scenario.tariffs.network_fee_per_kwh,
        distance_charge_per_m=charge,
    )


@dataclass
class Service:
    market: LiveMarket
    keys: Keys
    run_dir: Path
    db_url: str

    def close(self) -> None:
        self.market.chain.close()
        self.market.engine.dispose()


def open_service(
    scenario: Scenario,
    *,
    run_dir: Path,
    db_url: str | None = None,
    rpc: str | None = None,
    speed: float = 1.0,
    clock: Clock | None = None,
    chain: str = "embedded",
) -> Service:
    """Open (or reopen) the service of ``scenario`` in ``run_dir``; ``chain`` is where the
    market runs when no node is given (``rpc``): ``"embedded"`` (py-evm in this process) or
    ``"anvil"`` (a private anvil node started here, stopped by :meth:`Service.close`), both
    journaled in ``run_dir``."""
    if not scenario.market.enabled:
        raise PeergridError("the scenario's [market] is disabled: the service runs a market")
    check_service_chain(chain, rpc)
    run_dir.mkdir(parents=True, exist_ok=True)
    feeder = load_feeder(scenario.feeder.name)
    households = place_households(scenario.households, feeder, np.random.default_rng(scenario.seed))
    agents = [h.id for h in households]
    keys = load_keys(run_dir / "keys", agents)
    config = market_config(scenario, keys, agents, [h.bus for h in households])
    db_url = db_url or f"sqlite:///{run_dir / 'service.db'}"
    engine = open_database(db_url)
    chain_keys = run_dir / "keys" / "chain-accounts.json"
    try:
        ledger = _open_chain(chain, rpc, run_dir / "chain.jsonl")
    except BaseException:
        engine.dispose()
        raise
    try:
        if isinstance(ledger, RpcChain) and chain_keys.exists():
            for address, entry in json.loads(chain_keys.read_text(encoding="utf-8")).items():
                if ledger.add_account(entry["key"], entry["label"]) != address:
                    raise PeergridError(f"{chain_keys}: the key of {address} is another's")
        clock = clock or WallClock(_market_start(run_dir / "clock.json"), speed)
        market = LiveMarket.open(
            config,
            ledger,
            engine,
            run_dir / "market.json",
            clock,
            on_deployed=lambda _: _keep_chain_keys(ledger, chain_keys),
        )
    except BaseException:
        ledger.close()
        engine.dispose()
        raise
    return Service(market, keys, run_dir, db_url)


SERVICE_CHAINS = ("embedded", "anvil")
"""Where the service runs its market without ``--rpc``: both journaled in the run dir."""


def check_service_chain(chain: str, rpc: str | None) -> None:
    """Refuse a ``chain`` the service does not run, or one given beside a node (``rpc``)."""
    if chain not in SERVICE_CHAINS:
        raise PeergridError(f"--chain must be one of {', '.join(SERVICE_CHAINS)}, got {chain!r}")
    if rpc and chain != "embedded":
        raise PeergridError(f"--rpc and --chain {chain} exclude each other: the node is the chain")


def _open_chain(chain: str, rpc: str | None, journal: Path) -> Chain:
    if rpc:
        return open_chain("rpc", rpc, reconnect_timeout=RPC_RECONNECT_S)
    if chain == "anvil":
        from peergrid.ledger.chain.anvil import find_anvil
        from peergrid.ledger.chain.persisted_anvil import PersistedAnvilChain

        return PersistedAnvilChain(journal, binary=find_anvil())
    return PersistedEmbeddedChain(journal)


RPC_RECONNECT_S = 5.0
"""How long a request to the node waits out an outage before the slot is tried again at the
next tick (the clock thread holds the market's lock meanwhile)."""


def _keep_chain_keys(chain: Chain, path: Path) -> None:
    """The keys of the accounts ``chain`` made, if it is a node (the embedded chain's are
    derived from its journal): address -> label and key, readable by the owner only."""
    if not isinstance(chain, RpcChain):
        return
    keys = {
        address: {"label": label, "key": chain.private_key(address)}
        for address, label in chain.accounts.items()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as f:
        f.write(json.dumps(keys, indent=2))
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def _market_start(path: Path) -> float:
    """The market's start (Unix seconds), kept across restarts."""
    if path.exists():
        return float(json.loads(path.read_text(encoding="utf-8"))["start"])
    start = time.time()
    path.write_text(json.dumps({"start": start}), encoding="utf-8")
    return start
