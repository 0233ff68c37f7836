"""The command line's consoles and its one way of reporting an error."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

# Progress, notes and errors go to stderr; results (tables, JSON) to stdout.
err = Console(stderr=True)


def stdout() -> Console:
    return Console()


def print_error(error: BaseException) -> None:
    """One line on stderr. The message is plain text: markup in user input ("[/]") is shown,
    not interpreted."""
    err.print(Text.assemble(("error: ", "bold red"), str(error)), highlight=False, soft_wrap=True)
