"""The branch-flow OPF split into node-local pieces with copies of the shared values (§2.6).

Every bus ``i`` of the radial feeder is a node (``π(i)`` its parent, ``δ(i)`` its children). Node
``i > 0`` owns its upstream branch: the flows ``P_i, Q_i`` at its own end, the squared current
``ψ_i`` and its squared voltage ``v_i``; it also computes what its branch delivers at the
parent's end, ``P̃_i = P_i − r_i ψ_i`` and ``Q̃_i = Q_i − x_i ψ_i``. The values two nodes share
are the **coupling variables** of the report's ``(x_u)_i`` (seed L509):

- ``P̃_i, Q̃_i``: one copy at node ``i`` (its owner) and one at its parent ``π(i)``, which needs
  them in its balance (10a)–(10b);
- ``v_i``: one copy at node ``i`` and one at each child ``k ∈ δ(i)``, which needs it in (10c).

So the global variables are ``z = [P̃, Q̃, v]`` (``2(N−1) + N`` rows, one column per period) and
each copy points at one row of ``z``: :class:`CopyMap`. With the copies forced equal
(:func:`network_block` with ``central=True``) the block is the centralised OPF; left free, its
constraints are separable by node and the ADMM (:mod:`~peergrid.mechanisms.admm.consensus`)
makes the copies agree.

Node ``i``'s local constraints, per period, per unit on the network's base:

- (10a) ``p_i = P_i − Σ_{k∈δ(i)} P̃_k^{(i)} + g_i v_i`` and (10b) likewise for ``q`` (the losses
  of a branch are at its receiving end: ``P̃ = P − rψ``; see ``docs/decisions.md``),
- (10c) ``v_i = v_{π(i)}^{(i)}/τ_i² + 2(r_i P_i + x_i Q_i) − (r_i² + x_i²) ψ_i``,
- (11) ``P_i² + Q_i² ≤ ψ_i v_i``, the voltage band on ``v_i`` and the thermal limit on ``ψ_i``,

where ``^{(i)}`` marks node ``i``'s copy of a neighbour's value. The root (node 0) holds the
voltage reference ``v_0`` and the exchange with the external grid ``R`` (its injection).
"""

from __future__ import annotations

from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from peergrid.assets.fields import FloatArray
from peergrid.grid.feeders import GridLimits
from peergrid.grid.opf.network import IntArray, RadialNetwork
from peergrid.mechanisms.admm.devices import placement


@dataclass(frozen=True)
class CopyMap:
    """Where each copy of a coupling variable sits in the global vector ``z`` (rows).

    ``copies[c]`` is a cvxpy variable of shape ``(len(rows[c]), T)``; row ``r`` of it is a copy
    of row ``rows[c][r]`` of ``z``. ``counts[g]`` is ``k_g``, the number of copies of row ``g``.
    """

    copies: tuple[cp.Variable, ...]
    rows: tuple[IntArray, ...]
    n_global: int
    start: FloatArray | None = None  # (G,) the value z starts from; zeros if None
    # Weight of each copy's penalty, ``(ρ w_c / 2)‖x_c − z̃_c‖²``: it puts quantities of
    # different units on one scale (all copies of a row share one weight). None: all 1.
    weights: tuple[float, ...] | None = None

    def weight(self, c: int) -> float:
        return 1.0 if self.weights is None else self.weights[c]

    @property
    def counts(self) -> FloatArray:
        k = np.zeros(self.n_global)
        for r in self.rows:
            np.add.at(k, r, 1.0)
        return k

    def average(self, values: list[FloatArray]) -> FloatArray:
        """``z_g = (1/k_g) Σ_{copies of g} x`` (Eq. 16b / 23), values given per copy."""
        T = values[0].shape[1]
        total = np.zeros((self.n_global, T))
        for r, x in zip(self.rows, values, strict=True):
            np.add.at(total, r, x)
        return total / np.maximum(self.counts, 1.0)[:, None]


@dataclass
class NetworkBlock:
    """The network's variables (per unit), constraints, and the copies of shared values."""

    constraints: list[cp.Constraint]
    v: cp.Variable  # (N, T) squared voltage, owned by each node
    v_parent: cp.Variable  # (B, T) node b+1's copy of its parent's squared voltage
    p: cp.Variable  # (B, T) flow at the child end, upstream
    q: cp.Variable
    psi: cp.Variable  # (B, T) squared current
    pt: cp.Variable  # (B, T) flow delivered at the parent end, owned by the child
    qt: cp.Variable
    pt_parent: cp.Variable  # (B, T) the parent's copy of pt
    qt_parent: cp.Variable
    root_p: cp.Variable  # (T,) injection of the external grid at the root (p.u.)
    root_q: cp.Variable  # (T,)
    copies: CopyMap
    loss_kw: cp.Expression  # (B, T) r ψ in kW


