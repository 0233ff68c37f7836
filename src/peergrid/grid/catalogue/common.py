"""What the feeder builders share: the default household rule and quiet third-party calls.

The rule for ``household_buses`` is the same for every feeder unless its builder says
otherwise: the in-service buses at the lowest nominal voltage of the net that carry at least one
in-service load, each bus once, in the order of the net's load table (its own numbering of the
customers). ``vn_kv`` is the nominal voltage of that level.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandapower as pp

from peergrid.core.errors import GridError


def lowest_level_load_buses(net: pp.pandapowerNet) -> list[int]:
    """Buses at the net's lowest nominal voltage with an in-service load, once each, load order.

    This is the default ``household_buses`` rule: customers sit at the lowest voltage level,
    and the load table is the constructor's own numbering of them.
    """
    bus = net.bus[net.bus.in_service.astype(bool)]
    if len(bus) == 0:
        raise GridError("the net has no in-service bus")
    vn_min_kv = float(bus.vn_kv.min())
    low = set(bus.index[np.isclose(bus.vn_kv.to_numpy(dtype=float), vn_min_kv)].tolist())
    seen: dict[int, None] = {}
    for b in net.load.bus[net.load.in_service.astype(bool)]:
        if int(b) in low:
            seen.setdefault(int(b), None)
    return list(seen)


def level_kv(net: pp.pandapowerNet, buses: Sequence[int]) -> float:
    """The nominal voltage (kV) of the households' level: that of the first of ``buses``."""
    if not buses:
        raise GridError("the net has no load at its lowest voltage level")
    return float(net.bus.vn_kv.loc[buses[0]])


def quietly(build: Callable[[], Any]) -> Any:
    """Runs a third-party network constructor with its warnings silenced (they are noise)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build()
