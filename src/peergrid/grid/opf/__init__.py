"""Multi-period branch-flow OPF with SOC relaxation (000_bder.md §2.2–2.3), solved by CLARABEL.

The B-DER report's household and network model, centralised: one convex problem over all buses
of a radial feeder and all ``T`` periods of length ``Δt`` hours, minimising the cost of the
exchange with the external grid at the root.

- :mod:`~peergrid.grid.opf.network`: a radial pandapower net as per-unit branch data
  (:class:`RadialNetwork`), buses in breadth-first order from the root.
- :mod:`~peergrid.grid.opf.case`: the inputs (:class:`OPFCase`): periods, :class:`Prices`, the
  assets at their buses, the :class:`GridConnection` and the operating limits. The assets are
  the device models of :mod:`peergrid.assets` (:class:`FixedLoad`, :class:`PVSystem`,
  :class:`Battery`, :class:`ElectricVehicle`), re-exported here.
- :mod:`~peergrid.grid.opf.model`: the cvxpy problem, equation by equation, and the sign
  conventions of the whole package.
- :mod:`~peergrid.grid.opf.solve`: :func:`solve_opf`, from the case to the result.
- :mod:`~peergrid.grid.opf.result`: :class:`OPFResult`, :class:`RelaxationGap`,
  :class:`SolveInfo`.
- :mod:`~peergrid.grid.opf.check`: the dispatch through an AC power flow (:func:`ac_check`).
- :mod:`~peergrid.grid.opf.example`: a ready one-day case on any feeder (:func:`example_case`).
"""

from peergrid.assets.battery import Battery
from peergrid.assets.ev import ElectricVehicle
from peergrid.assets.load import FixedLoad
from peergrid.assets.pv import PVSystem
from peergrid.grid.opf.case import GridConnection, OPFCase, Prices
from peergrid.grid.opf.check import ACCheck, ac_check
from peergrid.grid.opf.example import example_case
from peergrid.grid.opf.network import RadialNetwork
from peergrid.grid.opf.result import REL_GAP_FLOOR, OPFResult, RelaxationGap, SolveInfo
from peergrid.grid.opf.solve import OPFError, OPFInfeasible, solve_opf

__all__ = [
    "REL_GAP_FLOOR",
    "ACCheck",
    "Battery",
    "ElectricVehicle",
    "FixedLoad",
    "GridConnection",
    "OPFCase",
    "OPFError",
    "OPFInfeasible",
    "OPFResult",
    "PVSystem",
    "Prices",
    "RadialNetwork",
    "RelaxationGap",
    "SolveInfo",
    "ac_check",
    "example_case",
    "solve_opf",
]
