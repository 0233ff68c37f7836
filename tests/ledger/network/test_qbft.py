"""QBFT extraData as Besu encodes it: Besu's own test vectors, byte for byte, and round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peergrid.core.errors import LedgerError
from peergrid.ledger.network.node_keys import public_key_address
from peergrid.ledger.network.qbft import QbftExtraData, Vote, genesis_extra_data

# hyperledger/besu, consensus/qbft/src/test/java/.../QbftExtraDataCodecTest.java,
# RAW_HEX_ENCODING_STRING: vanity 0x01..0x20, validators 0x…01 and 0x…02, an add vote for
# 0x…01, round 0x00FEDCBA, seals (r=1, s=10, v=0) and (r=10, s=1, v=0).
BESU_CODEC_VECTOR = (
    "0xf8f0a00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20ea940000000000000000"
    "000000000000000000000001940000000000000000000000000000000000000002d7940000000000000000"
    "00000000000000000000000181ff83fedcbaf886b841000000000000000000000000000000000000000000"
    "0000000000000000000001000000000000000000000000000000000000000000000000000000000000000a"
    "00b841000000000000000000000000000000000000000000000000000000000000000a0000000000000000"
    "00000000000000000000000000000000000000000000000100"
)

# hyperledger/besu, app/src/test/java/.../operator/OperatorSubCommandTest.java,
# shouldCreateQbftExtraData: `besu operator generate-blockchain-config` on
# app/src/test/resources/operator/config_import_keys_qbft.json (two imported public keys).
BESU_OPERATOR_PUBLIC_KEYS = (
    "0x9481ee2b34196827e8c4807ae29c2675c15d3641e482ab81cc0bc3ef535755b426b9f5c474213df28a563fab0b"
    "f0830b455ee8955b3faac93075422a6abf160d",
    "0xf9dff57fc0bae7cba6577d82caf40cf6d266afc2a212775eb45c2188ab30aeed01e724daf4203649d4aa7e3071"
    "7bfeeaf0b4c30b5d651bad39bcae8429759889",
)
BESU_OPERATOR_EXTRA_DATA = (
    "0xf84fa00000000000000000000000000000000000000000000000000000000000000000ea94d5feb0fc5a54a89f"
    "97aeb34c3df15397c19f6dd294d6a9a4c886eb008ac307abdc1f38745c1dd13a88c080c0"
)

# hyperledger/besu, consensus/qbft-core/src/integration-test/resources/
# genesis_migrating_validator_contract.json (one validator) and genesis_validator_contract.json
# (no validator in the header: they come from a contract there).
BESU_ONE_VALIDATOR = (
    "0xf83aa00000000000000000000000000000000000000000000000000000000000000000d594eac51e3fe1afc9"
    "894f0dfeab8ceb471899b932dfc080c0"
)
BESU_NO_VALIDATOR = "0xe5a00000000000000000000000000000000000000000000000000000000000000000c0c080c0"


def _seal(r: int, s: int, v: int) -> bytes:
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])


def test_besu_codec_vector_is_reproduced_byte_for_byte() -> None:
    extra = QbftExtraData(
        validators=("0x" + "00" * 19 + "01", "0x" + "00" * 19 + "02"),
        vanity=bytes(range(1, 33)),
        vote=Vote("0x" + "00" * 19 + "01", add=True),
        round=0x00FEDCBA,
        seals=(_seal(1, 10, 0), _seal(10, 1, 0)),
    )
    assert extra.hex() == BESU_CODEC_VECTOR
    assert QbftExtraData.decode(BESU_CODEC_VECTOR) == extra


def test_generate_blockchain_config_output_is_reproduced_from_the_public_keys() -> None:
    validators = [public_key_address(key) for key in BESU_OPERATOR_PUBLIC_KEYS]
    assert [v.lower() for v in validators] == [
        "0xd5feb0fc5a54a89f97aeb34c3df15397c19f6dd2",
        "0xd6a9a4c886eb008ac307abdc1f38745c1dd13a88",
    ]
    assert genesis_extra_data(validators) == BESU_OPERATOR_EXTRA_DATA


def test_besu_genesis_files_are_reproduced() -> None:
    assert genesis_extra_data(["0xeac51e3fe1afc9894f0dfeab8ceb471899b932df"]) == BESU_ONE_VALIDATOR
    assert QbftExtraData(()).hex() == BESU_NO_VALIDATOR
    decoded = QbftExtraData.decode(BESU_ONE_VALIDATOR)
    assert [v.lower() for v in decoded.validators] == ["0xeac51e3fe1afc9894f0dfeab8ceb471899b932df"]
    assert (decoded.vote, decoded.round, decoded.seals) == (None, 0, ())
    assert decoded.vanity == bytes(32)


def test_a_drop_vote_is_rlp_null_and_round_zero_is_the_empty_string() -> None:
    recipient = "0x" + "ab" * 20
    encoded = QbftExtraData((recipient,), vote=Vote(recipient, add=False)).encode()
    # ... [validators] [0x94 <recipient> 0x80] 0x80 [] : the vote's null and round 0 as 0x80
    assert encoded.endswith(bytes.fromhex("d694" + "ab" * 20 + "80" + "80c0"))
    vote = QbftExtraData.decode(encoded).vote
    assert vote is not None
    assert (vote.recipient.lower(), vote.add) == (recipient, False)


addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())


@given(
    validators=st.lists(addresses, max_size=8),
    vanity=st.binary(min_size=32, max_size=32),
    vote=st.none() | st.builds(Vote, addresses, st.booleans()),
    round_=st.integers(0, 2**32 - 1),
    seals=st.lists(st.binary(min_size=65, max_size=65), max_size=4),
)
def test_round_trip(
    validators: list[str], vanity: bytes, vote: Vote | None, round_: int, seals: list[bytes]
) -> None:
    extra = QbftExtraData(tuple(validators), vanity, vote, round_, tuple(seals))
    decoded = QbftExtraData.decode(extra.encode())
    assert [v.lower() for v in decoded.validators] == validators
    assert (decoded.vanity, decoded.round, decoded.seals) == (vanity, round_, tuple(seals))
    if vote is None:
        assert decoded.vote is None
    else:
        assert decoded.vote is not None
        assert (decoded.vote.recipient.lower(), decoded.vote.add) == (vote.recipient, vote.add)
    assert decoded.encode() == extra.encode()


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ("0xzz", "not hex"),
        ("0x80", "not an RLP list of 5 items"),
        (BESU_NO_VALIDATOR[:-2], "not RLP"),
        ("0xe4" + "9f" + "00" * 31 + "c0c080c0", "vanity is not 32 bytes"),
        # round 0 written as 0x00 instead of the empty string: not minimal, Besu refuses it too
        ("0xe5a0" + "00" * 32 + "c0c000c0", "round"),
    ],
)
def test_malformed_extra_data_is_refused(data: str, words: str) -> None:
    with pytest.raises(LedgerError, match=words):
        QbftExtraData.decode(data)


def test_genesis_extra_data_refuses_no_validator_duplicates_and_bad_addresses() -> None:
    with pytest.raises(LedgerError, match="at least one validator"):
        genesis_extra_data([])
    with pytest.raises(LedgerError, match="listed twice"):
        genesis_extra_data(["0x" + "11" * 20, "0x" + "11" * 20])
    with pytest.raises(LedgerError, match="not a 20-byte address"):
        genesis_extra_data(["0x1234"])
