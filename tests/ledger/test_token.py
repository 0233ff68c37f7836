"""SettlementToken: a fixed-supply ERC-20 in micro-currency."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from peergrid.ledger import Contract, EmbeddedChain
from peergrid.ledger.chain.compile import compile_contract

from .helpers import reverts

SUPPLY = 5_000_000


class Token(NamedTuple):
    chain: EmbeddedChain
    contract: Contract
    issuer: str
    alice: str
    bob: str


@pytest.fixture
def token(chain: EmbeddedChain) -> Token:
    issuer, alice, bob = (chain.new_account(n) for n in ("issuer", "alice", "bob"))
    artifact = compile_contract("SettlementToken")
    contract = chain.deploy(issuer, artifact, "Test", "TST", issuer, SUPPLY)
    return Token(chain, contract, issuer, alice, bob)


def test_whole_supply_goes_to_the_issuer(token: Token) -> None:
    chain, contract, issuer, alice, _ = token
    assert chain.call(contract, "totalSupply") == SUPPLY
    assert chain.call(contract, "balanceOf", issuer) == SUPPLY
    assert chain.call(contract, "balanceOf", alice) == 0
    assert chain.call(contract, "decimals") == 6
    assert chain.call(contract, "name") == "Test"
    assert chain.call(contract, "symbol") == "TST"


def test_no_function_creates_or_destroys_money() -> None:
    abi = compile_contract("SettlementToken").abi
    functions = {item["name"] for item in abi if item["type"] == "function"}
    assert functions == {
        "transfer",
        "approve",
        "transferFrom",
        "balanceOf",
        "allowance",
        "totalSupply",
        "decimals",
        "name",
        "symbol",
    }


def test_issuer_may_not_be_the_zero_address(chain: EmbeddedChain) -> None:
    deployer = chain.new_account("deployer")
    with reverts("SettlementToken.constructor", "token: issuer is the zero address"):
        chain.deploy(
            deployer, compile_contract("SettlementToken"), "T", "T", "0x" + "00" * 20, SUPPLY
        )


def test_transfer(token: Token) -> None:
    chain, contract, issuer, alice, _ = token
    receipt = chain.transact(issuer, contract, "transfer", alice, 1_234)
    assert chain.call(contract, "balanceOf", alice) == 1_234
    assert chain.call(contract, "balanceOf", issuer) == SUPPLY - 1_234
    (event,) = receipt.events
    assert (event.name, event.args) == (
        "Transfer",
        {"sender": issuer, "receiver": alice, "value": 1_234},
    )


def test_transfer_beyond_balance_or_to_zero_is_refused(
    token: Token,
) -> None:
    chain, contract, issuer, alice, bob = token
    chain.transact(issuer, contract, "transfer", alice, 10)
    with reverts("SettlementToken.transfer", "token: transfer amount exceeds balance"):
        chain.transact(alice, contract, "transfer", bob, 11)
    with reverts("SettlementToken.transfer", "token: transfer to the zero address"):
        chain.transact(alice, contract, "transfer", "0x" + "00" * 20, 1)
    assert chain.call(contract, "balanceOf", alice) == 10


def test_transfer_from_spends_the_allowance(
    token: Token,
) -> None:
    chain, contract, issuer, alice, bob = token
    chain.transact(issuer, contract, "approve", alice, 100)
    with reverts("SettlementToken.transferFrom", "token: insufficient allowance"):
        chain.transact(alice, contract, "transferFrom", issuer, bob, 101)
    chain.transact(alice, contract, "transferFrom", issuer, bob, 60)
    assert chain.call(contract, "allowance", issuer, alice) == 40
    assert chain.call(contract, "balanceOf", bob) == 60
    with reverts("SettlementToken.transferFrom", "token: insufficient allowance"):
        chain.transact(bob, contract, "transferFrom", issuer, bob, 1)


def test_infinite_allowance_is_not_decreased(
    token: Token,
) -> None:
    chain, contract, issuer, alice, bob = token
    infinite = 2**256 - 1
    chain.transact(issuer, contract, "approve", alice, infinite)
    chain.transact(alice, contract, "transferFrom", issuer, bob, 500)
    assert chain.call(contract, "allowance", issuer, alice) == infinite


def test_approve_zero_address_is_refused(
    token: Token,
) -> None:
    chain, contract, issuer, *_ = token
    with reverts("SettlementToken.approve", "token: approve to the zero address"):
        chain.transact(issuer, contract, "approve", "0x" + "00" * 20, 1)
