"""pandapower's own test networks, as they are: ``cigre-lv``, ``kerber-dorfnetz``, ``case33bw``.

Households sit at the load buses of each net's lowest voltage level (the default rule of
:mod:`peergrid.grid.catalogue.common`).
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pandapower as pp

from peergrid.grid.catalogue.common import level_kv, lowest_level_load_buses, quietly
from peergrid.grid.feeder_types import Feeder

# One line per feeder: what list_feeders() prints and Feeder.description holds.
DESCRIPTIONS: dict[str, str] = {
    "cigre-lv": "CIGRE LV benchmark, 44 buses, 15 load buses at 0.4 kV",
    "kerber-dorfnetz": "Kerber Dorfnetz village LV grid, 116 buses, 57 households",
    "case33bw": "Baran & Wu 33-bus distribution system, 12.66 kV, 32 loads",
}


def _from_pandapower(name: str, build: Callable[[], pp.pandapowerNet]) -> Feeder:
    net = quietly(build)
    households = lowest_level_load_buses(net)
    return Feeder(
        name=name,
        net=net,
        household_buses=households,
        vn_kv=level_kv(net, households),
        description=DESCRIPTIONS[name],
    )


def cigre_lv() -> Feeder:
    """pandapower's CIGRE LV benchmark."""
    import pandapower.networks as pn

    return _from_pandapower("cigre-lv", pn.create_cigre_network_lv)


KERBER_SEED = 20_090_101
"""Seeds the line types pandapower draws for the Kerber Dorfnetz (its branch-out lines are
"NAYY 4x50" or "NYY 4x35" with probability one half each, drawn with Python's global ``random``):
with the seed, the same name gives the same feeder in every run."""


def kerber_dorfnetz() -> Feeder:
    """pandapower's Kerber Dorfnetz village grid, its random line types seeded."""
    import pandapower.networks as pn

    def build() -> pp.pandapowerNet:
        # pandapower draws from the global generator: seed it for the build only, and give
        # the caller's random state back untouched.
        saved = random.getstate()
        random.seed(KERBER_SEED)
        try:
            return pn.create_kerber_dorfnetz()
        finally:
            random.setstate(saved)

    return _from_pandapower("kerber-dorfnetz", build)


def case33bw() -> Feeder:
    """pandapower's Baran & Wu 33-bus system."""
    import pandapower.networks as pn

    return _from_pandapower("case33bw", pn.case33bw)
