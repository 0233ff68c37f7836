"""The JSON-RPC backend on a real anvil node: accounts, nonces, reverts, the journal, open_chain.

The node is the session's anvil (see conftest.py). Faults are injected at the request level
(a request that never reaches the node, a response lost after the node acted) and with anvil's
own snapshots (a node that comes back at an older state); killing and restarting a real node is
in ``test_rpc_restart.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from eth_utils import is_checksum_address

from peergrid.core.errors import LedgerError
from peergrid.ledger import Chain, EmbeddedChain
from peergrid.ledger.chain import BACKENDS, open_chain
from peergrid.ledger.chain.anvil import (
    ANVIL_DEV_ADDRESSES,
    ANVIL_DEV_KEYS,
    AnvilProcess,
    start_anvil,
)
from peergrid.ledger.chain.compile import compile_contract
from peergrid.ledger.chain.journal import NodeUnreachable
from peergrid.ledger.chain.rpc import RpcChain

from .helpers import FUNDS_MICRO, Community, reverts

pytestmark = pytest.mark.slow

Post = Callable[[str, Sequence[Any]], Any]


def _token(chain: RpcChain) -> tuple[str, Any]:
    issuer = chain.new_account("issuer")
    token = chain.deploy(issuer, compile_contract("SettlementToken"), "T", "T", issuer, 10**12)
    return issuer, token


# --- accounts ------------------------------------------------------------------------------------


def test_rpc_chain_is_a_chain_on_anvil(rpc_chain: RpcChain, anvil_node: AnvilProcess) -> None:
    assert isinstance(rpc_chain, Chain)
    assert rpc_chain.is_anvil and rpc_chain.client_version.startswith("anvil/v1.7.1")
    assert rpc_chain.chain_id == anvil_node.chain_id == 31337
    assert rpc_chain.url == anvil_node.url
    assert len(rpc_chain.gas_log) == 0


def test_new_accounts_hand_out_keys_then_fresh_funded_ones(anvil_node: AnvilProcess) -> None:
    keys = ["0x" + f"{i:064x}" for i in (0xA1, 0xA2)]
    with RpcChain(anvil_node.url, accounts=keys, funder=ANVIL_DEV_KEYS[0], fund_wei=7) as chain:
        first, second, third = (chain.new_account(f"acct{i}") for i in range(3))
        assert all(is_checksum_address(a) for a in (first, second, third))
        assert len({first, second, third}) == 3
        assert chain.accounts == {first: "acct0", second: "acct1", third: "acct2"}
        assert chain.funder == ANVIL_DEV_ADDRESSES[0] and chain.funder not in chain.accounts
        assert chain.balance_wei(third) == 7  # the fresh one was funded with fund_wei
        assert len(chain.gas_log) == 0  # funding is not a ledger call


def test_without_keys_or_funder_new_account_explains(anvil_node: AnvilProcess) -> None:
    with RpcChain(anvil_node.url) as chain, pytest.raises(LedgerError) as info:
        chain.new_account("x")
    assert info.value.call == "new_account"
    assert "accounts=" in info.value.reason and "funder=" in info.value.reason


def test_a_sender_without_a_key_is_refused(rpc_chain: RpcChain) -> None:
    issuer, token = _token(rpc_chain)
    with pytest.raises(LedgerError, match="no private key for sender"):
        rpc_chain.transact(ANVIL_DEV_ADDRESSES[5], token, "transfer", issuer, 1)
    with pytest.raises(LedgerError, match="bad sender address 'nobody'"):
        rpc_chain.transact("nobody", token, "transfer", issuer, 1)


def test_no_node_at_the_url_is_a_ledger_error() -> None:
    with pytest.raises(LedgerError, match="no EVM JSON-RPC node answers at"):
        RpcChain("http://127.0.0.1:9", request_timeout=2.0)


# --- transactions ----------------------------------------------------------------------------


def test_receipts_gas_and_events(rpc_chain: RpcChain) -> None:
    issuer, token = _token(rpc_chain)
    alice = rpc_chain.new_account("alice")
    receipt = rpc_chain.transact(issuer, token, "transfer", alice, 1000)
    assert receipt.gas_used == rpc_chain.gas_log.records[-1].gas
    assert [(r.contract, r.function) for r in rpc_chain.gas_log] == [
        ("SettlementToken", "constructor"),
        ("SettlementToken", "transfer"),
    ]
    (event,) = receipt.events
    assert event.name == "Transfer"
    assert event.args == {"sender": issuer, "receiver": alice, "value": 1000}
    assert receipt.tx_hash.startswith("0x") and len(receipt.tx_hash) == 66
    assert rpc_chain.call(token, "balanceOf", alice) == 1000


def test_a_revert_is_raised_before_sending_and_leaves_no_trace(community: Community) -> None:
    """On both backends: the reason decoded, no nonce, no gas record, no block."""
    chain, member = community.chain, community.members[0]
    nonce, records = chain.nonce(member), len(chain.gas_log)
    height = chain.block_number() if isinstance(chain, RpcChain) else None
    with reverts("Community.withdraw", "balance too low"):
        community.ledger.withdraw(member, FUNDS_MICRO + 1)
    assert (chain.nonce(member), len(chain.gas_log)) == (nonce, records)
    if isinstance(chain, RpcChain):
        assert chain.block_number() == height
        assert not [e for e in chain.journal if e.sender == member and e.nonce >= nonce]


def test_a_call_that_reverts_names_the_call_and_reason(rpc_chain: RpcChain) -> None:
    """eth_call is not a static call: a state-changing function runs and reverts with its reason.

    (The embedded chain's ``call`` is static, so there the same call fails on its first write;
    ``call`` is meant for views, which behave the same on both.)
    """
    issuer, token = _token(rpc_chain)
    with reverts("SettlementToken.transfer", "token: transfer amount exceeds balance"):
        rpc_chain.call(token, "transfer", issuer, 1)


def test_nonces_are_managed_in_python(rpc_chain: RpcChain) -> None:
    issuer, token = _token(rpc_chain)
    alice = rpc_chain.new_account("alice")
    for _ in range(5):
        rpc_chain.transact(issuer, token, "transfer", alice, 1)
    mine = [e for e in rpc_chain.journal if e.sender == issuer]
    assert [e.nonce for e in mine] == list(range(6))  # deploy + 5 transfers
    assert all(e.confirmed and e.resent == 0 for e in mine)
    assert rpc_chain.nonce(issuer) == 6


def test_another_client_using_the_same_key_is_followed(anvil_node: AnvilProcess) -> None:
    key = ANVIL_DEV_KEYS[9]  # funded by anvil; no other test signs with it
    with (
        RpcChain(anvil_node.url, accounts=[key], funder=ANVIL_DEV_KEYS[0]) as one,
        RpcChain(anvil_node.url, accounts=[key]) as two,
    ):
        sender = one.new_account("shared")
        assert two.new_account("shared") == sender
        receiver = one.new_account("receiver")
        start = one.nonce(sender)
        token = one.deploy(sender, compile_contract("SettlementToken"), "T", "T", sender, 100)
        twos = two.at(compile_contract("SettlementToken"), token.address)
        two.transact(sender, twos, "transfer", receiver, 1)  # two reads the nonce: start + 1
        one.transact(sender, token, "transfer", receiver, 2)  # one is behind: checks, follows
        two.verify_nonces = False
        two.transact(sender, twos, "transfer", receiver, 3)  # refused as too low: re-signed
        assert one.call(token, "balanceOf", receiver) == 6
        assert one.nonce(sender) == start + 4


def test_at_attaches_a_deployed_contract(rpc_chain: RpcChain, anvil_node: AnvilProcess) -> None:
    issuer, token = _token(rpc_chain)
    with RpcChain(anvil_node.url) as other:
        attached = other.at(compile_contract("SettlementToken"), token.address.lower())
        assert attached.address == token.address
        assert other.call(attached, "balanceOf", issuer) == 10**12
        with pytest.raises(LedgerError, match="no contract code"):
            other.at(compile_contract("SettlementToken"), issuer)


# --- interval mining -------------------------------------------------------------------------


def test_interval_mining_drops_nothing() -> None:
    """With a block every 0.2 s, Python nonces and receipt waits keep every transaction."""
    with (
        start_anvil(block_time=0.2) as node,
        RpcChain(node.url, funder=ANVIL_DEV_KEYS[0]) as chain,
    ):
        issuer, token = _token(chain)
        alice = chain.new_account("alice")
        for amount in range(1, 7):
            chain.transact(issuer, token, "transfer", alice, amount)
        assert chain.call(token, "balanceOf", alice) == 21
        assert chain.nonce(issuer) == 7
        blocks = {e.block_number for e in chain.journal}
        assert len(blocks) == len(chain.journal)  # one transaction per block here


# --- the journal under injected faults -------------------------------------------------------


@pytest.fixture
def faults(rpc_chain: RpcChain, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """``faults.append("lose-request:eth_sendRawTransaction")`` arms one fault for a method.

    ``lose-request``: the request never reaches the node. ``lose-response``: the node acts,
    the answer is lost. Either way the client sees an unreachable node, once.
    """
    armed: list[str] = []
    real: Post = rpc_chain._post

    def post(method: str, params: Sequence[Any]) -> Any:
        for fault in list(armed):
            kind, target = fault.split(":")
            if target == method:
                armed.remove(fault)
                if kind == "lose-response":
                    real(method, params)
                raise NodeUnreachable(f"injected {kind}")
        return real(method, params)

    monkeypatch.setattr(rpc_chain, "_post", post)
    yield armed
    assert armed == [], "a fault was armed but never hit"


@pytest.mark.parametrize(
    ("fault", "resent"),
    [
        ("lose-request:eth_sendRawTransaction", 1),
        ("lose-response:eth_sendRawTransaction", 0),
        ("lose-response:eth_getTransactionReceipt", 0),
        ("lose-request:eth_estimateGas", 0),
    ],
)
def test_a_lost_request_or_response_applies_the_transaction_once(
    rpc_chain: RpcChain, faults: list[str], fault: str, resent: int
) -> None:
    issuer, token = _token(rpc_chain)
    alice = rpc_chain.new_account("alice")
    faults.append(fault)
    receipt = rpc_chain.transact(issuer, token, "transfer", alice, 5)
    rpc_chain.transact(issuer, token, "transfer", alice, 1)
    assert rpc_chain.call(token, "balanceOf", alice) == 6
    assert rpc_chain.nonce(issuer) == 3
    transfer = next(e for e in rpc_chain.journal if e.tx_hash == receipt.tx_hash)
    assert transfer.confirmed
    # Not applied: sent again. Applied: at most an identical copy the node refuses.
    assert transfer.resent == resent if resent else transfer.resent <= 1
    assert rpc_chain.reconnects == 1
    assert len(rpc_chain.gas_log) == 3  # deploy + two transfers, none counted twice


def test_a_node_away_too_long_raises_and_recover_finishes_later(
    rpc_chain: RpcChain, faults: list[str]
) -> None:
    issuer, token = _token(rpc_chain)
    alice = rpc_chain.new_account("alice")
    rpc_chain.reconnect_timeout = 0.3
    faults.append("lose-request:eth_sendRawTransaction")
    faults.extend(["lose-request:eth_chainId"] * 20)  # the node stays away while we retry
    with pytest.raises(LedgerError, match=r"unreachable for 0.3 s .* 1 transaction\(s\) pending"):
        rpc_chain.transact(issuer, token, "transfer", alice, 5)
    faults.clear()
    assert rpc_chain.call(token, "balanceOf", alice) == 0  # not sent yet
    assert rpc_chain.recover() == 1
    assert rpc_chain.call(token, "balanceOf", alice) == 5
    rpc_chain.transact(issuer, token, "transfer", alice, 1)  # the next nonce follows on
    assert rpc_chain.call(token, "balanceOf", alice) == 6
    assert rpc_chain.nonce(issuer) == 3


def test_a_node_back_at_an_older_state_gets_the_journal_replayed(rpc_chain: RpcChain) -> None:
    """anvil's evm_revert stands for a restart from an older state file."""
    issuer, token = _token(rpc_chain)
    alice, bob = rpc_chain.new_account("alice"), rpc_chain.new_account("bob")
    snapshot = rpc_chain._post("evm_snapshot", [])
    rpc_chain.transact(issuer, token, "transfer", alice, 10)
    rpc_chain.transact(alice, token, "transfer", bob, 4)  # depends on the one before
    assert rpc_chain._post("evm_revert", [snapshot]) is True
    assert rpc_chain.call(token, "balanceOf", alice) == 0  # the node forgot both
    rpc_chain.transact(alice, token, "transfer", bob, 1)  # seen before sending: replay first
    assert rpc_chain.call(token, "balanceOf", alice) == 5
    assert rpc_chain.call(token, "balanceOf", bob) == 5
    assert (rpc_chain.nonce(issuer), rpc_chain.nonce(alice)) == (2, 2)
    transfers = [e for e in rpc_chain.journal if e.call == "SettlementToken.transfer"]
    assert [e.resent for e in transfers] == [1, 1, 0]


