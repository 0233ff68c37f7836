"""The command line's consoles and its one way of reporting an error."""

from __future__ import annotations

import unicodedata

from rich.console import Console
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
