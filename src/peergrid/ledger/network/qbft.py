"""QBFT ``extraData``: the block header field that carries the validators, as Besu encodes it.

Besu's ``QbftExtraDataCodec`` writes ``extraData`` as the RLP list::

    [vanity (32 bytes), [validator addresses (20 bytes each)], vote, round, [seals]]

* ``vote`` is the empty list when there is none, else ``[recipient address, 0xFF]`` to add a
  validator or ``[recipient address, ""]`` (RLP null, ``0x80``) to drop one;
* ``round`` is an integer scalar: RLP's shortest big-endian bytes, so round 0 is the empty
  string (``0x80``);
* each seal is a 65-byte signature ``r || s || recovery id``.

The genesis block carries a zero vanity, the validators, no vote, round 0 and no seals: what
``besu rlp encode --type=QBFT_EXTRA_DATA`` and ``besu operator generate-blockchain-config`` (via
``QbftExtraDataCodec.encodeFromAddresses``) produce. ``tests/ledger/network/test_qbft.py`` checks
the encoding byte for byte against Besu's own test vector and published genesis files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import rlp

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.abi import checksum_address

VANITY_BYTES = 32
ADDRESS_BYTES = 20
SEAL_BYTES = 65
VOTE_ADD = b"\xff"
"""Besu's ``ADD_BYTE_VALUE``; a drop vote is RLP null (the empty string)."""


@dataclass(frozen=True, slots=True)
class Vote:
    """A validator's proposal to add (``add=True``) or drop ``recipient``."""

    recipient: str
    add: bool


@dataclass(frozen=True, slots=True)
class QbftExtraData:
    """The decoded ``extraData`` of a QBFT block header."""

    validators: tuple[str, ...]
    vanity: bytes = bytes(VANITY_BYTES)
    vote: Vote | None = None
    round: int = 0
    seals: tuple[bytes, ...] = ()

    def encode(self) -> bytes:
        """The RLP bytes, as Besu's ``QbftExtraDataCodec.encode`` writes them."""
        if len(self.vanity) != VANITY_BYTES:
            raise LedgerError("qbft", f"the vanity must be {VANITY_BYTES} bytes")
        if not 0 <= self.round < 2**32:
            raise LedgerError(
                "qbft", f"the round must be a 32-bit unsigned integer, got {self.round}"
            )
        for seal in self.seals:
            if len(seal) != SEAL_BYTES:
                raise LedgerError("qbft", f"a seal is {SEAL_BYTES} bytes, got {len(seal)}")
        vote: list[bytes] = (
            []
            if self.vote is None
            else [_address_bytes(self.vote.recipient), VOTE_ADD if self.vote.add else b""]
        )
        return bytes(
            rlp.encode(
                [
                    self.vanity,
                    [_address_bytes(v) for v in self.validators],
                    vote,
                    self.round,
                    list(self.seals),
                ]
            )
        )

    def hex(self) -> str:
        """``0x`` and the encoding in lower-case hex: the genesis file's ``extraData``."""
        return "0x" + self.encode().hex()

    @classmethod
    def decode(cls, data: bytes | str) -> QbftExtraData:
        """The fields of an ``extraData`` (bytes, or hex with or without ``0x``)."""
        raw = _as_bytes(data)
        try:
            items = rlp.decode(raw, strict=True)
        except rlp.exceptions.DecodingError as exc:
            raise LedgerError("qbft", f"extraData is not RLP: {exc}") from None
        if not isinstance(items, list) or len(items) != 5:
            raise LedgerError("qbft", "extraData is not an RLP list of 5 items")
        vanity, validators, vote, round_bytes, seals = items
        if not isinstance(vanity, bytes) or len(vanity) != VANITY_BYTES:
            raise LedgerError("qbft", "the vanity is not 32 bytes")
        if not isinstance(validators, list) or not all(
            isinstance(v, bytes) and len(v) == ADDRESS_BYTES for v in validators
        ):
            raise LedgerError("qbft", "the validators are not a list of 20-byte addresses")
        if not isinstance(round_bytes, bytes) or len(round_bytes) > 4 or round_bytes[:1] == b"\0":
            raise LedgerError("qbft", "the round is not a minimal 32-bit scalar")
        if not isinstance(seals, list) or not all(
            isinstance(s, bytes) and len(s) == SEAL_BYTES for s in seals
        ):
            raise LedgerError("qbft", "the seals are not a list of 65-byte signatures")
        return cls(
            validators=tuple(checksum_address("0x" + v.hex()) for v in validators),
            vanity=vanity,
            vote=_decode_vote(vote),
            round=int.from_bytes(round_bytes, "big"),
            seals=tuple(seals),
        )


def genesis_extra_data(validators: Sequence[str]) -> str:
    """The genesis ``extraData`` for ``validators``: zero vanity, no vote, round 0, no seals."""
    if not validators:
        raise LedgerError("qbft", "a QBFT network needs at least one validator")
    if len({v.lower() for v in validators}) != len(validators):
        raise LedgerError("qbft", "a validator is listed twice")
    return QbftExtraData(tuple(validators)).hex()


def _decode_vote(vote: object) -> Vote | None:
    if vote == []:
        return None
    if (
        not isinstance(vote, list)
        or len(vote) != 2
        or not isinstance(vote[0], bytes)
        or len(vote[0]) != ADDRESS_BYTES
        or vote[1] not in (VOTE_ADD, b"")
    ):
        raise LedgerError("qbft", "the vote is neither empty nor [address, 0xff or null]")
    return Vote(checksum_address("0x" + vote[0].hex()), add=vote[1] == VOTE_ADD)


def _address_bytes(address: str) -> bytes:
    text = address.removeprefix("0x").removeprefix("0X")
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != ADDRESS_BYTES:
        raise LedgerError("qbft", f"{address!r} is not a 20-byte address")
    return raw


def _as_bytes(data: bytes | str) -> bytes:
    if isinstance(data, bytes):
        return data
    try:
        return bytes.fromhex(data.removeprefix("0x").removeprefix("0X"))
    except ValueError:
        raise LedgerError("qbft", "extraData is not hex") from None
