"""``peergrid sweep``: many runs of a base scenario over axes of values, on Ray.

A thin layer on :mod:`peergrid.sim.sweep`: loads and checks the sweep file (every run's
scenario), checks the output folder, runs the runs as Ray tasks with a progress line (done,
running, failed), then writes ``runs.parquet`` and the comparison report.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from peergrid.cli.common import Overwrite, Quiet, output_folder
from peergrid.cli.console import err, parallel_progress, stdout
from peergrid.core.errors import PeergridError

if TYPE_CHECKING:
    from peergrid.sim.sweep.execute import Progress as SweepProgress

Address = typer.Option(
    "--address",
    metavar="<address>",
    help="a Ray cluster: 'auto' (one running on this machine) or ray://host:10001; default: "
    "a local Ray instance started and stopped by the command",
)
Workers = typer.Option(
    "--workers",
    metavar="<n>",
    help="runs at once (default: this machine's CPUs, or the cluster's)",
)


def sweep(
    sweep_file: Annotated[Path, typer.Argument(metavar="SWEEP", help="sweep file (TOML)")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="<folder>",
            help="results folder (default: the file's output, results/sweeps/{name})",
        ),
    ] = None,
    address: Annotated[str | None, Address] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume", metavar="", help="keep the runs whose results are there; run the others"
        ),
    ] = False,
    workers: Annotated[int | None, Workers] = None,
    overwrite: Annotated[bool, Overwrite] = False,
    quiet: Annotated[bool, Quiet] = False,
) -> None:
    """Run a sweep file on Ray; see examples/sweep.toml. Writes runs.parquet, summary.md and
    plots, and every run's results under runs/."""
    from peergrid.sim.sweep import (
        load_sweep,
        run_sweep,
        runs_frame,
        write_report,
        write_runs_table,
    )

    if workers is not None and workers < 1:
        raise PeergridError(f"--workers: must be at least 1, got {workers}")
    loaded = load_sweep(sweep_file)
    target = output if output is not None else loaded.output_directory
    # --resume continues in a folder that holds the sweep's earlier runs.
    directory = output_folder(target, overwrite=overwrite or resume)
    err.print(
        Text.assemble(
            ("peergrid sweep", "bold"),
            f" {loaded.name}: {len(loaded.runs)} runs of {loaded.spec.base} "
            f"({loaded.spec.mode} of {', '.join(loaded.axes)}) on "
            + ("a local Ray instance" if address is None else f"Ray at {address}"),
        ),
        highlight=False,
    )
    start = time.perf_counter()
    with parallel_progress("runs", quiet) as update:

        def on_progress(state: SweepProgress) -> None:
            kept = f", kept {state.skipped}" if state.skipped else ""
            update(state.total, state.skipped + state.done, state.failed, state.running, kept)

        records = run_sweep(
            loaded,
            directory,
            address=address,
            workers=workers,
            resume=resume,
            on_progress=on_progress,
        )
    wall = time.perf_counter() - start
    frame = runs_frame(loaded, records)
    table = write_runs_table(frame, directory)
    paths = write_report(loaded, frame, directory, wall_s=wall)
    failed = int((frame["status"] != "ok").sum())
    stdout().print(
        Text(f"{len(frame) - failed} of {len(frame)} runs ok, {failed} failed, in {wall:.1f} s"),
        highlight=False,
    )
    err.print(
        Text.assemble(
            "results in ",
            (str(directory), "bold"),
            f": {table.name}, " + ", ".join(str(p.relative_to(directory)) for p in paths.values()),
        ),
        highlight=False,
    )
