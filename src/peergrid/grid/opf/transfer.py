"""The optimal power flow of one ancillary-service transfer (OCDA, 004_vdma.md §2.3).

OCDA dispatches the offers that suit an ask by an OPF whose objective is "the cost of power
losses", whose control variables are "the offers of power ... accepted by CDA" and whose
constraints are "the PF equations, the magnitude of nodal voltages and the apparent power
capacity of lines" (L71). The paper names no tool; ours is the grid layer's branch-flow model
with its SOC relaxation (:mod:`peergrid.grid.opf.model`, the same equations for one period),
solved by CLARABEL.

One transfer: an ask of ``need`` kWh at bus ``a``; suitable offers with ``cap_j`` kWh at buses
``j``. Control ``y_j ∈ [0, cap_j]`` (kWh over the session), ``Σ y_j ≤ need``. A match becomes
nodal power only through :func:`peergrid.grid.service.service_draws_kw` (the rule the AC checks
use too): column ``j`` of the transfer matrix is the draws of one kWh delivered from ``j`` to
``a``, so the draws are ``base + earlier matches + M y``. The base case is the feeder's own
loads and static generators (for ``cigre-mv-vdma``: Table 1), reactive power unchanged by the
service.

Objective: ``loss_price · Δt · Σ_b r_b ψ_b`` (the losses' cost) plus the shortfall
``need − Σ y`` priced at :data:`SHORTFALL_FACTOR` (0.9) × the loss price. The OPF therefore
serves as much of the ask as the limits allow (a transfer whose marginal losses stay below 90 %
of it lowers the objective), and among those dispatches the one with the least losses. The
shortfall is deliberately *not* priced above the losses: with reverse flow, the SOC relaxation
could otherwise "burn" power in a fictitious current to relieve an upstream line and pass more
transfer than the real network takes (a loose relaxation); priced below, burning rarely pays.
Rarely is not never (serving a kWh can be worth burning a tenth of one): a solution whose
fictitious currents lose more than :data:`FICTITIOUS_LOSSES_KW` is refused and the largest
transfer with a tight relaxation is found by bisection on the ask. Lines are limited at both
terminals, as pandapower measures their loading, not only in their series current (see
:func:`_line_end_limits`). An ask the network
cannot take whole is served in part (the OCDA "gives network valid solutions"), the rest left
unsatisfied.

The problem is built once per feeder and limits with cvxpy parameters (base draws, transfer
matrix, capacities, need) and re-solved per ask, which keeps a solve to milliseconds.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from peergrid.core.errors import GridError
from peergrid.grid.feeder_types import Feeder, GridLimits
from peergrid.grid.opf.model import _incidence
from peergrid.grid.opf.network import RadialNetwork
from peergrid.grid.opf.solve import OPFError, OPFInfeasible
from peergrid.grid.service import ServiceDelivery, check_pool, service_draws_kw

SHORTFALL_FACTOR = 0.9
"""The shortfall's price as a multiple of the loss price (below 1: see the module docstring)."""

DISPATCH_RESOLUTION = 1e-4
#: The losses of fictitious currents (Σ r (ψ − (P² + Q²)/v), kW) above which a solution is not
#: taken as the exact branch-flow model's. Ours: a solution that serves a transfer the network
#: does not take burns kilowatts (18 kW in the case that found it); the solver's tolerance leaves
#: thousandths of a kW on lightly loaded lines, where the loss term barely weighs.
FICTITIOUS_LOSSES_KW = 0.1
"""Dispatches are rounded to the decimal digit at this share of the ask (1 kWh in 10 000 kWh,
0.0001 kWh in 3 kWh), and one within that step of its offer's capacity takes it all: the
interior-point solver's last digits (where losses barely differ between two offers) are not a
decision."""


@dataclass(frozen=True)
class TransferDispatch:
    """The OPF's answer for one ask: kWh from each offer bus, and the state it leads to."""

    dispatch_kwh: Mapping[int, float]  # offer bus -> kWh, only buses with a dispatch
    losses_kw: float  # Σ r ψ at the optimum, kW
    max_relaxation_gap: float  # max ψ v − (P² + Q²), p.u.²; 0: the exact branch-flow model
    status: str

    @property
    def transferred_kwh(self) -> float:
        return math.fsum(self.dispatch_kwh.values())


