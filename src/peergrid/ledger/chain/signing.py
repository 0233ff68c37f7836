"""Signing EIP-1559 transactions quickly: RLP and a native secp256k1 signature, nothing else.

eth-account's ``sign_transaction`` validates and normalises a transaction dictionary through
several layers (about 2 ms each, even with coincurve underneath), which is most of what a
transaction to a local node costs. :func:`sign_dynamic_fee` builds the same typed transaction
directly (EIP-2718 type 2: ``0x02 || rlp([chain_id, nonce, tip, max_fee, gas, to, value, data,
access_list, y_parity, r, s])``) and signs its hash with libsecp256k1 (coincurve), whose
deterministic nonces (RFC 6979) and low ``s`` give the very bytes eth-account gives
(``tests/ledger/test_rpc.py`` checks it).
"""

from __future__ import annotations

import rlp
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
        signature = self._key.sign_recoverable(keccak(b"\x02" + rlp.encode(fields)), hasher=None)
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:64], "big")
        raw = b"\x02" + rlp.encode([*fields, signature[64], r, s])
        return raw, keccak(raw)
