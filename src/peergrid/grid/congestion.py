"""Congestion screening of a forecast day: which element is out of its limit in which slot, and
how much flexibility, and where, would bring it back.

For a day of forecast injections (kW drawn per prosumer and slot, load convention) the AC model
(:class:`~peergrid.grid.powerflow.PowerFlowCheck`) finds, per slot, every transformer and line
loaded above its limit and the lowest (highest) bus voltage below (above) the band. For each
such **congestion** the linear sensitivities around that slot's AC operating point
(:class:`~peergrid.grid.sensitivity.LinearSensitivity`) give, per candidate bus, the *relief*
of the element per kW moved there in each direction:

- ``"down"``: the bus draws less (a battery discharges, an EV charges later, a load sheds);
- ``"up"``: the bus draws more (a battery charges, an EV charges now);

relief is the fall of the loading (%) or of the overvoltage (p.u.), or the rise of an
undervoltage. The direction chosen is the one with the larger best relief. The **area** is the
buses downstream of a congested line or transformer (their power flows through it), or every
bus of the prosumers' level for a voltage; only buses with positive relief are kept.

The need is sized at the most effective bus: ``kw = (excess + margin) / best relief``, with
:data:`LOADING_MARGIN_PCT` or :data:`VOLTAGE_MARGIN_PU` so that the linear estimate lands just
inside the limit. Several congestions of one slot are reported separately, worst first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import networkx as nx
import numpy as np
import numpy.typing as npt

from peergrid.core.errors import GridError
from peergrid.grid.ac_model import ACResult
from peergrid.grid.feeder_types import Feeder, GridLimits
from peergrid.grid.powerflow import PowerFlowCheck
from peergrid.grid.sensitivity import LinearSensitivity

FloatArray = npt.NDArray[np.float64]
Direction = Literal["down", "up"]

LOADING_MARGIN_PCT = 1.0
"""The need aims this far below a loading limit (percentage points)."""
VOLTAGE_MARGIN_PU = 0.002
"""The need aims this far inside the voltage band (p.u.)."""


@dataclass(frozen=True)
class Congestion:
    """One element out of its limit in one slot, and the flexibility that would relieve it."""

    slot: int
    element: str  # "trafo 0", "line 3" or "bus 7" (pandapower indices)
    kind: str  # trafo_overload | line_overload | undervoltage | overvoltage
    value: float  # loading % or voltage p.u.
    limit: float
    direction: Direction
    kw: float  # flexibility needed at the most effective bus
    relief_per_kw: dict[int, float]  # area bus -> relief per kW moved in ``direction``

    @property
    def area(self) -> tuple[int, ...]:
        return tuple(sorted(self.relief_per_kw))

    @property
    def excess(self) -> float:
        return self.value - self.limit if self.kind != "undervoltage" else self.limit - self.value


def element_values(result: ACResult, element: str) -> FloatArray:
    """Per slot, the loading (%) of ``"trafo N"``/``"line N"`` or the voltage of ``"bus N"``."""
    table, _, index = element.partition(" ")
    ident = int(index)
    ids, values = {
        "trafo": (result.trafo_ids, result.trafo_loading_pct),
        "line": (result.line_ids, result.line_loading_pct),
        "bus": (result.bus_ids, result.vm_pu),
    }[table]
    column = np.flatnonzero(ids == ident)
    if len(column) == 0:
        raise GridError(f"no {element} in the feeder")
    out: FloatArray = values[:, column[0]]
    return out


class CongestionScreen:
    """Screens days of injections of prosumers at ``buses`` on ``feeder``.

    ``candidate_buses``: where flexibility may come from (default: every bus of the prosumers'
    level). ``check`` may be shared with other users of the same feeder and buses.
    """

    def __init__(
        self,
        feeder: Feeder,
        buses: Sequence[int],
        *,
        limits: GridLimits | None = None,
        candidate_buses: Sequence[int] | None = None,
        check: PowerFlowCheck | None = None,
    ) -> None:
        self.feeder = feeder
        self.limits = limits or feeder.limits
        self.buses = [int(b) for b in buses]
        self.check = check or PowerFlowCheck(feeder, self.buses, self.limits)
        net = feeder.net
        if candidate_buses is None:
            level = net.bus.index[np.isclose(net.bus.vn_kv, feeder.vn_kv)]
            candidate_buses = [int(b) for b in level if int(b) != feeder.source_bus]
        self.candidates = sorted({int(b) for b in candidate_buses})
        self._graph = _graph(feeder)

    def run(self, p_kw: npt.ArrayLike) -> ACResult:
        """Full AC results of slots of injections (slots × prosumers, kW drawn)."""
        return self.check.run(p_kw)

    def screen(self, p_kw: npt.ArrayLike, result: ACResult | None = None) -> list[Congestion]:
        """Every congestion of the day, by slot, worst (largest relative excess) first."""
        p = np.asarray(p_kw, dtype=float)
        result = result if result is not None else self.check.run(p)
        out: list[Congestion] = []
        for slot in range(p.shape[0]):
            found = self._violations(result, slot)
            if not found:
                continue
            sens = self._sensitivity(p[slot])
            for kind, element, value, limit in found:
                congestion = self._size(sens, slot, kind, element, value, limit)
                if congestion is not None:
                    out.append(congestion)
        return out

    # -- inside ------------------------------------------------------------------------------

    def _violations(self, result: ACResult, slot: int) -> list[tuple[str, str, float, float]]:
        lim = self.limits
        if not result.converged[slot]:
            raise GridError(f"slot {slot}: the AC power flow does not converge")
        found: list[tuple[str, str, float, float, float]] = []
        for ids, values, kind, limit in (
            (result.trafo_ids, result.trafo_loading_pct[slot], "trafo", lim.max_trafo_loading_pct),
            (result.line_ids, result.line_loading_pct[slot], "line", lim.max_line_loading_pct),
        ):
            for ident, value in zip(ids, values, strict=True):
                if value > limit:
                    found.append(
                        (f"{kind}_overload", f"{kind} {int(ident)}", value, limit, value / limit)
                    )
        vm = result.vm_pu[slot]
        if np.nanmin(vm) < lim.v_min_pu:
            k = int(np.nanargmin(vm))
            found.append(
                (
                    "undervoltage",
                    f"bus {int(result.bus_ids[k])}",
                    float(vm[k]),
                    lim.v_min_pu,
                    lim.v_min_pu / vm[k],
                )
            )
        if np.nanmax(vm) > lim.v_max_pu:
            k = int(np.nanargmax(vm))
            found.append(
                (
                    "overvoltage",
                    f"bus {int(result.bus_ids[k])}",
                    float(vm[k]),
                    lim.v_max_pu,
                    vm[k] / lim.v_max_pu,
                )
            )
        found.sort(key=lambda row: -row[4])
        return [
            (kind, element, float(value), float(limit)) for kind, element, value, limit, _ in found
        ]

    def _sensitivity(self, p_slot: FloatArray) -> LinearSensitivity:
        # prosumers at their buses (the operating point), then every candidate bus at 0 kW
        buses = [*self.buses, *self.candidates]
        p0 = np.concatenate([p_slot, np.zeros(len(self.candidates))])
        return LinearSensitivity(self.feeder, buses, p0, model=self.check.model)

    def _size(
        self,
        sens: LinearSensitivity,
        slot: int,
        kind: str,
        element: str,
        value: float,
        limit: float,
    ) -> Congestion | None:
        table, _, index = element.partition(" ")
        ident = int(index)
        columns = range(len(self.buses), len(self.buses) + len(self.candidates))
        if table == "trafo":
            row = int(np.flatnonzero(sens.trafo_ids == ident)[0])
            derivative = sens.dtrafo_loading_dp_pct_per_kw[row, columns]
            area = self._downstream(("trafo", ident))
        elif table == "line":
            row = int(np.flatnonzero(sens.line_ids == ident)[0])
            derivative = sens.dline_loading_dp_pct_per_kw[row, columns]
            area = self._downstream(("line", ident))
        else:
            row = int(np.flatnonzero(sens.bus_ids == ident)[0])
            derivative = sens.dvm_dp_pu_per_kw[row, columns]
            area = set(self.candidates)
        # relief per kW drawn more ("up"); "down" is its negative
        toward = 1.0 if kind == "undervoltage" else -1.0
        relief_up = {
            bus: float(d) * toward
            for bus, d in zip(self.candidates, derivative, strict=True)
            if bus in area and np.isfinite(d)
        }
        best: tuple[float, Direction, dict[int, float]] | None = None
        for direction, sign in (("down", -1.0), ("up", 1.0)):
            relief = {b: sign * r for b, r in relief_up.items() if sign * r > 0}
            top = max(relief.values(), default=0.0)
            if top > 0 and (best is None or top > best[0]):
                best = (top, direction, relief)  # type: ignore[assignment]
        if best is None:
            return None
        top, direction, relief = best
        margin = VOLTAGE_MARGIN_PU if table == "bus" else LOADING_MARGIN_PCT
        excess = value - limit if kind != "undervoltage" else limit - value
        return Congestion(
            slot=slot,
            element=element,
            kind=kind,
            value=value,
            limit=limit,
            direction=direction,
            kw=(excess + margin) / top,
            relief_per_kw=relief,
        )

    def _downstream(self, branch: tuple[str, int]) -> set[int]:
        """Buses whose path to the source runs through ``branch``."""
        graph = self._graph.copy()
        graph.remove_edges_from([e for e in graph.edges(keys=True) if e[2] == branch])
        source = self.feeder.source_bus
        reach: set[int] = set(nx.node_connected_component(graph, source))
        return {b for b in self.candidates if b not in reach}


def _graph(feeder: Feeder) -> nx.MultiGraph:
    """The feeder's in-service lines and transformers (closed switches), keyed (table, index)."""
    from pandapower.topology import create_nxgraph

    graph: nx.MultiGraph = create_nxgraph(feeder.net, respect_switches=True)
    # pandapower keys edges (table, index); keep only those two tables' keys
    keyed = nx.MultiGraph()
    keyed.add_nodes_from(graph.nodes)
    for a, b, key in graph.edges(keys=True):
        keyed.add_edge(a, b, key=key if isinstance(key, tuple) else ("other", key))
    return keyed
