"""The four market designs of 000_bder.md §2.10 as functions: schedules, trades and prices.

- :func:`baseline`: each household alone with its retail contract (BS/BW).
- :func:`grid_only`: consensus ADMM on the branch-flow OPF, node by node (GS/GW, §2.6).
- :func:`trade_only`: bilateral trading with trading coefficients (TS/TW, §2.7, §2.9).
- :func:`combined`: both (TGS/TGW, §2.8).

Each runs the distributed algorithm (:mod:`~peergrid.mechanisms.admm.consensus`);
:func:`centralised` solves the same convex problem in one piece, the reference the distributed
result is checked against (:mod:`~peergrid.mechanisms.admm.check`). The baseline has no
coupling: its distributed and centralised forms are one and the same solve.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from peergrid.assets.fields import FloatArray
from peergrid.mechanisms.admm.aggregator import Aggregator
from peergrid.mechanisms.admm.case import BderCase, BderInputError
from peergrid.mechanisms.admm.consensus import AdmmSettings, AdmmStart, AdmmState, run_admm
from peergrid.mechanisms.admm.devices import contract_block, device_block, placement, value
from peergrid.mechanisms.admm.problem import DesignProblem, build_problem, check_design
from peergrid.mechanisms.admm.result import BderResult, Iterate, NetworkState, Schedules, Trades


def baseline(case: BderCase) -> BderResult:
    """Every household alone: its devices against its retail contract, no trades, no grid."""
    return centralised(case, "baseline")


def grid_only(case: BderCase, settings: AdmmSettings | None = None) -> BderResult:
    """Consensus ADMM on the branch-flow OPF, every bus a node (§2.6, Eqs. 19, 16b–c)."""
    return distributed(case, "grid-only", settings)


def trade_only(
    case: BderCase,
    settings: AdmmSettings | None = None,
    *,
    chi: float | None = None,
    max_partners: int | None = None,
) -> BderResult:
    """Bilateral trading ADMM with trading coefficients (§2.7, §2.9; Eqs. 20–21 as resolved)."""
    return distributed(case, "trade-only", settings, chi=chi, max_partners=max_partners)


def combined(
    case: BderCase,
    settings: AdmmSettings | None = None,
    *,
    chi: float | None = None,
    max_partners: int | None = None,
) -> BderResult:
    """Grid and trade ADMM together (§2.8, Eqs. 22–25)."""
    return distributed(case, "combined", settings, chi=chi, max_partners=max_partners)


def distributed(
    case: BderCase,
    design: str,
    settings: AdmmSettings | None = None,
    *,
    chi: float | None = None,
    max_partners: int | None = None,
    aggregator: Callable[[DesignProblem], Aggregator] | None = None,
    method: str = "admm",
) -> BderResult:
    """The design by ADMM (the baseline needs none and is solved as it is).

    ``aggregator`` builds the aggregator of the built local problem (the off-chain one when
    None; the ledger's on-chain one is built this way), ``method`` labels the result."""
    check_design(design)
    settings = (settings or AdmmSettings()).for_design(design)
    if design == "baseline":
        return baseline(case)
    t0 = time.perf_counter()
    built = build_problem(
        case,
        design,
        central=False,
        chi=chi,
        max_partners=max_partners,
        partition=settings.partition,
    )
    agent = aggregator(built) if aggregator is not None else None
    start = _start(case, built, settings.start) if settings.warm_start else None
    state, history, converged, solver_time = run_admm(built, settings, start, agent)
    return _result(
        case,
        built,
        method,
        time.perf_counter() - t0,
        solver_time,
        len(history),
        converged,
        tuple(history),
        state,
    )


def _start(case: BderCase, built: DesignProblem, which: str) -> AdmmStart:
    """The start ``AdmmSettings.start`` names (a start changes the path, never the fixed point)."""
    if which == "lindistflow":
        feeder = _lindistflow_start(case, built)
        if feeder is not None:
            return feeder
    alone = _warm_start(case, built)
    if which == "copper-plate":
        return _copper_plate_start(case, built, alone)
    return alone


def _warm_start(case: BderCase, built: DesignProblem) -> AdmmStart:
    """Each household's own schedule as the first ``z̃``, the retail price as the first prices.

    Every household can compute its baseline schedule alone (its devices against its retail
    contract); the community's position in its baseline says which retail price is marginal
    in each period: the import price where the households together are short, the feed-in
    price where they are long. That price starts the value of an injection (the duals ``y``
    of the ``households`` partition: ``−λ`` at the household, ``+λ`` at the operator, who
    saves it at the root; in the combined design the operator's only cost is the losses, so
    its duals start at 0) and the trade prices ``ξ``. The node partition starts from flat
    voltages and no flow. A start changes the path, never the fixed point.
    """
    alone = baseline(case)
    dt = case.period_hours
    short = alone.schedules.net_kw.sum(axis=0) < 0
    lam = np.where(short, case.prices.import_per_kwh, case.prices.feed_in_per_kwh) * dt
    z = y = None
    copies = built.network.copies if built.network is not None else None
    if copies is not None and copies.n_global == 2 * case.n_households:  # households partition
        z = np.vstack([alone.schedules.net_kw, alone.schedules.net_kvar])
        H, T = case.n_households, case.periods
        price = np.tile(lam, (H, 1)) if built.design == "grid-only" else np.zeros((H, T))
        y = (-price, price, np.zeros((H, T)), np.zeros((H, T)))
    xi = None
    if built.d is not None:
        xi = np.tile(lam, (built.d.shape[0], 1))
    return AdmmStart(z, y, xi)


def _copper_plate_start(case: BderCase, built: DesignProblem, alone: AdmmStart) -> AdmmStart:
    """The grid-only design without its feeder as the first ``z̃`` and injection prices.

    The copper-plate relaxation drops the branch-flow model (no losses, no voltage band, no
    thermal limit): the households' devices against one contract at the root, a linear
    program of the household block alone, solved once (0.1–0.4 s for 10–55 households,
    against the branch-flow SOCP of every ADMM iteration). Its schedule starts ``z̃`` and the
    dual of its energy balance — the community's marginal price of energy in each period,
    the import or feed-in price or one between where storage makes the community balance
    itself — starts the injection duals, where the baseline start has only the retail price
    of the community's position. The ADMM then closes the gap the feeder makes. It needs
    every household's device model in one place, like the centralised check, so it is the
    coordinator's start, off by default: the published algorithm starts from each household
    alone (:func:`_warm_start`). Grid-only with the ``households`` partition only; any other
    design or partition keeps ``alone``.
    """
    copies = built.network.copies if built.network is not None else None
    H, T, dt = case.n_households, case.periods, case.period_hours
    if built.design != "grid-only" or copies is None or copies.n_global != 2 * H:
        return alone
    dev = device_block(case)
    imp = cp.Variable(T, nonneg=True, name="copper_plate_import")
    exp = cp.Variable(T, nonneg=True, name="copper_plate_export")
    balance = cp.sum(dev.p_dev, axis=0) + imp - exp == 0
    kappa, kappa_fi = case.prices.import_per_kwh * dt, case.prices.feed_in_per_kwh * dt
    problem = cp.Problem(cp.Minimize(kappa @ imp - kappa_fi @ exp), [*dev.constraints, balance])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Solution may be inaccurate")
        problem.solve(solver=cp.CLARABEL)
    if problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or balance.dual_value is None:
        return alone  # the ADMM's own start: a failed relaxation must not stop the design
    # cvxpy adds +λ(Σp + imp − exp): an imported kW costs κ = −λ, so the price is −λ, which
    # lies between the feed-in and the import price (clipped to them: solver tolerance).
    price = np.clip(-np.asarray(balance.dual_value, dtype=float), kappa_fi, kappa)
    z = np.vstack([value(dev.p_dev, (H, T)), value(dev.q_dev, (H, T))])
    y_price = np.tile(price, (H, 1))
    return AdmmStart(z, (-y_price, y_price, np.zeros((H, T)), np.zeros((H, T))), alone.xi)


@dataclass(frozen=True)
class FeederPrices:
    """The community's LinDistFlow schedule and the nodal prices of its households' buses.

    ``p_kw``/``q_kvar`` (H, T) each household's device injection; ``price_p``/``price_q``
    (H, T) the value of one more kW (kvar) injected at its bus in a period (currency per kW
    and period, as the injection duals ``y``); ``root_price`` (T,) the same at the root, the
    community's marginal price of energy. With trades (the combined design): ``bids`` (E, T)
    the trades, kW, and ``trade_price`` (E, T) the value of a kW sold on each trade (both
    sides of a pair alike; currency per kW and period, as the ADMM's ``ξ``).
    """

    p_kw: FloatArray
    q_kvar: FloatArray
    price_p: FloatArray
    price_q: FloatArray
    root_price: FloatArray
    bids: FloatArray | None = None
    trade_price: FloatArray | None = None


# Directions of the octagon that stands in for the thermal circle P² + Q² ≤ S²: the outer
# octagon is at most 8 % wider than the circle and keeps the relaxation a linear program.
_OCTAGON = np.array(
    [[1.0, 0.0], [0.0, 1.0], [np.sqrt(0.5), np.sqrt(0.5)], [np.sqrt(0.5), -np.sqrt(0.5)]]
)


def lindistflow_prices(
    case: BderCase, *, with_losses: bool = True, trades: DesignProblem | None = None
) -> FeederPrices | None:
    """The grid-only design on the linearised branch-flow model (LinDistFlow), in one piece.

    The households' device block against the community's exchange at the root (import and
    feed-in price), with the feeder linearised as Baran and Wu's DistFlow without its loss
    terms: ``P_i = Σ_{k∈δ(i)} P_k + p_i`` (losses ψ dropped), ``v_i = v_π(i)/τ_i² + 2(r_i P_i
    + x_i Q_i)``, the voltage band on ``v`` and each rated branch's thermal limit as an
    octagon around ``P² + Q² ≤ (I_max)²`` at 1 p.u. A linear program but for the PV
    inverters' apparent-power cones of the device block; no branch-flow cone. With
    ``with_losses`` the branches' losses ``r(P² + Q²)`` (at 1 p.u.) are drawn at the root,
    one cone per period: the nodal prices then carry the marginal losses too. The duals of the nodal
    balances are the nodal prices: the energy price at the root plus what the losses, the
    voltage band and the thermal limits add at each bus. None when the relaxation has no
    solution (a start must not stop the design).

    With ``trades`` (a combined design's problem: its trading pairs and coefficients γ) it is
    the combined design instead: every household settles with its own retail contract and
    its trades ``d`` (cost ``Σ γ|d|Δt``, reciprocity ``d_ij + d_ji = 0``), the root's exchange
    is free to settle, and the losses are bought there at the import price, as
    :func:`~peergrid.mechanisms.admm.problem.build_problem` states the design. The result
    then also holds the trades (``bids``) and the duals of their reciprocity (``trade_price``,
    one per pair, the same on both sides).
    """
    net = case.network
    if net is None:
        return None
    H, T, dt = case.n_households, case.periods, case.period_hours
    N, B, kw = net.n_buses, net.n_branches, net.kw_per_pu
    dev = device_block(case)
    at_bus = placement([net.position(h.bus) for h in case.households], N)
    flow_p = cp.Variable((B, T), name="lindistflow_P")  # kW, upstream at the child's end
    flow_q = cp.Variable((B, T), name="lindistflow_Q")
    v = cp.Variable((N, T), name="lindistflow_v")  # squared voltage, p.u.
    imp = cp.Variable(T, nonneg=True, name="lindistflow_import")
    exp = cp.Variable(T, nonneg=True, name="lindistflow_export")
    root_q = cp.Variable(T, name="lindistflow_root_q")
    root = placement([0], N)
    leaves = placement(net.branch_child, N) - placement(net.branch_parent, N)
    # The branches' losses r(P² + Q²) at 1 p.u., drawn at the root: bought there, they make
    # the nodal prices rise along the feeder by the marginal losses (measured at 55
    # households: without them the first ADMM iterate was 15.6 % off the optimum's cost).
    # One cone per period (not per branch and period, as the branch-flow model has). Loss
    # factors of the lossless flows added to its prices instead left the first iterate
    # 0.8 % off, and the ADMM not within 0.1 % in 30 iterations: the schedule, reactive
    # power most, has to know the losses too.
    loss = cp.Variable(T, nonneg=True, name="lindistflow_losses")
    loss_cones: list[cp.Constraint] = []
    if with_losses:
        w = np.sqrt(net.r_pu / kw)
        loss_cones = [
            cp.sum_squares(cp.multiply(w, flow_p[:, t]))
            + cp.sum_squares(cp.multiply(w, flow_q[:, t]))
            <= loss[t]
            for t in range(T)
        ]
    # Injection minus what leaves the bus: a kW more injected at a bus raises the left side.
    balance_p = (
        at_bus @ dev.p_dev
        + root @ cp.reshape(imp - exp - loss, (1, T), order="F")
        - leaves @ flow_p
        - sp.diags(net.g_shunt_pu * kw) @ v
        == 0
    )
    balance_q = (
        at_bus @ dev.q_dev
        + root @ cp.reshape(root_q, (1, T), order="F")
        - leaves @ flow_q
        + sp.diags(net.b_shunt_pu * kw) @ v
        == 0
    )
    lim = case.limits
    cons: list[cp.Constraint] = [
        *dev.constraints,
        *loss_cones,
        balance_p,
        balance_q,
        v[1:, :]
        == sp.diags(1.0 / net.tap_ratio**2) @ (placement(net.branch_parent, N).T @ v)
        + (2.0 / kw) * (sp.diags(net.r_pu) @ flow_p + sp.diags(net.x_pu) @ flow_q),
        v[0, :] == net.v_root_pu**2,
        v[1:, :] >= lim.v_min_pu**2,
        v[1:, :] <= lim.v_max_pu**2,
    ]
    rated = np.flatnonzero(np.isfinite(net.i_max_pu))
    if len(rated):
        pct = np.array(
            [
                lim.max_trafo_loading_pct
                if net.branch_kind[b] == "trafo"
                else lim.max_line_loading_pct
                for b in rated
            ]
        )
        s_max = (net.i_max_pu[rated] * pct / 100.0 * kw)[:, None]
        for cos_a, sin_a in _OCTAGON:
            along = cos_a * flow_p[rated, :] + sin_a * flow_q[rated, :]
            cons += [along <= s_max, along >= -s_max]
    kappa, kappa_fi = case.prices.import_per_kwh * dt, case.prices.feed_in_per_kwh * dt
    cost: cp.Expression = kappa @ imp - kappa_fi @ exp
    d = reciprocity = None
    if trades is not None:
        # The combined design: every household settles its energy with its own retail
        # contract and its trades; the root's exchange is free to settle and the DSO buys
        # the losses there at the import price (problem.py).
        assert trades.pairs is not None and trades.gamma is not None
        pairs = trades.pairs
        contract = contract_block(case)
        d = cp.Variable((len(pairs), T), name="lindistflow_d")
        first = pairs.first_of_pair()
        reciprocity = d[first, :] + d[pairs.reverse[first], :] == 0
        cons += [
            dev.p_dev + contract.net == sp.csr_matrix(pairs.outgoing()) @ d,
            reciprocity,
        ]
        # imp − exp is then the root's free exchange.
        cost = contract.cost + cp.sum(cp.multiply(trades.gamma * dt, cp.abs(d))) + kappa @ loss
    problem = cp.Problem(cp.Minimize(cost), cons)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Solution may be inaccurate")
        problem.solve(solver=cp.CLARABEL)
    if (
        problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE)
        or balance_p.dual_value is None
        or balance_q.dual_value is None
    ):
        return None
    # cvxpy adds +λ(left side): one kW more injected lowers the cost by λ, so the value of
    # an injection is −λ.
    nodal_p = -np.asarray(balance_p.dual_value, dtype=float).reshape(N, T)
    nodal_q = -np.asarray(balance_q.dual_value, dtype=float).reshape(N, T)
    buses = [net.position(h.bus) for h in case.households]
    bids = trade_price = None
    if d is not None and reciprocity is not None and trades is not None:
        assert trades.pairs is not None
        # cvxpy adds +ν(d_ij + d_ji): a kW sold from i to j is worth −ν to both sides, the
        # trade price ξ of the local step's −⟨ξ, d⟩.
        first, reverse = trades.pairs.first_of_pair(), trades.pairs.reverse
        nu = np.asarray(reciprocity.dual_value, dtype=float).reshape(first.size, T)
        trade_price = np.zeros((len(reverse), T))
        trade_price[first] = -nu
        trade_price[reverse[first]] = -nu
        bids = value(d, (len(reverse), T))
    return FeederPrices(
        value(dev.p_dev, (H, T)),
        value(dev.q_dev, (H, T)),
        nodal_p[buses],
        nodal_q[buses],
        nodal_p[0],
        bids,
        trade_price,
    )


