"""Reading input files: the one loader every command and every file format goes through.

A scenario (TOML), an order book (JSON), an injection file (JSON or CSV) and a JSON value given
on the command line are all read here, so the same input is refused the same way everywhere.
Each step turns what can go wrong into one :class:`~peergrid.core.errors.PeergridError` (or the
subclass the caller names) whose message starts with the source (the path as given, or
``<stdin>``) and says where in it:

1. **Bytes**: a path, or ``-`` for standard input; at most :data:`MAX_INPUT_BYTES` (a device
   that never ends, such as ``/dev/zero``, is cut off there).
2. **Text**: strict UTF-8 (a UTF-8 byte-order mark is skipped); a bad byte is named by line and
   column.
3. **Document**: JSON or TOML. A JSON object that gives the same key twice is refused (TOML
   refuses it itself). A number literal longer than :data:`MAX_NUMBER_DIGITS` digits is refused
   before Python would convert it.
4. **Walk**: nothing nested deeper than :data:`MAX_NESTING` levels (checked on the text before
   parsing too: Python's parsers recurse), and every number within the
   range of a float: an integer beyond ±1.797e308 (``10**400``) or a decimal that overflows to
   infinity (``1e400``) is refused where it stands, by its path (``orders[3].price``). ``NaN``
   and ``Infinity`` written as such in JSON, ``nan`` and ``inf`` in TOML, are read as floats:
   the field they fill refuses them by name, since none takes them.

Nothing here knows what the document means; the loaders of scenarios, order books and injection
files check their fields. Imports nothing of peergrid but its errors.
"""

from __future__ import annotations

import json
import math
import re
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from peergrid.core.errors import PeergridError

MAX_INPUT_BYTES = 64 * 2**20
"""Largest input file read, in bytes (64 MiB: a year of 15-minute injections at 100 buses)."""

MAX_NESTING = 32
"""Deepest nesting of lists and objects (tables) in an input; every format needs at most 4."""

MAX_NUMBER_DIGITS = 4000
"""Longest number literal read, in digits (a float's range ends at 309 digits; Python refuses to
convert more than 4300)."""

STDIN = "-"
"""The path that means standard input."""

ErrorType = Callable[[str], PeergridError]

_FLOAT_MAX = sys.float_info.max
_UTF8_BOM = b"\xef\xbb\xbf"
_LONG_NUMBER = re.compile(rf"[0-9_]{{{MAX_NUMBER_DIGITS + 1},}}")


def source_name(path: str | Path) -> str:
    """How messages name an input: the path as given, or ``<stdin>`` for ``-``."""
    return "<stdin>" if str(path) == STDIN else str(path)


