"""Consensus ADMM over a design's local form (Boyd's general form consensus, 000_bder.md §2.5).

What one iteration ``k → k+1`` exchanges (the protocol of seed L579–L586, which a contract can
replay):

1. **Local step** (every node / household, Eqs. 19, 20a, 22): with the published ``z̃^k``, its
   scaled duals ``u^k_c`` and, for trades, the prices ``ξ^k`` and the partners' bids
   ``d^k_ji``, each agent solves its local problem (all at once here: one call on the
   separable local form of :mod:`~peergrid.mechanisms.admm.problem`) and **submits** its
   coupling copies ``x^{k+1}_c`` and its bids ``d^{k+1}_ij``.
2. **z-update** (the aggregator, Eqs. 16b / 23): with over-relaxation ``α`` each copy is
   first relaxed, ``x̂_c = α x_c + (1 − α) z̃^k_c``; then every global row is the average of
   its ``k_g`` copies, ``z_g = (1/k_g) Σ x̂_c``. (The scaled duals of a row sum to zero, so
   Boyd's ``avg(x̂ + u)`` is ``avg(x̂)``.) For trades the aggregator only forwards each bid to
   its partner.
3. **Dual updates** (every agent, locally, Eqs. 16c / 24a–b): ``u_c ← u_c + x̂_c − z̃_c``
   (``y = ρ u``); trade prices ``ξ_ij ← ξ_ij − (φ/2)(d_ij + d_ji)`` — the published form of the
   unified prosumer market (Sorin, Bobo, Pinson 2019; Baroche et al. 2019), which resolves the
   digest's errata of Eq. (21)/(24a): new bids, penalty ``φ``, the *sum* of the pair's bids.
4. **Residuals** (each agent its part, the aggregator the sums, Eqs. 25a–d as norms):
   ``r_grid = ‖x − z̃‖``, ``s_grid = ρ‖z̃^{k+1} − z̃^k‖``, ``r_trade = ‖d_ij + d_ji‖``,
   ``s_trade = ‖d^{k+1} − d^k‖``.
5. **Convergence**: every residual at most its tolerance times the square root of its
   length (an RMS test, so tolerances do not depend on the number of households), or ``μ``
   iterations.
6. **Penalty update** (residual balancing, Boyd §3.4.1): if ``r > m·s`` the penalty is
   multiplied by ``τ``, if ``s > m·r`` divided by it; the scaled duals are divided (multiplied)
   by ``τ`` so that ``y = ρu`` is unchanged. The prices ``ξ`` are unscaled and stay.

The next local step reads ``ρ(z̃ − u_c)`` and ``φ(d_ij − d_ji)/2 + ξ_ij`` as its linear terms.

7. **Anderson acceleration** (optional, ``anderson = m > 0``, off chain only): one iteration
   is a map ``w → F(w)`` of the iterates ``w = (u, z̃, d, ξ/φ)`` the next local step reads.
   From the last ``m`` pairs ``(w, F(w))`` the next ``w`` is the combination of the recent
   images whose residuals ``F(w) − w`` cancel best (type-II Anderson, a least-squares
   problem of ``m`` unknowns), with a safeguard that falls back to the plain step; when ρ or
   φ moves the map changes and the history is dropped. It moves ``z̃`` and ``ξ`` away from
   the plain averages, which the contract does not compute: the on-chain aggregator runs
   the plain ADMM (``anderson = 0``, the default) and reaches its iterates.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np

from peergrid.assets.fields import FloatArray
from peergrid.mechanisms.admm.aggregator import Aggregator, AggregatorStep, OffChainAggregator
from peergrid.mechanisms.admm.case import BderInputError, check_penalty
from peergrid.mechanisms.admm.problem import DesignProblem, check_partition
from peergrid.mechanisms.admm.result import Iterate

STARTS = ("baseline", "copper-plate", "lindistflow")

RHO = 0.03
"""ρ₀ of the combined design and of the ``nodes`` partition (currency per kW², per p.u.²)."""
RHO_GRID_ONLY = 1.0
"""ρ₀ of grid-only on the ``households`` partition: from the LinDistFlow start its first
iterates are the fixed point's within 0.1 % (1 iteration at 10, 55 and 200 households, where
0.03 took 1 / 4 / 3); the combined design, which shares its ρ with the trades' φ, is slower
with it (69 iterations at 10 households against 28)."""


@dataclass(frozen=True)
class AdmmSettings:
    """θ of the aggregator (seed L570): penalties, tolerances, μ, and our accelerations.

    Tolerances are RMS values in the units of the copies: kW with the ``households``
    partition, per unit (flows on the network's base, weighted squared voltages) with
    ``nodes``; trade ones in kW.
    """

    # Grid penalty ρ₀ (currency per kW² with households, per p.u.² with nodes); None: the
    # design's own (DEFAULT_RHO), resolved by `for_design` before a run.
    rho: float | None = None
    phi: float = 0.05  # trade penalty φ (currency per kW²)
    eps_grid_primal: float = 3e-4  # kW (households) or p.u. (nodes)
    eps_grid_dual: float = 3e-4
    eps_trade_primal: float = 3e-4  # kW
    eps_trade_dual: float = 3e-4
    max_iterations: int = 200  # μ
    alpha: float = 1.0  # over-relaxation, 1 = none (1.6 measured slower here)
    adaptive: bool = True  # residual balancing of ρ and φ
    balance_ratio: float = 10.0  # m
    balance_factor: float = 2.0  # τ
    # Grid designs: "households" (each household's injection shared with the feeder's
    # operator) or "nodes" (every bus a node, §2.6); see problem.py.
    partition: str = "households"
    # Start from every household's own schedule and the retail price (see designs.py).
    warm_start: bool = True
    # Which start: "lindistflow" (the community on the linearised feeder: its schedule and
    # nodal prices; fewer iterations at every size measured, docs/decisions.md), "baseline"
    # (each household alone, the published algorithm's) or "copper-plate" (the community's
    # schedule and price without the feeder); designs.py.
    start: str = "lindistflow"
    # Anderson acceleration of the iterates (z̃, u, d, ξ): memory, 0 = none. Off chain only.
    anderson: int = 0

    def __post_init__(self) -> None:
        check_partition(self.partition)
        if self.rho is not None:
            check_penalty("rho", self.rho)
        check_penalty("phi", self.phi)
        for name in ("eps_grid_primal", "eps_grid_dual", "eps_trade_primal", "eps_trade_dual"):
            check_penalty(name, getattr(self, name))
        if not (isinstance(self.max_iterations, int) and self.max_iterations >= 1):
            raise BderInputError(
                f"ADMM settings: field 'max_iterations' must be at least 1, got "
                f"{self.max_iterations}"
            )
        if not (0 < self.alpha < 2):
            raise BderInputError(
                f"ADMM settings: field 'alpha' must lie in (0, 2), got {self.alpha}"
            )
        if not (isinstance(self.anderson, int) and 0 <= self.anderson <= 20):
            raise BderInputError(
                f"ADMM settings: field 'anderson' must be an integer in [0, 20], got "
                f"{self.anderson}"
            )
        if self.start not in STARTS:
            raise BderInputError(
                f"ADMM settings: field 'start' must be one of {', '.join(STARTS)}, got "
                f"{self.start!r}"
            )
        if not (self.balance_ratio > 1 and self.balance_factor > 1):
            raise BderInputError(
                "ADMM settings: 'balance_ratio' and 'balance_factor' must exceed 1"
            )

    def for_design(self, design: str, partition: str | None = None) -> AdmmSettings:
        """These settings with ρ₀ resolved for ``design`` (an explicit ρ is kept)."""
        if self.rho is not None:
            return self
        return replace(self, rho=default_rho(design, partition or self.partition))

    @property
    def rho0(self) -> float:
        """ρ₀ of a run (the settings resolved by :meth:`for_design`)."""
        if self.rho is None:
            raise ValueError("ADMM settings: ρ is the design's default until for_design()")
        return self.rho


def default_rho(design: str, partition: str) -> float:
    """ρ₀ when the settings leave it open: :data:`RHO_GRID_ONLY` for grid-only on the
    ``households`` partition, :data:`RHO` otherwise (docs/decisions.md, "ρ₀ per design")."""
    if design == "grid-only" and partition == "households":
        return RHO_GRID_ONLY
    return RHO


@dataclass
class AdmmState:
    """The iterates an aggregator and the agents hold between iterations."""

    z: FloatArray | None  # (G, T) global grid variables z̃
    u: list[FloatArray]  # scaled duals per copy
    d: FloatArray | None  # (E, T) last bids
    xi: FloatArray | None  # (E, T) trade prices (currency per kW and period)
    rho: float
    phi: float


@dataclass(frozen=True)
class AdmmStart:
    """Where the iterates start (the report leaves the initialisation open, digest §3).

    ``z`` (G, T) the global variables; ``y`` one unscaled dual per copy (``u = y / ρ``);
    ``xi`` (E, T) the trade prices per kW and period; ``d`` (E, T) the bids, kW. Any of them
    None: zeros (``z``: the copy map's own start, flat voltages).
    """

    z: FloatArray | None = None
    y: tuple[FloatArray, ...] | None = None
    xi: FloatArray | None = None
    d: FloatArray | None = None


def run_admm(
    built: DesignProblem,
    settings: AdmmSettings,
    start: AdmmStart | None = None,
    aggregator: Aggregator | None = None,
) -> tuple[AdmmState, list[Iterate], bool, float]:
    """Iterate until the residuals meet the tolerances or ``μ`` iterations; returns the final
    state, the history, whether it converged, and the time spent in the solver.

    The agents' part (local step, scaled duals) runs here; the aggregator's part (z-update,
    prices, residuals, convergence, penalties) is ``aggregator``'s, by default the off-chain
    :class:`~peergrid.mechanisms.admm.aggregator.OffChainAggregator`."""
    t0 = time.perf_counter()
    start = start or AdmmStart()
    net = built.network
    copies = net.copies if net is not None else None
    T = built.devices.p_dev.shape[1]
    z = None
    u: list[FloatArray] = []
    if copies is not None:
        z = np.zeros((copies.n_global, T))
        if start.z is not None:
            z = np.array(start.z, dtype=float)
        elif copies.start is not None:
            z += copies.start[:, None]
        u = [np.zeros(c.shape) for c in copies.copies]
        if start.y is not None:
            u = [np.asarray(y, dtype=float) / settings.rho0 for y in start.y]
    d_prev = None
    if built.d is not None and start.d is not None:
        d_prev = np.array(start.d, dtype=float)
    xi = None
    if built.d is not None:
        xi = np.zeros(built.d.shape) if start.xi is None else np.array(start.xi, dtype=float)
    accelerate = settings.anderson > 0
    if accelerate and aggregator is not None:
        raise BderInputError(
            "ADMM settings: field 'anderson' needs the off-chain aggregator (it moves z̃ and ξ)"
        )
    if aggregator is None:
        reverse = built.pairs.reverse if built.pairs is not None and built.d is not None else None
        aggregator = OffChainAggregator(settings, copies, reverse)
    z, xi, d_prev = aggregator.open(z, xi, d_prev)
    state = AdmmState(z, u, d_prev, xi, settings.rho0, settings.phi)
    history: list[Iterate] = []
    solver_time = 0.0
    converged = False
    aa = _Anderson(settings.anderson) if accelerate else None
    tolerance = LOCAL_TOLERANCE_FIRST
    for k in range(1, settings.max_iterations + 1):
        w_in = _pack(state) if aa is not None else None
        terms = _local_terms(built, state)
        step_penalties = (state.rho, state.phi)
        solver_time += built.solve_local(*step_penalties, *terms, tolerance=tolerance)
        xs = None if copies is None else built.copy_values()
        d = None if built.d is None else built.bid_values()
        step = aggregator.iterate(xs, d)
        if copies is not None:
            assert step.z is not None and step.copies is not None
            z_at = [step.z[r] for r in copies.rows]
            state.u = [uc + xh - zc for uc, xh, zc in zip(state.u, step.copies, z_at, strict=True)]
            state.z = step.z
        if d is not None:
            state.xi, state.d = step.xi, step.bids
        cost = built.cost_value()
        history.append(
            Iterate(
                k,
                step.rho,
                step.phi,
                step.r_grid,
                step.s_grid,
                step.r_trade,
                step.s_trade,
                cost,
                time.perf_counter() - t0,
            )
        )
        if step.converged:
            converged = True
            break
        tolerance = local_tolerance(step, xs, d)
        if aa is not None and isinstance(aggregator, OffChainAggregator):
            assert w_in is not None
            if step.rho_change or state.phi != step.phi_next:
                aa.reset()  # a new penalty is a new map: its history does not apply
            else:
                _unpack(state, aa.step(w_in, _pack(state)))
                aggregator.restart(state.z, state.xi, state.d)
        # The agents keep y = ρu when the aggregator moved ρ.
        tau = settings.balance_factor
        if step.rho_change > 0:
            state.u = [x / tau for x in state.u]
        elif step.rho_change < 0:
            state.u = [x * tau for x in state.u]
        state.rho, state.phi = step.rho_next, step.phi_next
    if built.local is not None and built.local.backend == "osqp":  # the loop ran: μ ≥ 1
        # The last local step again, from where it ended, polished and held to an absolute
        # tolerance: the schedules reported meet every household's own constraints to it,
        # not to the step's relative tolerance (a balance 0.2 W off). Same penalties and
        # terms, so the same iterate; solving it to 10⁻⁸ instead took 1 525 iterations, 2 s
        # at 55 households.
        solver_time += built.solve_local(
            *step_penalties, *terms, tolerance=LOCAL_TOLERANCE_FINAL, polish=True
        )
    return state, history, converged, solver_time


LOCAL_TOLERANCE_FIRST = 1e-2
"""The first local step's tolerance (kW), where the solver takes one (OSQP, a local form
without cones; :mod:`~peergrid.mechanisms.admm.local`)."""
LOCAL_TOLERANCE_FACTOR = 0.1
"""Each later step's tolerance, as a fraction of the larger RMS residual of the iteration
before it (kW, the trade residuals' and the copies'), within [:data:`LOCAL_TOLERANCE_MIN`,
:data:`LOCAL_TOLERANCE_FIRST`]: inexact steps whose errors shrink with the residuals, as an
inexact ADMM's must (docs/decisions.md, "B-DER ADMM: trade-only's local step by OSQP")."""
LOCAL_TOLERANCE_MIN = 1e-5
"""The tightest tolerance of a local step: a thirtieth of the default residual tolerances
(3·10⁻⁴), so that the step's error stays below what the stopping test can see."""


LOCAL_TOLERANCE_FINAL = 3e-5
"""The absolute tolerance (kW) of the last local step solved again, polished, for the
schedules reported: a tenth of the default residual tolerances. Measured at 55 households:
85 iterations (0.19 s), where 10⁻⁵ took 1 210 (1.6 s)."""


def local_tolerance(
    step: AggregatorStep, copies: list[FloatArray] | None, bids: FloatArray | None
) -> float:
    """The next local step's tolerance from this iteration's residuals (see
    :data:`LOCAL_TOLERANCE_FACTOR`); the grid's dual residual is taken back to kW (÷ ρ)."""
    rms = [0.0]
    if copies is not None:
        n = math.sqrt(sum(x.size for x in copies))
        rms += [step.r_grid / n, step.s_grid / (step.rho * n)]
    if bids is not None and bids.size:
        n = math.sqrt(bids.size)
        rms += [step.r_trade / n, step.s_trade / n]
    return min(max(LOCAL_TOLERANCE_FACTOR * max(rms), LOCAL_TOLERANCE_MIN), LOCAL_TOLERANCE_FIRST)


def _local_terms(
    built: DesignProblem, state: AdmmState
) -> tuple[list[FloatArray], FloatArray | None]:
    """The linear terms of the next local step: ``ρ w_c (z̃ − u_c)`` per copy and
    ``φ (d_ij − d_ji)/2 + ξ_ij`` for the bids."""
    grid: list[FloatArray] = []
    if built.network is not None:
        assert state.z is not None
        copies = built.network.copies
        grid = [
            state.rho * copies.weight(c) * (state.z[rows] - uc)
            for c, (rows, uc) in enumerate(zip(copies.rows, state.u, strict=True))
        ]
    trade = None
    if built.d is not None:
        assert built.pairs is not None and state.d is not None and state.xi is not None
        trade = state.phi * (state.d - state.d[built.pairs.reverse]) / 2 + state.xi
    return grid, trade


def _pack(state: AdmmState) -> FloatArray:
    """The iterates the next local step depends on, as one vector of kW (ξ scaled by 1/φ)."""
    parts = [x.ravel() for x in state.u]
    if state.z is not None:
        parts.append(state.z.ravel())
    if state.d is not None and state.xi is not None:
        parts += [state.d.ravel(), state.xi.ravel() / state.phi]
    return np.concatenate(parts) if parts else np.zeros(0)


def _unpack(state: AdmmState, w: FloatArray) -> None:
    at = 0

    def take(shape: tuple[int, ...]) -> FloatArray:
        nonlocal at
        size = int(np.prod(shape))
        out = w[at : at + size].reshape(shape)
        at += size
        return out

    state.u = [take(x.shape) for x in state.u]
    if state.z is not None:
        state.z = take(state.z.shape)
    if state.d is not None and state.xi is not None:
        state.d = take(state.d.shape)
        state.xi = take(state.xi.shape) * state.phi


class _Anderson:
    """Type-II Anderson acceleration of the ADMM map ``w → F(w)`` with a safeguard.

    From the last ``memory`` pairs of ``(w, F(w))`` it takes the combination of the recent
    images whose residuals ``F(w) − w`` cancel best (least squares). Safeguard: when the
    residual of the current step is more than twice the smallest one in memory (or the
    least-squares problem has no finite solution), the history is dropped and the plain ADMM
    step is taken.
    """

    def __init__(self, memory: int) -> None:
        self.memory = memory
        self.reset()

    def reset(self) -> None:
        self.g_prev: FloatArray | None = None
        self.f_prev: FloatArray | None = None
        self.d_g: list[FloatArray] = []
        self.d_f: list[FloatArray] = []
        self.norms: list[float] = []

    def step(self, w: FloatArray, f: FloatArray) -> FloatArray:
        g = f - w
        norm = float(np.linalg.norm(g))
        if self.norms and norm > 2.0 * min(self.norms):
            self.reset()
        if self.g_prev is not None and self.f_prev is not None:
            self.d_g.append(g - self.g_prev)
            self.d_f.append(f - self.f_prev)
            if len(self.d_g) > self.memory:
                self.d_g.pop(0)
                self.d_f.pop(0)
        self.g_prev, self.f_prev = g, f
        self.norms = [*self.norms, norm][-(self.memory + 1) :]
        if not self.d_g:
            return f
        G = np.column_stack(self.d_g)
        gamma = np.linalg.lstsq(G, g, rcond=None)[0]
        if not np.all(np.isfinite(gamma)):
            self.reset()
            return f
        return np.asarray(f - np.column_stack(self.d_f) @ gamma)
