"""``peergrid reproduce ...``: a seed document's tables and comparisons, regenerated."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from peergrid.cli.console import err

reproduce_app = typer.Typer(help="Regenerate a seed document's tables and comparisons.")


@reproduce_app.command("dpda")
def reproduce_dpda_command(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="folder for the tables and summary.md")
    ] = Path("results/reproduce-dpda"),
) -> None:
    """The DPDA thesis: chapter 3 examples, Appendix B (Tables B.1-B.4), DPDA against DAM."""
    from peergrid.sim.reproduce.dpda import reproduce_dpda

    paths = reproduce_dpda(output)
    err.print(f"wrote {len(paths)} files to [bold]{output}[/]; start with {paths['summary']}")
