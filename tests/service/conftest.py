"""A small live market on the embedded chain (journaled in a temporary folder), a database and
a hand-set clock; helpers to sign as its members, meters and DSO.

The database is SQLite and PostgreSQL (the ``database`` fixture is parametrised over both): a
throwaway PostgreSQL server is started once per test process (:mod:`tests.service.postgres`).
Without its binaries the PostgreSQL cases skip, saying why, except under ``CI=true``, where they
fail: CI installs the server (``make postgres``) and must run them."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from peergrid.api.app import create_app
from peergrid.api.auth import Domain, access_token, sign
from peergrid.api.service import Service, open_service
from peergrid.platform.service import ManualClock
from peergrid.sim.scenario import scenario_from_dict
from tests.service.postgres import PostgresServer, missing_reason

SCENARIO = {
    "name": "service-test",
    "seed": 7,
    "feeder": {"name": "ieee-eu-lv"},
    "households": {"count": 6},
    "market": {
        "mechanism": "dpda+score",
        "params": {"distance_charge_per_m": 0.00002},
        "penalty_per_kwh": 0.05,
    },
    "tariffs": {"network_fee_per_kwh": 0.01},
    "grid": {"power_flow": False},
    "ledger": {"chain": "embedded", "deposit_per_member": 100.0},
}


@dataclass
class Harness:
    service: Service
    client: TestClient
    clock: ManualClock
    domain: Domain
    nonce: int = 0

    @property
    def market(self) -> Any:
        return self.service.market

    def member(self, k: int) -> Any:
        return self.market.config.members[k]

    def next_nonce(self) -> int:
        self.nonce += 1
        return self.nonce

    def order(
        self,
        k: int,
        slot: int,
        side: str,
        quantity_wh: int,
        price_micro: int,
        *,
        nonce: int | None = None,
        key_of: int | None = None,
    ) -> dict[str, Any]:
        m = self.member(k)
        message = {
            "agent": m.signer,
            "slot": slot,
            "side": side,
            "quantityWh": quantity_wh,
            "priceMicroPerKwh": price_micro,
            "bus": m.bus,
            "nonce": self.next_nonce() if nonce is None else nonce,
        }
        key = self.service.keys.members[self.member(k if key_of is None else key_of).agent]
        return {
            "agent": m.signer,
            "slot": slot,
            "side": side,
            "quantity_wh": quantity_wh,
            "price_micro_per_kwh": price_micro,
            "bus": m.bus,
            "nonce": message["nonce"],
            "signature": sign(self.domain, "Order", message, key),
        }

    def reading(
        self, k: int, slot: int, net_wh: int, *, key_of: int | None = None
    ) -> dict[str, Any]:
        m = self.member(k)
        key = self.service.keys.meters[self.member(k if key_of is None else key_of).agent]
        message = {"meter": m.meter, "slot": slot, "netWh": net_wh}
        return {
            "meter": m.meter,
            "slot": slot,
            "net_wh": net_wh,
            "signature": sign(self.domain, "Reading", message, key),
        }

    def token(self, k: int | None) -> dict[str, str]:
        """A read token of member ``k``, or of the DSO (``None``)."""
        import time

        keys = self.service.keys
        key = keys.dso if k is None else keys.members[self.member(k).agent]
        return {
            "Authorization": "Peergrid " + access_token(self.domain, key, int(time.time()) + 600)
        }


def open_harness(
    run_dir: Path,
    clock: ManualClock,
    db_url: str | None = None,
    rpc: str | None = None,
    chain: str = "embedded",
) -> Harness:
    """The service in ``run_dir`` on ``db_url`` (default: SQLite in the run directory), on the
    node at ``rpc`` (default: the ``chain`` journaled in the run directory)."""
    scenario = scenario_from_dict(SCENARIO)
    service = open_service(
        scenario, run_dir=run_dir, db_url=db_url, rpc=rpc, clock=clock, chain=chain
    )
    market = service.market
    client = TestClient(create_app(market))
    domain = Domain(market.chain.chain_id, market.ledger.market.address)
    return Harness(service, client, clock, domain)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway server per test process, stopped and removed at the end."""
    reason = missing_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the PostgreSQL tests cannot run: {reason}")
        pytest.skip(reason)
    server = PostgresServer.start()
    try:
        yield server
    finally:
        server.stop()


NewDatabase = Callable[[], str]


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> NewDatabase:
    """Makes a new, empty database of the case's kind; its URL."""
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        return server.new_database
    made: list[int] = []

    def new_sqlite() -> str:
        made.append(len(made))
        return f"sqlite:///{tmp_path / f'db{len(made)}.db'}"

    return new_sqlite


@pytest.fixture
def harness(tmp_path: Path, database: NewDatabase) -> Iterator[Harness]:
    h = open_harness(tmp_path / "run", ManualClock(0.0), database())
    try:
        yield h
    finally:
        h.service.close()
