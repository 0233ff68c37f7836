"""Contract ABI encoding and decoding, shared by every chain backend.

A backend moves bytes; this module turns a function name and Python arguments into calldata,
return data into Python values, logs into named events and revert data into a reason string.
Conventions: addresses are checksum strings both ways; ``bytes32`` is ``bytes``; a struct is a
tuple in field order (a decoded struct is a tuple too); integers are Python ints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from eth_abi import decode, encode
from eth_abi.exceptions import DecodingError, EncodingError
from eth_utils import keccak, to_checksum_address

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.encoding import decoder_for, encoder_for

ERROR_SELECTOR = keccak(text="Error(string)")[:4]
PANIC_SELECTOR = keccak(text="Panic(uint256)")[:4]

_PANIC_CODES = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "invalid enum value",
    0x32: "array index out of bounds",
    0x41: "out of memory",
}


@lru_cache(maxsize=65_536)
def checksum_address(address: str) -> str:
    """``to_checksum_address``, remembered: a ledger sees a few hundred addresses, millions of
    times (each costs a keccak)."""
    return str(to_checksum_address(address))


def type_string(param: Mapping[str, Any]) -> str:
    """The canonical ABI type of a parameter: tuples spelled out as ``(t1,t2,...)``."""
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(type_string(c) for c in param["components"])
        return f"({inner}){kind[len('tuple') :]}"
    return kind


def _normalise(kind: str, value: Any) -> Any:
    """Decoded value with checksum addresses, recursing into arrays and tuples."""
    if kind.endswith("]"):
        element = kind[: kind.rindex("[")]
        return tuple(_normalise(element, v) for v in value)
    if kind.startswith("("):
        return tuple(_normalise(t, v) for t, v in zip(_split_tuple(kind), value, strict=True))
    if kind == "address":
        return checksum_address(value)
    return value


def _split_tuple(kind: str) -> list[str]:
    """``(a,(b,c)[],d)`` -> ``["a", "(b,c)[]", "d"]``."""
    parts: list[str] = []
    depth = 0
    start = 1
    for i, ch in enumerate(kind[1:-1], start=1):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(kind[start:i])
            start = i + 1
    parts.append(kind[start:-1])
    return parts


@dataclass(frozen=True, slots=True)
class FunctionAbi:
    name: str
    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    mutates: bool

    @property
    def signature(self) -> str:
        return f"{self.name}({','.join(self.inputs)})"


@dataclass(frozen=True, slots=True)
class EventAbi:
    name: str
    topic: bytes
    names: tuple[str, ...]
    types: tuple[str, ...]
    indexed: tuple[bool, ...]


@dataclass(frozen=True, slots=True)
class Log:
    """A raw log as a receipt carries it."""

    address: str
    topics: tuple[bytes, ...]
    data: bytes


@dataclass(frozen=True, slots=True)
class Event:
    """A decoded log: the emitting contract's name, the event name and its arguments."""

    contract: str
    address: str
    name: str
    args: Mapping[str, Any]


