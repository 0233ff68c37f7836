"""The cost study of 004_vdma.md §3.5: gas measured on ``OrderBook.vy``, priced with Eq. 1.

The paper simulates ``n`` market rounds; in each, a fraction ``f`` of the participants place a
shout and the market-solving function clears the pool; it keeps the gas of the placements
(``G_o``) and of the solving (``G_m``) apart (L156–L162). Here every round is one NCDA session
of our order book on the embedded chain (every participant a BRP on its own network node, the
DSO's feeder map holding every pair's path length):

1. the operator opens the session;
2. each BRP shouts with probability ``f``, in a random order: an ask or an offer with
   probability ½ each, ``E ~ U(10, 1000)`` kWh (the paper says the cost of a shout does not
   depend on its quantity or price, L215; a wide range lets that be seen),
   ``p ~ N(0.35, 0.025²)`` €/kWh; all in the upward pool;
3. the operator closes the session's gate, then expires the orders left resting, best first
   (their escrow released and their storage positions freed: a BRP has at most 64 orders
   resting, ``ORDER_POSITIONS``). The expiries' gas is kept apart (``expire_gas``), not in
   ``G_m``: the paper's rounds have no such step.

What a shout and a clearing are on a continuous book. Our contract has no separate solving
call: an order that crosses the book is matched when it is placed. So:

- ``G_o``, the gas of a shout, is the ``gasUsed`` of a placement that rests without crossing
  (a write to the ledger's pool, as the paper's offer placement);
- the solving gas of a crossing placement is its gas *beyond* a resting placement, i.e. its
  ``gasUsed`` less the mean ``G_o`` of the same network; a session's ``G_m`` is the sum over its
  crossing placements, plus the operator's opening and gate closure of the session (the work the
  paper's SO pays for once per session).

Per day (24 sessions, L191): a BRP pays for its shouts, ``24 · (its shouts per round) · G_o``;
the operator's clearing costs ``24 · mean G_m``. Prices in € by Eq. 1
(:func:`peergrid.ledger.chain.gas.cost_eur`).

Growth (L164, L197): the same rounds on random trees of 5, 10, 20 and 50 nodes (each node after
the first hangs from a node drawn uniformly among those before it, by a line of U(0.2, 2) km);
the slopes of log(gas per session) on log(nodes) are fitted by least squares.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from peergrid.core.errors import PeergridError
from peergrid.ledger import (
    DistanceRow,
    EmbeddedChain,
    OrderBookLedger,
    Pool,
    Role,
    RoleGrant,
    millimetres,
)
from peergrid.ledger.chain.gas import cost_eur

SESSIONS_PER_DAY = 24
"""Hourly sessions (L191)."""
SHOUT_FRACTION = 0.5
"""f of L162."""
ROUNDS = 300
"""n of L162."""
TREE_SIZES = (5, 10, 20, 50)
"""The random trees of L164."""
QUANTITY_RANGE_KWH = (10.0, 1000.0)
PRICE_MEAN, PRICE_STD = 0.35, 0.025
_FUNDS_MICRO = 10**12  # per BRP: far more than 300 rounds of resting asks lock

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class CostRun:
    """Every transaction of one network's rounds: one row per placement, one per session."""

    network: str
    nodes: int
    rounds: int
    placements: pd.DataFrame  # round, brp, side, quantity_kwh, price, gas, trades, rests
    sessions: pd.DataFrame  # round, open_gas, close_gas, expire_gas

    @property
    def shout_gas(self) -> float:
        """Mean ``G_o``: the gas of a placement that rests without crossing."""
        resting = self.placements[self.placements.trades == 0].gas
        if resting.empty:
            raise PeergridError(f"{self.network}: no placement rested, so no shout was measured")
        return float(resting.mean())

    def per_session(self) -> pd.DataFrame:
        """Per round: shouts, placement gas (``G_o`` per shout), matching and clearing gas."""
        g_o = self.shout_gas
        p = self.placements.assign(
            matching=np.where(self.placements.trades > 0, self.placements.gas - g_o, 0.0)
        )
        grouped = p.groupby("round").agg(
            shouts=("gas", "size"), trades=("trades", "sum"), matching_gas=("matching", "sum")
        )
        sessions = self.sessions.set_index("round").join(grouped).fillna(0.0)
        sessions["placement_gas"] = sessions.shouts * g_o
        sessions["clearing_gas"] = sessions.matching_gas + sessions.open_gas + sessions.close_gas
        return sessions.reset_index()

    def summary(self) -> dict[str, float]:
        """The study's figures for this network (gas and € by Eq. 1)."""
        g_o = self.shout_gas
        resting = self.placements[self.placements.trades == 0].gas
        sessions = self.per_session()
        shouts_per_brp = (
            self.placements.groupby("brp").size().reindex(range(self.nodes), fill_value=0)
            / self.rounds
        )
        daily_brp = SESSIONS_PER_DAY * shouts_per_brp * cost_eur(g_o)
        clearing = float(sessions.clearing_gas.mean())
        return {
            "nodes": self.nodes,
            "rounds": self.rounds,
            "shouts": len(self.placements),
            "crossing_share": float((self.placements.trades > 0).mean()),
            "gas_per_shout": g_o,
            "gas_per_shout_std": float(resting.std(ddof=0)),
            "eur_per_shout": cost_eur(g_o),
            "eur_per_day_per_brp": float(daily_brp.mean()),
            "eur_per_day_per_brp_std": float(daily_brp.std(ddof=0)),
            "placement_gas_per_session": float(sessions.placement_gas.mean()),
            "matching_gas_per_session": float(sessions.matching_gas.mean()),
            "clearing_gas_per_session": clearing,
            "clearing_gas_per_session_std": float(sessions.clearing_gas.std(ddof=0)),
            "trades_per_session": float(sessions.trades.mean()),
            "eur_per_day_clearing": SESSIONS_PER_DAY * cost_eur(clearing),
        }


