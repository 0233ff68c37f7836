"""``peergrid reproduce ...``: a seed document's tables and comparisons, regenerated."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from peergrid.cli.common import Command, Overwrite, group, output_folder
from peergrid.cli.console import err

reproduce_app = group("Regenerate a seed document's tables and comparisons.")


@reproduce_app.command("dpda", cls=Command)
def reproduce_dpda_command(
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", metavar="<folder>", help="folder for the tables and summary.md"
        ),
    ] = Path("results/reproduce-dpda"),
    overwrite: Annotated[bool, Overwrite] = False,
) -> None:
    """The DPDA thesis: chapter 3 examples, Appendix B (Tables B.1-B.4), DPDA against DAM."""
    output_folder(output, overwrite=overwrite)
    from peergrid.sim.reproduce.dpda import reproduce_dpda

    paths = reproduce_dpda(output)
    err.print(
        Text.assemble(
            f"wrote {len(paths)} files to ",
            (str(output), "bold"),
            f"; start with {paths['summary']}",
        ),
        highlight=False,
    )
