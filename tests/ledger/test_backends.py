"""The same community calls on both backends end in the same state.

One scripted sequence (deploy, register, fund, deposit, settle slots, withdraw, reverting calls,
a member leaving) runs on the embedded chain and on an :class:`RpcChain` against anvil. Accounts
are made in the same order with the same labels, so each role can be compared by label even
though the addresses differ (the embedded chain derives them from the label, the RPC chain has
random keys). Compared: every balance, the token supply and escrow, slot records, members,
each role's nonce, the revert errors, the events, and the gas of every transaction.

Gas: identical up to calldata. Transaction calldata carries addresses, and calldata costs 4 gas
per zero byte and 16 per non-zero byte (EIP-2028), so two addresses with a different number of
zero bytes make the same call cost a multiple of 12 gas more or less. Everything else (execution,
storage, cold and warm accesses, refunds) is equal: gas less the calldata cost is the same on
both backends for every transaction, and calls whose calldata holds no address cost exactly the
same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from peergrid.core.errors import LedgerError
from peergrid.ledger import (
    Chain,
    CommunityLedger,
    EmbeddedChain,
    SettlementTrade,
    SlotRecord,
    order_set_hash,
)
from peergrid.ledger.chain import Contract, Receipt
from peergrid.ledger.chain.abi import ContractAbi
from peergrid.ledger.chain.compile import Artifact
from peergrid.ledger.chain.rpc import RpcChain

pytestmark = pytest.mark.slow

SUPPLY = 10**15
FUNDS = 50_000_000
HASHES = [order_set_hash(f"slot {i}".encode()) for i in range(4)]


def calldata_gas(data: bytes) -> int:
    """EIP-2028: 4 gas per zero byte, 16 per non-zero byte."""
    return sum(4 if byte == 0 else 16 for byte in data)


@dataclass
class Recorder:
    """Wraps a chain's deploy and transact to remember each transaction's calldata cost."""

    chain: Chain
    calldata: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        deploy, transact = self.chain.deploy, self.chain.transact

        def recording_deploy(sender: str, artifact: Artifact, *args: Any) -> Contract:
            abi = ContractAbi(artifact.name, artifact.abi)
            contract = deploy(sender, artifact, *args)
            self.calldata.append(calldata_gas(artifact.bytecode + abi.encode_constructor(args)))
            return contract

        def recording_transact(
            sender: str, contract: Contract, fn_name: str, *args: Any, slot: int | None = None
        ) -> Receipt:
            fn = contract.abi.function(fn_name, len(args))
            receipt = transact(sender, contract, fn_name, *args, slot=slot)
            self.calldata.append(calldata_gas(contract.abi.encode_call(fn, args)))
            return receipt

        self.chain.deploy = recording_deploy  # type: ignore[method-assign]
        self.chain.transact = recording_transact  # type: ignore[method-assign]


@dataclass
class Outcome:
    """What the sequence leaves, with every address replaced by its label."""

    state: dict[str, Any]
    errors: list[tuple[str, str]]
    events: list[list[tuple[str, str]]]
    gas: list[tuple[str, int, int]]
    """(call, gas, gas less calldata cost) per transaction."""


def run_sequence(chain: Chain) -> Outcome:
    recorder = Recorder(chain)
    operator, dso, issuer = (chain.new_account(r) for r in ("operator", "dso", "issuer"))
    ledger = CommunityLedger.deploy(
        chain, operator=operator, dso=dso, issuer=issuer, supply_micro=SUPPLY
    )
    members = [chain.new_account(f"member{i}") for i in range(6)]
    ledger.register_members(members)
    for i, member in enumerate(members):
        ledger.fund(member, FUNDS + i)
        ledger.deposit(member, FUNDS - 1000 * i)
    receipts = []
    errors: list[tuple[str, str]] = []

    def expect_revert(action: Any, *args: Any) -> None:
        with pytest.raises(LedgerError) as info:
            action(*args)
        errors.append((info.value.call, info.value.reason))

    m = members
    slots = {
        1: [
            SettlementTrade(m[0], m[1], 1234, 123_457, 1001),
            SettlementTrade(m[2], m[3], 1, 999, 3),
        ],
        2: [SettlementTrade(m[i], m[(i + 1) % 6], 500 + i, 95_000 + i, i) for i in range(6)],
        3: [],
    }
    for slot, trades in slots.items():
        receipts.extend(ledger.settle_slot(slot, HASHES[slot], trades))
    # A settlement in parts, and reverting calls that must leave no trace.
    parts = [SettlementTrade(m[4], m[5], 700, 88_000, 7), SettlementTrade(m[5], m[0], 300, 1, 0)]
    receipts.extend(ledger.settle_slot(4, HASHES[0], parts, max_trades_per_tx=1))
    expect_revert(ledger.settle_slot, 1, HASHES[1], [])
    expect_revert(ledger.withdraw, m[2], 10**12)
    expect_revert(ledger.settle_slot, 5, HASHES[0], [SettlementTrade(m[0], m[0], 1, 1, 0)])
    expect_revert(chain.transact, m[1], ledger.community, "register_members", [m[1]])
    receipts.append(ledger.withdraw(m[1], 12_345))
    receipts.append(ledger.withdraw_fees(ledger.dso_balance()))
    receipts.append(ledger.withdraw(m[5], ledger.balance_of(m[5])))
    receipts.append(ledger.remove_member(m[5]))

    labels = {a: label for label, a in [("operator", operator), ("dso", dso), ("issuer", issuer)]}
    labels.update({a: f"member{i}" for i, a in enumerate(members)})
    labels[ledger.community.address] = "Community"
    labels[ledger.token.address] = "SettlementToken"
    slot_records: dict[int, SlotRecord] = {s: ledger.slot_record(s) for s in range(1, 6)}
    state = {
        "internal": {labels[a]: ledger.balance_of(a) for a in members},
        "tokens": {labels[a]: ledger.token_balance(a) for a in labels},
        "dso": ledger.dso_balance(),
        "total_internal": ledger.total_internal_balance(),
        "supply": ledger.token_total_supply(),
        "members": {labels[a]: ledger.is_member(a) for a in members},
        "member_count": ledger.member_count(),
        "slots": slot_records,
        "nonces": {labels[a]: chain.nonce(a) for a in (operator, dso, issuer, *members)},
    }

    def relabel(value: Any) -> Any:
        return labels.get(value, value) if isinstance(value, str) else value

    events = [
        [(e.name, str(sorted((k, relabel(v)) for k, v in e.args.items()))) for e in r.events]
        for r in receipts
    ]
    records = chain.gas_log.records
    assert len(records) == len(recorder.calldata)
    gas = [
        (f"{r.contract}.{r.function}", r.gas, r.gas - cost)
        for r, cost in zip(records, recorder.calldata, strict=True)
    ]
    return Outcome(state, errors, events, gas)


def test_the_same_calls_end_in_the_same_state(rpc_chain: RpcChain) -> None:
    embedded = run_sequence(EmbeddedChain())
    rpc = run_sequence(rpc_chain)

    assert rpc.state == embedded.state
    assert rpc.errors == embedded.errors
    assert rpc.errors == [
        ("Community.settle_slot", "slot already settled"),
        ("Community.withdraw", "balance too low"),
        ("Community.settle_slot", "buyer and seller are the same"),
        ("Community.register_members", "caller is not the operator"),
    ]
    assert rpc.events == embedded.events
    # The sequence did something: money moved, a member left, fees were paid out.
    assert embedded.state["tokens"]["dso"] > 0
    assert embedded.state["member_count"] == 5
    assert all(record.settled for record in embedded.state["slots"].values() if record.slot < 5)

    # Gas: the same calls in the same order; equal once calldata is taken out.
    assert [c for c, _, _ in rpc.gas] == [c for c, _, _ in embedded.gas]
    assert [g for _, _, g in rpc.gas] == [g for _, _, g in embedded.gas]
    for (call, rpc_gas, _), (_, embedded_gas, _) in zip(rpc.gas, embedded.gas, strict=True):
        assert (rpc_gas - embedded_gas) % 12 == 0, call
    same_calldata = {"Community.deposit", "Community.withdraw", "Community.withdraw_fees"}
    for (call, rpc_gas, _), (_, embedded_gas, _) in zip(rpc.gas, embedded.gas, strict=True):
        if call in same_calldata:
            assert rpc_gas == embedded_gas, call
