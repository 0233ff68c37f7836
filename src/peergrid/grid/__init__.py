"""Feeders, topology, distances, AC power flow, linear screening and the checks a market uses
against the physical network. The branch-flow OPF is :mod:`peergrid.grid.opf`; pictures are
:mod:`peergrid.grid.plot`."""

from peergrid.grid.distance import DistanceMatrix, distance_matrix
from peergrid.grid.feeders import Feeder, FeederInfo, GridLimits, list_feeders, load_feeder
from peergrid.grid.injections import Injections, read_injections, write_injections
from peergrid.grid.powerflow import (
    PowerFlowCheck,
    SlotCheck,
    ValidationReport,
    Violation,
    validate,
)
from peergrid.grid.sensitivity import LinearEstimate, LinearSensitivity
from peergrid.grid.topology import Topology, check_radial, is_radial, topology

__all__ = [
    "DistanceMatrix",
    "Feeder",
    "FeederInfo",
    "GridLimits",
    "Injections",
    "LinearEstimate",
    "LinearSensitivity",
    "PowerFlowCheck",
    "SlotCheck",
    "Topology",
    "ValidationReport",
    "Violation",
    "check_radial",
    "distance_matrix",
    "is_radial",
    "list_feeders",
    "load_feeder",
    "read_injections",
    "topology",
    "validate",
    "write_injections",
]