def _line_end_limits(
    net: RadialNetwork,
    lines: np.ndarray,
    i_limit2: np.ndarray,
    v_max2: float,
    p: cp.Variable,
    q: cp.Variable,
    psi: cp.Variable,
    v: cp.Variable,
) -> list[cp.Constraint]:
    """The current at both terminals of each rated line within its limit, as pandapower's
    loading measures it (the larger of the two ends), not only the series current.

    A line's charging (half at each end) adds to the series current at its terminals: on
    cigre-mv-vdma's cables that is up to about 1 % of the rating, so an OPF that limits only
    the series current let an AC check find lines up to 0.9 % past their limit.

    - At the child end the power entering the line is ``(p + g v) + j(q − b v)`` (``p + jq``
      the series power leaving the child towards the parent): its |S|² ≤ I_max²·v is a rotated
      second-order cone in the flow variables, exact.
    - At the parent end the same form would hold the series losses ``r ψ`` and ``x ψ``, and
      the relaxation ψ ≥ |S|²/v could then meet the limit by inflating ψ (a fictitious current
      that burns power) instead of serving less. The series current is limited there instead by
      the rating less the largest charging current, ``√ψ ≤ I_max − |y| · V_max``: safe whatever
      the phase of the charging current, and tighter than pandapower by at most that current.
    """
    child = net.branch_child[lines]
    g, b = net.end_g_pu[lines], net.end_b_pu[lines]
    v_c = v[child]
    real = p[lines] + cp.multiply(g, v_c)
    imag = q[lines] - cp.multiply(b, v_c)
    # real² + imag² ≤ t·1 with t = I_max²·v: ‖(2 real, 2 imag, t − 1)‖ ≤ t + 1.
    t = cp.multiply(i_limit2, v_c)
    charging = np.hypot(g, b) * math.sqrt(v_max2)
    series = np.maximum(np.sqrt(i_limit2) - charging, 0.0) ** 2
    return [
        cp.SOC(t + 1, cp.vstack([2 * real, 2 * imag, t - 1]), axis=0),
        psi[lines] <= series,
    ]


def base_draws_kw(feeder: Feeder) -> tuple[dict[int, float], dict[int, float]]:
    """Active and reactive power drawn at each bus by the feeder's own loads and static
    generators (load convention, kW and kvar); a feeder with no load is refused."""
    net = feeder.net
    loads = net.load[net.load.in_service.astype(bool)]
    if len(loads) == 0:
        raise GridError(
            f"feeder {feeder.name!r} has no base-case loads: OCDA's OPF needs the loads and "
            "generators of the session's base case"
        )
    p: dict[int, float] = {}
    q: dict[int, float] = {}
    for table, sign in ((loads, 1.0), (net.sgen[net.sgen.in_service.astype(bool)], -1.0)):
        scaling = table.scaling.to_numpy(dtype=float) if "scaling" in table else 1.0
        pk = table.p_mw.to_numpy(dtype=float) * scaling * 1000.0 * sign
        qk = table.q_mvar.to_numpy(dtype=float) * scaling * 1000.0 * sign
        for bus, pv, qv in zip(table.bus.to_numpy(dtype=int).tolist(), pk, qk, strict=True):
            p[bus] = p.get(bus, 0.0) + float(pv)
            q[bus] = q.get(bus, 0.0) + float(qv)
    return p, q


