"""The read model from the chain: a slot's rows from the market contract's events and views,
and :func:`rebuild`, which drops the read model and writes it again from the chain alone.

The live service calls :func:`record_slot` when a slot settles, and :func:`rebuild` calls the
same function for every slot the chain cleared: the two cannot disagree.

Events come from :func:`contract_events`: the journal of a
:class:`~peergrid.ledger.chain.persisted.JournaledChain` (the embedded chain or the managed anvil
kept in the run directory: a managed node keeps only its last blocks), or ``eth_getLogs`` on a
node.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert

import peergrid.platform.service.readmodel as db
from peergrid.core.errors import LedgerError
from peergrid.ledger import BatchMarketLedger
from peergrid.ledger.chain.abi import Event, Log
from peergrid.ledger.chain.base import Chain, Contract
from peergrid.ledger.chain.jsonrpc import JsonRpcClient
from peergrid.ledger.chain.persisted import JournaledChain
from peergrid.ledger.markets.batch_rules import TradeLog

TRADE_IDS_PER_SLOT = 100_000
"""A trade's id is ``slot * TRADE_IDS_PER_SLOT + its position in the slot's clearing``."""

# The ``Revealed`` word (BatchMarket.vy): the owner's member index in bits 0..31, the order's
# index in its slot in 98..113.
_REVEAL_INDEX_SHIFT = 98
_U16, _U32 = 2**16 - 1, 2**32 - 1


def contract_events(chain: Chain, contract: Contract) -> list[Event]:
    """Every event ``contract`` emitted, in chain order."""
    logs: Sequence[Log]
    if isinstance(chain, JournaledChain):
        logs = chain.logs(contract.address)
    elif isinstance(url := getattr(chain, "url", None), str):
        client = JsonRpcClient(url)
        try:
            found = client.call(
                "eth_getLogs",
                [{"address": contract.address, "fromBlock": "0x0", "toBlock": "latest"}],
            )
        finally:
            client.close()
        logs = [
            Log(
                address=entry["address"],
                topics=tuple(bytes.fromhex(t[2:]) for t in entry["topics"]),
                data=bytes.fromhex(entry["data"][2:]),
            )
            for entry in found
        ]
    else:
        raise LedgerError(
            "events", f"{type(chain).__name__} keeps no event log: the read model cannot be rebuilt"
        )
    return [e for log in logs if (e := contract.abi.decode_log(log)) is not None]


def slots_by_event(events: Sequence[Event]) -> dict[int, list[Event]]:
    """The market's events of each slot: ``Traded`` (by the slot in each word), ``Revealed``,
    ``Cleared`` and ``MeterSettled``."""
    by_slot: dict[int, list[Event]] = defaultdict(list)
    for e in events:
        if e.name == "Traded":
            words = [int(w) for w in e.args["trades"]]
            if words:
                by_slot[TradeLog.from_word(words[0]).slot].append(e)
        elif e.name in ("Revealed", "Cleared", "MeterSettled"):
            by_slot[int(e.args["slot"])].append(e)
    return by_slot


def record_slot(
    connection: Connection,
    ledger: BatchMarketLedger,
    slot: int,
    events: Sequence[Event],
    agent_of: Mapping[str, str],
) -> None:
    """Write the read model's rows of ``slot`` (cleared on chain) from its ``events``."""
    cleared = [e for e in events if e.name == "Cleared"]
    if not cleared:
        return
    # The owners of the orders by index, from their reveals: the contract holds only its last
    # slots, and a rebuild reads every slot.
    owners = {
        (int(e.args["order"]) >> _REVEAL_INDEX_SHIFT) & _U16: ledger.member_address(
            int(e.args["order"]) & _U32
        )
        for e in events
        if e.name == "Revealed"
    }
    fills = [
        TradeLog.from_word(int(word))
        for e in events
        if e.name == "Traded"
        for word in e.args["trades"]
    ]
    trade_rows: list[dict[str, Any]] = [
        {
            "id": slot * TRADE_IDS_PER_SLOT + k,
            "slot": slot,
            "buyer": agent_of[owners[t.fill.buy].lower()],
            "seller": agent_of[owners[t.fill.sell].lower()],
            "energy_wh": t.fill.energy_wh,
            "price_micro_per_kwh": t.fill.price_micro_per_kwh,
            "charge_micro": t.charge_micro,
        }
        for k, t in enumerate(fills)
    ]
    args = cleared[-1].args
    fee, charge = int(args["fee_micro"]), int(args["charge_micro"])
    connection.execute(
        insert(db.slots),
        {
            "slot": slot,
            "price_micro_per_kwh": trade_rows[0]["price_micro_per_kwh"] if trade_rows else 0,
            "trade_count": int(args["trade_count"]),
            "energy_wh": int(args["energy_wh"]),
            "value_micro": int(args["value_micro"]),
            "fee_micro": fee,
            "charge_micro": charge,
            "dso_income_micro": fee + charge,
        },
    )
    if trade_rows:
        connection.execute(insert(db.trades), trade_rows)
    reading_rows = [
        {
            "slot": slot,
            "agent": agent_of[str(e.args["member"]).lower()],
            "reference_wh": int(e.args["reference_wh"]),
            "metered_wh": int(e.args["metered_wh"]),
            "credit_micro": int(e.args["credit_micro"]),
        }
        for e in events
        if e.name == "MeterSettled"
    ]
    if reading_rows:
        connection.execute(insert(db.readings), reading_rows)


def record_balances(
    connection: Connection, ledger: BatchMarketLedger, address_of: Mapping[str, str]
) -> None:
    """Replace the ``balances`` rows with the escrow's balances now (members and the DSO)."""
    connection.execute(delete(db.balances))
    rows = [
        {"account": agent, "balance_micro": ledger.escrow.balance_of(address)}
        for agent, address in address_of.items()
    ]
    rows.append({"account": "dso", "balance_micro": ledger.escrow.balance_of(ledger.dso)})
    connection.execute(insert(db.balances), rows)


def rebuild(engine: Engine, ledger: BatchMarketLedger, address_of: Mapping[str, str]) -> int:
    """Drop the read model's rows and write them again from the chain; the slots written."""
    agent_of = agents_by_address(address_of)
    by_slot = slots_by_event(contract_events(ledger.chain, ledger.market))
    with engine.begin() as connection:
        for table in db.READ_MODEL:
            connection.execute(delete(table))
        for slot in sorted(by_slot):
            record_slot(connection, ledger, slot, by_slot[slot], agent_of)
        record_balances(connection, ledger, address_of)
    return sum(1 for events in by_slot.values() if any(e.name == "Cleared" for e in events))


def agents_by_address(address_of: Mapping[str, str]) -> dict[str, str]:
    """Lower-case address -> agent."""
    return {address.lower(): agent for agent, address in address_of.items()}
