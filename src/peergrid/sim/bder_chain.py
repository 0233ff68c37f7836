"""A B-DER design by consensus ADMM with the aggregator on chain (000_bder.md §1.5, §6 item 7).

The households' local solves run off chain, as in :func:`~peergrid.mechanisms.admm.distributed`;
the aggregator's step is the ``AdmmAggregator`` contract's
(:mod:`peergrid.ledger.markets.admm_aggregator`). Every iteration each agent sends its coupling
copies and bids, in fixed-point integers, from its own account; the operator calls the
z-update; the agents read back ``z̃``, the forwarded bids and the prices, and update their
scaled duals locally. What goes on chain: the copies, the bids, the prices and the residual
sums; the households' private variables (devices, retail contract) and their duals never do.

:class:`ChainAggregator` is the :class:`~peergrid.mechanisms.admm.aggregator.Aggregator` the
ADMM loop uses; :func:`run_on_chain` deploys the contract, admits the agents and runs a design.

Agents. ``households`` partition: every household (its injection's copies ``p, q``; its
bids) and the feeder's operator (its copies of every injection). ``nodes`` partition: the
households that trade (bids only) and then every bus of the feeder (the flows and voltages it
shares with its parent and children). ``trade-only``: the households.

On chain the penalty balancing runs with ``τ = 2`` (exact in both binary floating point and
the contract's exponent), without over-relaxation (``α = 1``) and without Anderson
acceleration (``anderson = 0``, the plain ADMM): other settings are refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from peergrid.assets.fields import FloatArray
from peergrid.core.errors import PeergridError
from peergrid.ledger.chain.base import Chain, Receipt
from peergrid.ledger.chain.embedded import EmbeddedChain
from peergrid.ledger.markets.admm_aggregator import (
    BID_LIMIT,
    BID_SCALE,
    COPY_LIMIT,
    COPY_SCALE,
    PENALTY_SCALE,
    PRICE_LIMIT,
    PRICE_SCALE,
    WEIGHT_SCALE,
    AdmmAggregatorLedger,
    Status,
    Theta,
    quantize,
)
from peergrid.mechanisms.admm.aggregator import AggregatorStep
from peergrid.mechanisms.admm.case import BderCase, BderInputError
from peergrid.mechanisms.admm.consensus import AdmmSettings
from peergrid.mechanisms.admm.designs import distributed
from peergrid.mechanisms.admm.problem import DesignProblem, check_design
from peergrid.mechanisms.admm.result import BderResult


class AggregatorTimeout(PeergridError):
    """The on-chain aggregator timed out: an agent did not submit before the deadline."""


@dataclass(frozen=True)
class Agent:
    """One agent of the run: its copies ``(copy, row)`` of the copy map, its partners (agent
    indices; its edges are the contract's next ones) and its place on the feeder."""

    label: str
    slots: tuple[tuple[int, int], ...] = ()
    partners: tuple[int, ...] = ()
    node: int = 0
    parent: int = 0
    children: tuple[int, ...] = ()


def plan_agents(case: BderCase, built: DesignProblem, partition: str) -> list[Agent]:
    """The agents of a design in admission order (module docstring)."""
    H = case.n_households
    partners: list[tuple[int, ...]] = [() for _ in range(H)]
    if built.pairs is not None:
        pairs = built.pairs
        if np.any(np.diff(pairs.household) < 0):
            raise BderInputError("on chain: trading pairs must be listed household by household")
        partners = [tuple(int(j) for j in pairs.partner[pairs.household == h]) for h in range(H)]
    if built.network is None:
        return [Agent(h.id, (), partners[i]) for i, h in enumerate(case.households)]
    if partition == "households":
        agents = [
            Agent(h.id, ((0, i), (2, i)), partners[i], node=i + 1)
            for i, h in enumerate(case.households)
        ]
        operator = tuple((c, r) for c in (1, 3) for r in range(H))
        agents.append(
            Agent("feeder-operator", operator, (), node=0, children=tuple(range(1, H + 1)))
        )
        return agents
    net = case.network
    assert net is not None
    child, parent = net.branch_child, net.branch_parent
    slots: list[list[tuple[int, int]]] = [[] for _ in range(net.n_buses)]
    for b in range(net.n_branches):
        slots[child[b]] += [(0, b), (2, b), (5, b)]  # P̃, Q̃ of its branch; its parent's v
        slots[parent[b]] += [(1, b), (3, b)]  # its copies of its children's P̃, Q̃
    for i in range(net.n_buses):
        slots[i].append((4, i))
    traders = [Agent(h.id, (), partners[i]) for i, h in enumerate(case.households) if partners[i]]
    up = {int(child[b]): int(parent[b]) for b in range(net.n_branches)}
    buses = [
        Agent(
            f"bus-{i}",
            tuple(slots[i]),
            (),
            node=i,
            parent=up.get(i, i),
            children=tuple(int(child[b]) for b in range(net.n_branches) if parent[b] == i),
        )
        for i in range(net.n_buses)
    ]
    return traders + buses


def check_chain_settings(settings: AdmmSettings) -> None:
    """What the contract cannot do: over-relaxation, a balancing factor other than 2,
    Anderson acceleration."""
    if settings.alpha != 1.0:
        raise BderInputError(
            f"on chain: field 'alpha' must be 1 (no over-relaxation), got {settings.alpha}"
        )
    if settings.adaptive and settings.balance_factor != 2.0:
        raise BderInputError(
            f"on chain: field 'balance_factor' must be 2, got {settings.balance_factor}"
        )
    if settings.anderson != 0:
        raise BderInputError(
            f"on chain: field 'anderson' must be 0 (no Anderson acceleration), got "
            f"{settings.anderson}"
        )


@dataclass
class IterationGas:
    """Gas of one iteration: every agent's submission and the z-update."""

    iteration: int
    submissions: list[int] = field(default_factory=list)  # per agent, summed over its parts
    update: int = 0

    @property
    def total(self) -> int:
        return sum(self.submissions) + self.update


class ChainAggregator:
    """The aggregator on chain: quantises, submits from every agent's account, calls the
    z-update as the operator, and reads back what the agents read (module docstring)."""

    def __init__(
        self,
        ledger: AdmmAggregatorLedger,
        built: DesignProblem,
        agents: list[Agent],
        accounts: list[str],
    ) -> None:
        self.ledger = ledger
        self.built = built
        self.agents = agents
        self.accounts = accounts
        self.copy_map = built.network.copies if built.network is not None else None
        self.rho_nano = int(ledger.chain.call(ledger.contract, "rho_nano"))
        self.phi_nano = int(ledger.chain.call(ledger.contract, "phi_nano"))
        self.gas: list[IterationGas] = []
        self._edges: list[np.ndarray] = []
        first = 0
        for agent in agents:
            self._edges.append(np.arange(first, first + len(agent.partners)))
            first += len(agent.partners)

    @classmethod
    def deploy(
        cls,
        chain: Chain,
        case: BderCase,
        built: DesignProblem,
        settings: AdmmSettings,
        *,
        round_seconds: int = 3600,
    ) -> ChainAggregator:
        """Deploy the contract with θ from ``settings`` and admit the design's agents."""
        check_chain_settings(settings)
        agents = plan_agents(case, built, settings.partition)
        copies = built.network.copies if built.network is not None else None
        theta = Theta(
            n_agents=len(agents),
            n_rows=copies.n_global if copies is not None else 0,
            periods=case.periods,
            rho=settings.rho0,
            phi=settings.phi,
            eps_grid_primal=settings.eps_grid_primal,
            eps_grid_dual=settings.eps_grid_dual,
            eps_trade_primal=settings.eps_trade_primal,
            eps_trade_dual=settings.eps_trade_dual,
            max_iterations=settings.max_iterations,
            round_seconds=round_seconds,
            adaptive=settings.adaptive,
            balance_ratio=settings.balance_ratio,
        )
        operator = chain.new_account("aggregator-operator")
        ledger = AdmmAggregatorLedger.deploy(chain, theta, operator=operator)
        accounts = [chain.new_account(a.label) for a in agents]
        for agent, account in zip(agents, accounts, strict=True):
            rows = [int(copies.rows[c][r]) for c, r in agent.slots] if copies is not None else []
            ledger.admit(
                account,
                rows=rows,
                partners=agent.partners,
                node=agent.node,
                parent=agent.parent,
                children=agent.children,
            )
        if copies is not None and copies.weights is not None:
            weights = np.ones(copies.n_global)
            for c, copy_rows in enumerate(copies.rows):
                weights[copy_rows] = copies.weight(c)
            if np.any(weights != 1.0):
                ledger.set_weights([float(w) for w in weights])
        return cls(ledger, built, agents, accounts)

    # --- the Aggregator interface ---------------------------------------------------------

    def open(
        self, z: FloatArray | None, xi: FloatArray | None, bids: FloatArray | None = None
    ) -> tuple[FloatArray | None, FloatArray | None, FloatArray | None]:
        call = "AdmmAggregator.open"
        if z is not None:
            self.ledger.set_start(quantize(z, COPY_SCALE, COPY_LIMIT, "z", call))
        if xi is not None and xi.size:
            assert self.built.pairs is not None
            q = quantize(xi, PRICE_SCALE, PRICE_LIMIT, "xi", call)
            if not np.array_equal(q, q[self.built.pairs.reverse]):
                raise BderInputError("on chain: the start prices must be equal on both sides")
            if np.any(q):
                self.ledger.set_prices(q)
        if bids is not None and bids.size:
            q_bids = quantize(bids, BID_SCALE, BID_LIMIT, "bids", call)
            if np.any(q_bids):
                self.ledger.set_bids(q_bids)
        self.ledger.open()
        start_bids = None
        if self.built.d is not None:
            start_bids = self.ledger.bids() / BID_SCALE
        return self._z(), self._prices(xi), start_bids

    def iterate(self, copies: list[FloatArray] | None, bids: FloatArray | None) -> AggregatorStep:
        call = "AdmmAggregator.submit"
        before = self.ledger.state()
        q_copies = (
            None
            if copies is None
            else [quantize(x, COPY_SCALE, COPY_LIMIT, "copies", call) for x in copies]
        )
        q_bids = None if bids is None else quantize(bids, BID_SCALE, BID_LIMIT, "bids", call)
        gas = IterationGas(before.iteration)
        for a in range(len(self.agents)):
            gas.submissions.append(sum(r.gas_used for r in self._submit(a, q_copies, q_bids)))
        if self.ledger.state().submitted < len(self.agents):
            self._time_out(before.iteration)
        gas.update = sum(r.gas_used for r in self.ledger.update())
        self.gas.append(gas)
        after = self.ledger.state()
        sums = self.ledger.residual_sums()
        scale2 = float(WEIGHT_SCALE) * COPY_SCALE**2
        rho = self._penalty(self.rho_nano, before.rho_exponent)
        phi = self._penalty(self.phi_nano, before.phi_exponent)
        taken = None if q_copies is None else [q / COPY_SCALE for q in q_copies]
        return AggregatorStep(
            z=self._z(),
            copies=taken,
            xi=self._prices(bids),
            bids=None if bids is None else self.ledger.bids() / BID_SCALE,
            r_grid=math.sqrt(sums.r_grid_sq / scale2),
            s_grid=rho * math.sqrt(sums.dz_sum / scale2),
            r_trade=math.sqrt(sums.r_trade_sq) / BID_SCALE,
            s_trade=math.sqrt(sums.s_trade_sq) / BID_SCALE,
            converged=after.status == Status.CONVERGED,
            rho=rho,
            phi=phi,
            rho_next=self._penalty(self.rho_nano, after.rho_exponent),
            phi_next=self._penalty(self.phi_nano, after.phi_exponent),
            rho_change=int(np.sign(after.rho_exponent - before.rho_exponent)),
        )

    # --- the steps -------------------------------------------------------------------------

    def _submit(
        self, agent: int, copies: list[np.ndarray] | None, bids: np.ndarray | None
    ) -> list[Receipt]:
        """Agent ``agent`` sends its copies and bids (a household that stops answering would
        not: see :meth:`_time_out`)."""
        slots = self.agents[agent].slots
        own = None
        if slots:
            assert copies is not None
            own = np.vstack([copies[c][r : r + 1] for c, r in slots])
        own_bids = None
        if len(self._edges[agent]):
            assert bids is not None
            own_bids = bids[self._edges[agent]]
        return self.ledger.submit(self.accounts[agent], own, own_bids)

    def _time_out(self, iteration: int) -> None:
        """A submission is missing: wait out the deadline, declare the timeout, stop."""
        chain = self.ledger.chain
        state = self.ledger.state()
        wait = state.deadline - chain.timestamp() + 1
        if wait > 0:
            chain.advance_time(wait)
        self.ledger.declare_timeout(self.ledger.operator)
        missing = [
            self.agents[a].label
            for a in range(len(self.agents))
            if not self.ledger.chain.call(self.ledger.contract, "agent", a)[4]
        ]
        raise AggregatorTimeout(
            f"ADMM on chain: iteration {iteration} timed out; no submission from "
            f"{', '.join(missing)}"
        )

    def _z(self) -> FloatArray | None:
        if self.copy_map is None:
            return None
        return np.asarray(self.ledger.z(), dtype=float) / COPY_SCALE

    def _prices(self, like: FloatArray | None) -> FloatArray | None:
        if like is None:
            return None
        return np.asarray(self.ledger.prices(), dtype=float) / PRICE_SCALE

    @staticmethod
    def _penalty(nano: int, exponent: int) -> float:
        return nano / PENALTY_SCALE * 2.0**exponent


@dataclass
class ChainRun:
    """A design run with the aggregator on chain: the result, the contract and the gas."""

    result: BderResult
    aggregator: ChainAggregator

    @property
    def gas(self) -> list[IterationGas]:
        return self.aggregator.gas


def run_on_chain(
    case: BderCase,
    design: str,
    settings: AdmmSettings | None = None,
    *,
    chain: Chain | None = None,
    chi: float | None = None,
    max_partners: int | None = None,
    round_seconds: int = 3600,
) -> ChainRun:
    """Run ``design`` by consensus ADMM with the aggregator on ``chain`` (a new embedded chain
    if None): the same loop, start and result as
    :func:`~peergrid.mechanisms.admm.distributed`."""
    check_design(design)
    if design == "baseline":
        raise BderInputError("on chain: the baseline has no coupling and no aggregator")
    settings = (settings or AdmmSettings()).for_design(design)
    check_chain_settings(settings)
    deployed: list[ChainAggregator] = []

    def deploy(built: DesignProblem) -> ChainAggregator:
        deployed.append(
            ChainAggregator.deploy(
                chain or EmbeddedChain(), case, built, settings, round_seconds=round_seconds
            )
        )
        return deployed[0]

    result = distributed(
        case,
        design,
        settings,
        chi=chi,
        max_partners=max_partners,
        aggregator=deploy,
        method="admm-on-chain",
    )
    return ChainRun(result, deployed[0])


__all__ = [
    "Agent",
    "AggregatorTimeout",
    "ChainAggregator",
    "ChainRun",
    "IterationGas",
    "check_chain_settings",
    "plan_agents",
    "run_on_chain",
]
