"""Calldata encoders per function shape: the ABI encoding of eth_abi, built once per shape.

eth_abi validates and encodes every argument through several layers of objects; a ledger
simulation encodes the same few shapes (``commit(uint256,bytes32,bytes32)``, ``reveal(...)``,
``post_clearing(uint256,uint256[],bool)``) thousands of times, and that was a third of the
Python time of a slot. :func:`encoder_for` returns, once per tuple of types, a function that
encodes an argument list: written out here for the elementary static types (``uintN``, ``intN``,
``bool``, ``address``, ``bytesN``), tuples of them (static structs: the DVPP's signed meter
reports) and dynamic arrays of both, with the same checks (a value out of range, of the wrong
type or length raises ``ValueError``/``TypeError``), and eth_abi's own encoder for any other
shape. The bytes are eth_abi's; a property test holds them equal.

:func:`decoder_for` is the way back for the shapes events log most (a meter's settlement, a
fill): a row of elementary static types, read word by word; anything else, and any word
eth_abi would refuse (a value out of range, padding not zero, too few bytes), goes to eth_abi,
so the values and the refusals are eth_abi's (a property test holds them equal).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any, TypeVar

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode

Encoder = Callable[[Sequence[Any]], bytes]
_Word = Callable[[Any], bytes]


def _uint_word(bits: int) -> _Word:
    top = 1 << bits

    def word(value: Any) -> bytes:
        if not isinstance(value, int) or isinstance(value, bool):  # as eth_abi
            raise TypeError(f"uint{bits} takes an int, got {value!r}")
        if not 0 <= value < top:
            raise ValueError(f"{value} is out of range for uint{bits}")
        return value.to_bytes(32, "big")

    return word


def _int_word(bits: int) -> _Word:
    low, high = -(1 << (bits - 1)), 1 << (bits - 1)

    def word(value: Any) -> bytes:
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"int{bits} takes an int, got {value!r}")
        if not low <= value < high:
            raise ValueError(f"{value} is out of range for int{bits}")
        return value.to_bytes(32, "big", signed=True)

    return word


def _bool_word(value: Any) -> bytes:
    if type(value) is not bool:
        raise TypeError(f"bool takes a bool, got {value!r}")
    return (31 * b"\0") + (b"\1" if value else b"\0")


def _address_word(value: Any) -> bytes:
    # eth_abi takes any 40 hex digits (with or without 0x, any case) or 20 bytes.
    if isinstance(value, str):
        text = value[2:] if value.startswith(("0x", "0X")) else value
        if len(text) != 40:
            raise ValueError(f"{value!r} is not a 20-byte address")
        raw = bytes.fromhex(text)
        if len(raw) == 20:  # fromhex skips spaces
            return 12 * b"\0" + raw
        raise ValueError(f"{value!r} is not a 20-byte address")
    if isinstance(value, bytes | bytearray) and len(value) == 20:
        return 12 * b"\0" + bytes(value)
    raise TypeError(f"address takes a 20-byte address, got {value!r}")


def _bytes_word(size: int) -> _Word:
    def word(value: Any) -> bytes:
        if not isinstance(value, bytes | bytearray):
            raise TypeError(f"bytes{size} takes bytes, got {value!r}")
        if len(value) > size:
            raise ValueError(f"{len(value)} bytes do not fit in bytes{size}")
        return bytes(value).ljust(32, b"\0")

    return word


_WIDTHS = {"uint": range(8, 257, 8), "int": range(8, 257, 8), "bytes": range(1, 33)}
_T = TypeVar("_T")


def _per_type(
    kind: str, fixed: Mapping[str, _T], sized: Mapping[str, Callable[[int], _T]]
) -> _T | None:
    """What ``fixed`` (``bool``, ``address``) or ``sized`` (``uint``, ``int``, ``bytes``, made
    for the width) holds for the elementary static type ``kind``; ``None`` for any other."""
    if kind in fixed:
        return fixed[kind]
    for family, widths in _WIDTHS.items():
        rest = kind[len(family) :]
        if kind.startswith(family) and rest.isdigit() and int(rest) in widths:
            return sized[family](int(rest))
    return None


def _elementary(kind: str) -> _Word | None:
    """The word encoder of an elementary static type, or ``None`` for any other type."""
    return _per_type(kind, _FIXED_WORDS, _SIZED_WORDS)


_FIXED_WORDS: dict[str, _Word] = {"bool": _bool_word, "address": _address_word}
_SIZED_WORDS: dict[str, Callable[[int], _Word]] = {
    "uint": _uint_word,
    "int": _int_word,
    "bytes": _bytes_word,
}


def _static_tuple(kind: str) -> _Word | None:
    """The encoder of a tuple ``(t1,...,tn)`` of elementary static types (its words in order),
    or ``None`` for any other type."""
    if not (kind.startswith("(") and kind.endswith(")")) or "(" in kind[1:]:
        return None
    words = [_elementary(member) for member in kind[1:-1].split(",")]
    if not words or any(word is None for word in words):
        return None
    members: list[_Word] = [word for word in words if word is not None]
    n = len(members)

    def encode(value: Any) -> bytes:
        if not isinstance(value, list | tuple):
            raise TypeError(f"a tuple takes a list or tuple, got {value!r}")
        if len(value) != n:
            raise ValueError(f"{kind} takes {n} values, got {len(value)}")
        return b"".join(word(v) for word, v in zip(members, value, strict=True))

    return encode


@lru_cache(maxsize=512)
def encoder_for(types: tuple[str, ...]) -> Encoder:
    """An encoder of argument lists of ``types``, identical to ``eth_abi.encode(types, ...)``."""
    heads: list[tuple[_Word, bool]] = []  # (element encoder, is a dynamic array)
    head_size = 0  # a static tuple takes one head word per member
    for kind in types:
        array = kind.endswith("[]")
        element = kind[:-2] if array else kind
        word = _elementary(element) or _static_tuple(element)
        if word is None:
            shape = list(types)
            return lambda args: abi_encode(shape, list(args))
        heads.append((word, array))
        head_size += 32 if array or not element.startswith("(") else 32 * (element.count(",") + 1)
    n = len(types)

    def encode(args: Sequence[Any]) -> bytes:
        if len(args) != n:
            raise ValueError(f"expected {n} arguments, got {len(args)}")
        head: list[bytes] = []
        tail: list[bytes] = []
        offset = head_size
        for (word, array), value in zip(heads, args, strict=True):
            if not array:
                head.append(word(value))
                continue
            if not isinstance(value, list | tuple):
                raise TypeError(f"an array takes a list or tuple, got {value!r}")
            head.append(offset.to_bytes(32, "big"))
            tail.append(len(value).to_bytes(32, "big"))
            start = len(tail)
            tail.extend(word(v) for v in value)
            offset += 32 + sum(len(part) for part in tail[start:])
        return b"".join(head) + b"".join(tail)

    return encode


Decoder = Callable[[bytes], tuple[Any, ...]]
_Read = Callable[[bytes], Any]
"""Reads one 32-byte word; raises ``ValueError`` where eth_abi would refuse it."""


class _Refused(ValueError):
    """A word the fast reader leaves to eth_abi."""


def _uint_read(bits: int) -> _Read:
    top = 1 << bits

    def read(word: bytes) -> int:
        value = int.from_bytes(word, "big")
        if value >= top:
            raise _Refused
        return value

    return read


def _int_read(bits: int) -> _Read:
    low, high = -(1 << (bits - 1)), 1 << (bits - 1)

    def read(word: bytes) -> int:
        value = int.from_bytes(word, "big", signed=True)
        if not low <= value < high:
            raise _Refused
        return value

    return read


def _bool_read(word: bytes) -> bool:
    value = int.from_bytes(word, "big")
    if value > 1:
        raise _Refused
    return value == 1


def _address_read(word: bytes) -> str:
    if any(word[:12]):
        raise _Refused
    return "0x" + word[12:].hex()  # lower case, as eth_abi gives it


def _bytes_read(size: int) -> _Read:
    def read(word: bytes) -> bytes:
        if any(word[size:]):
            raise _Refused
        return word[:size]

    return read


_FIXED_READS: dict[str, _Read] = {"bool": _bool_read, "address": _address_read}
_SIZED_READS: dict[str, Callable[[int], _Read]] = {
    "uint": _uint_read,
    "int": _int_read,
    "bytes": _bytes_read,
}


@lru_cache(maxsize=512)
def decoder_for(types: tuple[str, ...]) -> Decoder:
    """A decoder of ``types`` from ABI bytes, identical to ``eth_abi.decode(types, ...)``."""
    shape = list(types)
    readers = [_per_type(kind, _FIXED_READS, _SIZED_READS) for kind in types]
    if any(read is None for read in readers):
        return lambda data: tuple(abi_decode(shape, data))
    words: list[_Read] = [read for read in readers if read is not None]
    size = 32 * len(words)

    def decode(data: bytes) -> tuple[Any, ...]:
        if len(data) >= size:
            try:
                return tuple(read(data[32 * i : 32 * i + 32]) for i, read in enumerate(words))
            except _Refused:
                pass
        return tuple(abi_decode(shape, data))  # its values, or its refusal

    return decode
