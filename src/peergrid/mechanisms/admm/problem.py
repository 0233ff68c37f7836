"""One convex problem per market design, built once, in its centralised or its local form.

The four designs of 000_bder.md §2.10 share the household block
(:mod:`~peergrid.mechanisms.admm.devices`) and differ in what couples the households:

- ``baseline``: nothing; each household balances its devices with its own retail contract,
  ``p^dev + p^imp − p^exp = 0`` (no microgrid, seed L621).
- ``grid-only``: the feeder (:mod:`~peergrid.mechanisms.admm.network`); the devices inject at
  their buses and the community exchanges with the external grid at the root, where the import
  price and the feed-in price apply. Exchanges between households are free (seed L621).
- ``trade-only``: bilateral trades ``d_ij`` (Eq. 13), each household's balance
  ``p^dev + p^imp − p^exp = Σ_j d_ij`` (20b) with its own retail contract, the coefficients'
  cost ``Σ γ_ij |d_ij| Δt`` (13a) and reciprocity ``d_ij + d_ji = 0`` (13b). No network.
- ``combined``: the trades of ``trade-only`` and the feeder of ``grid-only``. The devices inject
  at their buses; the retail contracts are delivered through the root, whose exchange
  ``R = Σ p^g + losses`` is free to settle, and the losses are bought at the import price (the
  DSO's cost, seed L704), each node paying for the losses of its upstream branch.

**Centralised form** (``central=True``): the coupling constraints hold exactly (copies equal,
reciprocity), and the problem is the reference a distributed result is checked against.
**Local form** (``central=False``): the coupling constraints are dropped; the problem keeps
the design's cost as its objective and is canonicalised once
(:class:`~peergrid.mechanisms.admm.local.LocalSolver`). The ADMM's augmented terms are
written into the solver's data each iteration: for every copy ``c`` of a coupling variable
``(ρ w_c/2)‖x_c‖² − ⟨ρ w_c(z − u_c), x_c⟩`` and for the trades
``(φ/2)‖d‖² − ⟨φ (d^k_ij − d^k_ji)/2 + ξ^k, d⟩`` — the quadratic penalties of Eqs. (19), (20a)
and (22) expanded, their constants dropped. The local form is separable: every constraint
touches one node's (one household's) variables only, so one solver call is every agent's
local step at once.

**Partitions of the grid designs.** ``nodes`` is the report's split (§2.6): every bus is a node
that owns its upstream branch, and the copies are the shared flows and voltages of
:mod:`~peergrid.mechanisms.admm.network`. ``households`` splits the same problem between the
households and the feeder's operator: each household's injection ``(p^dev, q^dev)`` has one copy
at the household and one at the operator, who holds the whole branch-flow model (its internal
copies forced equal). Both are consensus ADMM over the same convex problem with the same
aggregator (averaging the copies, summing residuals); the operator split needs one hop where
the node split needs as many as the feeder is deep, and converges in far fewer iterations
(``docs/systems/s3.md`` has the figures).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from peergrid.assets.fields import FloatArray
from peergrid.mechanisms.admm.case import BderCase, BderInputError
from peergrid.mechanisms.admm.devices import (
    ContractBlock,
    DeviceBlock,
    contract_block,
    device_block,
    placement,
)
from peergrid.mechanisms.admm.local import LocalSolver, Penalised
from peergrid.mechanisms.admm.network import CopyMap, NetworkBlock, network_block
from peergrid.mechanisms.admm.trading import TradePairs, trade_pairs, trading_coefficients

DESIGNS = ("baseline", "grid-only", "trade-only", "combined")
GRID_DESIGNS = ("grid-only", "combined")
TRADE_DESIGNS = ("trade-only", "combined")


PARTITIONS = ("nodes", "households")


def check_partition(partition: str) -> str:
    if partition not in PARTITIONS:
        raise BderInputError(
            f"ADMM settings: field 'partition' must be one of {', '.join(PARTITIONS)}, got "
            f"{partition!r}"
        )
    return partition


def check_design(design: str) -> str:
    if design not in DESIGNS:
        raise BderInputError(f"unknown design {design!r} (known: {', '.join(DESIGNS)})")
    return design


@dataclass
class DesignProblem:
    """A design's problem, its blocks, its cost terms and (local form) its local step."""

    design: str
    central: bool
    problem: cp.Problem
    devices: DeviceBlock
    contract: ContractBlock | None
    network: NetworkBlock | None
    d: cp.Variable | None  # (E, T) trades, kW
    pairs: TradePairs | None
    gamma: FloatArray | None  # (E, T) per kWh
    terms: dict[str, cp.Expression]  # the cost, by part (currency)
    root_import: cp.Variable | None = None  # grid-only: the community's import at the root (pu)
    root_export: cp.Variable | None = None
    reciprocity: cp.Constraint | None = None  # central trades: d_e + d_rev(e) = 0, e < rev(e)
    first_of_pair: np.ndarray | None = None  # the e with e < rev(e)
    local: LocalSolver | None = None  # the local form's solver (central=False)

    def solve_local(
        self,
        rho: float,
        phi: float,
        grid_lin: Sequence[FloatArray],
        trade_lin: FloatArray | None,
        tolerance: float | None = None,
        *,
        polish: bool = False,
    ) -> float:
        """Every agent's local step: the local form with the penalties ``ρ w_c/2 ‖x_c‖²`` and
        ``φ/2 ‖d‖²`` and the linear terms ``grid_lin`` (one per copy, ``ρ w_c (z̃ − u_c)``) and
        ``trade_lin`` (``φ (d_ij − d_ji)/2 + ξ``), to ``tolerance`` (and ``polish``ed) where the
        local solver takes one (:class:`~peergrid.mechanisms.admm.local.LocalSolver`);
        returns the solver's time (s)."""
        if self.local is None:
            raise ValueError("the centralised form has no local step")
        linear = list(grid_lin) + ([] if trade_lin is None else [trade_lin])
        return self.local.solve(rho, phi, linear, tolerance, polish=polish)

    def copy_values(self) -> list[FloatArray]:
        """Each copy ``x_c`` at the last local step, in the copy map's order."""
        assert self.local is not None and self.network is not None
        return [self.local.value(k) for k in range(len(self.network.copies.copies))]

    def bid_values(self) -> FloatArray:
        """The bids ``d_ij`` (E, T) at the last local step."""
        assert self.local is not None and self.d is not None
        return self.local.value(len(self.local.penalised) - 1)

    def cost_parts(self) -> dict[str, float]:
        """The cost terms at the last solution (currency)."""
        return {name: float(np.asarray(term.value)) for name, term in self.terms.items()}

    def cost_value(self) -> float:
        return float(sum(self.cost_parts().values()))


