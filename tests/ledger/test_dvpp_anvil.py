"""The DVPP on the managed anvil: a long run stores nothing more, and the batched reads.

The contract keeps only the current state (two reports per household, the entries, the open
flexibility contract), so after the first interval no report adds a storage word: counted here
over every account of the node (``anvil_dumpState``), including EIP-2935's block-hash history
contract, which the managed node runs without code and so without a word per block.
"""

from __future__ import annotations

import gzip
import json

import pytest

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.anvil import AnvilError, find_anvil
from peergrid.ledger.markets.consortium import Role
from peergrid.ledger.markets.dvpp import DvppLedger, Report

from .dvpp_helpers import DEPOSIT_MICRO, FUNDS_MICRO, RATING, SUPPLY_MICRO

try:
    find_anvil()
except AnvilError:  # pragma: no cover - an installation without npm
    pytest.skip("no anvil binary (npm ci)", allow_module_level=True)

from peergrid.ledger.chain.managed import HISTORY_STORAGE_ADDRESS, ManagedAnvilChain

pytestmark = pytest.mark.slow


def storage_words(chain: ManagedAnvilChain) -> dict[str, int]:
    """Storage words each account of the node holds (zeroed words that anvil keeps included)."""
    raw = chain._client.call("anvil_dumpState")
    state = json.loads(gzip.decompress(bytes.fromhex(raw[2:])))
    return {
        address.lower(): len(account.get("storage") or {})
        for address, account in state["accounts"].items()
    }


def test_the_dvpp_stores_no_word_more_after_its_first_interval() -> None:
    with ManagedAnvilChain() as chain:
        operator, dso, issuer = (chain.new_account(x) for x in ("operator", "dso", "issuer"))
        ledger = DvppLedger.deploy(
            chain, operator=operator, dso=dso, issuer=issuer, supply_micro=SUPPLY_MICRO
        )
        households = [chain.new_account(f"household{i}") for i in range(5)]
        ledger.consortium.bootstrap({h: Role.PROSUMER for h in households})
        for i, h in enumerate(households):
            ledger.fund(h, FUNDS_MICRO)
            ledger.register(h, RATING, Report(0.2 * i, 1000.0 * (i - 2)), DEPOSIT_MICRO)

        def interval(k: int) -> None:
            ledger.advance_interval()
            instructions = ledger.read_instructions_mw(households)
            assert instructions == {h: ledger.read_instruction_mw(h) for h in households}
            with chain.pipeline():
                for i, h in enumerate(households):
                    p_res_w = 1500.0 * ((i + k) % 5 - 2)
                    ledger.set_state(h, Report(0.5, p_res_w, instructions[h] / 1000))

        for k in range(2):
            interval(k)
        after_two = storage_words(chain)
        for k in range(2, 40):
            interval(k)
        assert ledger.current_interval() == 40
        after_forty = storage_words(chain)
        assert (
            after_forty[ledger.contract.address.lower()]
            == after_two[ledger.contract.address.lower()]
        )
        assert after_forty == after_two
        assert after_forty.get(HISTORY_STORAGE_ADDRESS.lower(), 0) == 0
        # One block an interval (the clock's move mines none), and the count kept by the
        # chain is the node's.
        assert chain.block_number() >= 40
        assert chain.block_number() == int(chain._client.call("eth_blockNumber"), 16)


def test_a_batched_read_refused_for_one_caller_is_refused_whole() -> None:
    with ManagedAnvilChain() as chain:
        operator, dso, issuer = (chain.new_account(x) for x in ("operator", "dso", "issuer"))
        ledger = DvppLedger.deploy(
            chain, operator=operator, dso=dso, issuer=issuer, supply_micro=SUPPLY_MICRO
        )
        household, stranger = chain.new_account("household"), chain.new_account("stranger")
        ledger.consortium.bootstrap({household: Role.PROSUMER})
        ledger.fund(household, FUNDS_MICRO)
        ledger.register(household, RATING, Report(0.5, 2000.0), DEPOSIT_MICRO)
        ledger.advance_interval()
        assert ledger.read_instructions_mw([household]) == {household: 2_000_000}
        assert ledger.read_instructions_mw([]) == {}
        with pytest.raises(LedgerError, match="caller is not in the interval's snapshot"):
            ledger.read_instructions_mw([household, stranger])
