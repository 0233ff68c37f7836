"""The ``peergrid`` command: its groups, and the one error boundary every command runs inside.

Logging is configured here and only here. Every domain error (a bad order, a bad scenario, a
feeder or ledger failure) raised anywhere below a command is printed as one line on stderr with
exit status 2 (:class:`ErrorBoundary`); commands raise, they do not print errors themselves.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

from peergrid import __version__
from peergrid.cli.agent import agent
from peergrid.cli.certificates import certificates_app
from peergrid.cli.clear import clear_command, mechanisms_command
from peergrid.cli.common import Command, Group
from peergrid.cli.console import print_error
from peergrid.cli.consortium import consortium_app
from peergrid.cli.dr import dr_app
from peergrid.cli.dvpp import dvpp_app
from peergrid.cli.flex import flex_app
from peergrid.cli.grid import grid_app
from peergrid.cli.ledger import bench_app, chain_app, deploy_command
from peergrid.cli.microgrid import microgrid_app
from peergrid.cli.protection import protection_app, reproduce_dc_protection_command
from peergrid.cli.region import region
from peergrid.cli.reproduce import reproduce_app
from peergrid.cli.run import demo, run
from peergrid.cli.serve import serve
from peergrid.cli.sweep import sweep
from peergrid.core.errors import PeergridError


class ErrorBoundary(Group):
    """The command group that turns a :class:`PeergridError` into one line and exit status 2.

    Sub-groups run inside this group's :meth:`invoke`, so one boundary serves every command.
    A usage error (an unknown command or option, a missing argument, a value that is not a
    number) is one line with exit status 2 as well, naming the help to read.
    """

    # The context is typer's vendored click Context, which typer does not export by name.
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except PeergridError as exc:
            print_error(exc)
            raise typer.Exit(code=2) from None

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            code = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except NoArgsIsHelpError:
            code = 2  # the help is printed already
        except UsageError as exc:
            where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            print_error(exc.format_message() + where)
            code = 2
        except ClickException as exc:
            print_error(exc.format_message())
            code = exc.exit_code
        except typer.Abort:
            print_error("aborted")
            code = 1
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    name="peergrid",
    help="Grid-aware peer-to-peer energy markets settled on an EVM ledger.",
    cls=ErrorBoundary,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("demo", cls=Command)(demo)
app.command("run", cls=Command)(run)
app.command("clear", cls=Command)(clear_command)
app.command("mechanisms", cls=Command)(mechanisms_command)
reproduce_app.command("dc-protection", cls=Command)(reproduce_dc_protection_command)
app.add_typer(reproduce_app, name="reproduce")
app.add_typer(grid_app, name="grid")
app.add_typer(dvpp_app, name="dvpp")
app.add_typer(protection_app, name="protection")
app.add_typer(microgrid_app, name="microgrid")
app.add_typer(certificates_app, name="certificates")
app.add_typer(dr_app, name="dr")
app.add_typer(flex_app, name="flex")
app.add_typer(chain_app, name="chain")
chain_app.add_typer(consortium_app, name="consortium")
app.command("deploy", cls=Command)(deploy_command)
app.add_typer(bench_app, name="bench")
app.command("serve", cls=Command)(serve)
app.command("agent", cls=Command)(agent)
app.command("sweep", cls=Command)(sweep)
app.command("region", cls=Command)(region)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"peergrid {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", metavar="", help="log progress details")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            metavar="",
            help="print the version and exit",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def main() -> None:
    app()
