"""Gas of a fixed scenario against a committed snapshot, so a dearer contract is seen.

The scenario's accounts are deterministic, so its gas is exact. After a deliberate change to a
contract, the compiler or the EVM rules, regenerate the snapshot and commit it with the change:

    PEERGRID_UPDATE_GAS_SNAPSHOT=1 .venv/bin/pytest tests/ledger/test_gas_snapshot.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from peergrid.ledger import SettlementTrade, order_set_hash

from .helpers import make_community

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
    gas: dict[str, int] = {}
    counts: dict[str, int] = {}
    for record in ledger.gas_log:
        call = f"{record.contract}.{record.function}"
        counts[call] = counts.get(call, 0) + 1
        gas[f"{call}#{counts[call]}"] = record.gas
    return gas


def test_gas_matches_the_snapshot() -> None:
    measured = scenario_gas()
    if os.environ.get("PEERGRID_UPDATE_GAS_SNAPSHOT"):
        SNAPSHOT.write_text(json.dumps(measured, indent=2) + "\n")
    expected = json.loads(SNAPSHOT.read_text())
    changed = {
        k: (expected.get(k), measured.get(k))
        for k in sorted(set(expected) | set(measured))
        if expected.get(k) != measured.get(k)
    }
    assert changed == {}, f"gas changed (snapshot, now): {changed}; see this module's docstring"
