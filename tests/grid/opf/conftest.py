"""Small networks and feeders shared by the OPF tests."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterable

import pandapower as pp

from peergrid.grid.feeders import Feeder, GridLimits
from peergrid.grid.opf import RadialNetwork
from peergrid.grid.service import ServiceDelivery, service_draws_kw

# The OPF's voltages against the AC power flow's, for a tight relaxation on a net of lines.
AC_TOLERANCE_PU = 1e-4


def two_bus(
    *,
    length_km: float = 0.01,
    r_ohm_per_km: float = 0.01,
    x_ohm_per_km: float = 0.005,
    vn_kv: float = 0.4,
    max_i_ka: float = 1.0,
    s_base_mva: float = 0.01,
) -> RadialNetwork:
    """The root (bus 0, 1.0 p.u.) and one household bus (bus 1) joined by one line."""
    net = pp.create_empty_network(sn_mva=1.0)
    b0 = pp.create_bus(net, vn_kv=vn_kv)
    b1 = pp.create_bus(net, vn_kv=vn_kv)
    pp.create_ext_grid(net, b0, vm_pu=1.0)
    pp.create_line_from_parameters(
        net, b0, b1, length_km, r_ohm_per_km, x_ohm_per_km, 0.0, max_i_ka
    )
    return RadialNetwork.from_net(net, s_base_mva=s_base_mva)


def case33bw() -> Feeder:
    import pandapower.networks as pn

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = pn.case33bw()
    buses = list(dict.fromkeys(int(b) for b in net.load.bus))
    return Feeder("case33bw", net, buses, 12.66, GridLimits(0.90, 1.10))


def ac_state(
    feeder: Feeder, pool: str, deliveries: Iterable[ServiceDelivery]
) -> tuple[float, float, float]:
    """Max line loading (%), min and max |V| (p.u.) by pandapower's AC power flow of the
    feeder's base case plus an ancillary-service pool's deliveries."""
    net = copy.deepcopy(feeder.net)
    for bus, kw in service_draws_kw(pool, deliveries).items():
        pp.create_load(net, bus, p_mw=kw / 1000.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(net)
    return (
        float(net.res_line.loading_percent.max()),
        float(net.res_bus.vm_pu.min()),
        float(net.res_bus.vm_pu.max()),
    )