def read_bytes(path: str | Path, *, what: str = "file", error: ErrorType = PeergridError) -> bytes:
    """The bytes of ``path`` (``-``: standard input), at most :data:`MAX_INPUT_BYTES`."""
    source = source_name(path)
    if str(path) == "":
        raise error(f"cannot read the {what}: the path is empty")
    try:
        if str(path) == STDIN:
            stream = sys.stdin.buffer if sys.stdin is not None else None
            if stream is None:
                raise error(f"{source}: cannot read the {what}: there is no standard input")
            data = stream.read(MAX_INPUT_BYTES + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise error(f"{source}: cannot read the {what} ({reason})") from None
    except ValueError as exc:  # e.g. a path with a NUL character
        raise error(f"{source}: cannot read the {what} ({exc})") from None
    if len(data) > MAX_INPUT_BYTES:
        raise error(f"{source}: the {what} is larger than {MAX_INPUT_BYTES // 2**20} MiB")
    return data


def decode_utf8(data: bytes, source: str, *, error: ErrorType = PeergridError) -> str:
    """``data`` as text: strict UTF-8, a leading byte-order mark skipped."""
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = exc.start
        line_start = data.rfind(b"\n", 0, start) + 1
        line = data.count(b"\n", 0, start) + 1
        column = len(data[line_start:start].decode("utf-8", errors="replace")) + 1
        raise error(
            f"{source}: not UTF-8 (line {line}, column {column}: byte 0x{data[start]:02x}); "
            "save the file as UTF-8"
        ) from None


def read_text(path: str | Path, *, what: str = "file", error: ErrorType = PeergridError) -> str:
    """:func:`read_bytes` then :func:`decode_utf8`."""
    return decode_utf8(read_bytes(path, what=what, error=error), source_name(path), error=error)


def read_json(path: str | Path, *, what: str = "file", error: ErrorType = PeergridError) -> Any:
    """A JSON document from ``path`` (``-``: standard input), checked as the module says."""
    return parse_json(read_bytes(path, what=what, error=error), source_name(path), error=error)


def read_toml(
    path: str | Path, *, what: str = "file", error: ErrorType = PeergridError
) -> dict[str, Any]:
    """A TOML document from ``path`` (``-``: standard input), checked as the module says."""
    return parse_toml(read_bytes(path, what=what, error=error), source_name(path), error=error)


class _OutOfRange:
    """A number literal beyond the float range, found while parsing (reported by the walk)."""

    def __init__(self, literal: str) -> None:
        self.literal = literal

    def describe(self) -> str:
        digits = self.literal.lstrip("+-")
        if len(digits) > MAX_NUMBER_DIGITS:
            return f"a number of {len(digits)} digits is beyond the range of a float (±1.8e308)"
        if digits.isdigit() and len(digits) > 24:
            shown = f"{self.literal[:12]}… ({len(digits)} digits)"
        else:
            shown = self.literal
        kind = "integer" if digits.isdigit() else "number"
        return f"the {kind} {shown} is beyond the range of a float (±1.8e308)"


class _DuplicateKey:
    """A JSON object that gives ``key`` twice (reported by the walk)."""

    def __init__(self, key: str) -> None:
        self.key = key


def _json_int(literal: str) -> int | _OutOfRange:
    if len(literal.lstrip("-")) > MAX_NUMBER_DIGITS:
        return _OutOfRange(literal)
    value = int(literal)
    return value if abs(value) <= _FLOAT_MAX else _OutOfRange(literal)


def _json_float(literal: str) -> float | _OutOfRange:
    value = float(literal)
    return value if math.isfinite(value) else _OutOfRange(literal)


def _toml_float(literal: str) -> float | _OutOfRange:
    value = float(literal)
    if math.isfinite(value) or literal.lstrip("+-") in ("inf", "nan"):
        return value
    return _OutOfRange(literal)


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any] | _DuplicateKey:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            return _DuplicateKey(key)
        result[key] = value
    return result


def parse_json(
    data: bytes | str,
    source: str,
    *,
    error: ErrorType = PeergridError,
    plain_text: bool = False,
) -> Any:
    """A JSON document, checked as the module says. With ``plain_text``, text that is not JSON
    at all is returned as the string it is (for ``--param key=value``)."""
    text = decode_utf8(data, source, error=error) if isinstance(data, bytes) else data
    _check_nesting(text, _JSON_TOKENS, source, error)
    flagged: list[object] = []

    def flag(value: Any) -> Any:
        if isinstance(value, _OutOfRange | _DuplicateKey):
            flagged.append(value)
        return value

    try:
        document = json.loads(
            text,
            parse_int=lambda literal: flag(_json_int(literal)),
            parse_float=lambda literal: flag(_json_float(literal)),
            object_pairs_hook=lambda pairs: flag(_json_object(pairs)),
        )
    except json.JSONDecodeError as exc:
        if plain_text:
            return text
        raise error(
            f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
        ) from None
    if flagged:  # the walk names where
        _walk(document, (), source, error)
    return document


