"""The feeder catalogue: every feeder by its stable name, built once and handed out as copies.

Every feeder has a stable name (``list_feeders()`` prints them), a pandapower net, the buses
where households are placed by default (``household_buses``), the nominal voltage of that level
(``vn_kv``) and the limits a schedule is checked against (:mod:`peergrid.grid.feeder_types`).
Any bus of the feeder may host a prosumer; ``household_buses`` is only the default placement.

The rule for ``household_buses`` is the same for every feeder unless its builder says
otherwise: the in-service buses at the lowest nominal voltage of the net that carry at least one
in-service load, each bus once, in the order of the net's load table (its own numbering of the
customers). Limits default to ±10 % voltage and 100 % line and transformer loading.

Feeders (each built by a module of :mod:`peergrid.grid.catalogue`):

- ``ieee-eu-lv``: the IEEE European LV test feeder as pandapower ships it (906 LV buses behind
  an 800 kVA 11/0.416 kV transformer, 55 customer connections). pandapower models the
  customers as single-phase asymmetric loads for a three-phase power flow; peergrid's market
  studies use the balanced (positive-sequence) model the thesis assumes (003_dpda.md §1.1), so
  each customer becomes an ordinary load at its connection bus, named LOAD1..LOAD55, with its
  off-peak demand (the sum of its phases) as the base case.
- ``ieee-eu-lv-reduced``: the thesis's reduced tree of that feeder (003_dpda.md §3.11), bus id =
  thesis vertex number 0..116, the 11 kV source bus as id 117.
- ``cigre-mv-vdma``: the CIGRE MV benchmark with the VDMA paper's loads and generators
  (004_vdma.md §3.1, Table 1) and switches S1–S3 open.
- ``cigre-lv``, ``kerber-dorfnetz``, ``case33bw``: pandapower's constructors as they are.
- ``simbench:<code>``: any SimBench LV grid, e.g. ``simbench:1-LV-rural1--0-sw``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import cache

from peergrid.core.errors import GridError
from peergrid.grid.catalogue import cigre, ieee_eu_lv, pandapower_nets
from peergrid.grid.catalogue.common import lowest_level_load_buses
from peergrid.grid.catalogue.simbench import (
    SIMBENCH_EXAMPLE,
    SIMBENCH_PREFIX,
    check_simbench_code,
    simbench_lv,
)
from peergrid.grid.feeder_types import Feeder, FeederInfo, GridLimits

__all__ = [
    "CATALOGUE",
    "SIMBENCH_EXAMPLE",
    "SIMBENCH_PREFIX",
    "Feeder",
    "FeederInfo",
    "GridLimits",
    "check_feeder_name",
    "list_feeders",
    "load_feeder",
    "lowest_level_load_buses",
]


def _ieee_eu_lv_reduced() -> Feeder:
    # Built from the cached full feeder, which the builder leaves unchanged.
    return ieee_eu_lv.ieee_eu_lv_reduced(_cached("ieee-eu-lv"))


CATALOGUE: dict[str, Callable[[], Feeder]] = {
    "ieee-eu-lv": ieee_eu_lv.ieee_eu_lv,
    "ieee-eu-lv-reduced": _ieee_eu_lv_reduced,
    "cigre-mv-vdma": cigre.cigre_mv_vdma,
    "cigre-lv": pandapower_nets.cigre_lv,
    "kerber-dorfnetz": pandapower_nets.kerber_dorfnetz,
    "case33bw": pandapower_nets.case33bw,
}

# One line per catalogue name: what list_feeders() prints and Feeder.description holds.
_DESCRIPTIONS: dict[str, str] = {
    "ieee-eu-lv": ieee_eu_lv.FULL_DESCRIPTION,
    "ieee-eu-lv-reduced": ieee_eu_lv.REDUCED_DESCRIPTION,
    "cigre-mv-vdma": cigre.DESCRIPTION,
    **pandapower_nets.DESCRIPTIONS,
}


def list_feeders() -> list[FeederInfo]:
    """Every feeder name with a one-line description; SimBench listed once as a family."""
    rows = [FeederInfo(name, _DESCRIPTIONS[name]) for name in CATALOGUE]
    rows.append(
        FeederInfo(
            SIMBENCH_PREFIX + "<code>",
            f"any SimBench LV grid, e.g. {SIMBENCH_PREFIX}{SIMBENCH_EXAMPLE} "
            "(grids rural1-3, semiurb4-5, urban6; scenarios 0-2; sw or no_sw)",
        )
    )
    return rows


@cache
def _cached(name: str) -> Feeder:
    if name.startswith(SIMBENCH_PREFIX):
        return simbench_lv(name.removeprefix(SIMBENCH_PREFIX))
    return CATALOGUE[name]()


def check_feeder_name(name: str) -> None:
    """Raise :class:`GridError` unless the catalogue has a feeder called ``name``.

    Cheap: it builds no net (a ``simbench:<code>`` is looked up in SimBench's list of codes), so
    a scenario's feeder is checked when the scenario loads.
    """
    if name in CATALOGUE:
        return
    if name.startswith(SIMBENCH_PREFIX):
        check_simbench_code(name.removeprefix(SIMBENCH_PREFIX))
        return
    known = [*sorted(CATALOGUE), SIMBENCH_PREFIX + "<code>"]
    raise GridError(f"unknown feeder {name!r} (known: {', '.join(known)})")


def load_feeder(name: str) -> Feeder:
    """A fresh copy of the feeder called ``name`` (the net may be modified by the caller)."""
    check_feeder_name(name)
    return copy.deepcopy(_cached(name))
