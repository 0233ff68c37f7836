"""Validator node keys and account keys: secp256k1 key pairs, their addresses and enode URLs.

A node's identity on the devp2p network is its secp256k1 public key; its address (the one QBFT
lists as a validator and that signs blocks) is ``keccak256(public key)[12:]``, the public key
taken uncompressed without its ``0x04`` prefix (64 bytes). An account's address is derived the
same way, so one type serves both.

Besu's key files, as ``besu operator generate-blockchain-config`` and the node itself write them:
``key`` holds the private key as ``0x`` and 64 hex digits, ``key.pub`` the public key as ``0x``
and 128 hex digits, no newline. A node started with ``--data-path=DIR`` reads ``DIR/key``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from coincurve import PrivateKey
from eth_hash.auto import keccak

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.abi import checksum_address

_HEX_KEY = re.compile(r"(0x)?[0-9a-fA-F]{64}")
_SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A secp256k1 key pair; ``public_key`` is the 64-byte uncompressed key without prefix."""

    private_key: bytes = field(repr=False)
    public_key: bytes

    @classmethod
    def generate(cls) -> KeyPair:
        """A fresh key pair from the operating system's randomness."""
        while True:
            secret = os.urandom(32)
            if 0 < int.from_bytes(secret, "big") < _SECP256K1_ORDER:
                return cls.from_private_key(secret)

    @classmethod
    def from_private_key(cls, private_key: bytes) -> KeyPair:
        if len(private_key) != 32 or not 0 < int.from_bytes(private_key, "big") < _SECP256K1_ORDER:
            raise LedgerError("node_keys", "a secp256k1 private key is 32 bytes in 1..n-1")
        public = PrivateKey(private_key).public_key.format(compressed=False)[1:]
        return cls(private_key, public)

    @classmethod
    def from_hex(cls, text: str, *, source: str = "key") -> KeyPair:
        """A key pair from a hex private key (``0x`` optional), as Besu's ``key`` file holds."""
        text = text.strip()
        if not _HEX_KEY.fullmatch(text):
            raise LedgerError("node_keys", f"{source}: not a hex private key of 32 bytes")
        return cls.from_private_key(bytes.fromhex(text.removeprefix("0x")))

    @property
    def address(self) -> str:
        """The checksum address: ``keccak256(public key)[12:]``."""
        return public_key_address(self.public_key)

    @property
    def private_key_hex(self) -> str:
        return "0x" + self.private_key.hex()

    @property
    def public_key_hex(self) -> str:
        return "0x" + self.public_key.hex()

    def enode(self, host: str, port: int = 30303) -> str:
        """The node's enode URL: ``enode://<public key, 128 hex>@host:port``."""
        return f"enode://{self.public_key.hex()}@{host}:{port}"


def public_key_address(public_key: bytes | str) -> str:
    """The checksum address of a 64-byte uncompressed public key (bytes, or hex as in Besu's
    ``key.pub``): ``keccak256(public key)[12:]``."""
    if isinstance(public_key, str):
        text = public_key.strip().removeprefix("0x")
        try:
            public_key = bytes.fromhex(text)
        except ValueError:
            raise LedgerError("node_keys", "a public key is 128 hex digits") from None
    if len(public_key) != 64:
        raise LedgerError("node_keys", f"a public key is 64 bytes, got {len(public_key)}")
    return checksum_address("0x" + keccak(public_key)[12:].hex())


def write_besu_key_files(pair: KeyPair, folder: Path) -> tuple[Path, Path]:
    """Write ``key`` (private, owner-only) and ``key.pub`` into ``folder``, as Besu does."""
    folder.mkdir(parents=True, exist_ok=True)
    private = folder / "key"
    public = folder / "key.pub"
    write_secret(private, pair.private_key_hex)
    public.write_text(pair.public_key_hex, encoding="utf-8")
    return private, public


def read_besu_key_file(path: Path) -> KeyPair:
    """The key pair of a Besu ``key`` file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LedgerError("node_keys", f"{path}: cannot read ({exc.strerror})") from None
    return KeyPair.from_hex(text, source=str(path))


def write_secret(path: Path, text: str) -> None:
    """Write ``text`` to a new file readable by its owner only (created with mode 0600, so the
    secret is never readable by others, not even for a moment)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # a file that was there keeps its mode otherwise
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
