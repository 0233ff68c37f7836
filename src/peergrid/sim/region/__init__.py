"""Regions: many LV feeders of one DSO, one market each, run in parallel on Ray, with the
region's figures and the MV grid's check of their aggregate import (``peergrid region``)."""

from peergrid.sim.region.execute import RegionOutcome, run_region
from peergrid.sim.region.report import write_region
from peergrid.sim.region.spec import Region, RegionError, RegionFeeder, load_region

__all__ = [
    "Region",
    "RegionError",
    "RegionFeeder",
    "RegionOutcome",
    "load_region",
    "run_region",
    "write_region",
]
