"""The MV grid under a region: the feeders' aggregate import checked with an AC power flow.

SimBench's MV grids (``1-MV-<type>--<scenario>-<sw|no_sw>``) stand for each LV grid below them
by one load at its MV/LV substation whose profile names the LV grid's type (``lv_rural1``), with
a static generator of the same profile for that grid's PV. The complete-data codes
(``1-MVLV-rural-all-0-sw``) hold the same MV grid with every LV grid modelled in full; the
region does not use them: its feeders are its own LV grids, run with their markets, and what the
MV grid needs of each is its import at the substation.

So each feeder of the region takes the place of one such substation, in the MV net's order: the
first unused load whose profile is ``lv_<its SimBench type>`` (a feeder that is not a SimBench
grid: the first unused ``lv_*`` load). That load and the generators of the same profile at its
bus are replaced by the feeder's metered import per slot (the power at its transformer from its
own power flow, or imports less exports when the run had none), at power factor 1. Every other
load and generator of the MV net follows its SimBench profile at the same quarter-hours (the
2016 profile year, averaged over each slot). The MV net is then solved slot by slot with the
same AC model as the feeders (:class:`peergrid.grid.powerflow.PowerFlowCheck`) and checked
against the ``[mv]`` limits; the HV/MV transformers' power is the region's import from HV.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from peergrid.core.errors import GridError
from peergrid.grid.feeder_types import Feeder, GridLimits
from peergrid.grid.powerflow import PowerFlowCheck

PROFILE_START = dt.datetime(2016, 1, 1)
PROFILE_STEP_MINUTES = 15


@dataclass(frozen=True)
class MvConnection:
    """Where a feeder hangs from the MV grid: the load it replaces and that load's bus."""

    feeder_id: str
    load: int
    bus: int
    profile: str


@cache
def simbench_mv_codes() -> tuple[str, ...]:
    import simbench as sb

    from peergrid.grid.catalogue.common import quietly

    return tuple(c for c in quietly(sb.collect_all_simbench_codes) if c.split("-")[1] == "MV")


def load_mv_net(code: str) -> Any:
    """The SimBench MV grid ``code`` (a pandapower net of its own: the caller may change it);
    :class:`GridError` for another code."""
    return copy.deepcopy(_mv_net(code))


@cache
def _mv_net(code: str) -> Any:
    import simbench as sb

    from peergrid.grid.catalogue.common import quietly

    codes = simbench_mv_codes()
    if code not in codes:
        raise GridError(
            f"mv.grid: {code!r} is not a SimBench MV grid code (e.g. 1-MV-rural--0-sw; "
            f"known: {', '.join(c for c in codes if c.endswith('-0-sw'))} and their scenarios "
            "1, 2 and no_sw variants)"
        )
    return quietly(lambda: sb.get_simbench_net(code))


def connect(net: Any, feeders: list[tuple[str, str | None]]) -> list[MvConnection]:
    """Each feeder (id, SimBench LV type or None) on an ``lv_*`` load of the MV net."""
    loads = net.load
    free = [int(i) for i in loads.index if str(loads.at[i, "profile"]).startswith("lv_")]
    connections = []
    for feeder_id, lv_type in feeders:
        wanted = [i for i in free if loads.at[i, "profile"] == f"lv_{lv_type}"] if lv_type else []
        pool = wanted or ([] if lv_type else free)
        if not pool:
            kind = f"lv_{lv_type}" if lv_type else "lv_*"
            total = sum(1 for i in loads.index if str(loads.at[i, "profile"]) == kind)
            raise GridError(
                f"mv.grid: the MV grid has {total} LV substations of profile {kind!r}; feeder "
                f"{feeder_id} finds none left (fewer feeders of that type, or another MV grid)"
            )
        load = pool[0]
        free.remove(load)
        connections.append(
            MvConnection(
                feeder_id, load, int(loads.at[load, "bus"]), str(loads.at[load, "profile"])
            )
        )
    return connections


