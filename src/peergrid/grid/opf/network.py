"""A radial pandapower net as per-unit branch data for the branch-flow OPF (000_bder.md §2.1).

The tree is rooted at the bus of the net's one in-service external grid, whose voltage is fixed
at its ``vm_pu``. Buses are numbered in breadth-first order from the root (position 0), so
every bus's parent comes before it. As in the digest (§2.1, seed L399), every branch carries
the index of its child bus: branch ``b`` joins bus position ``b + 1`` (its child) to
``parent[b + 1]``; there are ``N − 1`` branches for ``N`` buses.

Per unit: one power base ``s_base_mva`` for the whole net, and each bus's nominal voltage
``vn_kv`` as its voltage base (impedance base ``vn_kv² / s_base_mva`` Ω, current base
``s_base_mva / (√3 · vn_kv)`` kA).

Elements converted:

- **lines** (in service, not opened by a line switch): series ``r + jx`` from
  ``r_ohm_per_km``, ``x_ohm_per_km``, ``length_km`` and ``parallel``; the shunt admittance
  (``c_nf_per_km``, ``g_us_per_km``) is split in halves onto the two end buses as nodal
  shunts (the π model), so the series branch is exact; thermal limit
  ``max_i_ka · df · parallel``. A ``max_i_ka`` of 1000 kA or more (MATPOWER-derived cases
  such as ``case33bw`` store 99 999 kA) or a missing one means "no limit". A line opened by
  a switch at one end only is, as in pandapower, still energised from the other: its whole
  charging admittance is put on that bus (its series impedance neglected).
- **two-winding transformers** fed from their HV side: an ideal transformer of ratio ``τ``
  (rated voltages against the buses' nominal voltages, with the tap position on its side) at
  the HV end, followed by the short-circuit impedance referred to the LV side
  (``vk_percent``, ``vkr_percent``, ``sn_mva``, ``parallel``). The magnetising admittance
  (``pfe_kw``, ``i0_percent``) is put as a nodal shunt on the HV bus, an approximation of
  pandapower's T model. The phase shift is ignored: in a radial net it moves angles only,
  never magnitudes. Thermal limit: the LV rated current ``sn_mva · parallel · df /
  (√3 · vn_lv_kv)``.
- **shunts** (``net.shunt``) as nodal shunts.

Buses joined by closed bus-bus switches are one electrical node: the group is represented
by one bus (the external grid's when it is in the group, else the smallest index), listed in
``merged``; an asset at any bus of the group sits at that bus.

Loads, static generators and storage of the net are *not* read: the OPF case states every
injection. Anything that would change the physics and is not converted (voltage-controlled
generators, three-winding transformers, impedances, a second external grid) raises
:class:`~peergrid.core.errors.GridError` rather than being silently dropped.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import numpy.typing as npt
import pandapower as pp

from peergrid.core.errors import GridError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: A line rating at or above this (kA) is a placeholder for "unlimited".
UNLIMITED_I_KA = 1000.0

_UNSUPPORTED = ("gen", "trafo3w", "impedance", "dcline", "ward", "xward", "svc", "tcsc", "ssc")


@dataclass(frozen=True, eq=False)
class RadialNetwork:
    """Per-unit branch data of a radial net, buses in breadth-first order from the root.

    Arrays indexed by bus position have length ``N``; arrays indexed by branch have length
    ``N − 1`` and branch ``b`` is the branch whose child is bus position ``b + 1``.
    """

    net: pp.pandapowerNet  # the source net (read by the AC check; not modified here)
    s_base_mva: float  # power base of the per-unit system (MVA)
    buses: IntArray  # (N,) pandapower bus index at each position; the root first
    parent: IntArray  # (N,) position of each bus's parent; -1 for the root
    vn_kv: FloatArray  # (N,) nominal voltage of each bus (kV), its voltage base
    v_root_pu: float  # fixed voltage magnitude at the root (the ext_grid's vm_pu)
    r_pu: FloatArray  # (N-1,) series resistance of each branch (on its child's base)
    x_pu: FloatArray  # (N-1,) series reactance
    tap_ratio: FloatArray  # (N-1,) off-nominal ratio τ of the ideal transformer (1 for lines)
    i_max_pu: FloatArray  # (N-1,) thermal limit at 100 % loading (current, p.u.); inf if none
    branch_kind: tuple[str, ...]  # (N-1,) "line" or "trafo"
    branch_element: IntArray  # (N-1,) pandapower index in net.line / net.trafo
    g_shunt_pu: FloatArray  # (N,) nodal shunt conductance: consumes g·v (p.u. at v = 1)
    b_shunt_pu: FloatArray  # (N,) nodal shunt susceptance: produces b·v (capacitive > 0)
    merged: Mapping[int, int] = field(default_factory=dict)  # bus → tree bus it is switched to
    # (N-1,) each line's shunt admittance at each of its two ends (half the line's charging,
    # already counted in the nodal shunts above): what separates the current at a line's
    # terminals, which pandapower's loading measures, from the series current. 0 for trafos.
    end_g_pu: FloatArray = field(default_factory=lambda: np.zeros(0))
    end_b_pu: FloatArray = field(default_factory=lambda: np.zeros(0))

    @property
    def n_buses(self) -> int:
        return len(self.buses)

    @property
    def n_branches(self) -> int:
        return len(self.buses) - 1

    @property
    def root_bus(self) -> int:
        return int(self.buses[0])

    @property
    def branch_parent(self) -> IntArray:
        """(N-1,) parent bus position of each branch."""
        return self.parent[1:]

    @property
    def branch_child(self) -> IntArray:
        """(N-1,) child bus position of each branch."""
        return np.arange(1, self.n_buses, dtype=np.int64)

    @property
    def kw_per_pu(self) -> float:
        """kW in one per-unit of power."""
        return self.s_base_mva * 1000.0

    def i_base_ka(self) -> FloatArray:
        """(N,) current base of each bus (kA)."""
        return self.s_base_mva / (math.sqrt(3.0) * self.vn_kv)

    def position(self, bus: int) -> int:
        """The position of pandapower bus ``bus`` in the tree."""
        pos = self._positions.get(self.merged.get(int(bus), int(bus)))
        if pos is None:
            raise GridError(f"bus {bus} is not connected to the root bus {self.root_bus}")
        return pos

    def has_bus(self, bus: int) -> bool:
        return self.merged.get(int(bus), int(bus)) in self._positions

    @cached_property
    def _positions(self) -> dict[int, int]:
        return {int(b): i for i, b in enumerate(self.buses)}

    def branch_name(self, b: int) -> str:
        return f"{self.branch_kind[b]} {int(self.branch_element[b])}"

    @classmethod
    def from_net(cls, net: pp.pandapowerNet, s_base_mva: float = 1.0) -> RadialNetwork:
        """Convert a radial pandapower net (see the module docstring for what is read)."""
        if not (math.isfinite(s_base_mva) and s_base_mva > 0):
            raise GridError(f"s_base_mva must be positive, got {s_base_mva}")
        _reject_unsupported(net)
        alias = _merged_buses(net)
        root = _root_bus(net)
        root = alias.get(root, root)
        edges = _branches(net, alias)
        adjacency: dict[int, list[tuple[int, int]]] = {}
        for k, (a, b, _, _) in enumerate(edges):
            adjacency.setdefault(a, []).append((b, k))
            adjacency.setdefault(b, []).append((a, k))

        order = [root]
        parent_bus = {root: -1}
        via: dict[int, int] = {}
        queue = deque([root])
        while queue:
            bus = queue.popleft()
            for nb, k in adjacency.get(bus, []):
                if via.get(bus) == k:
                    continue
                if nb in parent_bus:
                    raise GridError(
                        f"the net is not radial: {edges[k][2]} {edges[k][3]} closes a loop "
                        f"at bus {nb}"
                    )
                parent_bus[nb] = bus
                via[nb] = k
                order.append(nb)
                queue.append(nb)

        n = len(order)
        pos = {b: i for i, b in enumerate(order)}
        buses = np.array(order, dtype=np.int64)
        parent = np.array([-1] + [pos[parent_bus[b]] for b in order[1:]], dtype=np.int64)
        vn_kv = net.bus.vn_kv.loc[buses].to_numpy(dtype=float)
        z_base = vn_kv**2 / s_base_mva
        i_base = s_base_mva / (math.sqrt(3.0) * vn_kv)

        r = np.zeros(n - 1)
        x = np.zeros(n - 1)
        tau = np.ones(n - 1)
        i_max = np.full(n - 1, np.inf)
        kinds: list[str] = []
        elements = np.zeros(n - 1, dtype=np.int64)
        g_sh = np.zeros(n)
        b_sh = np.zeros(n)
        end_g = np.zeros(n - 1)
        end_b = np.zeros(n - 1)
        f_hz = float(getattr(net, "f_hz", 50.0) or 50.0)

        for i in range(1, n):
            b = i - 1
            child = order[i]
            kind, idx = edges[via[child]][2], edges[via[child]][3]
            kinds.append(kind)
            elements[b] = idx
            if kind == "line":
                row = net.line.loc[idx]
                length = float(row.length_km)
                par = float(row.get("parallel", 1) or 1)
                r[b] = float(row.r_ohm_per_km) * length / par / z_base[i]
                x[b] = float(row.x_ohm_per_km) * length / par / z_base[i]
                i_ka = float(row.max_i_ka) if "max_i_ka" in row else math.nan
                df = float(row.get("df", 1.0) or 1.0)
                if math.isfinite(i_ka) and 0 < i_ka < UNLIMITED_I_KA:
                    i_max[b] = i_ka * df * par / i_base[i]
                c_nf = float(row.get("c_nf_per_km", 0.0) or 0.0)
                g_us = float(row.get("g_us_per_km", 0.0) or 0.0)
                b_pu = 2 * math.pi * f_hz * c_nf * 1e-9 * length * par * z_base[i]
                g_pu = g_us * 1e-6 * length * par * z_base[i]
                end_b[b], end_g[b] = b_pu / 2, g_pu / 2
                for p in (i, int(parent[i])):
                    b_sh[p] += b_pu / 2
                    g_sh[p] += g_pu / 2
            else:
                row = net.trafo.loc[idx]
                hv = alias.get(int(row.hv_bus), int(row.hv_bus))
                lv = alias.get(int(row.lv_bus), int(row.lv_bus))
                if lv != child or hv != parent_bus[child]:
                    raise GridError(
                        f"trafo {idx} is fed from its LV bus {lv}; only transformers fed from "
                        "their HV side are supported"
                    )
                par = float(row.get("parallel", 1) or 1)
                sn = float(row.sn_mva)
                vn_lv, vn_hv = float(row.vn_lv_kv), float(row.vn_hv_kv)
                z_ohm = float(row.vk_percent) / 100 * vn_lv**2 / sn / par
                r_ohm = float(row.vkr_percent) / 100 * vn_lv**2 / sn / par
                r[b] = r_ohm / z_base[i]
                x[b] = math.sqrt(max(z_ohm**2 - r_ohm**2, 0.0)) / z_base[i]
                hv_eff, lv_eff = vn_hv, vn_lv
                tap = _tap_factor(row)
                if str(row.get("tap_side", "hv")) == "lv":
                    lv_eff *= tap
                else:
                    hv_eff *= tap
                tau[b] = (hv_eff / vn_kv[parent[i]]) / (lv_eff / vn_kv[i])
                df = float(row.get("df", 1.0) or 1.0)
                i_max[b] = sn * par * df / (math.sqrt(3.0) * vn_lv) / i_base[i]
                pfe = float(row.get("pfe_kw", 0.0) or 0.0) / 1000.0 * par / s_base_mva
                i0 = float(row.get("i0_percent", 0.0) or 0.0) / 100 * sn * par / s_base_mva
                g_sh[parent[i]] += pfe
                b_sh[parent[i]] -= math.sqrt(max(i0**2 - pfe**2, 0.0))

        if "shunt" in net and len(net.shunt):
            for _, row in net.shunt[net.shunt.in_service.astype(bool)].iterrows():
                sb = alias.get(int(row.bus), int(row.bus))
                if sb not in pos:
                    continue
                step = float(row.get("step", 1) or 1)
                g_sh[pos[sb]] += float(row.p_mw) * step / s_base_mva
                b_sh[pos[sb]] -= float(row.q_mvar) * step / s_base_mva

        for idx, live_bus in _open_ended_lines(net):
            live = alias.get(live_bus, live_bus)
            if live in pos:  # the whole line's charging at the live end (its series z neglected)
                row = net.line.loc[idx]
                i = pos[live]
                par = float(row.get("parallel", 1) or 1)
                length = float(row.length_km)
                c_nf = float(row.get("c_nf_per_km", 0.0) or 0.0)
                g_us = float(row.get("g_us_per_km", 0.0) or 0.0)
                b_sh[i] += 2 * math.pi * f_hz * c_nf * 1e-9 * length * par * z_base[i]
                g_sh[i] += g_us * 1e-6 * length * par * z_base[i]

        return cls(
            net=net,
            s_base_mva=float(s_base_mva),
            buses=buses,
            parent=parent,
            vn_kv=vn_kv,
            v_root_pu=float(net.ext_grid.vm_pu[net.ext_grid.in_service.astype(bool)].iloc[0]),
            r_pu=r,
            x_pu=x,
            tap_ratio=tau,
            i_max_pu=i_max,
            branch_kind=tuple(kinds),
            branch_element=elements,
            g_shunt_pu=g_sh,
            b_shunt_pu=b_sh,
            merged={b: r for b, r in alias.items() if r in pos},
            end_g_pu=end_g,
            end_b_pu=end_b,
        )


def _tap_factor(row: object) -> float:
    get = row.get  # type: ignore[attr-defined]
    pos, neutral, step = get("tap_pos"), get("tap_neutral"), get("tap_step_percent")
    values = [pos, neutral, step]
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values):
        return 1.0
    return 1.0 + (float(pos) - float(neutral)) * float(step) / 100.0


def _reject_unsupported(net: pp.pandapowerNet) -> None:
    for table in _UNSUPPORTED:
        if table in net and len(net[table]) and net[table].in_service.astype(bool).any():
            raise GridError(f"net has in-service {table} elements, which the OPF does not model")


def _root_bus(net: pp.pandapowerNet) -> int:
    eg = net.ext_grid[net.ext_grid.in_service.astype(bool)]
    if len(eg) != 1:
        raise GridError(f"the OPF needs exactly one in-service ext_grid, the net has {len(eg)}")
    return int(eg.bus.iloc[0])


def _open(net: pp.pandapowerNet, et: str) -> set[int]:
    if "switch" not in net or not len(net.switch):
        return set()
    sw = net.switch
    return {int(e) for e in sw[(sw.et == et) & ~sw.closed.astype(bool)].element}


def _open_ended_lines(net: pp.pandapowerNet) -> list[tuple[int, int]]:
    """In-service lines opened by a switch at one end only: (line index, bus still connected).

    pandapower keeps such a line energised from its other end, so its charging admittance
    still loads that bus.
    """
    if "switch" not in net or not len(net.switch):
        return []
    sw = net.switch
    opened = sw[(sw.et == "l") & ~sw.closed.astype(bool)]
    out = []
    for idx, group in opened.groupby("element"):
        line = net.line.loc[int(idx)]
        ends = {int(line.from_bus), int(line.to_bus)}
        open_at = {int(b) for b in group.bus}
        live = ends - open_at
        if bool(line.in_service) and len(live) == 1:
            out.append((int(idx), live.pop()))
    return out


def _merged_buses(net: pp.pandapowerNet) -> dict[int, int]:
    """Buses joined by closed bus-bus switches → the one bus that stands for their group.

    The group's representative is the external grid's bus when the group holds it, else its
    smallest bus index. Buses that are not merged are not in the map.
    """
    if "switch" not in net or not len(net.switch):
        return {}
    sw = net.switch
    closed = sw[(sw.et == "b") & sw.closed.astype(bool)]
    if not len(closed):
        return {}
    in_service = set(net.bus.index[net.bus.in_service.astype(bool)])
    eg = set(net.ext_grid.bus[net.ext_grid.in_service.astype(bool)])
    up: dict[int, int] = {}

    def find(b: int) -> int:
        while up.get(b, b) != b:
            b = up[b]
        return b

    for a, b in zip(closed.bus, closed.element, strict=True):
        a, b = int(a), int(b)
        if a in in_service and b in in_service:
            ra, rb = find(a), find(b)
            if ra != rb:
                keep = min(ra, rb, key=lambda x: (x not in eg, x))
                up[ra if keep == rb else rb] = keep
    return {b: find(b) for b in list(up) if find(b) != b}


def _branches(net: pp.pandapowerNet, alias: Mapping[int, int]) -> list[tuple[int, int, str, int]]:
    """In-service series branches as (bus a, bus b, kind, index), buses merged by ``alias``."""
    in_service_bus = set(net.bus.index[net.bus.in_service.astype(bool)])
    out: list[tuple[int, int, str, int]] = []
    open_lines, open_trafos = _open(net, "l"), _open(net, "t")
    for idx, row in net.line[net.line.in_service.astype(bool)].iterrows():
        a, b = int(row.from_bus), int(row.to_bus)
        if int(idx) not in open_lines and a in in_service_bus and b in in_service_bus:
            out.append((alias.get(a, a), alias.get(b, b), "line", int(idx)))
    if "trafo" in net:
        for idx, row in net.trafo[net.trafo.in_service.astype(bool)].iterrows():
            a, b = int(row.hv_bus), int(row.lv_bus)
            if int(idx) not in open_trafos and a in in_service_bus and b in in_service_bus:
                out.append((alias.get(a, a), alias.get(b, b), "trafo", int(idx)))
    return out