def _lindistflow_start(case: BderCase, built: DesignProblem) -> AdmmStart | None:
    """A start that knows the feeder: the design solved once on the linearised feeder.

    :func:`lindistflow_prices` solves the design in one piece with the feeder linearised
    (LinDistFlow with its losses drawn at the root): grid-only against the community's
    exchange at the root, combined with every household's retail contract and its trades.
    Its schedule is the first ``z̃``, and the duals of its nodal balances at the households'
    buses, active and reactive, are the first injection duals, as they are: where the
    feeder binds, the optimum's own duals lie outside the retail prices (an injection behind
    a branch at its thermal limit is worth less than the feed-in price), so clipping them to
    the retail band as the copper-plate start does would throw away what the feeder says.
    Combined: its trades are the first bids ``d`` and the duals of their reciprocity the
    first trade prices ``ξ`` (docs/decisions.md, "B-DER ADMM: the combined design starts
    from its trades"). Like the copper-plate start it needs every household's device model
    and the feeder in one place: the coordinator's start. Only the ``households`` partition
    of the grid designs; None otherwise (the caller takes the default start).
    """
    copies = built.network.copies if built.network is not None else None
    H = case.n_households
    if copies is None or copies.n_global != 2 * H:
        return None
    feeder = lindistflow_prices(case, trades=built if built.d is not None else None)
    if feeder is None:
        return None
    z = np.vstack([feeder.p_kw, feeder.q_kvar])
    y = (-feeder.price_p, feeder.price_p, -feeder.price_q, feeder.price_q)
    return AdmmStart(z, y, feeder.trade_price, feeder.bids)


