"""What a feeder is to peergrid: a pandapower net, its default household buses and its limits.

:class:`Feeder` is the net plus the buses where households are placed by default
(``household_buses``), the nominal voltage of that level (``vn_kv``) and the operating limits
(:class:`GridLimits`) a schedule is checked against. Any bus of the feeder may host a prosumer;
``household_buses`` is only the default placement. :class:`FeederInfo` is one catalogue entry as
:func:`peergrid.grid.feeders.list_feeders` reports it.

The types live apart from the catalogue (:mod:`peergrid.grid.feeders`) so that the builders of
:mod:`peergrid.grid.catalogue` can return them without importing the catalogue that lists them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import pandapower as pp

from peergrid.core.errors import GridError


@dataclass(frozen=True)
class GridLimits:
    """Operating limits a schedule is checked against."""

    v_min_pu: float = 0.90
    v_max_pu: float = 1.10
    max_line_loading_pct: float = 100.0
    max_trafo_loading_pct: float = 100.0


@dataclass
class Feeder:
    """A pandapower net plus what peergrid needs to know about it."""

    name: str
    net: pp.pandapowerNet
    household_buses: list[int]  # default connection buses of prosumers, in feeder order
    vn_kv: float  # nominal voltage of the prosumers' level
    limits: GridLimits = field(default_factory=GridLimits)
    description: str = ""

    @property
    def buses(self) -> list[int]:
        """Every bus id of the net (any of them may host a prosumer)."""
        return [int(b) for b in self.net.bus.index]

    @property
    def source_bus(self) -> int:
        """The bus of the first in-service external grid (the root of the radial tree)."""
        grids = self.net.ext_grid[self.net.ext_grid.in_service.astype(bool)]
        if len(grids) == 0:
            raise GridError(f"feeder {self.name!r} has no in-service external grid")
        return int(grids.bus.iloc[0])


class FeederInfo(NamedTuple):
    """One catalogue entry as ``list_feeders()`` reports it."""

    name: str
    description: str
