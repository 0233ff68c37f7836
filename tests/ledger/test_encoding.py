"""Calldata encoders per function shape: eth_abi's bytes, eth_abi's refusals."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi import decode, encode
from hypothesis import given, settings
from hypothesis import strategies as st

from peergrid.ledger.chain.encoding import decoder_for, encoder_for

STATIC = ["uint8", "uint32", "uint256", "int8", "int256", "bool", "address", "bytes32", "bytes4"]
TUPLES = ["(address,uint256,int256,uint8,bytes32)", "(bool,int8)"]
"""Static tuples (structs), such as the DVPP's signed meter report."""


def value_for(kind: str) -> st.SearchStrategy[Any]:
    """Values of ``kind``, in range and (a few) out of it."""
    if kind.endswith("[]"):
        return st.lists(value_for(kind[:-2]), max_size=4)
    if kind.startswith("("):
        return st.tuples(*(value_for(member) for member in kind[1:-1].split(",")))
    if kind == "bool":
        return st.booleans()
    if kind == "address":
        return st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
    if kind.startswith("bytes"):
        return st.binary(max_size=int(kind[5:]) + 1)
    bits = int(kind.removeprefix("u").removeprefix("int"))
    if kind.startswith("u"):
        return st.integers(-1, 2**bits)
    return st.integers(-(2 ** (bits - 1)) - 1, 2 ** (bits - 1))


@st.composite
def shapes_and_values(draw: st.DrawFn) -> tuple[tuple[str, ...], list[Any]]:
    kinds = tuple(
        draw(
            st.lists(
                st.sampled_from(STATIC + TUPLES + [k + "[]" for k in STATIC + TUPLES]), max_size=5
            )
        )
    )
    return kinds, [draw(value_for(k)) for k in kinds]


@settings(max_examples=300, deadline=None)
@given(shapes_and_values())
def test_the_bytes_and_the_refusals_are_eth_abi_s(case: tuple[tuple[str, ...], list[Any]]) -> None:
    kinds, values = case
    try:
        expected: bytes | None = encode(list(kinds), values)
    except Exception:  # eth_abi refuses: so must the encoder
        expected = None
    if expected is None:
        with pytest.raises((ValueError, TypeError)):
            encoder_for(kinds)(values)
    else:
        assert encoder_for(kinds)(values) == expected


def test_a_shape_it_does_not_write_out_goes_to_eth_abi() -> None:
    kinds = ("(uint256,(address,bool))", "string", "uint256[2]")
    values = [(7, ("0x" + "ab" * 20, True)), "text", [1, 2]]
    assert encoder_for(kinds)(values) == encode(list(kinds), values)


def test_wrong_arity_and_wrong_types_are_refused() -> None:
    encoder = encoder_for(("uint256", "bool"))
    with pytest.raises(ValueError, match="expected 2 arguments"):
        encoder([1])
    with pytest.raises(TypeError, match="bool takes a bool"):
        encoder([1, 1])
    with pytest.raises(TypeError, match="uint256 takes an int"):
        encoder([True, True])
    with pytest.raises(ValueError, match="not a 20-byte address"):
        encoder_for(("address",))(["0x" + "ab" * 19 + "  "])  # fromhex skips spaces


def word_for(kind: str) -> st.SearchStrategy[bytes]:
    """32-byte words of ``kind``: mostly valid, some eth_abi refuses (range, padding)."""
    size = int(kind[5:]) if kind.startswith("bytes") else 0
    valid = value_for(kind).filter(lambda v: _encodes(kind, v)).map(lambda v: encode([kind], [v]))
    noise = st.binary(min_size=32, max_size=32)
    return st.one_of(valid, valid, noise) if size or kind != "uint256" else valid


def _encodes(kind: str, value: Any) -> bool:
    try:
        encode([kind], [value])
    except Exception:
        return False
    return True


@st.composite
def rows(draw: st.DrawFn) -> tuple[tuple[str, ...], bytes]:
    kinds = tuple(draw(st.lists(st.sampled_from(STATIC), max_size=5)))
    data = b"".join(draw(word_for(k)) for k in kinds)
    return kinds, data[: draw(st.sampled_from([len(data), len(data), max(0, len(data) - 1)]))]


@settings(max_examples=400, deadline=None)
@given(rows())
def test_a_decoded_row_and_its_refusals_are_eth_abi_s(case: tuple[tuple[str, ...], bytes]) -> None:
    kinds, data = case
    try:
        expected: tuple[Any, ...] | None = tuple(decode(list(kinds), data))
    except Exception:  # eth_abi refuses: so must the decoder
        expected = None
    if expected is None:
        with pytest.raises(Exception):  # noqa: B017 - eth_abi's own error, whichever it is
            decoder_for(kinds)(data)
    else:
        assert decoder_for(kinds)(data) == expected


def test_a_shape_it_does_not_read_word_by_word_goes_to_eth_abi() -> None:
    kinds = ("uint256[]", "string")
    data = encode(list(kinds), [[1, 2], "text"])
    assert decoder_for(kinds)(data) == ((1, 2), "text")
