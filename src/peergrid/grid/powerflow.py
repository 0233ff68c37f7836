"""AC power-flow checks of a slot's net injections against the feeder's limits.

A slot is described by the active and reactive power each prosumer bus *takes* from the network
(load convention, kW and kvar; a prosumer exporting has negative values). The check runs an AC
power flow and reports the voltage envelope, the highest line and transformer loading, and every
violation of the limits. A power flow that does not converge is reported as such, never as a
pass.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandapower as pp

from peergrid.core.errors import GridError
from peergrid.grid.feeders import Feeder, GridLimits


@dataclass(frozen=True)
class Violation:
    slot: int
    kind: str  # undervoltage | overvoltage | line_overload | trafo_overload | not_converged
    element: str
    value: float
    limit: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "slot": self.slot,
            "kind": self.kind,
            "element": self.element,
            "value": self.value,
            "limit": self.limit,
        }


@dataclass(frozen=True)
class SlotCheck:
    slot: int
    converged: bool
    v_min_pu: float
    v_max_pu: float
    max_line_loading_pct: float
    max_trafo_loading_pct: float
    transformer_p_kw: float  # power drawn from the upstream grid (negative: reverse flow)
    violations: tuple[Violation, ...] = field(default=())


class PowerFlowCheck:
    """Checks slots on one feeder, with one load element per prosumer bus."""

    def __init__(self, feeder: Feeder, buses: Sequence[int], limits: GridLimits | None = None):
        unknown = sorted(set(buses) - set(feeder.buses))
        if unknown:
            raise GridError(f"buses {unknown[:5]} are not buses of feeder {feeder.name!r}")
        self.feeder = feeder
        self.limits = limits or feeder.limits
        self.buses = list(buses)
        net = feeder.net
        net.load.drop(net.load.index, inplace=True)
        net.sgen.drop(net.sgen.index, inplace=True)
        self._load_index = np.array(
            [pp.create_load(net, bus, p_mw=0.0, q_mvar=0.0) for bus in self.buses]
        )
        self._initialised = False

    def check(self, slot: int, p_kw: npt.ArrayLike, q_kvar: npt.ArrayLike) -> SlotCheck:
        p = np.asarray(p_kw, dtype=float)
        q = np.asarray(q_kvar, dtype=float)
        if p.shape != (len(self.buses),) or q.shape != (len(self.buses),):
            raise GridError(
                f"slot {slot}: expected {len(self.buses)} injections, got {p.shape} and {q.shape}"
            )
        if not (np.isfinite(p).all() and np.isfinite(q).all()):
            raise GridError(f"slot {slot}: injections contain NaN or infinite values")
        net = self.feeder.net
        net.load.loc[self._load_index, "p_mw"] = p / 1000.0
        net.load.loc[self._load_index, "q_mvar"] = q / 1000.0
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pp.runpp(
                    net,
                    init="results" if self._initialised else "auto",
                    numba=False,
                    calculate_voltage_angles=True,
                )
            self._initialised = True
        except pp.LoadflowNotConverged:
            self._initialised = False
            return SlotCheck(
                slot,
                False,
                math.nan,
                math.nan,
                math.nan,
                math.nan,
                math.nan,
                (Violation(slot, "not_converged", "feeder", math.nan, math.nan),),
            )
        return self._read_results(slot)

    def _read_results(self, slot: int) -> SlotCheck:
        net, lim = self.feeder.net, self.limits
        vm = net.res_bus.vm_pu
        line_loading = net.res_line.loading_percent
        trafo_loading = net.res_trafo.loading_percent
        violations: list[Violation] = []
        for bus, v in vm[vm < lim.v_min_pu].items():
            violations.append(Violation(slot, "undervoltage", f"bus {bus}", float(v), lim.v_min_pu))
        for bus, v in vm[vm > lim.v_max_pu].items():
            violations.append(Violation(slot, "overvoltage", f"bus {bus}", float(v), lim.v_max_pu))
        for line, v in line_loading[line_loading > lim.max_line_loading_pct].items():
            violations.append(
                Violation(slot, "line_overload", f"line {line}", float(v), lim.max_line_loading_pct)
            )
        for trafo, v in trafo_loading[trafo_loading > lim.max_trafo_loading_pct].items():
            violations.append(
                Violation(
                    slot, "trafo_overload", f"trafo {trafo}", float(v), lim.max_trafo_loading_pct
                )
            )
        return SlotCheck(
            slot=slot,
            converged=True,
            v_min_pu=float(vm.min()),
            v_max_pu=float(vm.max()),
            max_line_loading_pct=float(line_loading.max()) if len(line_loading) else 0.0,
            max_trafo_loading_pct=float(trafo_loading.max()) if len(trafo_loading) else 0.0,
            transformer_p_kw=float(net.res_ext_grid.p_mw.sum() * 1000.0),
            violations=tuple(violations),
        )
