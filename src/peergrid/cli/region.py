"""``peergrid region``: many feeders of one DSO, one market each, in parallel on Ray, with the
region's figures and the MV grid's power flow of their aggregate import.

A thin layer on :mod:`peergrid.sim.region`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from peergrid.cli.common import Overwrite, Quiet, output_folder
from peergrid.cli.console import err, parallel_progress, stdout
from peergrid.cli.sweep import Address, Workers
from peergrid.core.errors import PeergridError

if TYPE_CHECKING:
    from peergrid.sim.region.execute import RegionProgress


def region(
    region_file: Annotated[Path, typer.Argument(metavar="REGION", help="region file (TOML)")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="<folder>",
            help="results folder (default: the file's output, results/regions/{name})",
        ),
    ] = None,
    address: Annotated[str | None, Address] = None,
    workers: Annotated[int | None, Workers] = None,
    overwrite: Annotated[bool, Overwrite] = False,
    quiet: Annotated[bool, Quiet] = False,
) -> None:
    """Run a region file on Ray (see examples/region.toml): every feeder's market, the region's
    figures and the MV check. Writes region.json, feeders.parquet, import_profile.csv,
    summary.md, and every feeder's results under feeders/."""
    from peergrid.sim.region import load_region, run_region, write_region

    if workers is not None and workers < 1:
        raise PeergridError(f"--workers: must be at least 1, got {workers}")
    loaded = load_region(region_file)
    target = output if output is not None else loaded.output_directory
    directory = output_folder(target, overwrite=overwrite)
    time_ = loaded.feeders[0].scenario.time
    err.print(
        Text.assemble(
            ("peergrid region", "bold"),
            f" {loaded.name}: {len(loaded.feeders)} feeders, {time_.days} day(s) from "
            f"{time_.start}, MV grid {loaded.spec.mv.grid or 'not checked'}, on "
            + ("a local Ray instance" if address is None else f"Ray at {address}"),
        ),
        highlight=False,
    )
    start = time.perf_counter()
    with parallel_progress("feeders", quiet) as update:

        def on_progress(state: RegionProgress) -> None:
            update(state.total, state.done, state.failed, state.running, "")

        outcome = run_region(
            loaded, directory, address=address, workers=workers, on_progress=on_progress
        )
    wall = time.perf_counter() - start
    paths = write_region(loaded, outcome, directory, wall_s=wall)
    stdout().print(Text(paths["summary"].read_text(encoding="utf-8").split("## Feeders")[0]))
    err.print(
        Text.assemble(
            "results in ",
            (str(directory), "bold"),
            ": " + ", ".join(str(p.relative_to(directory)) for p in paths.values()),
        ),
        highlight=False,
    )
