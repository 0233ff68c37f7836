"""Node and account keys: addresses and public keys agree with eth_keys and with Besu's own
published key/address pairs; Besu's key files and enode URLs have the form Besu reads."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from eth_keys import keys as eth_keys
from hypothesis import given
from hypothesis import strategies as st

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.anvil import ANVIL_DEV_ADDRESSES, ANVIL_DEV_KEYS
from peergrid.ledger.network.node_keys import (
    KeyPair,
    public_key_address,
    read_besu_key_file,
    write_besu_key_files,
)

# hyperledger/besu, acceptance-tests/.../resources/qbft/qbft-london.json: alloc entries whose
# (ignored) privateKey field names the account's key.
BESU_ALLOC_KEYS = {
    "8f2a55949038a9610f50fb23b5883af3b4ecb3c3bb792cbcefbd1542c692be63": (
        "fe3b557e8fb62b89f4916b721be55ceb828dbd73"
    ),
    "c87509a1c067bbde78beb793e6fa76530b6382a4c0241e5e4a9ec0a0f44dc0d3": (
        "627306090abab3a6e1400e9345bc60c78a8bef57"
    ),
    "ae6ae8e5ccbfb04590405997ee2d52d2b330726137b875053c36d94e974d162f": (
        "f17f52151ebef6c7334fad080c5704d77216b732"
    ),
}


@pytest.mark.parametrize(("private", "address"), sorted(BESU_ALLOC_KEYS.items()))
def test_besu_published_pairs(private: str, address: str) -> None:
    assert KeyPair.from_hex(private).address.lower() == "0x" + address


@pytest.mark.parametrize(
    ("private", "address"), list(zip(ANVIL_DEV_KEYS, ANVIL_DEV_ADDRESSES, strict=True))
)
def test_anvil_dev_pairs(private: str, address: str) -> None:
    assert KeyPair.from_hex(private).address == address


def test_fresh_keys_agree_with_eth_keys() -> None:
    seen = set()
    for _ in range(20):
        pair = KeyPair.generate()
        reference = eth_keys.PrivateKey(pair.private_key)
        assert pair.public_key == reference.public_key.to_bytes()
        assert pair.address == reference.public_key.to_checksum_address()
        assert public_key_address(pair.public_key_hex) == pair.address
        seen.add(pair.private_key)
    assert len(seen) == 20


SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@given(st.integers(1, SECP256K1_ORDER - 1))
def test_any_private_key_agrees_with_eth_keys(secret: int) -> None:
    private = secret.to_bytes(32, "big")
    pair = KeyPair.from_private_key(private)
    reference = eth_keys.PrivateKey(private)
    assert pair.public_key == reference.public_key.to_bytes()
    assert pair.address == reference.public_key.to_checksum_address()
    assert KeyPair.from_hex(pair.private_key_hex) == pair


def test_enode_url_carries_the_uncompressed_public_key() -> None:
    pair = KeyPair.from_hex(ANVIL_DEV_KEYS[0])
    url = pair.enode("172.16.239.11")
    assert re.fullmatch(r"enode://[0-9a-f]{128}@172\.16\.239\.11:30303", url)
    assert url[8:136] == eth_keys.PrivateKey(pair.private_key).public_key.to_bytes().hex()


def test_besu_key_files(tmp_path: Path) -> None:
    pair = KeyPair.generate()
    private, public = write_besu_key_files(pair, tmp_path / "node-1")
    # As Besu writes them: 0x-prefixed hex, no newline; the private key readable by its owner.
    assert re.fullmatch(r"0x[0-9a-f]{64}", private.read_text())
    assert re.fullmatch(r"0x[0-9a-f]{128}", public.read_text())
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert read_besu_key_file(private) == pair
    assert public_key_address(public.read_text()) == pair.address
    # An existing file with a looser mode is tightened when written again.
    private.chmod(0o644)
    write_besu_key_files(pair, tmp_path / "node-1")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "text",
    ["", "0x1234", "0x" + "g" * 64, "0x" + "00" * 32, "0x" + "ff" * 32, "0x" + "11" * 33],
)
def test_bad_private_keys_are_refused(text: str) -> None:
    with pytest.raises(LedgerError):
        KeyPair.from_hex(text)


def test_bad_public_keys_are_refused() -> None:
    with pytest.raises(LedgerError, match="64 bytes"):
        public_key_address("0x" + "11" * 33)
    with pytest.raises(LedgerError, match="128 hex"):
        public_key_address("0xnothex")