def centralised(
    case: BderCase, design: str, *, chi: float | None = None, max_partners: int | None = None
) -> BderResult:
    """The design's convex problem solved in one piece by CLARABEL."""
    check_design(design)
    t0 = time.perf_counter()
    built = build_problem(case, design, central=True, chi=chi, max_partners=max_partners)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Solution may be inaccurate")
        built.problem.solve(solver=cp.CLARABEL)
    if built.problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        raise BderInputError(
            f"design {design!r}: the centralised problem has no solution (status "
            f"{built.problem.status!r}); the voltage band or the devices' limits cannot be met"
        )
    solve = float(built.problem.solver_stats.solve_time or 0.0)
    return _result(case, built, "central", time.perf_counter() - t0, solve, 1, True, (), None)


def _result(
    case: BderCase,
    built: DesignProblem,
    method: str,
    wall: float,
    solve: float,
    iterations: int,
    converged: bool,
    history: tuple[Iterate, ...],
    state: AdmmState | None,
) -> BderResult:
    H, T, dt = case.n_households, case.periods, case.period_hours
    dev = built.devices

    def rows(x: cp.Variable | None, where: list[int]) -> np.ndarray:
        out = np.zeros((H, T))
        if x is not None and where:
            out[where] = value(x, (len(where), T))
        return out

    load = np.vstack([h.load.p_kw for h in case.households])
    imp = value(built.contract.imp, (H, T)) if built.contract is not None else np.zeros((H, T))
    exp = value(built.contract.exp, (H, T)) if built.contract is not None else np.zeros((H, T))
    netted = imp - exp  # a solver may leave both above zero where it costs nothing
    schedules = Schedules(
        load_kw=load,
        pv_kw=rows(dev.pv_p, dev.pv_rows),
        pv_q_kvar=rows(dev.pv_q, dev.pv_rows),
        ev_kw=rows(dev.ev, dev.ev_rows),
        battery_charge_kw=rows(dev.bc, dev.bat_rows),
        battery_discharge_kw=rows(dev.bd, dev.bat_rows),
        battery_energy_kwh=rows(dev.e, dev.bat_rows),
        import_kw=np.maximum(netted, 0.0),
        export_kw=np.maximum(-netted, 0.0),
        net_kw=value(dev.p_dev, (H, T)),
        net_kvar=value(dev.q_dev, (H, T)),
    )
    trades = None
    if built.d is not None and built.pairs is not None and built.gamma is not None:
        d = value(built.d, (len(built.pairs), T))
        if state is not None and state.xi is not None:
            price = state.xi / dt
        else:
            price = _central_prices(built, dt)
        trades = Trades(
            built.pairs.household, built.pairs.partner, built.pairs.reverse, d, price, built.gamma
        )
    network = None
    if built.network is not None and case.network is not None:
        nb = built.network
        N, B = case.network.n_buses, case.network.n_branches
        v2 = np.maximum(value(nb.v, (N, T)), 0.0)
        kw = case.network.kw_per_pu
        network = NetworkState(
            v_pu=np.sqrt(v2),
            v_sq_pu=v2,
            branch_p_pu=value(nb.p, (B, T)),
            branch_q_pu=value(nb.q, (B, T)),
            branch_psi_pu=np.maximum(value(nb.psi, (B, T)), 0.0),
            root_p_kw=value(nb.root_p, (1, T))[0] * kw,
            root_q_kvar=value(nb.root_q, (1, T))[0] * kw,
            loss_kw=value(nb.loss_kw, (B, T)).sum(axis=0),
        )
    parts = built.cost_parts()
    info: dict[str, object] = {}
    if state is not None:
        info["final_rho"] = state.rho
        info["final_phi"] = state.phi
    return BderResult(
        design=built.design,
        method=method,
        household_ids=tuple(h.id for h in case.households),
        period_hours=dt,
        schedules=schedules,
        trades=trades,
        network=network,
        import_price=case.prices.import_per_kwh,
        feed_in_price=case.prices.feed_in_per_kwh,
        cost=float(sum(parts.values())),
        cost_parts=parts,
        iterations=iterations,
        converged=converged,
        wall_time_s=wall,
        solve_time_s=solve,
        history=history,
        info=info,
    )


def _central_prices(built: DesignProblem, dt: float) -> np.ndarray:
    """Trade prices of the centralised solution: the duals of reciprocity (13b), per kWh.

    cvxpy's dual ``λ`` of ``d_ij + d_ji = 0`` enters the Lagrangian as ``+λ(d_ij + d_ji)``;
    a seller's revenue ``ξ d`` is ``−λ d``, so ``ξ = −λ`` for both sides of the pair.
    """
    assert built.pairs is not None and built.reciprocity is not None
    assert built.first_of_pair is not None
    lam = np.asarray(built.reciprocity.dual_value, dtype=float)
    price = np.zeros((len(built.pairs), lam.shape[1]))
    price[built.first_of_pair] = -lam
    price[built.pairs.reverse[built.first_of_pair]] = -lam
    return price / dt
