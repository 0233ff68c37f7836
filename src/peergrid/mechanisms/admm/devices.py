"""The households' devices as one cvxpy block, all households at once (000_bder.md Eqs. 4–9).

:func:`device_block` builds, for every household of a case, the variables and constraints of
its load, PV (active and reactive), EV (Eqs. 4–5) and battery (Eqs. 6–7), and its **device net
injection** ``p^dev = p^pv + p^bd − p^bc − p^l − p^ev`` and ``q^dev = q^pv − q^l`` (kW, kvar,
generation convention, Eqs. 8–9 without the grid term). The constraints of different
households never share a variable, so the block is the households' local problems side by side:
one solver call solves them all (the batched local step of the ADMM), and the same block is
part of every centralised problem.

The retail contract of each household (import ``p^imp`` at κ_t, export ``p^exp`` at the feed-in
price, both ≥ 0, Eq. 1 with feed-in) is :func:`contract_block`. Powers are kW, energies kWh.
"""

from __future__ import annotations

from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from peergrid.assets.fields import FloatArray
from peergrid.mechanisms.admm.case import BderCase


def placement(rows: npt.ArrayLike, n_rows: int) -> sp.csr_matrix:
    """(n_rows, len(rows)) 0/1 matrix placing column k at row rows[k]."""
    r = np.asarray(rows, dtype=np.int64)
    return sp.csr_matrix((np.ones(len(r)), (r, np.arange(len(r)))), shape=(n_rows, len(r)))


@dataclass
class DeviceBlock:
    """The devices' variables (rows: households that own the device) and their net injection."""

    constraints: list[cp.Constraint]
    p_dev: cp.Expression  # (H, T) kW injected by the devices (load and EV drawn: negative)
    q_dev: cp.Expression  # (H, T) kvar
    pv_p: cp.Variable | None  # (H_pv, T)
    pv_q: cp.Variable | None  # (H_pv, T)
    bc: cp.Variable | None  # (H_bat, T) charging
    bd: cp.Variable | None  # (H_bat, T) discharging
    e: cp.Variable | None  # (H_bat, T) state of charge at the end of each period
    ev: cp.Variable | None  # (H_ev, T) EV charging
    pv_rows: list[int]
    bat_rows: list[int]
    ev_rows: list[int]