def parse_toml(
    data: bytes | str, source: str, *, error: ErrorType = PeergridError
) -> dict[str, Any]:
    """A TOML document, checked as the module says."""
    text = decode_utf8(data, source, error=error) if isinstance(data, bytes) else data
    long_number = _LONG_NUMBER.search(text)
    if long_number is not None:
        line, column = _position(text, long_number.start())
        digits = len(long_number.group().replace("_", ""))
        raise error(
            f"{source}: line {line}, column {column}: a number of {digits} digits is beyond the "
            "range of a float (±1.8e308)"
        )
    _check_nesting(text, _TOML_TOKENS, source, error)
    try:
        document = tomllib.loads(text, parse_float=_toml_float)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{source}: not valid TOML: {exc}") from None
    except ValueError as exc:  # a conversion tomllib does not wrap
        raise error(f"{source}: not valid TOML: {exc}") from None
    _walk(document, (), source, error)
    return document


def _walk(value: Any, path: tuple[str | int, ...], source: str, error: ErrorType) -> None:
    """Refuse, in document order, the first value nested too deep or out of range (the
    nesting is bounded already, so the recursion is too)."""
    items: Any
    if type(value) is dict:
        items = value.items()
    elif type(value) is list:
        items = enumerate(value)
    else:
        _check_value(value, path, source, error)
        return
    if len(path) >= MAX_NESTING:
        raise error(f"{source}: {format_path(path)}: nested deeper than {MAX_NESTING} levels")
    for key, item in items:
        kind = type(item)
        if kind is float or kind is str or kind is bool:
            continue
        _walk(item, (*path, key), source, error)


def _check_value(value: Any, path: tuple[str | int, ...], source: str, error: ErrorType) -> None:
    where = f"{source}: {format_path(path)}: " if path else f"{source}: "
    if isinstance(value, _OutOfRange):
        raise error(where + value.describe())
    if isinstance(value, _DuplicateKey):
        raise error(f"{where}the key {value.key!r} appears twice")
    if type(value) is int and abs(value) > _FLOAT_MAX:
        raise error(where + _OutOfRange(str(value)).describe())


def format_path(path: tuple[str | int, ...], *, limit: int = 8) -> str:
    """``orders[3].price``: a path into a document, cut after ``limit`` steps."""
    parts: list[str] = []
    for step in path[:limit]:
        if isinstance(step, int):
            parts.append(f"[{step}]")
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", step):
            parts.append(f".{step}" if parts else step)
        else:
            parts.append(f"[{step!r}]")
    return "".join(parts) + ("…" if len(path) > limit else "")


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


# What the nesting scan looks at: strings (skipped whole, with what they hold), comments (TOML),
# and the brackets that open and close lists and objects (tables).
_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)
_TOML_TOKENS = re.compile(
    r'"""(?:[^\\]|\\.)*?(?:"""|$)|\'\'\'.*?(?:\'\'\'|$)'
    r'|"(?:[^"\\\n]|\\.)*"?|\'[^\'\n]*\'?|#[^\n]*|[\[\]{}]',
    re.DOTALL,
)


def _check_nesting(text: str, tokens: re.Pattern[str], source: str, error: ErrorType) -> None:
    """Refuse a document nested deeper than :data:`MAX_NESTING` levels before it is parsed:
    Python's parsers recurse, and a deep enough document exhausts the stack."""
    level = 0
    for match in tokens.finditer(text):
        char = match.group()
        if char == "[" or char == "{":
            level += 1
            if level > MAX_NESTING:
                line, column = _position(text, match.start())
                raise error(
                    f"{source}: line {line}, column {column}: nested deeper than "
                    f"{MAX_NESTING} levels"
                )
        elif char == "]" or char == "}":
            level -= 1


def first_validation_error(exc: Any, *, unknown: str = "unknown field") -> tuple[str, str]:
    """``(field, message)`` of the first error of a pydantic ``ValidationError``: the field as
    a dotted path (empty for a check across fields) and what is wrong with it. A key the model
    does not know reads ``unknown``, a key it needs "missing"; pydantic's own type errors say
    what was given, while the models' validators quote the value themselves."""
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = unknown
    elif error["type"] == "missing":
        message = "missing"
    elif error["type"] != "value_error":
        message = f"{message} (got {error.get('input')!r})"
    return field, message