def check_mv(
    net: Any,
    code: str,
    connections: list[MvConnection],
    feeder_import_kw: np.ndarray,
    start: dt.date,
    slot_minutes: int,
    limits: GridLimits,
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """The MV grid's power flow of every slot: one row per slot (the feeders' import, the rest
    of the MV loads and generators, the HV/MV import, voltages, loadings, violations) and every
    violation. ``feeder_import_kw`` is slots × feeders, in the order of ``connections``."""
    n_slots = feeder_import_kw.shape[0]
    replaced_loads = {c.load for c in connections}
    replaced_sgens = {
        int(i)
        for c in connections
        for i in net.sgen.index[(net.sgen.bus == c.bus) & (net.sgen.profile == c.profile)]
    }
    profiles = _profiles(net, start, slot_minutes, n_slots)
    loads = [int(i) for i in net.load.index if int(i) not in replaced_loads]
    sgens = [int(i) for i in net.sgen.index if int(i) not in replaced_sgens]
    load_at = [net.load.index.get_loc(i) for i in loads]
    sgen_at = [net.sgen.index.get_loc(i) for i in sgens]
    p_kw = np.hstack(
        [
            profiles["load_p"][:, load_at] * 1e3,
            -profiles["sgen_p"][:, sgen_at] * 1e3,
            feeder_import_kw,
        ]
    )
    q_kvar = np.hstack(
        [
            profiles["load_q"][:, load_at] * 1e3,
            np.zeros((n_slots, len(sgens) + len(connections))),
        ]
    )
    buses = [
        *(int(net.load.at[i, "bus"]) for i in loads),
        *(int(net.sgen.at[i, "bus"]) for i in sgens),
        *(c.bus for c in connections),
    ]
    hv = net.bus.vn_kv.max()
    feeder = Feeder(
        name=f"simbench:{code}",
        net=net,
        household_buses=[c.bus for c in connections],
        vn_kv=float(net.bus.vn_kv[net.bus.vn_kv < hv].max()),
        limits=limits,
    )
    checks = PowerFlowCheck(feeder, buses, limits).check_many(p_kw, q_kvar)
    times = [
        dt.datetime.combine(start, dt.time()) + dt.timedelta(minutes=slot_minutes * k)
        for k in range(n_slots)
    ]
    n_loads = len(loads)
    rows = []
    violations: list[dict[str, Any]] = []
    for k, check in enumerate(checks):
        rows.append(
            {
                "slot": k,
                "time": times[k].isoformat(timespec="minutes"),
                "feeders_import_kw": float(feeder_import_kw[k].sum()),
                "other_load_kw": float(p_kw[k, :n_loads].sum()),
                "other_generation_kw": float(-p_kw[k, n_loads : n_loads + len(sgens)].sum()),
                "hv_import_kw": check.transformer_p_kw,
                "converged": check.converged,
                "v_min_pu": check.v_min_pu,
                "v_max_pu": check.v_max_pu,
                "max_line_loading_pct": check.max_line_loading_pct,
                "max_trafo_loading_pct": check.max_trafo_loading_pct,
                "violations": len(check.violations),
            }
        )
        violations.extend(v.to_dict() for v in check.violations)
    return pd.DataFrame(rows), violations


def _profiles(net: Any, start: dt.date, slot_minutes: int, n_slots: int) -> dict[str, np.ndarray]:
    """The MV loads' and generators' SimBench profiles, MW, averaged over each slot."""
    import simbench as sb

    from peergrid.grid.catalogue.common import quietly

    values = quietly(lambda: sb.get_absolute_values(net, profiles_instead_of_study_cases=True))
    steps = slot_minutes // PROFILE_STEP_MINUTES
    first = (dt.datetime.combine(start, dt.time()) - PROFILE_START) // dt.timedelta(
        minutes=PROFILE_STEP_MINUTES
    )
    stop = first + n_slots * steps

    def block(key: tuple[str, str], columns: pd.Index) -> np.ndarray:
        frame = values[key].reindex(columns=columns, fill_value=0.0)
        array = frame.to_numpy(dtype=float)[first:stop]
        if array.shape[0] != n_slots * steps:
            raise GridError("the MV grid's profiles end before the region's last slot")
        return array.reshape(n_slots, steps, -1).mean(axis=1)

    return {
        "load_p": block(("load", "p_mw"), net.load.index),
        "load_q": block(("load", "q_mvar"), net.load.index),
        "sgen_p": block(("sgen", "p_mw"), net.sgen.index),
    }
