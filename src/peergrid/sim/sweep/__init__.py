"""Sweeps: many runs of one base scenario over axes of values, each a Ray task, gathered into
one table and a comparison report (``peergrid sweep``)."""

from peergrid.sim.sweep.execute import run_sweep
from peergrid.sim.sweep.gather import runs_frame, write_runs_table
from peergrid.sim.sweep.report import write_report
from peergrid.sim.sweep.spec import Sweep, SweepError, SweepRun, load_sweep

__all__ = [
    "Sweep",
    "SweepError",
    "SweepRun",
    "load_sweep",
    "run_sweep",
    "runs_frame",
    "write_report",
    "write_runs_table",
]