def random_tree_distances(nodes: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """Path lengths (m) between every pair of a random tree of ``nodes`` nodes."""
    if nodes < 2:
        raise PeergridError(f"a tree network needs at least 2 nodes, got {nodes}")
    parent = [0] + [int(rng.integers(0, i)) for i in range(1, nodes)]
    length_m = [0.0] + [float(rng.uniform(200.0, 2000.0)) for _ in range(1, nodes)]
    to_root = np.zeros(nodes)
    ancestors: list[list[int]] = [[0]]
    for i in range(1, nodes):
        to_root[i] = to_root[parent[i]] + length_m[i]
        ancestors.append([i, *ancestors[parent[i]]])
    distances = np.zeros((nodes, nodes))
    for a in range(nodes):
        on_path = set(ancestors[a])
        for b in range(a + 1, nodes):
            common = next(x for x in ancestors[b] if x in on_path)  # lowest common ancestor
            distances[a, b] = distances[b, a] = to_root[a] + to_root[b] - 2 * to_root[common]
    return distances


def measure_rounds(
    network: str,
    distances_m: npt.NDArray[np.float64],
    rounds: int,
    rng: np.random.Generator,
    *,
    fraction: float = SHOUT_FRACTION,
    progress: Progress | None = None,
) -> CostRun:
    """Deploy the order book on a fresh embedded chain, map one BRP per node and run
    ``rounds`` NCDA sessions of random shouts (see the module's description)."""
    if rounds < 1:
        raise PeergridError(f"rounds: must be at least 1, got {rounds}")
    if not 0.0 < fraction <= 1.0:
        raise PeergridError(f"shout fraction f: must be in (0, 1], got {fraction}")
    nodes = distances_m.shape[0]
    chain = EmbeddedChain()
    operator, dso, issuer = (chain.new_account(r) for r in ("operator", "dso", "issuer"))
    brps = [chain.new_account(f"brp{i}") for i in range(nodes)]
    book = OrderBookLedger.deploy(
        chain, operator=operator, dso=dso, issuer=issuer, supply_micro=_FUNDS_MICRO * (nodes + 1)
    )
    book.consortium.bootstrap([RoleGrant(b, Role.PROSUMER) for b in brps])
    book.consortium.end_bootstrap()
    for brp in brps:
        book.escrow.fund(brp, _FUNDS_MICRO)
        book.escrow.deposit(brp, _FUNDS_MICRO)
    book.set_nodes({b: i + 1 for i, b in enumerate(brps)})  # node 0 is the unknown node
    book.set_distances(
        [
            DistanceRow(a + 1, b + 1, millimetres(float(distances_m[a, b])))
            for a in range(nodes)
            for b in range(a + 1, nodes)
        ]
    )
    placements: list[dict[str, float | int | str]] = []
    sessions: list[dict[str, int]] = []
    low, high = QUANTITY_RANGE_KWH
    for r in range(1, rounds + 1):
        opened = book.open_session(r, ncda=True)
        for i in rng.permutation(nodes):
            if rng.random() >= fraction:
                continue
            is_buy = bool(rng.random() < 0.5)
            quantity = float(rng.uniform(low, high))
            price = max(float(rng.normal(PRICE_MEAN, PRICE_STD)), 1e-6)
            placed = book.place(
                brps[i], r, Pool.UP, is_buy, round(quantity * 1000), round(price * 1e6)
            )
            placements.append(
                {
                    "round": r,
                    "brp": int(i),
                    "side": "ask" if is_buy else "offer",
                    "quantity_kwh": quantity,
                    "price": price,
                    "gas": placed.receipt.gas_used,
                    "trades": len(placed.trades),
                }
            )
        closed = book.close_session(r)
        expired = 0
        for is_buy in (True, False):
            for order in book.orders(r, Pool.UP, is_buy):
                # The best order first: its hint is 0, no list walk.
                expired += book.chain.transact(
                    operator, book.market, "cancel", order.order_id, 0
                ).gas_used
        sessions.append(
            {
                "round": r,
                "open_gas": opened.gas_used,
                "close_gas": closed.gas_used,
                "expire_gas": expired,
            }
        )
        if progress is not None:
            progress(f"gas: {network}", r, rounds)
    return CostRun(network, nodes, rounds, pd.DataFrame(placements), pd.DataFrame(sessions))


def log_log_slope(nodes: Sequence[float], values: Sequence[float]) -> float:
    """Least-squares slope of log(values) on log(nodes)."""
    if len(nodes) < 2 or any(not (v > 0) for v in values):
        return math.nan
    slope, _ = np.polyfit(np.log(nodes), np.log(values), 1)
    return float(slope)


@dataclass(frozen=True)
class CostStudy:
    """The 15-node CIGRE MV case and the random trees."""

    cigre: CostRun
    trees: tuple[CostRun, ...]

    def growth(self) -> pd.DataFrame:
        """One row per tree: its figures per session and per day."""
        return pd.DataFrame([t.summary() for t in self.trees])

    def slopes(self) -> dict[str, float]:
        """log–log slopes over the trees: placement, matching and clearing gas per session."""
        g = self.growth()
        if g.empty:
            return {}
        return {
            name: log_log_slope(g.nodes.tolist(), g[f"{name}_gas_per_session"].tolist())
            for name in ("placement", "matching", "clearing")
        }


def run_cost_study(
    rounds: int = ROUNDS,
    *,
    seed: int,
    tree_sizes: Sequence[int] = TREE_SIZES,
    fraction: float = SHOUT_FRACTION,
    progress: Progress | None = None,
) -> CostStudy:
    """Measure ``rounds`` sessions on ``cigre-mv-vdma`` (path lengths of its lines, the 15 buses
    as nodes) and on one random tree of each size (seeded by ``(seed, size)``)."""
    from peergrid.grid.distance import distance_matrix
    from peergrid.grid.feeders import load_feeder

    cigre = distance_matrix(load_feeder("cigre-mv-vdma"))
    cigre_run = measure_rounds(
        "cigre-mv-vdma",
        np.asarray(cigre.values, dtype=float),
        rounds,
        np.random.default_rng((seed, 15, 1)),
        fraction=fraction,
        progress=progress,
    )
    trees = []
    for size in tree_sizes:
        rng = np.random.default_rng((seed, size))
        distances = random_tree_distances(size, rng)
        trees.append(
            measure_rounds(
                f"tree-{size}", distances, rounds, rng, fraction=fraction, progress=progress
            )
        )
    return CostStudy(cigre_run, tuple(trees))
