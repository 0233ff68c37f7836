"""Signing EIP-1559 transactions quickly: RLP and a native secp256k1 signature, nothing else.

eth-account's ``sign_transaction`` validates and normalises a transaction dictionary through
several layers (about 2 ms each, even with coincurve underneath), which is most of what a
transaction to a local node costs. :func:`sign_dynamic_fee` builds the same typed transaction
directly (EIP-2718 type 2: ``0x02 || rlp([chain_id, nonce, tip, max_fee, gas, to, value, data,
access_list, y_parity, r, s])``) and signs its hash with libsecp256k1 (coincurve), whose
deterministic nonces (RFC 6979) and low ``s`` give the very bytes eth-account gives
(``tests/ledger/test_rpc.py`` checks it). The RLP of these few integers and byte strings is
written out here (:func:`rlp_encode`): the ``rlp`` package infers a serializer for every item,
which cost more than the signature itself (0.57 ms a transaction against 0.06 ms).
"""

from __future__ import annotations

from collections.abc import Sequence

from coincurve import PrivateKey
from eth_hash.auto import keccak


class FastSigner:
    """One account's key, ready to sign type-2 transactions."""

    def __init__(self, private_key: bytes) -> None:
        self._key = PrivateKey(private_key)

    def sign_dynamic_fee(
        self,
        *,
        chain_id: int,
        nonce: int,
        max_priority_fee_per_gas: int,
        max_fee_per_gas: int,
        gas: int,
        to: str | None,
        value: int,
        data: bytes,
    ) -> tuple[bytes, bytes]:
        """The signed raw transaction and its hash."""
        target = bytes.fromhex(to[2:]) if to else b""
        fields: list[object] = [
            chain_id,
            nonce,
            max_priority_fee_per_gas,
            max_fee_per_gas,
            gas,
            target,
            value,
            data,
            [],
        ]
        signature = self._key.sign_recoverable(keccak(b"\x02" + rlp_encode(fields)), hasher=None)
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:64], "big")
        raw = b"\x02" + rlp_encode([*fields, signature[64], r, s])
        return raw, keccak(raw)


def rlp_encode(item: int | bytes | Sequence[object]) -> bytes:
    """Recursive-length prefix encoding of a non-negative int (big-endian, no leading zero
    bytes; 0 is the empty string), a byte string, or a list of such items."""
    if isinstance(item, bool):
        raise TypeError("rlp_encode: a bool is not an RLP item")
    if isinstance(item, int):
        if item < 0:
            raise ValueError(f"rlp_encode: {item} is negative")
        item = item.to_bytes((item.bit_length() + 7) // 8, "big")
    if isinstance(item, bytes | bytearray):
        if len(item) == 1 and item[0] < 0x80:
            return bytes(item)
        return _prefix(len(item), 0x80) + bytes(item)
    if isinstance(item, Sequence) and not isinstance(item, str):
        payload = b"".join(rlp_encode(x) for x in item)  # type: ignore[arg-type]
        return _prefix(len(payload), 0xC0) + payload
    raise TypeError(f"rlp_encode: cannot encode {type(item).__name__}")


def _prefix(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes([offset + length])
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([offset + 55 + len(size)]) + size
