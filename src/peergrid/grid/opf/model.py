"""The multi-period branch-flow OPF with SOC relaxation as a cvxpy problem (000_bder.md §2.2–2.3).

The model is the B-DER report's household and network model (seed L399–L455), centralised:
one convex problem over all buses and all ``T`` periods of length ``Δt`` hours.

Sign conventions (written once, here):

- **Bus injections** ``p_i, q_i`` are positive into the network (generation convention,
  Eq. 8–9, seed L429). Results give them as ``bus_p_kw`` / ``bus_q_kvar``. The AC check and
  :mod:`peergrid.grid.powerflow` use the *load* convention (kW drawn), i.e. ``−bus_p_kw``.
- **Branch flows** ``P_b, Q_b`` on the branch of child bus ``i`` are positive from the child
  towards its parent (upstream), measured at the child end: the convention of seed L437.
  ``ψ_b`` is the squared current magnitude of the branch, ``v_i`` the squared voltage
  magnitude, all per unit on the :class:`~peergrid.grid.opf.network.RadialNetwork` base.
- **Grid exchange** at the root (the external grid's bus): ``p_import ≥ 0`` bought at the
  import price κ_t, ``p_export ≥ 0`` sold at the feed-in price κ^fi_t ≤ κ_t (kW).
- Battery charging and EV charging draw power (kW ≥ 0); battery discharge and PV inject it.
  Energies in kWh, prices in currency per kWh, costs in currency.

Equations (numbers of the digest, 000_bder.md §2.2–2.3):

- (1) with feed-in: ``C_t = κ_t p^{imp}_t − κ^{fi}_t p^{exp}_t``, ``p^g_t = p^{imp}_t −
  p^{exp}_t`` at the root (seed L403: "imported from the utility grid at the root"). The
  feed-in price is below the import price (seed L621: 50 %), so importing and exporting in
  the same period never pays: lowering both by their minimum keeps the physics and lowers the
  cost by ``(κ − κ^{fi})·min``. The reported import and export are the positive and negative
  parts of the net exchange. A feed-in price above the import price is rejected.
- (2)–(3) optional bounds on the root exchange (:class:`~peergrid.grid.opf.case.GridConnection`).
- (4)–(5) EV energy delivered within the availability window ω, power between the window's
  bounds; V2G out of scope (seed L413–L417).
- (6)–(7) battery net power and state of charge, charge / discharge efficiencies; the limits
  "not given" by the report (seed L427) are the :class:`~peergrid.assets.battery.Battery`
  fields; the initial state and an end-of-horizon floor (``e_T ≥ e_final``) are ours (the
  digest lists them as unstated).
- (8)–(9) nodal balance of the assets at each bus; PV may be curtailed (``0 ≤ p^pv ≤`` its
  availability) and may provide reactive power within ``q_max`` and an apparent-power
  limit (seed L407 gives reactive power to PV households).
- (10a)–(10b) power balance at each bus, **with the losses of the children's branches**:
  ``p_i = P_i − Σ_{k∈δ(i)} (P_k − r_k ψ_k) + g_i v_i`` and
  ``q_i = Q_i − Σ_{k∈δ(i)} (Q_k − x_k ψ_k) − b_i v_i`` (``g, b``: nodal shunts). The report's
  ``−r_i ψ_i`` on the bus's own branch is not consistent with its own (10c) and L437; see
  ``docs/decisions.md``.
- (10c) ``v_i = v_{π(i)}/τ_i² + 2(r_i P_i + x_i Q_i) − (r_i² + x_i²) ψ_i`` (``τ_i = 1`` for
  lines; an ideal transformer at the parent end for transformers).
- (11) the SOC relaxation of (10d): ``P_i² + Q_i² ≤ ψ_i v_i``.
- voltage limits ``v_min² ≤ v_i ≤ v_max²`` on every bus but the root, whose ``v`` is fixed
  (seed L451, read as bounds on the voltage *magnitude*); thermal limits ``ψ_i ≤ ψ_max``.
- (12) minimise ``Σ_t Δt · C_t``; optionally plus a current penalty ``w · κ̄ · Σ_{b,t} ψ_b,t``
  (``current_penalty`` of :func:`build_model`, 0 by default).

The relaxation gap ``ψ v − (P² + Q²) ≥ 0`` is reported at the solution
(:class:`~peergrid.grid.opf.result.RelaxationGap`); a zero gap means the dispatch satisfies
the exact branch-flow model. It is zero when every extra ampere costs money: prices positive
(losses must be bought or forgo feed-in revenue) and no upper voltage limit binding against
reverse flow on a branch with ``x > r``. There, a fictitious current lowers the downstream
voltage by more than it loses (``|z|²/2r > r``) and lets more PV out, so the optimum leaves
the cone's surface; the gap and the AC check (:mod:`peergrid.grid.opf.check`) show it. LV
cables (``r > x``) are safe; negative prices are allowed but make losses welcome, and the gap
will say so.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from peergrid.core.errors import GridError
from peergrid.grid.opf.case import OPFCase
from peergrid.grid.opf.network import FloatArray


def _column(values: Iterable[float]) -> FloatArray:
    """A column vector (n, 1) of the values."""
    return np.array(list(values), dtype=float)[:, None]


def _incidence(rows: npt.ArrayLike, n_rows: int) -> sp.csr_matrix:
    """(n_rows, len(rows)) 0/1 matrix placing column k at row rows[k]."""
    r = np.asarray(rows, dtype=np.int64)
    return sp.csr_matrix((np.ones(len(r)), (r, np.arange(len(r)))), shape=(n_rows, len(r)))


@dataclass
class OPFModel:
    """The cvxpy problem of a case and its variables, all per unit on the network's base.

    Bus variables have one row per bus position, branch variables one row per branch (the
    branch of child position ``b + 1``), asset variables one row per asset of the case's tuple;
    columns are periods. An asset variable is None when the case has no such asset.
    """

    problem: cp.Problem
    v: cp.Variable  # (N, T) squared voltage magnitude
    p: cp.Variable  # (N-1, T) active branch flow, upstream at the child end
    q: cp.Variable  # (N-1, T) reactive branch flow
    psi: cp.Variable  # (N-1, T) squared branch current
    imp: cp.Variable  # (T,) import from the external grid at the root
    exp: cp.Variable  # (T,) export to the external grid
    qg: cp.Variable  # (T,) reactive power from the external grid
    pv_p: cp.Variable | None  # (n_pv, T) PV output
    pv_q: cp.Variable | None  # (n_pv, T) PV reactive injection; None if no PV has q_max
    bc: cp.Variable | None  # (n_bat, T) battery charging
    bd: cp.Variable | None  # (n_bat, T) battery discharging
    e: cp.Variable | None  # (n_bat, T) state of charge at the end of each period
    ev: cp.Variable | None  # (n_ev, T) EV charging drawn from the grid
    n_soc: int  # second-order cone constraints, counted as scalar cones


def build_model(case: OPFCase, current_penalty: float = 0.0) -> OPFModel:
    """The case's OPF: constraints (2)–(11), the voltage and thermal limits, objective (12).

    ``current_penalty`` (``w``, default 0: the report's objective) adds ``w · κ̄ · Σ ψ`` to the
    objective, κ̄ being the mean import price over the horizon: as if every branch had an extra
    resistance of ``w`` p.u. whose losses ``w ψ`` were bought at the mean price. It acts on
    the objective only, never on the physics. A positive weight pushes the squared currents
    down onto the cone's surface where the relaxation is loose (reverse flow against a binding
    upper voltage limit on a branch with ``x > r``), at the price of a dearer dispatch (e.g.
    more PV curtailed); with a tight relaxation it only trades cost for lower currents. It
    needs a positive mean import price, else it would reward current.
    """
    if not (math.isfinite(current_penalty) and current_penalty >= 0):
        raise GridError(f"OPF: current_penalty must be non-negative, got {current_penalty}")
    if current_penalty > 0 and float(np.mean(case.prices.import_per_kwh)) <= 0:
        raise GridError(
            "OPF: a current_penalty needs a positive mean import price; at "
            f"{float(np.mean(case.prices.import_per_kwh)):g} per kWh it would reward current"
        )
    net = case.network
    T, N, B = case.periods, net.n_buses, net.n_branches
    dt = case.period_hours
    to_pu = 1.0 / net.kw_per_pu
    lim = case.limits
    child, parent = net.branch_child, net.branch_parent

    v = cp.Variable((N, T), name="v")
    p = cp.Variable((B, T), name="P")
    q = cp.Variable((B, T), name="Q")
    psi = cp.Variable((B, T), name="psi")
    imp = cp.Variable(T, nonneg=True, name="p_import")
    exp = cp.Variable(T, nonneg=True, name="p_export")
    qg = cp.Variable(T, name="q_grid")
    cons: list[cp.Constraint] = []

    # Fixed loads (8)-(9), aggregated per bus.
    load_p = np.zeros((N, T))
    load_q = np.zeros((N, T))
    for load in case.loads:
        i = net.position(load.bus)
        load_p[i] += load.p_kw * to_pu
        assert load.q_kvar is not None
        load_q[i] += load.q_kvar * to_pu

    root = _incidence([0], N)
    inj_p: cp.Expression = root @ cp.reshape(imp - exp, (1, T), order="F") - load_p
    inj_q: cp.Expression = root @ cp.reshape(qg, (1, T), order="F") - load_q

    # Grid exchange bounds (2)-(3).
    g = case.grid
    if g.import_max_kw is not None:
        cons.append(imp <= g.import_max_kw * to_pu)
    if g.export_max_kw is not None:
        cons.append(exp <= g.export_max_kw * to_pu)
    if g.q_min_kvar is not None:
        cons.append(qg >= g.q_min_kvar * to_pu)
    if g.q_max_kvar is not None:
        cons.append(qg <= g.q_max_kvar * to_pu)

    n_soc = B * T

    # PV: curtailable availability, reactive power, inverter rating.
    pv_p = pv_q = None
    if case.pv:
        n = len(case.pv)
        avail = np.vstack([pv.available_kw for pv in case.pv]) * to_pu
        fixed = np.array([not pv.curtailable for pv in case.pv])
        pv_p = cp.Variable((n, T), name="p_pv")
        cons += [pv_p <= avail, pv_p >= np.where(fixed[:, None], avail, 0.0)]
        m = _incidence([net.position(pv.bus) for pv in case.pv], N)
        inj_p = inj_p + m @ pv_p
        q_max = np.array([pv.q_max_kvar for pv in case.pv]) * to_pu
        if (q_max > 0).any():
            pv_q = cp.Variable((n, T), name="q_pv")
            cons += [pv_q <= q_max[:, None], pv_q >= -q_max[:, None]]
            inj_q = inj_q + m @ pv_q
        rated = [k for k, pv in enumerate(case.pv) if pv.s_max_kva is not None]
        if rated:
            s_max = np.array([case.pv[k].s_max_kva for k in rated], dtype=float) * to_pu
            rows = [pv_p[rated, :]]
            if pv_q is not None:
                rows.append(pv_q[rated, :])
            x = cp.vstack([cp.vec(r, order="F") for r in rows])
            cons.append(cp.SOC(np.tile(s_max, T), x, axis=0))  # p² + q² ≤ s_max²
            n_soc += len(rated) * T

    # Batteries (6)-(7).
    bc = bd = e = None
    if case.batteries:
        bats = case.batteries
        n = len(bats)
        bc = cp.Variable((n, T), nonneg=True, name="p_charge")
        bd = cp.Variable((n, T), nonneg=True, name="p_discharge")
        e = cp.Variable((n, T), name="e_battery")
        shift = sp.eye(T, k=1, format="csr")  # (e @ shift)[:, t] = e[:, t-1]; 0 at t = 0
        first = np.zeros((1, T))
        first[0, 0] = 1.0
        e0 = _column(b.e_start for b in bats) * to_pu
        eta_c = _column(b.eta_charge for b in bats)
        eta_d = _column(b.eta_discharge for b in bats)
        cons += [
            bc <= _column(b.p_charge_max_kw for b in bats) * to_pu,
            bd <= _column(b.p_discharge_max_kw for b in bats) * to_pu,
            e
            == e @ shift + e0 @ first + dt * (cp.multiply(eta_c, bc) - cp.multiply(1 / eta_d, bd)),
            e >= _column(b.e_min_kwh for b in bats) * to_pu,
            e <= _column(b.e_max_kwh for b in bats) * to_pu,
            e[:, T - 1] >= _column(b.e_end for b in bats)[:, 0] * to_pu,
        ]  # (7) and the state-of-charge limits
        m = _incidence([net.position(b.bus) for b in bats], N)
        inj_p = inj_p + m @ (bd - bc)

    # EVs (4)-(5).
    ev = None
    if case.evs:
        evs = case.evs
        omega = np.vstack([x.availability(T) for x in evs]).astype(float)
        ev = cp.Variable((len(evs), T), name="p_ev")
        eta = np.array([x.efficiency for x in evs])
        cons += [
            ev <= omega * np.array([x.p_max_kw for x in evs])[:, None] * to_pu,
            ev >= omega * np.array([x.p_min_kw for x in evs])[:, None] * to_pu,
            cp.multiply(eta, cp.sum(ev, axis=1)) * dt
            == np.array([x.energy_kwh for x in evs]) * to_pu,
        ]
        inj_p = inj_p - _incidence([net.position(x.bus) for x in evs], N) @ ev

    # Network (10a)-(10c), (11).
    a_child = _incidence(child, N)
    a_parent = _incidence(parent, N)
    d = a_child - a_parent
    balance_p = d @ p + (a_parent @ sp.diags(net.r_pu)) @ psi
    balance_q = d @ q + (a_parent @ sp.diags(net.x_pu)) @ psi
    if np.any(net.g_shunt_pu):
        balance_p = balance_p + sp.diags(net.g_shunt_pu) @ v
    if np.any(net.b_shunt_pu):
        balance_q = balance_q - sp.diags(net.b_shunt_pu) @ v
    cons += [inj_p == balance_p, inj_q == balance_q]  # (10a), (10b)

    upstream = sp.csr_matrix(
        (1.0 / net.tap_ratio**2, (np.arange(B), parent)), shape=(B, N)
    )  # v_{π(i)} / τ_i²
    z2 = net.r_pu**2 + net.x_pu**2
    v_child = v[1:, :]
    cons.append(
        v_child
        == upstream @ v + 2 * (sp.diags(net.r_pu) @ p + sp.diags(net.x_pu) @ q) - sp.diags(z2) @ psi
    )  # (10c)
    cons.append(
        cp.SOC(
            cp.vec(psi + v_child, order="F"),
            cp.vstack(
                [
                    cp.vec(2 * p, order="F"),
                    cp.vec(2 * q, order="F"),
                    cp.vec(psi - v_child, order="F"),
                ]
            ),
            axis=0,
        )
    )  # (11): ‖(2P, 2Q, ψ − v)‖ ≤ ψ + v  ⇔  P² + Q² ≤ ψ v, ψ + v ≥ 0

    # Voltage and thermal limits.
    cons += [
        v[0, :] == net.v_root_pu**2,
        v_child >= lim.v_min_pu**2,
        v_child <= lim.v_max_pu**2,
    ]
    pct = np.array(
        [
            lim.max_trafo_loading_pct if k == "trafo" else lim.max_line_loading_pct
            for k in net.branch_kind
        ]
    )
    rated_b = np.flatnonzero(np.isfinite(net.i_max_pu))
    if len(rated_b):
        psi_max = (net.i_max_pu[rated_b] * pct[rated_b] / 100.0) ** 2
        cons.append(psi[rated_b, :] <= psi_max[:, None])

    # (12) with the feed-in price (1).
    kappa = case.prices.import_per_kwh * dt * net.kw_per_pu
    kappa_fi = case.prices.feed_in_per_kwh * dt * net.kw_per_pu
    # The current penalty stays in the objective at 0 too: the problem, and so the solver's
    # path, is the same whatever the weight.
    w = float(current_penalty)
    objective = cp.Minimize(kappa @ imp - kappa_fi @ exp + w * float(np.mean(kappa)) * cp.sum(psi))
    return OPFModel(
        cp.Problem(objective, cons), v, p, q, psi, imp, exp, qg, pv_p, pv_q, bc, bd, e, ev, n_soc
    )