def test_a_rollback_deeper_than_the_journal_is_refused(rpc_chain: RpcChain) -> None:
    issuer, token = _token(rpc_chain)
    alice = rpc_chain.new_account("alice")
    snapshot = rpc_chain._post("evm_snapshot", [])
    rpc_chain.journal_limit = 1
    for _ in range(3):
        rpc_chain.transact(issuer, token, "transfer", alice, 1)
    rpc_chain._post("evm_revert", [snapshot])
    with pytest.raises(LedgerError, match=r"missing transactions .* older than this client's"):
        rpc_chain.recover()


# --- open_chain ------------------------------------------------------------------------------


def test_open_chain_by_backend_name(anvil_node: AnvilProcess) -> None:
    assert BACKENDS == ("embedded", "rpc", "anvil", "auto")
    assert isinstance(open_chain(), EmbeddedChain)
    assert getattr(open_chain("embedded", tx_gas_limit=10**6), "tx_gas_limit", None) == 10**6
    chain = open_chain("rpc", anvil_node.url)
    assert isinstance(chain, RpcChain)
    try:
        # On anvil without keys: dev account 0 funds, dev accounts 1.. are handed out first.
        assert chain.funder == ANVIL_DEV_ADDRESSES[0]
        assert chain.new_account("operator") == ANVIL_DEV_ADDRESSES[1]
    finally:
        chain.close()
    with pytest.raises(LedgerError, match="unknown backend 'ganache'"):
        open_chain("ganache")
    with pytest.raises(LedgerError, match="needs the node's url"):
        open_chain("rpc")
    with pytest.raises(LedgerError, match="takes no url"):
        open_chain("embedded", anvil_node.url)


