"""The one input loader: bytes, UTF-8, JSON and TOML, nesting and numbers, each failure one
PeergridError naming the source and where."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from peergrid.core.errors import OrderError, PeergridError
from peergrid.core.inputs import (
    MAX_INPUT_BYTES,
    MAX_NESTING,
    format_path,
    parse_json,
    parse_toml,
    read_bytes,
    read_json,
    read_toml,
)

HUGE = "1" + "0" * 400


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"a": [1, \xff]}', "b.json: not UTF-8 (line 1, column 11: byte 0xff)"),
        (b'{"a":\n  "M\xfcller"}', "b.json: not UTF-8 (line 2, column 5: byte 0xfc)"),
        (b'{"a": ', "b.json: not valid JSON (line 1, column 7): Expecting value"),
        (b"[" * 100_000 + b"]" * 100_000, "b.json: line 1, column 33: nested deeper than 32"),
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "b.json: line 1, column 161: nested"),
        (f'{{"x": [1, {HUGE}]}}'.encode(), "b.json: x[1]: the integer 100000000000… (401"),
        (b'{"x": {"y": -1e400}}', "b.json: x.y: the number -1e400 is beyond the range"),
        (b'{"x": ' + b"9" * 5000 + b"}", "b.json: x: a number of 5000 digits"),
        (b'{"a": 1, "a": 2}', "b.json: the key 'a' appears twice"),
        (b'{"o": [{"k": 1, "k": 1}]}', "b.json: o[0]: the key 'k' appears twice"),
    ],
)
def test_json_failures_name_the_source_and_where(data: bytes, message: str) -> None:
    with pytest.raises(PeergridError) as caught:
        parse_json(data, "b.json")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'name = "\xff"', "s.toml: not UTF-8 (line 1, column 9: byte 0xff)"),
        (b"[time\n", "s.toml: not valid TOML"),
        (b"a = 1\na = 2\n", "s.toml: not valid TOML"),
        (b"x = " + b"[" * 100_000 + b"]" * 100_000, "s.toml: line 1, column 37: nested deeper"),
        (f"[a]\nseed = {HUGE}\n".encode(), "s.toml: a.seed: the integer 100000000000…"),
        (b"x = 1e400\n", "s.toml: x: the number 1e400 is beyond the range"),
        (b"x = " + b"9" * 5000 + b"\n", "s.toml: line 1, column 5: a number of 5000 digits"),
    ],
)
def test_toml_failures_name_the_source_and_where(data: bytes, message: str) -> None:
    with pytest.raises(PeergridError) as caught:
        parse_toml(data, "s.toml")
    assert message in str(caught.value)


def test_nan_and_infinity_are_left_to_the_fields() -> None:
    assert str(parse_json(b"[NaN, Infinity, -Infinity]", "b")) == "[nan, inf, -inf]"
    assert str(parse_toml(b"a = nan\nb = -inf\n", "s")) == "{'a': nan, 'b': -inf}"


def test_brackets_in_strings_and_comments_are_not_nesting() -> None:
    deep = "[" * (MAX_NESTING + 5)
    assert parse_json(f'["{deep}"]'.encode(), "b") == [deep]
    assert parse_toml(f'x = \'{deep}\' # {deep}\ny = """{deep}"""\n'.encode(), "s") == {
        "x": deep,
        "y": deep,
    }


def test_a_byte_order_mark_is_skipped() -> None:
    assert parse_json(b"\xef\xbb\xbf[1]", "b") == [1]


def test_plain_text_for_command_line_values() -> None:
    assert parse_json("eq4.7", "--param x", plain_text=True) == "eq4.7"
    assert parse_json("0.5", "--param x", plain_text=True) == 0.5
    with pytest.raises(PeergridError, match="--param x: the number 1e400"):
        parse_json("1e400", "--param x", plain_text=True)


def test_the_caller_names_the_error_type(tmp_path: Path) -> None:
    with pytest.raises(OrderError, match="cannot read the order file"):
        read_json(tmp_path / "none.json", what="order file", error=OrderError)
    with pytest.raises(PeergridError, match=r"[Ii]s a directory"):
        read_toml(tmp_path, what="scenario file")
    with pytest.raises(PeergridError, match="the path is empty"):
        read_bytes("")


def test_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(b'{"a": \xff}'))
    monkeypatch.setattr(sys, "stdin", stdin)
    with pytest.raises(PeergridError, match="<stdin>: not UTF-8"):
        read_json("-")


def test_an_endless_file_is_cut_off(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    with big.open("wb") as handle:
        handle.truncate(MAX_INPUT_BYTES + 1)
    with pytest.raises(PeergridError, match="larger than 64 MiB"):
        read_json(big)


def test_paths_are_written_as_in_the_document() -> None:
    assert format_path(("orders", 3, "price")) == "orders[3].price"
    assert format_path(("a b", 0)) == "['a b'][0]"
    assert format_path(tuple(range(10))) == "[0][1][2][3][4][5][6][7]…"
