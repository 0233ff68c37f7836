"""Every bad input to every command is refused in one line, with exit status 2, before any work.

The rows are in :mod:`tests.e2e.bad_inputs`. They run in-process through typer's runner (the
whole table takes well under a minute); a few run as real subprocesses to show that a real
process prints no traceback either.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from peergrid.cli import app

from .bad_inputs import DEEP, INVALID_UTF8, ROWS, Bad
from .test_cli import peergrid


def _files(folder: Path, row: Bad) -> None:
    for name, data in row.files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_bad_input_is_refused_in_one_line(
    row: Bad, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _files(tmp_path, row)
    before = _tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, list(row.args), input=row.stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    lines = result.stderr.splitlines()
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: "), lines
    assert row.error in lines[0], lines[0]
    assert result.stdout == ""
    # Refused before any work: nothing was written.
    assert _tree(tmp_path) == before


def test_the_table_is_large() -> None:
    assert len(ROWS) >= 150
    assert len({row.id for row in ROWS}) == len(ROWS)


@pytest.mark.parametrize(
    ("args", "stdin", "words"),
    [
        (("clear", "-"), b'{"orders": [' + INVALID_UTF8 + b"]}", "<stdin>: not UTF-8"),
        (("clear", "-"), b"[" * DEEP + b"]" * DEEP, "<stdin>: line 1, column 33: nested deeper"),
        (("run", "-"), b'name = "[/]"\n', "<stdin>: name: must be a file name"),
        (("grid", "validate", "case33bw", "-"), b"slot,p_kw:3\n", "<stdin>: no slots"),
    ],
    ids=["invalid-utf8", "deep", "markup-name", "no-slots"],
)
def test_a_real_process_prints_no_traceback(
    args: tuple[str, ...], stdin: bytes, words: str, tmp_path: Path
) -> None:
    done = peergrid_bytes(args, stdin, tmp_path)
    assert done.returncode == 2
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and words in lines[0], lines


def peergrid_bytes(
    args: tuple[str, ...], stdin: bytes, cwd: Path
) -> subprocess.CompletedProcess[bytes]:
    """The command in a fresh interpreter, run in ``cwd`` from this checkout's sources."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src"))
    return subprocess.run(
        [sys.executable, "-m", "peergrid", *args],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
    )


def test_version() -> None:
    done = peergrid("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "peergrid 0.1.0"
