"""``cigre-mv-vdma``: the CIGRE MV benchmark as the VDMA paper uses it (004_vdma.md §3.1).

pandapower's CIGRE MV network without its own distributed generation, its loads and static
generators replaced by the 23 rows of the paper's Table 1, and the normally open switches S1-S3
open. Households sit at the load buses of the lowest level (the default rule).
"""

from __future__ import annotations

import pandapower as pp

from peergrid.core.errors import GridError
from peergrid.grid.catalogue.common import level_kv, lowest_level_load_buses, quietly
from peergrid.grid.feeder_types import Feeder

DESCRIPTION = "CIGRE MV, S1-S3 open, loads and generators of the VDMA paper's Table 1"

# 004_vdma.md §3.1, Table 1 verbatim, in table order: (bus, kind, p_mw, q_mvar).
VDMA_TABLE_1: tuple[tuple[int, str, float, float], ...] = (
    (1, "load", 0.5194, 0.1054),
    (1, "load", 0.4845, 0.159),
    (3, "load", 0.27645, 0.0692),
    (3, "load", 0.2252, 0.139),
    (4, "generator", 6.0, 0.0),
    (4, "load", 0.43, 0.108),
    (5, "load", 0.7275, 0.1823),
    (6, "generator", 0.04, 0.0),
    (6, "load", 0.548, 0.137),
    (7, "generator", 1.5, 0.0),
    (7, "load", 0.0765, 0.047),
    (8, "load", 0.586, 0.147),
    (9, "load", 0.5737, 0.355),
    (10, "generator", 0.04, 0.0),
    (10, "load", 0.47, 0.119),
    (10, "load", 0.068, 0.042),
    (11, "load", 0.3298, 0.083),
    (12, "load", 1.499, 0.3),
    (12, "load", 0.5016, 0.165),
    (13, "load", 0.034, 0.021),
    (14, "generator", 0.03, 0.0),
    (14, "load", 1.178, 0.295),
    (14, "load", 0.33, 0.205),
)

VDMA_OPEN_SWITCHES = ("S1", "S2", "S3")  # normally open (004_vdma.md §1.6, L97)


def cigre_mv_vdma() -> Feeder:
    """CIGRE MV with S1-S3 open and the loads and generators of the VDMA paper's Table 1."""
    import pandapower.networks as pn

    # with_der=False: Table 1 lists every generator itself; the "pv_wind"/"all" variants would
    # add PV, wind, storage and fuel cells the paper does not have.
    net = quietly(lambda: pn.create_cigre_network_mv(with_der=False))
    net.load = net.load.iloc[0:0]
    net.sgen = net.sgen.iloc[0:0]
    names = set(net.switch.name.dropna())
    missing = [s for s in VDMA_OPEN_SWITCHES if s not in names]
    if missing:
        raise GridError(f"pandapower's CIGRE MV net has no switch named {missing}")
    net.switch["closed"] = ~net.switch.name.isin(VDMA_OPEN_SWITCHES)
    count: dict[tuple[int, str], int] = {}
    for bus, kind, p_mw, q_mvar in VDMA_TABLE_1:
        n = count[bus, kind] = count.get((bus, kind), 0) + 1
        if kind == "load":
            pp.create_load(net, bus, p_mw=p_mw, q_mvar=q_mvar, name=f"Table1 load {bus}.{n}")
        else:
            pp.create_sgen(net, bus, p_mw=p_mw, q_mvar=q_mvar, name=f"Table1 generator {bus}.{n}")
    households = lowest_level_load_buses(net)
    return Feeder(
        name="cigre-mv-vdma",
        net=net,
        household_buses=households,
        vn_kv=level_kv(net, households),
        description=DESCRIPTION,
    )