def device_block(case: BderCase) -> DeviceBlock:
    """Variables and constraints of every household's devices (see the module docstring)."""
    H, T, dt = case.n_households, case.periods, case.period_hours
    hs = case.households
    load_p = np.vstack([h.load.p_kw for h in hs])
    load_q = np.vstack([np.asarray(h.load.q_kvar, dtype=float) for h in hs])
    p_dev: cp.Expression = cp.Constant(-load_p)
    q_dev: cp.Expression = cp.Constant(-load_q)
    cons: list[cp.Constraint] = []

    pv_rows = [k for k, h in enumerate(hs) if h.pv is not None]
    pv_p = pv_q = None
    if pv_rows:
        pvs = [hs[k].pv for k in pv_rows]
        avail = np.vstack([pv.available_kw for pv in pvs if pv is not None])
        fixed = np.array([pv is not None and not pv.curtailable for pv in pvs])
        pv_p = cp.Variable((len(pv_rows), T), name="p_pv")
        cons += [pv_p <= avail, pv_p >= np.where(fixed[:, None], avail, 0.0)]
        m = placement(pv_rows, H)
        p_dev = p_dev + m @ pv_p
        q_max = np.array([pv.q_max_kvar if pv is not None else 0.0 for pv in pvs])
        if (q_max > 0).any():
            pv_q = cp.Variable((len(pv_rows), T), name="q_pv")
            cons += [cp.abs(pv_q) <= q_max[:, None]]
            q_dev = q_dev + m @ pv_q
        rated = [k for k, pv in enumerate(pvs) if pv is not None and pv.s_max_kva is not None]
        if rated:
            s_max = np.array([float(pvs[k].s_max_kva or 0.0) for k in rated])  # type: ignore[union-attr]
            rows = [pv_p[rated, :]] + ([pv_q[rated, :]] if pv_q is not None else [])
            x = cp.vstack([cp.vec(r, order="F") for r in rows])
            cons.append(cp.SOC(np.tile(s_max, T), x, axis=0))

    bat_rows = [k for k, h in enumerate(hs) if h.battery is not None]
    bc = bd = e = None
    if bat_rows:
        bats = [hs[k].battery for k in bat_rows]
        col = [
            np.array([getattr(b, f) for b in bats], dtype=float)[:, None]
            for f in (
                "p_charge_max_kw",
                "p_discharge_max_kw",
                "eta_charge",
                "eta_discharge",
                "e_min_kwh",
                "e_max_kwh",
                "e_start",
                "e_end",
            )
        ]
        pc_max, pd_max, eta_c, eta_d, e_min, e_max, e0, e_end = col
        n = len(bat_rows)
        bc = cp.Variable((n, T), nonneg=True, name="p_charge")
        bd = cp.Variable((n, T), nonneg=True, name="p_discharge")
        e = cp.Variable((n, T), name="e_battery")
        shift = sp.eye(T, k=1, format="csr")  # (e @ shift)[:, t] = e[:, t-1]; 0 at t = 0
        first = np.zeros((1, T))
        first[0, 0] = 1.0
        cons += [
            bc <= pc_max,
            bd <= pd_max,
            e
            == e @ shift + e0 @ first + dt * (cp.multiply(eta_c, bc) - cp.multiply(1 / eta_d, bd)),
            e >= e_min,
            e <= e_max,
            e[:, T - 1] >= e_end[:, 0],
        ]  # (6)-(7), the limits, and the day ends no emptier than it began
        p_dev = p_dev + placement(bat_rows, H) @ (bd - bc)

    ev_rows = [k for k, h in enumerate(hs) if h.ev is not None]
    ev = None
    if ev_rows:
        cars = [hs[k].ev for k in ev_rows]
        omega = np.vstack([c.availability(T) for c in cars if c is not None]).astype(float)
        p_max = np.array([c.p_max_kw for c in cars if c is not None])[:, None]
        p_min = np.array([c.p_min_kw for c in cars if c is not None])[:, None]
        eta = np.array([c.efficiency for c in cars if c is not None])
        need = np.array([c.energy_kwh for c in cars if c is not None])
        ev = cp.Variable((len(ev_rows), T), name="p_ev")
        cons += [
            ev <= omega * p_max,
            ev >= omega * p_min,
            cp.multiply(eta, cp.sum(ev, axis=1)) * dt == need,
        ]  # (4)-(5)
        p_dev = p_dev - placement(ev_rows, H) @ ev

    return DeviceBlock(cons, p_dev, q_dev, pv_p, pv_q, bc, bd, e, ev, pv_rows, bat_rows, ev_rows)


@dataclass
class ContractBlock:
    """Each household's retail contract: import and export (kW ≥ 0) and their cost."""

    imp: cp.Variable  # (H, T)
    exp: cp.Variable  # (H, T)
    cost: cp.Expression  # scalar, currency: Σ Δt (κ imp − κ^fi exp)

    @property
    def net(self) -> cp.Expression:
        """``p^g = imp − exp`` (kW taken from the utility)."""
        return self.imp - self.exp


def contract_block(case: BderCase) -> ContractBlock:
    """Eq. (1) with the feed-in price: ``C = Σ_t Δt (κ_t p^imp − κ^fi_t p^exp)`` per household."""
    H, T, dt = case.n_households, case.periods, case.period_hours
    imp = cp.Variable((H, T), nonneg=True, name="p_import")
    exp = cp.Variable((H, T), nonneg=True, name="p_export")
    kappa = case.prices.import_per_kwh * dt
    kappa_fi = case.prices.feed_in_per_kwh * dt
    cost = cp.sum(imp @ kappa) - cp.sum(exp @ kappa_fi)
    return ContractBlock(imp, exp, cost)


def value(x: cp.Expression | None, shape: tuple[int, int]) -> FloatArray:
    """A variable's (or expression's) value as an array of ``shape``; zeros when absent."""
    if x is None or x.value is None:
        return np.zeros(shape)
    return np.asarray(x.value, dtype=float).reshape(shape)
