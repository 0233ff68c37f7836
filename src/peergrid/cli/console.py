"""The command line's consoles and its one way of reporting an error."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

# Progress, notes and errors go to stderr; results (tables, JSON) to stdout.
err = Console(stderr=True)


def stdout() -> Console:
    return Console()


def print_error(error: BaseException | str) -> None:
    """One line on stderr. The message is plain text: markup in user input ("[/]") is shown,
    not interpreted, and a line break or other control character in it is written escaped
    (``\\n``), so the error stays one line whatever the input held."""
    message = "".join(_visible(c) for c in str(error))
    err.print(Text.assemble(("error: ", "bold red"), message), highlight=False, soft_wrap=True)


def _visible(char: str) -> str:
    if unicodedata.category(char) in ("Cc", "Zl", "Zp"):
        return char.encode("unicode_escape").decode("ascii")
    return char


@contextmanager
def parallel_progress(
    what: str, quiet: bool
) -> Iterator[Callable[[int, int, int, int, str], None]]:
    """A progress line on stderr for work spread over workers (a sweep's runs, a region's
    feeders): yields ``update(total, finished, failed, running, note)``, where ``finished``
    counts the failed ones and ``note`` is added at the end (e.g. the runs kept)."""
    progress = Progress(
        TextColumn(what),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[state]}"),
        TimeElapsedColumn(),
        console=err,
        disable=quiet,
        transient=False,
        refresh_per_second=2,
    )
    task = progress.add_task(what, total=None, state="")

    def update(total: int, finished: int, failed: int, running: int, note: str) -> None:
        progress.update(
            task,
            total=total,
            completed=finished,
            state=f"done {finished - failed}, running {running}, failed {failed}{note}",
        )

    with progress:
        yield update
