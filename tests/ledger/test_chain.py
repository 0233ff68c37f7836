"""The embedded chain backend: accounts, deployments, errors and isolation."""

from __future__ import annotations

import pytest
from eth_utils import is_checksum_address

from peergrid.core.errors import LedgerError, PeergridError
from peergrid.ledger import Chain, EmbeddedChain
from peergrid.ledger.chain.abi import revert_reason
from peergrid.ledger.chain.compile import compile_contract

from .helpers import Community, make_community, reverts


def test_embedded_chain_is_a_chain(chain: EmbeddedChain) -> None:
    assert isinstance(chain, Chain)
    assert len(chain.gas_log) == 0


def test_accounts_are_checksummed_distinct_and_labelled(chain: EmbeddedChain) -> None:
    first, second, third = (chain.new_account("same") for _ in range(3))
    assert all(is_checksum_address(a) for a in (first, second, third))
    assert len({first, second, third}) == 3
    assert chain.accounts[first] == "same"
    # Deterministic: a new chain makes the same addresses in the same order.
    assert EmbeddedChain().new_account("same") == first


def test_a_revert_becomes_a_ledger_error_naming_the_call(community: Community) -> None:
    with pytest.raises(LedgerError) as info:
        community.ledger.withdraw(community.outsider, 5)
    assert isinstance(info.value, PeergridError)
    assert info.value.call == "Community.withdraw"
    assert info.value.reason == "balance too low"
    assert str(info.value) == "Community.withdraw: balance too low"


def test_a_reverted_transaction_leaves_no_trace(community: Community) -> None:
    chain = community.chain
    member = community.members[0]
    nonce = chain.nonce(member)
    assert nonce == 2  # approve and deposit
    with reverts("Community.withdraw", "balance too low"):
        community.ledger.withdraw(member, 10**18)
    assert chain.nonce(member) == nonce
    community.ledger.withdraw(member, 1)
    assert chain.nonce(member) == nonce + 1


def test_bad_arguments_are_refused_before_sending(community: Community) -> None:
    ledger, chain = community.ledger, community.chain
    n = len(chain.gas_log)
    with pytest.raises(LedgerError, match="bad argument") as info:
        ledger.withdraw(community.members[0], -1)
    assert info.value.call == "Community.withdraw"
    with pytest.raises(LedgerError, match="bad argument"):
        ledger.balance_of("not an address")
    with pytest.raises(LedgerError, match="no such function"):
        chain.transact(community.operator, ledger.community, "mint", community.operator, 1)
    with pytest.raises(LedgerError, match="takes \\[1\\] arguments, got 2"):
        chain.transact(community.operator, ledger.community, "withdraw", 1, 2)
    with pytest.raises(LedgerError, match="bad sender address"):
        chain.transact("nobody", ledger.community, "withdraw", 1)
    assert len(chain.gas_log) == n


def test_constructor_arguments_are_checked(chain: EmbeddedChain) -> None:
    deployer = chain.new_account("deployer")
    with pytest.raises(LedgerError, match="takes 4 arguments, got 1"):
        chain.deploy(deployer, compile_contract("SettlementToken"), "T")


def test_chains_are_independent() -> None:
    one, two = EmbeddedChain(), EmbeddedChain()
    artifact = compile_contract("SettlementToken")
    issuer_one, issuer_two = one.new_account("issuer"), two.new_account("issuer")
    token_one = one.deploy(issuer_one, artifact, "A", "A", issuer_one, 100)
    token_two = two.deploy(issuer_two, artifact, "B", "B", issuer_two, 200)
    assert token_one.address == token_two.address  # same deployer, same nonce
    one.transact(issuer_one, token_one, "transfer", one.new_account("x"), 7)
    assert one.call(token_one, "balanceOf", issuer_one) == 93
    assert two.call(token_two, "balanceOf", issuer_two) == 200
    assert len(one.gas_log) == 2 and len(two.gas_log) == 1


def test_receipts_carry_decoded_events_of_every_contract(community: Community) -> None:
    member = community.members[0]
    receipt = community.ledger.withdraw(member, 42)
    assert [(e.contract, e.name) for e in receipt.events] == [
        ("Community", "Withdrawn"),
        ("SettlementToken", "Transfer"),
    ]
    transfer = receipt.events_named("Transfer")[0]
    assert transfer.args == {
        "sender": community.ledger.community.address,
        "receiver": member,
        "value": 42,
    }
    assert receipt.call == "Community.withdraw"
    assert receipt.sender == member
    assert receipt.tx_hash.startswith("0x") and len(receipt.tx_hash) == 66


def test_revert_reasons_decode() -> None:
    panic = bytes.fromhex("4e487b71") + (0x11).to_bytes(32, "big")
    assert revert_reason(panic) == "panic 0x11 (arithmetic overflow or underflow)"
    assert revert_reason(b"").startswith("reverted without a reason")
    assert revert_reason(b"\x01\x02") == "reverted with data 0x0102"


def test_out_of_gas_is_reported(community: Community) -> None:
    chain = community.chain
    chain.tx_gas_limit = 30_000  # intrinsic gas fits, the withdrawal's work does not
    try:
        with pytest.raises(LedgerError) as info:
            community.ledger.withdraw(community.members[0], 1)
    finally:
        chain.tx_gas_limit = 2**24
    assert info.value.call == "Community.withdraw"
    assert "OutOfGas" in info.value.reason


def test_the_clock_moves_only_forward_and_only_when_asked(backend_chain: Chain) -> None:
    chain = backend_chain
    start = chain.timestamp()
    assert start > 1_600_000_000  # a wall-clock time, not 0
    later = chain.advance_time(3600)
    assert later >= start + 3600
    assert chain.advance_time(0) >= later
    with pytest.raises(ValueError, match="non-negative int"):
        chain.advance_time(-1)
    with pytest.raises(ValueError, match="non-negative int"):
        chain.advance_time(1.5)  # type: ignore[arg-type]


def test_the_embedded_clock_stands_still_between_transactions() -> None:
    community = make_community()
    chain = community.chain
    before = chain.timestamp()
    community.ledger.withdraw(community.members[0], 1)
    assert chain.timestamp() == before