class ContractAbi:
    """The functions, constructor and events of one contract ABI, ready to encode and decode."""

    def __init__(self, name: str, abi: Sequence[Mapping[str, Any]]):
        self.name = name
        self._functions: dict[str, list[FunctionAbi]] = {}
        self._constructor: tuple[str, ...] = ()
        self._events: dict[bytes, EventAbi] = {}
        self._topics: dict[str, bytes] = {}
        for item in abi:
            kind = item.get("type")
            if kind == "function":
                inputs = tuple(type_string(p) for p in item.get("inputs", ()))
                outputs = tuple(type_string(p) for p in item.get("outputs", ()))
                fn_name = str(item["name"])
                selector = keccak(text=f"{fn_name}({','.join(inputs)})")[:4]
                mutates = item.get("stateMutability") not in ("view", "pure")
                fn = FunctionAbi(fn_name, selector, inputs, outputs, mutates)
                self._functions.setdefault(fn_name, []).append(fn)
            elif kind == "constructor":
                self._constructor = tuple(type_string(p) for p in item.get("inputs", ()))
            elif kind == "event":
                params = item.get("inputs", ())
                types = tuple(type_string(p) for p in params)
                topic = keccak(text=f"{item['name']}({','.join(types)})")
                self._events[topic] = EventAbi(
                    name=str(item["name"]),
                    topic=topic,
                    names=tuple(str(p["name"]) for p in params),
                    types=types,
                    indexed=tuple(bool(p.get("indexed")) for p in params),
                )
                self._topics[str(item["name"])] = topic

    def function(self, fn_name: str, n_args: int) -> FunctionAbi:
        """The function called ``fn_name`` taking ``n_args`` arguments."""
        candidates = self._functions.get(fn_name)
        call = f"{self.name}.{fn_name}"
        if not candidates:
            raise LedgerError(call, "no such function in the contract ABI")
        for fn in candidates:
            if len(fn.inputs) == n_args:
                return fn
        arities = sorted(len(fn.inputs) for fn in candidates)
        raise LedgerError(call, f"takes {arities} arguments, got {n_args}")

    def encode_call(self, fn: FunctionAbi, args: Sequence[Any]) -> bytes:
        try:
            return fn.selector + encoder_for(fn.inputs)(args)
        except (EncodingError, TypeError, ValueError) as exc:
            raise LedgerError(f"{self.name}.{fn.name}", f"bad argument: {exc}") from exc

    def encode_constructor(self, args: Sequence[Any]) -> bytes:
        if len(args) != len(self._constructor):
            raise LedgerError(
                f"{self.name}.constructor",
                f"takes {len(self._constructor)} arguments, got {len(args)}",
            )
        try:
            return encode(list(self._constructor), list(args))
        except (EncodingError, TypeError, ValueError) as exc:
            raise LedgerError(f"{self.name}.constructor", f"bad argument: {exc}") from exc

    def decode_output(self, fn: FunctionAbi, data: bytes) -> Any:
        """One output: its value; several: a tuple; none: ``None``."""
        if not fn.outputs:
            return None
        try:
            values = decode(list(fn.outputs), data)
        except DecodingError as exc:
            raise LedgerError(f"{self.name}.{fn.name}", f"undecodable output: {exc}") from exc
        normalised = tuple(_normalise(t, v) for t, v in zip(fn.outputs, values, strict=True))
        return normalised[0] if len(normalised) == 1 else normalised

    def topic_of(self, event_name: str) -> bytes | None:
        """The first topic of the event called ``event_name``, or ``None`` if not declared."""
        return self._topics.get(event_name)

    def decode_log(self, log: Log) -> Event | None:
        """The event of ``log``, or ``None`` if this ABI does not declare it."""
        if not log.topics:
            return None
        event = self._events.get(log.topics[0])
        if event is None:
            return None
        data_types = tuple(t for t, ix in zip(event.types, event.indexed, strict=True) if not ix)
        data_values = iter(decoder_for(data_types)(log.data))
        topics = iter(log.topics[1:])
        args: dict[str, Any] = {}
        for name, kind, ix in zip(event.names, event.types, event.indexed, strict=True):
            value = decoder_for((kind,))(next(topics))[0] if ix else next(data_values)
            args[name] = _normalise(kind, value)
        return Event(contract=self.name, address=log.address, name=event.name, args=args)


def revert_reason(data: bytes) -> str:
    """A readable reason from revert data: ``Error(string)``, ``Panic(uint256)`` or raw."""
    if data[:4] == ERROR_SELECTOR:
        try:
            return str(decode(["string"], data[4:])[0])
        except DecodingError:
            return f"reverted with malformed Error(string) data 0x{data.hex()}"
    if data[:4] == PANIC_SELECTOR and len(data) == 36:
        code = int.from_bytes(data[4:], "big")
        return f"panic 0x{code:02x} ({_PANIC_CODES.get(code, 'unknown panic code')})"
    if not data:
        return "reverted without a reason (a failed built-in check, such as arithmetic or bounds)"
    return f"reverted with data 0x{data.hex()}"