class TransferOPF:
    """The transfer OPF of one feeder, built once and solved per ask (:meth:`solve`)."""

    def __init__(
        self,
        feeder: Feeder,
        *,
        limits: GridLimits | None = None,
        loss_price_per_kwh: float = 0.35,
        session_hours: float = 1.0,
    ) -> None:
        if not (math.isfinite(loss_price_per_kwh) and loss_price_per_kwh > 0):
            raise GridError(f"loss price must be positive, got {loss_price_per_kwh!r}")
        if not (math.isfinite(session_hours) and session_hours > 0):
            raise GridError(f"session length must be positive hours, got {session_hours!r}")
        self.feeder = feeder
        self.limits = limits or feeder.limits
        self.session_hours = session_hours
        net = RadialNetwork.from_net(feeder.net)
        unrated = [
            net.branch_name(b)
            for b in range(net.n_branches)
            if net.branch_kind[b] == "line" and not math.isfinite(net.i_max_pu[b])
        ]
        if unrated:
            raise GridError(
                f"feeder {feeder.name!r} has lines without a current rating ({unrated[0]}, "
                f"{len(unrated)} in all): OCDA's OPF needs the line limits"
            )
        self.network = net
        p_kw, q_kvar = base_draws_kw(feeder)
        n, nb = net.n_buses, net.n_branches
        to_pu = 1.0 / net.kw_per_pu
        self._base_p = np.zeros(n)
        base_q = np.zeros(n)
        for bus, value in p_kw.items():
            if net.has_bus(bus):
                self._base_p[net.position(bus)] += value * to_pu
        for bus, value in q_kvar.items():
            if net.has_bus(bus):
                base_q[net.position(bus)] += value * to_pu

        # Parameters: what changes from one ask to the next.
        self._draw = cp.Parameter(n, name="draw")  # base + earlier matches, p.u.
        self._matrix = cp.Parameter((n, n), name="transfer")  # draws per p.u. from each bus
        self._cap = cp.Parameter(n, nonneg=True, name="cap")  # offer capacity per bus, p.u.
        self._need = cp.Parameter(nonneg=True, name="need")  # the ask, p.u.

        self._y = cp.Variable(n, nonneg=True, name="y")
        v = cp.Variable(n, name="v")
        p = cp.Variable(nb, name="P")
        q = cp.Variable(nb, name="Q")
        psi = cp.Variable(nb, name="psi")
        p0 = cp.Variable(name="p_root")
        q0 = cp.Variable(name="q_root")
        child, parent = net.branch_child, net.branch_parent
        a_child = _incidence(child, n)
        a_parent = _incidence(parent, n)
        d = a_child - a_parent
        e0 = np.zeros(n)
        e0[0] = 1.0
        inj_p = cp.multiply(e0, p0) - self._draw - self._matrix @ self._y
        inj_q = cp.multiply(e0, q0) - base_q
        bal_p = d @ p + (a_parent @ sp.diags(net.r_pu)) @ psi + cp.multiply(net.g_shunt_pu, v)
        bal_q = d @ q + (a_parent @ sp.diags(net.x_pu)) @ psi - cp.multiply(net.b_shunt_pu, v)
        upstream = sp.csr_matrix((1.0 / net.tap_ratio**2, (np.arange(nb), parent)), shape=(nb, n))
        z2 = net.r_pu**2 + net.x_pu**2
        v_child = v[1:]
        lim = self.limits
        cons: list[cp.Constraint] = [
            inj_p == bal_p,
            inj_q == bal_q,
            v_child
            == upstream @ v
            + 2 * (cp.multiply(net.r_pu, p) + cp.multiply(net.x_pu, q))
            - cp.multiply(z2, psi),
            cp.SOC(psi + v_child, cp.vstack([2 * p, 2 * q, psi - v_child]), axis=0),
            v[0] == net.v_root_pu**2,
            v_child >= lim.v_min_pu**2,
            v_child <= lim.v_max_pu**2,
            self._y <= self._cap,
            cp.sum(self._y) <= self._need,
        ]
        pct = np.array(
            [
                lim.max_trafo_loading_pct if k == "trafo" else lim.max_line_loading_pct
                for k in net.branch_kind
            ]
        )
        i_limit2 = (net.i_max_pu * pct / 100.0) ** 2
        is_line = np.array([k == "line" for k in net.branch_kind])
        rated = np.flatnonzero(np.isfinite(net.i_max_pu) & ~is_line)
        if len(rated):
            cons.append(psi[rated] <= i_limit2[rated])
        lines = np.flatnonzero(np.isfinite(net.i_max_pu) & is_line)
        if len(lines):
            cons.extend(
                _line_end_limits(net, lines, i_limit2[lines], lim.v_max_pu**2, p, q, psi, v)
            )
        energy = session_hours * net.kw_per_pu  # kWh per p.u. of power over the session
        loss_cost = loss_price_per_kwh * energy * (net.r_pu @ psi)
        shortfall = SHORTFALL_FACTOR * loss_price_per_kwh * energy * (self._need - cp.sum(self._y))
        self._problem = cp.Problem(cp.Minimize(loss_cost + shortfall), cons)
        self._psi, self._v, self._p, self._q = psi, v, p, q

    def solve(
        self,
        pool: str,
        ask_bus: int,
        offers_kwh: Mapping[int, float],
        need_kwh: float,
        earlier: Iterable[ServiceDelivery] = (),
    ) -> TransferDispatch:
        """Dispatch offers (capacity in kWh at each bus) towards an ask of ``need_kwh`` at
        ``ask_bus``, after the session's ``earlier`` matches."""
        check_pool(pool)
        net = self.network
        n = net.n_buses
        to_pu = 1.0 / (net.kw_per_pu * self.session_hours)  # kWh over the session -> p.u.
        draw = self._base_p.copy()
        for bus, kw in service_draws_kw(pool, earlier, self.session_hours).items():
            draw[net.position(bus)] += kw / net.kw_per_pu
        matrix = np.zeros((n, n))
        cap = np.zeros(n)
        for bus, kwh in offers_kwh.items():
            j = net.position(bus)
            cap[j] += kwh * to_pu
            unit = service_draws_kw(pool, [ServiceDelivery(ask_bus, bus, 1.0)], 1.0)
            for drawn_at, kw in unit.items():
                matrix[net.position(drawn_at), j] = kw  # p.u. drawn per p.u. delivered
        self._draw.value = draw
        self._matrix.value = matrix
        self._cap.value = cap
        y, gap, burned_kw = self._solve_for(need_kwh * to_pu)
        if burned_kw > FICTITIOUS_LOSSES_KW and need_kwh > 0:
            y, gap = self._largest_exact(float(np.sum(y)), need_kwh * to_pu * DISPATCH_RESOLUTION)
        y = y / to_pu
        dispatch: dict[int, float] = {}
        digits = -math.floor(math.log10(max(need_kwh * DISPATCH_RESOLUTION, 1e-300)))
        step = 10.0**-digits
        for bus, kwh in offers_kwh.items():
            got = min(round(max(float(y[net.position(bus)]), 0.0), digits), kwh)
            if got > kwh - step:
                got = kwh
            if got > 0:
                dispatch[bus] = got
        psi = np.maximum(np.asarray(self._psi.value, dtype=float), 0.0)
        status = str(self._problem.status)
        return TransferDispatch(
            dispatch_kwh=dispatch,
            losses_kw=float(net.r_pu @ psi) * net.kw_per_pu,
            max_relaxation_gap=max(gap, 0.0),
            status=status,
        )

    def _solve_for(self, need_pu: float) -> tuple[np.ndarray, float, float]:
        """Solve with ``need_pu`` asked: the dispatch per bus (p.u.), the largest relaxation
        gap ψ v − (P² + Q²) of the solution and the losses of its fictitious currents (kW)."""
        self._need.value = need_pu
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Solution may be inaccurate")
                self._problem.solve(solver=cp.CLARABEL)
        except cp.error.SolverError as err:
            raise OPFError(f"transfer OPF: the solver CLARABEL failed ({err})") from None
        status = str(self._problem.status)
        if status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
            raise OPFInfeasible(
                f"transfer OPF infeasible on feeder {self.feeder.name!r}: its base case with the "
                f"session's earlier matches already breaks the voltage band "
                f"{self.limits.v_min_pu}..{self.limits.v_max_pu} p.u. or a loading limit",
                status=status,
            )
        if status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
            raise OPFError(f"transfer OPF: no solution (solver status {status!r})", status=status)
        psi = np.maximum(np.asarray(self._psi.value, dtype=float), 0.0)
        v_child = np.asarray(self._v.value, dtype=float)[1:]
        flow2 = np.asarray(self._p.value, dtype=float) ** 2 + np.asarray(self._q.value) ** 2
        excess = psi * v_child - flow2
        gap = float(np.max(excess)) if len(psi) else 0.0
        burned = self.network.r_pu @ (np.maximum(excess, 0.0) / np.maximum(v_child, 1e-9))
        return np.asarray(self._y.value, dtype=float), gap, float(burned) * self.network.kw_per_pu

    def _largest_exact(self, served_pu: float, resolution_pu: float) -> tuple[np.ndarray, float]:
        """The largest transfer, below ``served_pu``, that the OPF serves with a tight
        relaxation, by bisection on what is asked.

        A loose relaxation (a fictitious current that burns power) can meet a voltage or
        loading limit on paper and serve a transfer the real network does not take: an AC check
        then finds a limit broken. The shortfall's price keeps this rare but cannot rule it out
        where serving one kWh more is worth burning a fraction of one. Asking less until the
        solution is the exact branch-flow model's again gives a dispatch the network takes;
        where even asking nothing leaves fictitious losses (the earlier matches alone),
        nothing is served.
        """
        lo, hi = 0.0, served_pu
        best, best_gap, burned_kw = self._solve_for(0.0)
        if burned_kw > FICTITIOUS_LOSSES_KW:
            return np.zeros_like(best), best_gap
        while hi - lo > resolution_pu:
            mid = (lo + hi) / 2
            y, gap, burned_kw = self._solve_for(mid)
            if burned_kw > FICTITIOUS_LOSSES_KW:
                hi = mid
            else:
                lo, best, best_gap = mid, y, gap
        self._solve_for(lo)  # leave the model's state at the dispatch returned
        return best, best_gap
