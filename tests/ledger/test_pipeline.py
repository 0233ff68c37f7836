"""Chain.pipeline(): queued transactions, deferred receipts, flushes, and all or nothing.

On the managed anvil a pipeline queues; on the embedded chain it executes at once. Either way
the same calls end in the same state with the same gas, which the settlement adapters rely on
(they settle each slot under a pipeline).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from peergrid.core.errors import LedgerError
from peergrid.core.orders import Order, Side
from peergrid.core.trades import Trade
from peergrid.ledger import (
    BatchMarketLedger,
    CommunityLedger,
    EmbeddedChain,
    fills_from_trades,
    sealed_order,
)
from peergrid.ledger.chain.anvil import ANVIL_DEV_KEYS, AnvilError, find_anvil, start_anvil
from peergrid.ledger.chain.base import ZERO_ADDRESS, Chain, PendingReceipt
from peergrid.ledger.chain.jsonrpc import node_logs
from peergrid.ledger.chain.rpc import RpcChain
from peergrid.platform.settlement import BatchSettlement, CommunitySettlement, MarketSetup

try:
    find_anvil()
except AnvilError:  # pragma: no cover - an installation without npm
    pytest.skip("no anvil binary (npm ci)", allow_module_level=True)

from peergrid.ledger.chain.managed import ManagedAnvilChain

pytestmark = pytest.mark.slow


@pytest.fixture
def anvil() -> Iterator[ManagedAnvilChain]:
    with ManagedAnvilChain() as chain:
        yield chain


def community_on(chain: Chain, members: int = 3) -> tuple[CommunityLedger, list[str]]:
    operator, dso, issuer = (chain.new_account(n) for n in ("operator", "dso", "issuer"))
    ledger = CommunityLedger.deploy(
        chain, operator=operator, dso=dso, issuer=issuer, supply_micro=10**12
    )
    accounts = [chain.new_account(f"m{i}") for i in range(members)]
    ledger.register_members(accounts)
    return ledger, accounts


def test_a_pipeline_queues_until_a_read_and_records_gas_in_order(
    anvil: ManagedAnvilChain,
) -> None:
    ledger, (a, b, _) = community_on(anvil)
    logged = len(anvil.gas_log)
    with anvil.pipeline():
        first = ledger.fund(a, 500)
        second = ledger.fund(b, 700)
        assert isinstance(first, PendingReceipt) and first.pending
        assert anvil.queued == 2 and len(anvil.gas_log) == logged
        assert ledger.token_balance(a) == 500  # a read flushes
        assert anvil.queued == 0 and not first.pending
        third = ledger.fund(a, 1)
        assert third.gas_used > 0  # reading a receipt flushes too
    assert [r.function for r in anvil.gas_log.records[logged:]] == ["transfer"] * 3
    assert [r.gas for r in anvil.gas_log.records[logged:]] == [
        first.gas_used,
        second.gas_used,
        third.gas_used,
    ]
    assert first.events_named("Transfer")[0].args["value"] == 500


def test_the_end_of_the_block_flushes_and_pipelines_nest(anvil: ManagedAnvilChain) -> None:
    ledger, (a, b, _) = community_on(anvil)
    with anvil.pipeline():
        with anvil.pipeline():
            ledger.fund(a, 5)
        assert anvil.queued == 1  # the inner block does not flush
        receipt = ledger.fund(b, 6)
    assert anvil.queued == 0 and not receipt.pending
    assert ledger.token_balance(b) == 6


def test_a_failing_transaction_undoes_its_whole_flush(anvil: ManagedAnvilChain) -> None:
    ledger, (a, b, _) = community_on(anvil)
    issuer_nonce = anvil.nonce(ledger.issuer)
    height = anvil.block_number()
    with pytest.raises(LedgerError) as failure, anvil.pipeline():
        good = ledger.fund(a, 5)
        for _ in range(150):  # checked in one simulation: nothing of it is sent
            ledger.fund(a, 1)
        ledger.deposit(b, 10)  # b holds no tokens: reverts
        ledger.fund(b, 6)
    assert failure.value.call == "Community.deposit"
    assert ledger.token_balance(a) == 0 and ledger.token_balance(b) == 0
    assert anvil.nonce(ledger.issuer) == issuer_nonce
    assert anvil.block_number() == height
    assert int(anvil._client.call("eth_blockNumber"), 16) == height  # the node's head too
    with pytest.raises(LedgerError, match=r"Community\.deposit"):
        _ = good.gas_used
    # The chain goes on: nonces were restored with the state.
    ledger.fund(a, 7)
    assert ledger.token_balance(a) == 7


def test_moving_the_clock_mines_no_block_and_reads_and_the_next_block_see_the_new_time(
    anvil: ManagedAnvilChain,
) -> None:
    ledger, (a, _, _) = community_on(anvil)
    # Runtime code that returns TIMESTAMP: what a contract reading the clock sees.
    clock = "0x00000000000000000000000000000000000c10c0"
    anvil._client.call("anvil_setCode", [clock, "0x4260005260206000f3"])
    height, start = anvil.block_number(), anvil.timestamp()
    assert int.from_bytes(anvil._static_call(clock, b"", "clock"), "big") == start
    assert anvil.advance_time(900) == start + 900
    assert anvil.block_number() == height  # nothing mined
    assert int.from_bytes(anvil._static_call(clock, b"", "clock"), "big") == start + 900
    outputs = anvil._static_calls(clock, b"", "clock", [a, ZERO_ADDRESS])
    assert [int.from_bytes(o, "big") for o in outputs] == [start + 900] * 2
    ledger.fund(a, 1)
    assert anvil.block_number() == height + 1
    block = anvil._client.call("eth_getBlockByNumber", [hex(height + 1), False])
    assert int(block["timestamp"], 16) == start + 900


def test_the_embedded_chain_executes_at_once_under_a_pipeline() -> None:
    chain = EmbeddedChain()
    ledger, (a, _, _) = community_on(chain)
    with chain.pipeline():
        receipt = ledger.fund(a, 5)
        assert not isinstance(receipt, PendingReceipt) and chain.queued == 0
    assert receipt.gas_used == chain.gas_log.records[-1].gas


AGENTS = [f"h{i}" for i in range(6)]


def slot_market(slot: int) -> tuple[list[Order], list[Trade]]:
    """Three sellers and three buyers; every buyer matched with one seller."""
    orders, trades = [], []
    for i in range(3):
        sell = Order(f"s{slot}-{i}", AGENTS[i], Side.SELL, 0.5 + 0.1 * i, 0.10 + 0.01 * slot)
        buy = Order(f"b{slot}-{i}", AGENTS[3 + i], Side.BUY, 0.4 + 0.1 * i, 0.25)
        orders += [sell, buy]
        trades.append(
            Trade(
                buy.agent, sell.agent, buy.quantity_kwh, 0.2, buy_order=buy.id, sell_order=sell.id
            )
        )
    return orders, trades


def run_settlement(chain: Chain, market: str) -> tuple[list[tuple[str, int]], dict[str, int]]:
    setup = MarketSetup(AGENTS, 50.0, fee_per_kwh=0.01, penalty_per_kwh=0.05, salt_seed=7)
    opened = (BatchSettlement if market == "batch" else CommunitySettlement).open(chain, setup)
    per_slot = []
    for slot in range(1, 4):
        orders, trades = slot_market(slot)
        metered = {AGENTS[0]: 0.3, AGENTS[4]: 0.45} if market == "batch" else None
        receipts = opened.settle(slot, orders, trades, metered)
        per_slot.append((len(receipts), sum(r.gas_used for r in receipts)))
    assert opened.money_conserved()
    gas = [(f"{r.contract}.{r.function}", r.gas) for r in chain.gas_log]
    return gas, {"dso": opened.dso_balance(), **opened.balances_micro()} | {
        f"slot{i}": n * 10**12 + g for i, (n, g) in enumerate(per_slot)
    }


@pytest.mark.parametrize("market", ["batch", "community"])
def test_a_settlement_is_identical_on_the_embedded_chain_and_the_managed_anvil(
    anvil: ManagedAnvilChain, market: str
) -> None:
    embedded = run_settlement(EmbeddedChain(), market)
    on_anvil = run_settlement(anvil, market)
    assert on_anvil[1] == embedded[1]  # balances, transactions and gas per slot
    assert on_anvil[0] == embedded[0]  # every transaction's gas, in order


def test_an_rpc_chain_deferring_receipts_sends_at_once_and_reads_them_at_the_flush(
    rpc_chain: RpcChain,
) -> None:
    rpc_chain.defer_receipts = True  # as RpcChain(..., defer_receipts=True)
    ledger, (a, b, _) = community_on(rpc_chain)
    logged = len(rpc_chain.gas_log)
    with rpc_chain.pipeline():
        first = ledger.fund(a, 5)
        assert isinstance(first, PendingReceipt) and first.pending
        assert rpc_chain.queued == 1
        with pytest.raises(LedgerError, match="exceeds balance"):
            ledger.deposit(b, 10)  # its approve is sent; the deposit is checked and refused
        ledger.fund(b, 6)
    assert rpc_chain.queued == 0 and not first.pending
    calls = [r.function for r in rpc_chain.gas_log.records[logged:]]
    assert calls == ["transfer", "approve", "transfer"]
    assert rpc_chain.gas_log.records[logged].gas == first.gas_used
    assert ledger.token_balance(a) == 5 and ledger.token_balance(b) == 6
    assert all(e.confirmed for e in rpc_chain.journal)


def test_an_rpc_chain_checks_a_flush_in_one_simulation_and_mines_it_as_one_block() -> None:
    """On anvil mining each transaction (automine) a flush is one block, in the order queued,
    with the gas the same calls use sent one at a time outside a pipeline (on a second node
    with the same keys, so the same addresses and calldata); mining goes on as before after
    it. Without ``block_per_flush`` each is mined as it comes, with the same gas again."""
    gas: dict[str, list[tuple[str, int]]] = {}
    for way in ("one block", "one at a time"):
        with start_anvil() as node, RpcChain(node.url, accounts=ANVIL_DEV_KEYS[1:]) as chain:
            ledger, (a, b, _) = community_on(chain)
            logged = len(chain.gas_log)
            height = chain.block_number()
            with chain.pipeline() if way == "one block" else contextlib.nullcontext():
                ledger.fund(a, 50)
                ledger.deposit(a, 30)  # its approve, then the deposit: each needs the one before
                ledger.fund(b, 6)
                receipts = [ledger.fund(b, 1) for _ in range(5)]
            assert ledger.token_balance(a) == 20 and ledger.token_balance(b) == 11
            gas[way] = [(r.function, r.gas) for r in chain.gas_log.records[logged:]]
            if way == "one at a time":
                assert chain.block_number() == height + 9
                continue
            assert chain.block_number() == height + 1
            blocks = {
                int(chain._rpc("eth_getTransactionReceipt", [r.tx_hash])["blockNumber"], 16)
                for r in receipts
            }
            assert blocks == {height + 1}
            assert chain._rpc("anvil_getAutomine", []) is True
            ledger.fund(a, 1)  # outside a pipeline: mined at once, as before
            assert chain.block_number() == height + 2
            chain.block_per_flush = False
            with chain.pipeline():
                in_turn = [ledger.fund(b, 1) for _ in range(3)]
            # Sent one after another without waiting: automine mines each as it comes, but may
            # take two that arrive together into one block; the order is kept either way.
            mined_in = [
                int(chain._rpc("eth_getTransactionReceipt", [r.tx_hash])["blockNumber"], 16)
                for r in in_turn
            ]
            assert mined_in == sorted(mined_in) and mined_in[0] == height + 3
            assert chain.block_number() == mined_in[-1] <= height + 5
            assert [r.gas_used for r in in_turn] == [g for _, g in gas[way][-3:]]
    assert gas["one block"] == gas["one at a time"]
    assert [f for f, _ in gas["one block"]] == ["transfer", "approve", "deposit"] + ["transfer"] * 6


@pytest.mark.parametrize("one_block", [True, False])
def test_an_rpc_chain_sends_nothing_of_a_flush_that_would_fail(
    rpc_chain: RpcChain, one_block: bool
) -> None:
    rpc_chain.block_per_flush = one_block
    ledger, (a, b, _) = community_on(rpc_chain)
    issuer_nonce = rpc_chain.nonce(ledger.issuer)
    height = rpc_chain.block_number()
    logged = len(rpc_chain.gas_log)
    with pytest.raises(LedgerError) as failure, rpc_chain.pipeline():
        good = ledger.fund(a, 5)
        ledger.deposit(b, 10)  # b holds no tokens: its approve passes, the deposit reverts
        ledger.fund(b, 6)
    assert failure.value.call == "Community.deposit"
    assert "exceeds balance" in failure.value.reason
    assert rpc_chain.block_number() == height and rpc_chain.nonce(ledger.issuer) == issuer_nonce
    assert len(rpc_chain.gas_log) == logged
    with pytest.raises(LedgerError, match=r"Community\.deposit"):
        _ = good.gas_used
    ledger.fund(a, 7)  # the client's nonces were not taken either
    assert ledger.token_balance(a) == 7


@pytest.mark.parametrize("one_block", [True, False])
def test_an_rpc_chain_flush_with_a_sender_it_has_no_key_for_sends_nothing(
    rpc_chain: RpcChain, one_block: bool
) -> None:
    rpc_chain.block_per_flush = one_block
    ledger, (a, _, _) = community_on(rpc_chain)
    issuer_nonce = rpc_chain.nonce(ledger.issuer)
    stranger = "0x" + "5a" * 20
    with pytest.raises(LedgerError, match="no private key"), rpc_chain.pipeline():
        ledger.fund(a, 5)
        rpc_chain.transact(stranger, ledger.token, "transfer", a, 0)
    assert rpc_chain.nonce(ledger.issuer) == issuer_nonce and ledger.token_balance(a) == 0
    ledger.fund(a, 5)  # the issuer's nonce was not taken by the unsent transaction
    assert ledger.token_balance(a) == 5


def test_an_rpc_chain_on_a_node_that_cannot_simulate_sends_one_at_a_time(
    rpc_chain: RpcChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    from peergrid.ledger.chain.journal import NodeError

    ledger, (a, b, _) = community_on(rpc_chain)
    post = rpc_chain._post

    def without_simulation(method: str, params: object) -> object:
        if method == "eth_simulateV1":
            raise NodeError(-32601, "Method not found", None)
        return post(method, params)  # type: ignore[arg-type]

    monkeypatch.setattr(rpc_chain, "_post", without_simulation)
    with pytest.raises(LedgerError, match=r"Community\.deposit"), rpc_chain.pipeline():
        first = ledger.fund(a, 5)
        ledger.deposit(b, 10)  # checked and refused in turn, after the first was mined
    assert first.gas_used > 0 and ledger.token_balance(a) == 5  # applied: its receipt is kept
    assert not rpc_chain.queues_transactions  # later pipelines send at once
    with rpc_chain.pipeline():
        with pytest.raises(LedgerError, match="exceeds balance"):
            ledger.deposit(b, 10)
        ledger.fund(b, 6)
    assert ledger.token_balance(b) == 6


def test_a_batch_market_slot_is_one_flush_on_the_managed_anvil(anvil: ManagedAnvilChain) -> None:
    setup = MarketSetup(AGENTS, 50.0, fee_per_kwh=0.01, penalty_per_kwh=0.05, salt_seed=7)
    market = BatchSettlement.open(anvil, setup)
    orders, trades = slot_market(1)
    before = anvil.block_number()
    receipts = market.settle(1, orders, trades)
    # 6 orders: the opening, 6 commits, the start of the reveals, 6 reveals, the clearing and
    # the readings; sent as one flush, mined as one block.
    assert len(receipts) == 16 and anvil.block_number() == before + 1


def test_a_simulated_flush_states_the_gas_and_logs_of_the_block_s_receipts(
    anvil: ManagedAnvilChain,
) -> None:
    market = BatchSettlement.open(anvil, MarketSetup(AGENTS, 50.0, salt_seed=7))
    orders, trades = slot_market(1)
    receipts = market.settle(1, orders, trades)
    block = anvil._client.call("eth_getBlockReceipts", [hex(anvil.block_number())])
    assert [r["transactionHash"] for r in block] == [r.tx_hash for r in receipts]
    assert [int(r["gasUsed"], 16) for r in block] == [r.gas_used for r in receipts]
    assert [node_logs(r["logs"]) for r in block] == [r.logs for r in receipts]
    assert sum(len(r.logs) for r in receipts) > len(receipts)  # fills and positions logged


def test_a_block_that_is_not_what_its_simulation_said_is_read_from_its_receipts(
    anvil: ManagedAnvilChain, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    ledger, (a, b, _) = community_on(anvil)
    simulate = anvil._simulate

    def off_by_one(batch: Any) -> Any:
        (gas, logs), *rest = simulate(batch)
        return [(gas + 1, logs), *rest]

    monkeypatch.setattr(anvil, "_simulate", off_by_one)
    with anvil.pipeline():
        first = ledger.fund(a, 5)
        second = ledger.fund(b, 6)
    block = anvil._client.call("eth_getBlockReceipts", [hex(anvil.block_number())])
    assert [first.gas_used, second.gas_used] == [int(r["gasUsed"], 16) for r in block]
    assert first.events_named("Transfer")[0].args["value"] == 5
    assert "is not what its simulation said" in caplog.text


def test_shedding_the_node_s_history_keeps_its_state_gas_nonces_and_clock() -> None:
    def run(shed_every_blocks: int | None) -> tuple[list[int], list[int], int, int, int]:
        with ManagedAnvilChain(
            timestamp=1_700_000_000, shed_every_blocks=shed_every_blocks
        ) as chain:
            ledger, members = community_on(chain, members=4)
            gas = []
            for k in range(6):
                chain.advance_time(900)
                with chain.pipeline():
                    gas += [ledger.fund(m, 10 + k).gas_used for m in members]
            with pytest.raises(LedgerError, match=r"Community\.deposit"), chain.pipeline():
                ledger.fund(members[0], 1)
                ledger.deposit(members[1], 10**9)  # more than it holds: nothing of it is sent
            if shed_every_blocks is not None:
                assert chain._shed_at > 0  # shed during the run
                assert chain.shed_history() is True  # from the cut state
                # Blocks before the last shed are gone from the node; the head is kept.
                assert chain._client.call("eth_getBlockByNumber", ["0x1", False]) is None
            head = chain._client.call("eth_getBlockByNumber", ["latest", False])
            assert int(head["number"], 16) == chain.block_number()
            balances = [ledger.token_balance(m) for m in members]
            return (
                gas,
                balances,
                chain.nonce(ledger.issuer),
                int(head["timestamp"], 16),
                chain.block_number(),
            )

    assert run(shed_every_blocks=2) == run(shed_every_blocks=None)


def test_a_state_dump_it_cannot_read_leaves_the_node_s_blocks_alone(
    anvil: ManagedAnvilChain, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    ledger, (a, _, _) = community_on(anvil)
    ledger.fund(a, 5)
    call = anvil._client.call

    def unreadable_dump(method: str, params: Any = ()) -> Any:
        return "0x00" if method == "anvil_dumpState" else call(method, params)

    monkeypatch.setattr(anvil._client, "call", unreadable_dump)
    assert anvil.shed_history() is False
    assert "keeps its blocks" in caplog.text
    assert call("eth_getBlockByNumber", ["0x1", False]) is not None  # nothing was reset
    ledger.fund(a, 6)
    assert ledger.token_balance(a) == 11


def test_a_clearing_posted_from_a_wrong_view_of_the_slot_is_refused() -> None:
    chain = EmbeddedChain()
    market = BatchSettlement.open(chain, MarketSetup(AGENTS, 50.0, salt_seed=7))
    ledger = market.ledger
    orders, trades = slot_market(1)
    sealed = {o.id: sealed_order(o, salt=bytes(32)) for o in orders}
    ledger.open_slot(1)
    for o in orders:
        ledger.commit(market.address_of[o.agent], 1, sealed[o.id])
    ledger.start_reveal(1)
    for o in orders:
        ledger.reveal(market.address_of[o.agent], 1, sealed[o.id])
    view = [sealed[o.id].revealed(market.address_of[o.agent]) for o in orders]
    fills = fills_from_trades(trades, view, market.address_of)
    wrong = [replace(view[0], owner=view[1].owner), *view[1:]]  # the first two owners mixed up
    with pytest.raises(LedgerError, match="owner does not match"):
        ledger.post_clearing_as_revealed(1, fills, wrong, 0)
    ledger.post_clearing_as_revealed(1, fills, view, 0)
    ledger.check_positions(1)
    fresh = BatchMarketLedger(
        chain,
        ledger.token,
        ledger.market,
        operator=ledger.operator,
        dso=ledger.dso,
        issuer=ledger.escrow.issuer,
    )  # clears the fills again against the orders it reads back, checked against the hash
    assert fresh.positions(1, fills) == ledger.positions(1)