def network_block(
    network: RadialNetwork,
    limits: GridLimits,
    p_bus_kw: cp.Expression,
    q_bus_kvar: cp.Expression,
    periods: int,
    *,
    central: bool,
) -> NetworkBlock:
    """Constraints (10a)–(11) with the copies of the shared values (see the module docstring).

    ``p_bus_kw``/``q_bus_kvar`` (N, T) are the injections of the households at each bus (kW,
    kvar, generation convention); the root adds the external grid's ``root_p``/``root_q``.
    ``central=True`` adds ``copy == owner`` for every copy: the centralised OPF.
    """
    N, B, T = network.n_buses, network.n_branches, periods
    to_pu = 1.0 / network.kw_per_pu
    child, parent = network.branch_child, network.branch_parent
    v = cp.Variable((N, T), name="v")
    v_par = cp.Variable((B, T), name="v_parent_copy")
    p = cp.Variable((B, T), name="P")
    q = cp.Variable((B, T), name="Q")
    psi = cp.Variable((B, T), name="psi")
    pt = cp.Variable((B, T), name="P_tilde")
    qt = cp.Variable((B, T), name="Q_tilde")
    pt_par = cp.Variable((B, T), name="P_tilde_copy")
    qt_par = cp.Variable((B, T), name="Q_tilde_copy")
    root_p = cp.Variable(T, name="root_p")
    root_q = cp.Variable(T, name="root_q")
    root = placement([0], N)
    a_child = placement(child, N)
    a_parent = placement(parent, N)
    inj_p = p_bus_kw * to_pu + root @ cp.reshape(root_p, (1, T), order="F")
    inj_q = q_bus_kvar * to_pu + root @ cp.reshape(root_q, (1, T), order="F")
    bal_p: cp.Expression = a_child @ p - a_parent @ pt_par
    bal_q: cp.Expression = a_child @ q - a_parent @ qt_par
    if np.any(network.g_shunt_pu):
        bal_p = bal_p + sp.diags(network.g_shunt_pu) @ v
    if np.any(network.b_shunt_pu):
        bal_q = bal_q - sp.diags(network.b_shunt_pu) @ v
    r, x = network.r_pu, network.x_pu
    z2 = r**2 + x**2
    lim = limits
    cons: list[cp.Constraint] = [
        inj_p == bal_p,  # (10a)
        inj_q == bal_q,  # (10b)
        pt == p - sp.diags(r) @ psi,
        qt == q - sp.diags(x) @ psi,
        v[1:, :]
        == sp.diags(1.0 / network.tap_ratio**2) @ v_par
        + 2 * (sp.diags(r) @ p + sp.diags(x) @ q)
        - sp.diags(z2) @ psi,  # (10c)
        cp.SOC(
            cp.vec(psi + v[1:, :], order="F"),
            cp.vstack(
                [
                    cp.vec(2 * p, order="F"),
                    cp.vec(2 * q, order="F"),
                    cp.vec(psi - v[1:, :], order="F"),
                ]
            ),
            axis=0,
        ),  # (11): ‖(2P, 2Q, ψ − v)‖ ≤ ψ + v  ⇔  P² + Q² ≤ ψ v
        v[0, :] == network.v_root_pu**2,
        v[1:, :] >= lim.v_min_pu**2,
        v[1:, :] <= lim.v_max_pu**2,
    ]
    pct = np.array(
        [
            lim.max_trafo_loading_pct if k == "trafo" else lim.max_line_loading_pct
            for k in network.branch_kind
        ]
    )
    rated = np.flatnonzero(np.isfinite(network.i_max_pu))
    if len(rated):
        cons.append(psi[rated, :] <= ((network.i_max_pu[rated] * pct[rated] / 100.0) ** 2)[:, None])
    parent_rows: IntArray = np.asarray(parent, dtype=np.int64)
    if central:
        cons += [pt_par == pt, qt_par == qt, v_par == placement(parent_rows, N).T @ v]
    branches = np.arange(B, dtype=np.int64)
    # A flow P moves the squared voltage by about 2 r P: weighing the voltage copies by
    # 1 / (2 r̄)² puts a voltage mismatch on the scale of the flow that would cause it.
    w_v = float(1.0 / max(2.0 * float(np.median(np.hypot(r, x))), 1e-6) ** 2)
    copies = CopyMap(
        copies=(pt, pt_par, qt, qt_par, v, v_par),
        rows=(
            branches,
            branches,
            B + branches,
            B + branches,
            2 * B + np.arange(N, dtype=np.int64),
            2 * B + parent_rows,
        ),
        n_global=2 * B + N,
        start=np.concatenate([np.zeros(2 * B), np.ones(N)]),  # flat voltages, no flow
        weights=(1.0, 1.0, 1.0, 1.0, w_v, w_v),
    )
    loss_kw = sp.diags(r * network.kw_per_pu) @ psi
    return NetworkBlock(
        cons, v, v_par, p, q, psi, pt, qt, pt_par, qt_par, root_p, root_q, copies, loss_kw
    )
