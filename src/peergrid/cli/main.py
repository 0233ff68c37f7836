"""The ``peergrid`` command: its groups, and the one error boundary every command runs inside.

Logging is configured here and only here. Every domain error (a bad order, a bad scenario, a
feeder or ledger failure) raised anywhere below a command is printed as one line on stderr with
exit status 2 (:class:`ErrorBoundary`); commands raise, they do not print errors themselves.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from peergrid import __version__
from peergrid.cli.clear import clear_command, mechanisms_command
from peergrid.cli.console import print_error
from peergrid.cli.grid import grid_app
from peergrid.cli.ledger import bench_app, chain_app, deploy_command
from peergrid.cli.reproduce import reproduce_app
from peergrid.cli.run import demo, run
from peergrid.core.errors import PeergridError


class ErrorBoundary(TyperGroup):
    """The command group that turns a :class:`PeergridError` into one line and exit status 2.

    Sub-groups run inside this group's :meth:`invoke`, so one boundary serves every command.
    """

    # The context is typer's vendored click Context, which typer does not export by name.
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except PeergridError as exc:
            print_error(exc)
            raise typer.Exit(code=2) from None


app = typer.Typer(
    name="peergrid",
    help="Grid-aware peer-to-peer energy markets settled on an EVM ledger.",
    cls=ErrorBoundary,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("demo")(demo)
app.command("run")(run)
app.command("clear")(clear_command)
app.command("mechanisms")(mechanisms_command)
app.add_typer(reproduce_app, name="reproduce")
app.add_typer(grid_app, name="grid")
app.add_typer(chain_app, name="chain")
app.command("deploy")(deploy_command)
app.add_typer(bench_app, name="bench")


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log progress details")] = False,
    version: Annotated[bool, typer.Option("--version", help="print the version and exit")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if version:
        typer.echo(f"peergrid {__version__}")
        raise typer.Exit()


def main() -> None:
    app()
