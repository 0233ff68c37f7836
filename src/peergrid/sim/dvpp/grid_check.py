"""The AC check of the grid layer on a DVPP run: every case's slot means on a real LV feeder.

The community simulation neglects line losses and voltages (L101); this check puts its result
on a feeder: household ``i`` at the feeder's ``i``-th default household bus, its mean net
draw over each slot (15 minutes by default: 672 slots a week) as the load, one batched AC
power flow per case (:class:`peergrid.grid.powerflow.PowerFlowCheck`). Slot means hide the
seconds' peaks; the per-second VGC power of the run shows those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from peergrid.core.errors import ScenarioError
from peergrid.grid.feeder_types import Feeder
from peergrid.grid.feeders import load_feeder
from peergrid.grid.powerflow import PowerFlowCheck
from peergrid.sim.dvpp.community import CommunityRun


@dataclass(frozen=True)
class CaseGridCheck:
    """One case on the feeder: voltage band, highest loadings, slots with a violation."""

    key: str
    slots: int
    v_min_pu: float
    v_max_pu: float
    max_line_loading_pct: float
    max_trafo_loading_pct: float
    slots_violating: int
    not_converged: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def feeder_for(name: str, households: int) -> Feeder:
    """The feeder called ``name``, refused unless it has a bus for every household."""
    feeder = load_feeder(name)
    if len(feeder.household_buses) < households:
        raise ScenarioError(
            f"feeder {name!r} has {len(feeder.household_buses)} household buses, "
            f"fewer than the {households} households"
        )
    return feeder


def check_on_feeder(run: CommunityRun, feeder: Feeder) -> list[CaseGridCheck]:
    """Every case of ``run`` on ``feeder`` (slot means of each household's net draw)."""
    houses = run.slot_draw_kwh.shape[2]
    check = PowerFlowCheck(feeder, feeder.household_buses[:houses])
    hours = run.slot_s / 3600.0
    out = []
    for s, case in enumerate(run.cases):
        p_kw = run.slot_draw_kwh[:, s, :] / hours
        results = check.check_many(p_kw)
        converged = [r for r in results if r.converged]
        out.append(
            CaseGridCheck(
                key=case.key,
                slots=len(results),
                v_min_pu=min((r.v_min_pu for r in converged), default=float("nan")),
                v_max_pu=max((r.v_max_pu for r in converged), default=float("nan")),
                max_line_loading_pct=float(
                    np.nanmax([r.max_line_loading_pct for r in converged] or [np.nan])
                ),
                max_trafo_loading_pct=float(
                    np.nanmax([r.max_trafo_loading_pct for r in converged] or [np.nan])
                ),
                slots_violating=sum(1 for r in results if not r.passed),
                not_converged=len(results) - len(converged),
            )
        )
    return out
