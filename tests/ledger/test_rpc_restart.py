"""A node that restarts mid-run: no transaction lost, none applied twice.

anvil keeps its chain in memory; with ``--state FILE`` it loads the file at start and writes it
when it exits gracefully (SIGTERM). So:

* a graceful restart (SIGTERM, start again with the same file) keeps every mined transaction;
  what the client had in flight when the node went away is sent again from the journal, as the
  same signed bytes, only if the node does not have it;
* a SIGKILL writes nothing: the node comes back at its last dump, without the transactions
  mined since. The journal still holds them and replays them in their original order.

Both are checked the same way: every intended transaction applied exactly once (balances, each
sender's nonce equal to the transactions it meant to send, event counts on the chain), and
every journal entry has a receipt on the node.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
from eth_utils import keccak

from peergrid.ledger import SettlementTrade, order_set_hash
from peergrid.ledger.chain.anvil import ANVIL_DEV_KEYS, AnvilProcess, start_anvil
from peergrid.ledger.chain.rpc import RpcChain

from .conftest import make_community_on
from .helpers import FUNDS_MICRO, SUPPLY_MICRO, Community

pytestmark = pytest.mark.slow

TRANSFER = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
SLOT_SETTLED = "SlotSettled"


def _count_logs(chain: RpcChain, address: str, topic: str) -> int:
    logs = chain._rpc(
        "eth_getLogs", [{"fromBlock": "0x0", "toBlock": "latest", "address": address}]
    )
    return sum(1 for log in logs if log["topics"][0] == topic)


def _count_directly(url: str, address: str) -> int:
    """The node's transaction count of ``address``, asked without the client under test."""
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "eth_getTransactionCount",
            "params": [address, "latest"],
        }
    )
    request = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return int(json.loads(response.read())["result"], 16)


def _event_topic(community: Community, name: str) -> str:
    abi = community.ledger.community.abi
    for event in abi._events.values():
        if event.name == name:
            return "0x" + event.topic.hex()
    raise AssertionError(name)


def _plan(community: Community, rounds: int) -> list[Callable[[], object]]:
    """The run: each round the issuer pays every member 1 token, one slot settles, one withdraw."""
    ledger, members = community.ledger, community.members
    steps: list[Callable[[], object]] = []
    for r in range(rounds):
        steps.extend(partial(ledger.fund, member, 1) for member in members)
        a, b = members[r % len(members)], members[(r + 1) % len(members)]
        trade = SettlementTrade(a, b, 1000 + r, 100_000, 2)
        steps.append(partial(ledger.settle_slot, r + 1, order_set_hash(b"run"), [trade]))
        steps.append(partial(ledger.withdraw, a, 10))
    return steps


def _expected_balances(community: Community, rounds: int) -> dict[str, int]:
    members = community.members
    internal = dict.fromkeys(members, FUNDS_MICRO)
    dso = 0
    for r in range(rounds):
        a, b = members[r % len(members)], members[(r + 1) % len(members)]
        trade = SettlementTrade(a, b, 1000 + r, 100_000, 2)
        internal[a] -= trade.buyer_pays_micro
        internal[b] += trade.seller_receives_micro
        dso += trade.fee_micro
        internal[members[r % len(members)]] -= 10
    return {**internal, "dso": dso}


