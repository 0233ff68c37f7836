"""The feeder catalogue: constructors that return a pandapower net with peergrid's metadata.

``ieee-eu-lv`` is the IEEE European LV test feeder as pandapower ships it (906 LV buses behind
an 800 kVA 11/0.416 kV transformer, 55 customer connections). pandapower models the customers as
single-phase asymmetric loads for a three-phase power flow; peergrid's market studies use the
balanced (positive-sequence) model the thesis assumes (003_dpda.md §1.1), so each customer
becomes an ordinary load at its connection bus. Any bus of the feeder may host a prosumer.
"""

from __future__ import annotations

import copy
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import pandapower as pp

from peergrid.core.errors import GridError

log = logging.getLogger(__name__)


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
        return [int(b) for b in self.net.bus.index]


def _ieee_eu_lv() -> Feeder:
    import pandapower.networks as pn

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = pn.ieee_european_lv_asymmetric("off_peak_1")
    asym = net.asymmetric_load
    buses = [int(b) for b in asym.bus]
    names = list(asym.name)
    net.asymmetric_load = asym.iloc[0:0]
    for bus, name in zip(buses, names, strict=True):
        pp.create_load(net, bus, p_mw=0.0, q_mvar=0.0, name=str(name))
    return Feeder(
        name="ieee-eu-lv",
        net=net,
        household_buses=buses,
        vn_kv=float(net.bus.vn_kv.loc[buses[0]]),
        description="IEEE European LV test feeder (pandapower), balanced model, 55 customers",
    )


CATALOGUE: dict[str, Callable[[], Feeder]] = {
    "ieee-eu-lv": _ieee_eu_lv,
}


@cache
def _cached(name: str) -> Feeder:
    return CATALOGUE[name]()


def load_feeder(name: str) -> Feeder:
    """A fresh copy of the feeder called ``name`` (the net may be modified by the caller)."""
    if name not in CATALOGUE:
        raise GridError(f"unknown feeder {name!r} (known: {', '.join(sorted(CATALOGUE))})")
    return copy.deepcopy(_cached(name))