def build_problem(
    case: BderCase,
    design: str,
    *,
    central: bool,
    chi: float | None = None,
    max_partners: int | None = None,
    partition: str = "nodes",
) -> DesignProblem:
    """The design's convex problem in its centralised or local form (module docstring)."""
    check_design(design)
    check_partition(partition)
    H, T, dt = case.n_households, case.periods, case.period_hours
    dev = device_block(case)
    cons = list(dev.constraints)
    terms: dict[str, cp.Expression] = {}
    contract = None if design == "grid-only" else contract_block(case)
    if contract is not None:
        terms["retail"] = contract.cost

    d = pairs = gamma = None
    reciprocity = None
    first = None
    if design in TRADE_DESIGNS:
        pairs = trade_pairs(H, max_partners)
        gamma = (
            trading_coefficients(case, pairs)
            if chi is None
            else trading_coefficients(case, pairs, chi)
        )
        d = cp.Variable((len(pairs), T), name="d")
        terms["coefficients"] = cp.sum(cp.multiply(gamma * dt, cp.abs(d)))
        assert contract is not None
        cons.append(dev.p_dev + contract.net == sp.csr_matrix(pairs.outgoing()) @ d)  # (20b)
        if central:
            first = pairs.first_of_pair()
            reciprocity = d[first, :] + d[pairs.reverse[first], :] == 0  # (13b)
            cons.append(reciprocity)
    elif design == "baseline":
        assert contract is not None
        cons.append(dev.p_dev + contract.net == 0)

    net_block = None
    root_imp = root_exp = None
    if design in GRID_DESIGNS:
        network = case.network
        if network is None:
            raise BderInputError(f"design {design!r} needs the feeder's network; the case has none")
        buses = placement([network.position(h.bus) for h in case.households], network.n_buses)
        if partition == "nodes":
            inj_p, inj_q = dev.p_dev, dev.q_dev
        else:
            # The feeder's operator holds its own copy of every household's injection.
            inj_p = cp.Variable((H, T), name="p_injection_operator")
            inj_q = cp.Variable((H, T), name="q_injection_operator")
        net_block = network_block(
            network,
            case.limits,
            buses @ inj_p,
            buses @ inj_q,
            T,
            central=central or partition == "households",
        )
        cons += net_block.constraints
        if partition == "households":
            own_p = cp.Variable((H, T), name="p_injection")
            own_q = cp.Variable((H, T), name="q_injection")
            cons += [own_p == dev.p_dev, own_q == dev.q_dev]
            rows = np.arange(H, dtype=np.int64)
            assert isinstance(inj_p, cp.Variable) and isinstance(inj_q, cp.Variable)
            net_block.copies = CopyMap(
                (own_p, inj_p, own_q, inj_q), (rows, rows, H + rows, H + rows), 2 * H
            )
            if central:
                cons += [own_p == inj_p, own_q == inj_q]
        kw = network.kw_per_pu
        kappa = case.prices.import_per_kwh * dt
        if design == "grid-only":
            root_imp = cp.Variable(T, nonneg=True, name="root_import")
            root_exp = cp.Variable(T, nonneg=True, name="root_export")
            cons.append(net_block.root_p == root_imp - root_exp)
            terms["root"] = kw * (kappa @ root_imp - (case.prices.feed_in_per_kwh * dt) @ root_exp)
        else:
            loss = cp.sum(net_block.loss_kw, axis=0)
            if np.any(network.g_shunt_pu):
                loss = loss + cp.sum(sp.diags(network.g_shunt_pu * kw) @ net_block.v, axis=0)
            terms["losses"] = kappa @ loss

    cost = cp.sum(cp.hstack(list(terms.values())))
    built = DesignProblem(
        design,
        central,
        cp.Problem(cp.Minimize(cost), cons),
        dev,
        contract,
        net_block,
        d,
        pairs,
        gamma,
        terms,
        root_imp,
        root_exp,
        reciprocity,
        first,
    )
    if not central:
        penalised: list[Penalised] = []
        if net_block is not None:
            copies = net_block.copies
            penalised += [
                Penalised(c, "rho", copies.weight(k)) for k, c in enumerate(copies.copies)
            ]
        if d is not None:
            penalised.append(Penalised(d, "phi"))
        # Clarabel's equilibration of the branch-flow cones costs interior-point iterations:
        # measured over 30 ADMM iterations on cigre-lv with 10 households, 514 instead of
        # 750 (grid-only) and 487 instead of 742 (combined), the same iterates to 10⁻⁶;
        # trade-only, without cones, did 6 % better with it.
        built.local = LocalSolver(built.problem, penalised, equilibrate=net_block is None)
    return built