def test_the_fast_signer_gives_eth_account_s_bytes() -> None:
    from eth_account import Account

    from peergrid.ledger.chain.signing import FastSigner

    for i, key in enumerate(ANVIL_DEV_KEYS[:3]):
        for to, data in ((None, b"\x60\x00" * 40), (ANVIL_DEV_ADDRESSES[4], bytes(range(70)))):
            fields = {
                "chainId": 31337 + i,
                "nonce": 7 * i,
                "maxPriorityFeePerGas": 10**9,
                "maxFeePerGas": 3 * 10**9 + i,
                "gas": 2**24 - i,
                "value": i,
                "data": data,
                "type": 2,
            }
            if to is not None:
                fields["to"] = to
            expected = Account.from_key(key).sign_transaction(fields)
            raw, digest = FastSigner(bytes.fromhex(key[2:])).sign_dynamic_fee(
                chain_id=31337 + i,
                nonce=7 * i,
                max_priority_fee_per_gas=10**9,
                max_fee_per_gas=3 * 10**9 + i,
                gas=2**24 - i,
                to=to,
                value=i,
                data=data,
            )
            assert raw == bytes(expected.raw_transaction) and digest == bytes(expected.hash)


def test_the_signer_s_rlp_is_the_rlp_package_s() -> None:
    """rlp_encode against the ``rlp`` package on ints, byte strings and nested lists around
    the length boundaries (1 byte below 0x80, 55/56 bytes, long payloads)."""
    import random

    import rlp

    from peergrid.ledger.chain.signing import rlp_encode

    rng = random.Random(5)

    def item(depth: int = 0) -> object:
        pick = rng.random()
        if depth < 3 and pick < 0.25:
            return [item(depth + 1) for _ in range(rng.randint(0, 6))]
        if pick < 0.6:
            return rng.choice([0, 1, 0x7F, 0x80, 255, 256, 2**64, rng.getrandbits(300)])
        return rng.randbytes(rng.choice([0, 1, 2, 55, 56, 57, 300, 70_000]))

    for _ in range(2_000):
        value = item()
        assert rlp_encode(value) == rlp.encode(value)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        rlp_encode(-1)
    with pytest.raises(TypeError):
        rlp_encode("text")  # type: ignore[arg-type]


def test_a_simulated_call_s_failure_is_worded_as_the_embedded_chain_words_it() -> None:
    from eth_abi import encode

    from peergrid.ledger.chain.jsonrpc import simulation_outcome

    reverted = "0x08c379a0" + encode(["string"], ["token: transfer amount exceeds balance"]).hex()
    assert simulation_outcome({"status": "0x1", "gasUsed": "0x5208", "returnData": "0x"}) == (
        None,
        21000,
    )
    assert simulation_outcome({"status": "0x0", "gasUsed": "0x10", "returnData": reverted}) == (
        "token: transfer amount exceeds balance",
        16,
    )
    reason, _ = simulation_outcome(
        {"status": "0x0", "gasUsed": "0x10", "returnData": "0x", "error": {"message": "out of gas"}}
    )
    assert reason == "OutOfGas: out of gas"
    reason, _ = simulation_outcome({"status": "0x0", "gasUsed": "0x10", "returnData": "0x"})
    assert reason is not None and reason.startswith("reverted without a reason")
