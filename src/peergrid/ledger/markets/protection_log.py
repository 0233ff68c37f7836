"""A typed client of ``ProtectionLog.vy``: the signed backup channel of a line's protection
(001b_book.md §11.3).

Who does what:

1. :meth:`ProtectionLog.register_unit` (the operator, the deployer): a measurement unit's number
   and the address of its signing key.
2. :class:`MeasurementUnit` signs a batch of its samples (:func:`batch_digest`, an EIP-191
   personal message, with eth-account); :meth:`ProtectionLog.post` carries it to the contract
   from any account. The contract recovers the signer and refuses a batch that is not the
   registered unit's (``"signature is not the unit's"``), that does not start at the unit's next
   sample (``"batch out of sequence"``: a replay, or a gap), or that is empty.
3. :func:`batches_in` decodes the accepted batches from receipts (the ``Samples`` events);
   :meth:`ProtectionLog.check_head` proves a list of batches is the unit's whole log,
   unaltered, against the hash chain the contract stores.

Currents are integers on chain: micro-amperes, packed 8
bytes each (:func:`pack_samples`). The digest and the hash chain are written once, here, as the
contract computes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak, to_checksum_address

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.base import Chain, Contract, Receipt
from peergrid.ledger.chain.compile import compile_contract

CONTRACT = "ProtectionLog"

MAX_BATCH = 4096
"""Most samples one ``post`` carries (the contract's ``MAX_BATCH``)."""

MICROAMPERES_PER_AMPERE = 10**6


SAMPLE_BYTES = 8
"""A sample on chain: a big-endian two's-complement int64 of micro-amperes."""


def pack_samples(currents_ua: Sequence[int]) -> bytes:
    """Samples (µA) as the contract takes them: 8 bytes each, big-endian, signed."""
    try:
        return np.asarray(currents_ua, dtype=">i8").tobytes()
    except OverflowError as exc:
        raise LedgerError(f"{CONTRACT}.post", "a current is beyond int64 µA") from exc


def unpack_samples(packed: bytes) -> tuple[int, ...]:
    if len(packed) % SAMPLE_BYTES:
        raise LedgerError(f"{CONTRACT}.Samples", "a batch that is not whole samples")
    return tuple(np.frombuffer(packed, dtype=">i8").tolist())


def batch_digest(contract: str, unit: int, first_sample: int, currents_ua: Sequence[int]) -> bytes:
    """What a unit signs: ``keccak256(abi_encode(contract, unit, first_sample, packed))`` with
    the samples packed (:func:`pack_samples`)."""
    return keccak(
        encode(
            ["address", "uint256", "uint256", "bytes"],
            [to_checksum_address(contract), unit, first_sample, pack_samples(currents_ua)],
        )
    )


def next_head(head: bytes, digest: bytes) -> bytes:
    """The hash chain the contract keeps: ``keccak256(head ++ digest)``."""
    return keccak(head + digest)


@dataclass(frozen=True, slots=True)
class SignedBatch:
    """One unit's consecutive samples and the unit's signature over them."""

    unit: int
    first_sample: int
    currents_ua: tuple[int, ...]
    v: int
    r: bytes
    s: bytes


class MeasurementUnit:
    """A measurement unit at one end of the line, with its signing key."""

    def __init__(self, unit: int, private_key: bytes) -> None:
        self.unit = unit
        self._account = Account.from_key(private_key)

    @property
    def signer(self) -> str:
        return str(self._account.address)

    def sign(self, contract: str, first_sample: int, currents_ua: Sequence[int]) -> SignedBatch:
        digest = batch_digest(contract, self.unit, first_sample, currents_ua)
        signed = self._account.sign_message(encode_defunct(primitive=digest))
        return SignedBatch(
            self.unit,
            first_sample,
            tuple(currents_ua),
            int(signed.v),
            int(signed.r).to_bytes(32, "big"),
            int(signed.s).to_bytes(32, "big"),
        )


@dataclass(frozen=True, slots=True)
class LoggedBatch:
    """A batch the contract accepted, as its ``Samples`` event carries it."""

    unit: int
    first_sample: int
    currents_ua: tuple[int, ...]
    head: bytes


def batches_in(receipts: Iterable[Receipt]) -> list[LoggedBatch]:
    """The accepted batches in ``receipts``, in order."""
    return [
        LoggedBatch(
            int(event.args["unit"]),
            int(event.args["first_sample"]),
            unpack_samples(bytes(event.args["currents_ua"])),
            bytes(event.args["head"]),
        )
        for receipt in receipts
        for event in receipt.events_named("Samples")
    ]


class ProtectionLog:
    """One line's ``ProtectionLog`` contract on a chain, with its operator."""

    def __init__(self, chain: Chain, contract: Contract, *, operator: str) -> None:
        self.chain = chain
        self.contract = contract
        self.operator = operator

    @classmethod
    def deploy(cls, chain: Chain, *, operator: str) -> ProtectionLog:
        return cls(chain, chain.deploy(operator, compile_contract(CONTRACT)), operator=operator)

    @classmethod
    def attach(cls, chain: Chain, address: str, *, operator: str) -> ProtectionLog:
        """The log already deployed at ``address`` (a relay that starts later reads the same)."""
        return cls(chain, chain.at(compile_contract(CONTRACT), address), operator=operator)

    @property
    def address(self) -> str:
        return self.contract.address

    def register_unit(self, unit: int, signer: str) -> Receipt:
        return self.chain.transact(self.operator, self.contract, "register_unit", unit, signer)

    def post(self, sender: str, batch: SignedBatch) -> Receipt:
        """Carry a signed batch to the contract (at most :data:`MAX_BATCH` samples)."""
        if len(batch.currents_ua) > MAX_BATCH:
            raise LedgerError(
                f"{CONTRACT}.post", f"{len(batch.currents_ua)} samples, at most {MAX_BATCH}"
            )
        return self.chain.transact(
            sender,
            self.contract,
            "post",
            batch.unit,
            batch.first_sample,
            pack_samples(batch.currents_ua),
            batch.v,
            batch.r,
            batch.s,
        )

    def signer_of(self, unit: int) -> str:
        return str(self.chain.call(self.contract, "signer_of", unit))

    def next_sample(self, unit: int) -> int:
        return int(self.chain.call(self.contract, "next_sample", unit))

    def head(self, unit: int) -> bytes:
        return bytes(self.chain.call(self.contract, "head", unit))

    def digest(self, unit: int, first_sample: int, currents_ua: Sequence[int]) -> bytes:
        """The contract's own digest (equal to :func:`batch_digest`)."""
        return bytes(
            self.chain.call(
                self.contract, "batch_digest", unit, first_sample, pack_samples(currents_ua)
            )
        )

    def check_head(self, unit: int, batches: Sequence[LoggedBatch]) -> None:
        """Raise :class:`LedgerError` unless ``batches`` are the unit's whole log, in order and
        unaltered: consecutive samples from 0, and the hash chain ends at the stored head."""
        head, expected = b"\x00" * 32, 0
        for batch in batches:
            if batch.unit != unit or batch.first_sample != expected:
                raise LedgerError(f"{CONTRACT}.check_head", f"unit {unit}: a batch is missing")
            head = next_head(
                head, batch_digest(self.address, unit, batch.first_sample, batch.currents_ua)
            )
            expected += len(batch.currents_ua)
        if head != self.head(unit) or expected != self.next_sample(unit):
            raise LedgerError(
                f"{CONTRACT}.check_head", f"unit {unit}: the batches are not the stored log"
            )
