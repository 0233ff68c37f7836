"""Gas of fixed scenarios against a committed snapshot, so a dearer contract is seen.

Two scenarios: the Community settlement of the demo, and the consortium markets (Consortium,
BatchMarket with its meter settlement, OrderBook), whose keys start with ``markets/``, with the
EV quota period (``markets/ev/``). Their
accounts are deterministic, so their gas is exact. After a deliberate change to a contract, the
compiler or the EVM rules, regenerate the snapshot and commit it with the change:

    PEERGRID_UPDATE_GAS_SNAPSHOT=1 .venv/bin/pytest tests/ledger/test_gas_snapshot.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from peergrid.ledger import (
    ConsortiumClient,
    EmbeddedChain,
    GasLog,
    Pool,
    Role,
    SettlementTrade,
    order_set_hash,
)
from peergrid.ledger.markets.ev_quota import EvQuotaLedger, price_units, quota_units

from .helpers import make_community
from .market_helpers import FEE, FILLS, PENALTY, SLOT, make_batch, make_book, revealed_slot

SNAPSHOT = Path(__file__).with_name("gas_snapshot.json")


def scenario_gas() -> dict[str, int]:
    community = make_community(n_members=4)
    ledger = community.ledger
    a, b, c, d = community.members
    trades = [
        SettlementTrade(a, b, 1234, 123_457, 1001),
        SettlementTrade(c, a, 1, 999, 3),
        SettlementTrade(b, c, 2500, 80_000, 0),
    ]
    ledger.settle_slot(7, order_set_hash(b"snapshot"), trades)
    ledger.settle_slot(8, order_set_hash(b"snapshot"), trades[:1])
    ledger.settle_slot(9, order_set_hash(b"snapshot"), [])
    ledger.withdraw(d, 1_000)
    ledger.withdraw_fees(1_000)
    ledger.withdraw(d, ledger.balance_of(d))
    ledger.remove_member(d)
    return numbered(ledger.gas_log)


def numbered(log: GasLog, prefix: str = "") -> dict[str, int]:
    """``{"Contract.function#n": gas}``, n counting the calls of each function from 1."""
    gas: dict[str, int] = {}
    counts: dict[str, int] = {}
    for record in log:
        call = f"{prefix}{record.contract}.{record.function}"
        counts[call] = counts.get(call, 0) + 1
        gas[f"{call}#{counts[call]}"] = record.gas
    return gas


def market_scenario_gas() -> dict[str, int]:
    """Every function of the consortium markets, in a fixed order."""
    gas: dict[str, int] = {}

    chain = EmbeddedChain()
    operator, dso, a, b, c = (chain.new_account(n) for n in ("op", "dso", "a", "b", "c"))
    club = ConsortiumClient.deploy(chain, operator=operator, dso=dso)
    club.bootstrap({a: Role.PROSUMER, b: Role.PROSUMER})
    club.end_bootstrap()
    proposal, _ = club.propose_grant(a, c, Role.PROSUMER)
    club.vote(b, proposal, support=False)
    club.vote(dso, proposal)
    club.vote(operator, proposal)
    gas.update(numbered(chain.gas_log, "markets/"))

    batch = make_batch(fee_micro_per_kwh=FEE, penalty_micro_per_kwh=PENALTY)
    revealed_slot(batch)
    batch.ledger.post_clearing(SLOT, FILLS)
    s1, _, b1, b2 = batch.members
    batch.ledger.post_readings(batch.meter, SLOT, {s1: 2800, b1: 2600, b2: 400})
    batch.escrow.withdraw(s1, 1000)
    # A clearing in two parts (the client sends the part not yet posted, and the closing).
    revealed_slot(batch, SLOT + 1)
    batch.chain.transact(
        batch.operator, batch.ledger.market, "post_clearing", SLOT + 1, [FILLS[0].packed()], False
    )
    batch.ledger.post_clearing(SLOT + 1, FILLS)
    # A silent operator: past the clearing deadline, each buyer reclaims its lock.
    revealed_slot(batch, SLOT + 2)
    batch.chain.advance_time(batch.ledger.clearing_deadline())
    batch.ledger.reclaim(b1, SLOT + 2)
    batch.ledger.reclaim(b2, SLOT + 2)
    gas.update(numbered(batch.chain.gas_log, "markets/"))

    book = make_book(fee_micro_per_kwh=FEE)
    m0, m1, m2, m3 = book.members
    ledger = book.ledger
    ledger.place(m0, 1, Pool.UP, False, 1000, 100_000)  # the best
    ledger.place(m1, 1, Pool.UP, False, 1000, 110_000)  # behind a hint
    ledger.place(m2, 1, Pool.UP, True, 500, 90_000)
    resting = ledger.place(m2, 1, Pool.UP, True, 500, 80_000).order_id
    ledger.place(m3, 1, Pool.UP, True, 1500, 120_000)  # crosses two sells
    ledger.cancel(m2, resting)
    ledger.close_session(1)
    ledger.expire(ledger.orders(1, Pool.UP, True)[0].order_id)
    ledger.open_session(2, ncda=True)
    ledger.set_nodes({m0: 1, m1: 2, m3: 3})
    ledger.place(m0, 2, Pool.DOWN, False, 1000, 100_000)
    ledger.place(m1, 2, Pool.DOWN, False, 1000, 90_000)
    ledger.place(m3, 2, Pool.DOWN, True, 1500, 120_000)  # NCDA: two candidates
    gas.update(numbered(book.chain.gas_log, "markets/book/"))
    gas.update(ev_quota_scenario_gas())
    return gas


def ev_quota_scenario_gas() -> dict[str, int]:
    """Every function of the EV quota contract: Tables 2 and 3 of 001b ch. 9 (margin 323 kW),
    a payment with one draw over quota, a withdrawal."""
    chain = EmbeddedChain()
    dso, issuer = chain.new_account("dso"), chain.new_account("issuer")
    ledger = EvQuotaLedger.deploy(chain, dso=dso, issuer=issuer, supply_micro=10**18)
    start = chain.timestamp()
    ledger.initialize(
        capacity_margin=quota_units(323),
        tariff=price_units(112),
        penalty_rate=price_units(200),
        delivery_end=start + 1800,
        settle_by=start + 9000,
        period=37,
    )
    demands = {"A": 36, "B": 48, "C": 42, "D": 66, "E": 30, "F": 66, "G": 54, "H": 48}
    stations = {name: chain.new_account(name) for name in demands}
    for name, address in stations.items():
        ledger.fund(address, 10**11)
        ledger.demand_submit(address, quota_units(demands[name]), quota_units(80), 10**11)
    ledger.pre_allocation()
    book = [("A", 0, 3.2, 25), ("B", 1, 6.5, 24), ("C", 0, 9.8, 22), ("D", 1, 10.9, 26)]
    book += [("E", 1, 3.2, 28), ("F", 0, 7.2, 19), ("G", 1, 5.4, 20), ("H", 0, 6.8, 16)]
    for name, is_bid, quantity, price in book:
        ledger.submit(stations[name], bool(is_bid), price_units(price), quota_units(quantity))
    ledger.auction()
    chain.advance_time(1800)
    ledger.payment({stations["D"]: quota_units(60), stations["B"]: quota_units(50)})
    ledger.withdraw(stations["B"])
    return numbered(chain.gas_log, "markets/ev/")


def test_gas_matches_the_snapshot() -> None:
    measured = {**scenario_gas(), **market_scenario_gas()}
    if os.environ.get("PEERGRID_UPDATE_GAS_SNAPSHOT"):
        SNAPSHOT.write_text(json.dumps(measured, indent=2) + "\n")
    expected = json.loads(SNAPSHOT.read_text())
    changed = {
        k: (expected.get(k), measured.get(k))
        for k in sorted(set(expected) | set(measured))
        if expected.get(k) != measured.get(k)
    }
    assert changed == {}, f"gas changed (snapshot, now): {changed}; see this module's docstring"
