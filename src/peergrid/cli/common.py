"""What every command shares: its conventions, and the checks of what it will write.

Conventions (docs/decisions.md, "Input and output rules"):

- The main input file is a positional argument (``-`` reads standard input); ``clear --orders``
  and ``grid validate --injections`` still work, as the older spelling.
- ``-o/--output <folder>`` is always an output *folder*; a single output file is
  ``--out-file <path>``. A command refuses, before any work, an output it cannot write, and an
  output that holds something already (a non-empty folder, an existing file) unless it is given
  ``--overwrite``.
- A short option means one thing in every command: ``-o`` output folder, ``-q`` quiet, ``-v``
  verbose, ``-m`` mechanism, ``-p`` port.
- Help shows what a value is (``<folder>``, ``<path>``, ``<kw>``, ``<url>``), never a Python
  type; flags show none.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from peergrid.core.errors import PeergridError


class _HelpWithoutType:
    """``--help`` is a flag: no ``<bool>`` beside it."""

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            option.metavar = ""
        return option


class Command(_HelpWithoutType, TyperCommand):
    """Every ``peergrid`` command."""


class Group(_HelpWithoutType, TyperGroup):
    """Every ``peergrid`` command group."""


class feeder(str):
    """A feeder's name on the command line (help shows a parameter's class name as its type:
    ``<feeder>``)."""


def group(help: str) -> typer.Typer:
    """A command group whose commands follow the conventions."""
    return typer.Typer(help=help, cls=Group, no_args_is_help=True)


OVERWRITE_HELP = "replace what an earlier run wrote there"

Overwrite = typer.Option("--overwrite", metavar="", help=OVERWRITE_HELP)
Quiet = typer.Option("--quiet", "-q", metavar="", help="no progress bar")
Json = typer.Option("--json", metavar="", help="print JSON instead of a table")


def input_file(argument: Path | None, option: Path | None, *, what: str, option_name: str) -> Path:
    """The one input file given either as the argument or (the older spelling) the option."""
    if argument is not None and option is not None:
        raise PeergridError(
            f"give the {what} once: as the argument or with {option_name}, not both"
        )
    path = argument if argument is not None else option
    if path is None:
        raise PeergridError(f"give the {what} as the argument ('-' reads standard input)")
    return path


def output_folder(path: Path, *, overwrite: bool, option: str = "--output") -> Path:
    """Check, before any work, that results can be written to the folder ``path``.

    The folder (and its parents) is created if need be; it must be writable, and empty unless
    ``overwrite``. Returns ``path``.
    """
    if str(path) == "":
        raise PeergridError(f"{option}: an empty path names no folder")
    if path.exists() and not path.is_dir():
        raise PeergridError(f"{path}: is a file, not a folder ({option} names a folder)")
    if path.is_dir() and not overwrite and _has_entries(path):
        raise PeergridError(
            f"{path}: the folder is not empty (an earlier run's results?); choose another "
            f"folder with {option} or pass --overwrite"
        )
    _blocked(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        _probe(path)
    except OSError as exc:
        raise PeergridError(f"{path}: cannot write there ({_reason(exc)})") from None
    except ValueError as exc:  # a path with a NUL character
        raise PeergridError(f"{path}: cannot write there ({exc})") from None
    return path


def output_file(path: Path, *, overwrite: bool, option: str = "--out-file") -> Path:
    """Check, before any work, that the file ``path`` can be written: not a folder, not there
    already unless ``overwrite``, its folder writable (created if need be). Returns ``path``."""
    if str(path) == "":
        raise PeergridError(f"{option}: an empty path names no file")
    if path.is_dir():
        raise PeergridError(f"{path}: is a folder, not a file ({option} names a file)")
    if path.exists() and not overwrite:
        raise PeergridError(
            f"{path}: the file exists; choose another with {option} or pass --overwrite"
        )
    folder = path.parent
    _blocked(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _probe(folder)
        if path.exists():
            with path.open("r+b"):
                pass
    except OSError as exc:
        raise PeergridError(f"{path}: cannot write there ({_reason(exc)})") from None
    except ValueError as exc:
        raise PeergridError(f"{path}: cannot write there ({exc})") from None
    return path


def number(
    value: float,
    option: str,
    unit: str,
    *,
    low: float,
    high: float,
    low_open: bool = False,
) -> float:
    """``value`` of ``option`` if finite and within [low, high] (``low_open``: above ``low``)."""
    above = value > low if low_open else value >= low
    if not (math.isfinite(value) and above and value <= high):
        lower = f"above {low:g}" if low_open else f"from {low:g}"
        raise PeergridError(
            f"{option}: must be a number of {unit} {lower} to {high:g}, got {value:g}"
        )
    return value


def _blocked(path: Path) -> None:
    """Refuse a path below a file (``notes.txt/out``): no folder can be made there."""
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise PeergridError(f"{path}: cannot write there ({parent} is a file)")
            return


def _has_entries(folder: Path) -> bool:
    try:
        with os.scandir(folder) as entries:
            return any(True for _ in entries)
    except OSError:
        return False  # unreadable: the write probe says why


def _probe(folder: Path) -> None:
    """Create and remove a file in ``folder``: the only sure test of writing (as root too)."""
    handle, name = tempfile.mkstemp(prefix=".peergrid-probe-", dir=folder)
    os.close(handle)
    os.unlink(name)


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