def _assert_applied_exactly_once(
    community: Community, chain: RpcChain, rounds: int, n_funded: int
) -> None:
    ledger, members = community.ledger, community.members
    expected = _expected_balances(community, rounds)
    assert {m: ledger.balance_of(m) for m in members} == {m: expected[m] for m in members}
    assert ledger.dso_balance() == expected["dso"]
    withdrawn = {
        m: 10 * sum(1 for r in range(rounds) if r % len(members) == i)
        for i, m in enumerate(members)
    }
    for member in members:
        assert ledger.token_balance(member) == rounds + withdrawn[member]
    assert ledger.token_total_supply() == SUPPLY_MICRO
    assert ledger.total_internal_balance() == ledger.token_balance(ledger.community.address)
    for slot in range(1, rounds + 1):
        assert ledger.slot_record(slot).trade_count == 1

    # Every transaction the client meant to send: the ledger calls plus the account fundings.
    journal = chain.journal
    assert len(journal) == len(chain.gas_log) + n_funded
    assert len({e.tx_hash for e in journal}) == len(journal)
    senders = {e.sender for e in journal}
    for sender in senders:
        mine = sorted(e.nonce for e in journal if e.sender == sender)
        assert chain.nonce(sender) == mine[-1] + 1 == len(mine) + mine[0]
    for entry in journal:
        receipt = chain._rpc("eth_getTransactionReceipt", [entry.tx_hash])
        assert receipt is not None and receipt["status"] == "0x1", entry

    # Events on the chain: one per intended call, no duplicate.
    n_members = len(members)
    # mint, then per member fund and deposit, then per round the payments and one withdrawal
    transfers = 1 + 2 * n_members + rounds * (n_members + 1)
    assert _count_logs(chain, ledger.token.address, TRANSFER) == transfers
    settled = _event_topic(community, SLOT_SETTLED)
    assert _count_logs(chain, ledger.community.address, settled) == rounds


def _run_with_restart(
    node: AnvilProcess, steps: list[Callable[[], object]], at: int, graceful: bool
) -> None:
    """Run ``steps`` in a worker thread; restart the node (here) once ``at`` steps are done."""
    reached = threading.Event()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for i, step in enumerate(steps):
                if i == at:
                    reached.set()
                step()
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)
        finally:
            reached.set()

    worker = threading.Thread(target=work)
    worker.start()
    assert reached.wait(60)
    # The node is restarted from this (the main) thread, which outlives it.
    node.restart(graceful=graceful)
    worker.join(120)
    assert not worker.is_alive()
    if errors:
        raise errors[0]


def test_a_graceful_restart_mid_run_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    rounds = 8
    with (
        start_anvil(state=tmp_path / "state.json") as node,
        RpcChain(node.url, funder=ANVIL_DEV_KEYS[0], reconnect_timeout=60) as chain,
    ):
        community = make_community_on(chain)
        n_funded = len(chain.accounts)
        steps = _plan(community, rounds)
        _run_with_restart(node, steps, at=len(steps) // 3, graceful=True)
        assert chain.reconnects >= 1  # the worker met the node away and came back
        _assert_applied_exactly_once(community, chain, rounds, n_funded)


def test_a_kill_mid_run_replays_what_the_node_lost(tmp_path: Path) -> None:
    """SIGKILL: the node comes back at its last dump; the journal replays the rest, once."""
    rounds = 8
    with (
        start_anvil(state=tmp_path / "state.json") as node,
        RpcChain(node.url, funder=ANVIL_DEV_KEYS[0], reconnect_timeout=60) as chain,
    ):
        community = make_community_on(chain)
        n_funded = len(chain.accounts)
        node.restart()  # a graceful restart: the state file now holds the deployment
        steps = _plan(community, rounds)
        _run_with_restart(node, steps, at=len(steps) // 2, graceful=False)
        rolled_back = [e for e in chain.journal if e.resent]
        assert rolled_back, "the kill should have cost the node transactions to replay"
        _assert_applied_exactly_once(community, chain, rounds, n_funded)


def test_a_kill_between_calls_is_seen_before_the_next_transaction(tmp_path: Path) -> None:
    """No request fails (the HTTP client reconnects quietly): the nonce check catches it."""
    with (
        start_anvil(state=tmp_path / "state.json") as node,
        RpcChain(node.url, funder=ANVIL_DEV_KEYS[0]) as chain,
    ):
        community = make_community_on(chain, n_members=2)
        node.restart()
        a = community.members[0]
        for _ in range(3):
            community.ledger.fund(a, 5)
        node.kill()
        node.start()
        issuer = community.issuer
        sent = max(e.nonce for e in chain.journal if e.sender == issuer) + 1
        on_node = _count_directly(node.url, issuer)
        assert on_node == sent - 3  # the node forgot the three payments
        community.ledger.fund(a, 5)
        assert community.ledger.token_balance(a) == 20
        assert [e.resent for e in chain.journal[-4:]] == [1, 1, 1, 0]
