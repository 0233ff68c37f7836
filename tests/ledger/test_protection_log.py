"""The backup channel's contract (``ProtectionLog.vy``, 001b_book.md §11.3): only the operator
registers units; a batch is accepted only with its unit's real signature, in sequence; the
digest and hash chain match the client's; what is read back is what was signed."""

from __future__ import annotations

import pytest
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from peergrid.core.errors import LedgerError
from peergrid.ledger import EmbeddedChain
from peergrid.ledger.markets.protection_log import (
    MAX_BATCH,
    MeasurementUnit,
    ProtectionLog,
    SignedBatch,
    batch_digest,
    batches_in,
    pack_samples,
    unpack_samples,
)

from .helpers import reverts


@pytest.fixture
def log() -> tuple[ProtectionLog, MeasurementUnit, str]:
    chain = EmbeddedChain()
    operator = chain.new_account("operator")
    contract = ProtectionLog.deploy(chain, operator=operator)
    unit = MeasurementUnit(1, keccak(b"unit one"))
    contract.register_unit(1, unit.signer)
    return contract, unit, chain.new_account("gateway")


def test_a_signed_batch_is_accepted_and_read_back(log) -> None:  # type: ignore[no-untyped-def]
    contract, unit, gateway = log
    samples = [5_000_000, -5_000_000, 0, 2**63 - 1, -(2**63)]
    assert contract.digest(1, 0, samples) == batch_digest(contract.address, 1, 0, samples)
    receipt = contract.post(gateway, unit.sign(contract.address, 0, samples))
    second = contract.post(gateway, unit.sign(contract.address, 5, [7, 8]))
    batches = batches_in([receipt, second])
    assert [b.currents_ua for b in batches] == [tuple(samples), (7, 8)]
    assert contract.next_sample(1) == 7
    contract.check_head(1, batches)
    with pytest.raises(LedgerError, match="not the stored log"):
        contract.check_head(1, batches[:1])
    altered = [batches[0], type(batches[1])(1, 5, (7, 9), batches[1].head)]
    with pytest.raises(LedgerError, match="not the stored log"):
        contract.check_head(1, altered)


def test_a_forged_sample_is_refused(log) -> None:  # type: ignore[no-untyped-def]
    contract, unit, gateway = log
    forger = MeasurementUnit(1, keccak(b"not the unit"))
    with reverts("ProtectionLog.post", "signature is not the unit's"):
        contract.post(gateway, forger.sign(contract.address, 0, [1, 2, 3]))
    # a real signature over other values: a modified sample
    signed = unit.sign(contract.address, 0, [1, 2, 3])
    modified = SignedBatch(1, 0, (1, 2, 4), signed.v, signed.r, signed.s)
    with reverts("ProtectionLog.post", "signature is not the unit's"):
        contract.post(gateway, modified)
    # signed for another log
    other = unit.sign("0x" + "11" * 20, 0, [1, 2, 3])
    with reverts("ProtectionLog.post", "signature is not the unit's"):
        contract.post(gateway, other)
    assert contract.next_sample(1) == 0


def test_a_replayed_or_skipped_batch_is_refused(log) -> None:  # type: ignore[no-untyped-def]
    contract, unit, gateway = log
    batch = unit.sign(contract.address, 0, [1, 2])
    contract.post(gateway, batch)
    with reverts("ProtectionLog.post", "batch out of sequence"):
        contract.post(gateway, batch)
    with reverts("ProtectionLog.post", "batch out of sequence"):
        contract.post(gateway, unit.sign(contract.address, 3, [1]))


def test_registration_is_the_operator_s(log) -> None:  # type: ignore[no-untyped-def]
    contract, unit, gateway = log
    chain = contract.chain
    with reverts("ProtectionLog.register_unit", "caller is not the operator"):
        chain.transact(gateway, contract.contract, "register_unit", 2, gateway)
    with reverts("ProtectionLog.register_unit", "unit already registered"):
        contract.register_unit(1, gateway)
    with reverts("ProtectionLog.register_unit", "unit not in 1..65535"):
        contract.register_unit(0, gateway)
    with reverts("ProtectionLog.post", "unit not registered"):
        contract.post(gateway, MeasurementUnit(2, keccak(b"u2")).sign(contract.address, 0, [1]))
    assert contract.signer_of(1) == unit.signer


def test_empty_long_and_partial_batches_are_refused(log) -> None:  # type: ignore[no-untyped-def]
    contract, unit, gateway = log
    with reverts("ProtectionLog.post", "empty batch"):
        contract.post(gateway, unit.sign(contract.address, 0, []))
    with pytest.raises(LedgerError, match="at most"):
        contract.post(gateway, unit.sign(contract.address, 0, [0] * (MAX_BATCH + 1)))
    signed = unit.sign(contract.address, 0, [1])
    with reverts("ProtectionLog.post", "batch not whole samples"):
        contract.chain.transact(
            gateway, contract.contract, "post", 1, 0, b"\x00" * 7, signed.v, signed.r, signed.s
        )


@settings(max_examples=30)
@given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=50))
def test_packing_round_trips(samples: list[int]) -> None:
    assert list(unpack_samples(pack_samples(samples))) == samples


def test_packing_refuses_beyond_int64() -> None:
    with pytest.raises(LedgerError):
        pack_samples([2**63])
