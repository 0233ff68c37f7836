"""The VDMA's ancillary-service sessions on the on-chain order book (``OrderBook.vy``).

The off-chain engine (:mod:`peergrid.mechanisms.cda`) and the contract run the same CDA and NCDA
rules; this adapter puts a stream of core :class:`~peergrid.core.orders.Order` objects on the
contract and hands back what it did in the engine's terms, so that the two can be compared
trade by trade and a run can clear its hourly sessions on chain::

    market = ServiceMarket.open(chain, hops, members={"brp-1": "14", "brp-2": "4"})
    market.open_session(7, ncda=True)
    up = market.place_stream(7, "up", orders)            # continuous: orders in their order
    market.resting(7, "up")                              # the books before the gate
    market.close_session(7)                              # gate closure; the rest expires
    outcome = market.clear_session(8, {"up": orders}, ncda=True)  # the session clear

Roles. The adapter deploys the order book with its own operator, DSO and token issuer; every
member (an ``agent`` of the orders) is a prosumer of the consortium, bootstrapped once at
:meth:`ServiceMarket.open`. The DSO puts each member on the feeder map: node = the position of
its bus in the distance table + 1 (node 0 is the contract's unknown node, for a member without a
known bus), with the distance between every two buses of the table (:func:`feeder_map_table`).
Before a stream, each member whose orders buy is topped up so that its free balance covers the
escrow of all of them (a placement never fails for want of money).

Units (exact on the chain's side, documented once here):

- quantity: kWh → integer Wh, nearest (``peergrid.core.units.kwh_to_wh``); an order below half a
  Wh is refused. Trades come back as ``energy_wh`` and ``quantity_kwh = energy_wh / 1000``.
- price: €/kWh → integer micro-€ per kWh, nearest (``to_micro``). The contract prices a trade at
  ``(buy + sell) // 2`` micro-units; the engine gives the same figure with
  ``price_rule=`` :func:`floor_mid_price`.
- distance: the engine's metric scaled to integers (hops as they are, metres as millimetres, ohms
  as micro-ohms), checked to keep, seen from every bus, exactly the engine's order of distance
  groups and their ties; a table whose scaling would merge or split a group is refused.

What the chain does that a parity check compares: the trades of each placement (buy and sell
order ids, Wh, micro price, in the order they happen), the cancellations (self-trade, fill limit;
owner and expiry), and the resting books at the gate. A placement touches at most ``max_fills``
(0..32) resting orders, so the engine to compare with is
``ContinuousBook(..., max_fills=max_fills, price_rule=floor_mid_price)``: in NCDA the contract
scans the first ``max_fills`` crossing offers (price-time order) and takes the nearest of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from peergrid.core.errors import OrderError, PeergridError
from peergrid.core.orders import Order, Side
from peergrid.core.units import kwh_to_wh, to_micro
from peergrid.ledger import (
    CancelReason,
    Chain,
    DistanceRow,
    OrderBookLedger,
    Pool,
    Receipt,
    Role,
    RoleGrant,
    lock_micro,
)
from peergrid.ledger.markets.base import MAX_DISTANCE_MM
from peergrid.ledger.markets.orderbook import MAX_FILLS
from peergrid.mechanisms.cda import FILL_LIMIT, OWNER, SELF_TRADE, BusDistances, session_order

EXPIRED = "expired"
"""Reason of an order the operator removed after its session's gate closed."""

REASONS = {
    CancelReason.OWNER: OWNER,
    CancelReason.FILL_LIMIT: FILL_LIMIT,
    CancelReason.SELF_TRADE: SELF_TRADE,
    CancelReason.EXPIRED: EXPIRED,
}

POOLS = {"up": Pool.UP, "down": Pool.DOWN}

DISTANCE_SCALES = {"hops": 1, "length": 1_000, "impedance": 1_000_000}
"""Integers per unit of each metric on the feeder map: hops, millimetres, micro-ohms."""

SUPPLY_MICRO = 10**24
"""The settlement token's supply: members are topped up from it (far below the vault's 2**92)."""


def floor_mid_price(buy_price: float, sell_price: float) -> float:
    """The contract's trade price in €/kWh: the mid of the two prices in micro-units, floored."""
    return ((to_micro(buy_price) + to_micro(sell_price)) // 2) / 1_000_000


@dataclass(frozen=True)
class FeederMapTable:
    """The DSO's feeder map for one distance table: each bus label's node and the integer
    distance between every two nodes, in ``scale`` integers per unit of the metric."""

    nodes: dict[str, int]
    rows: tuple[DistanceRow, ...]
    scale: int


def feeder_map_table(distances: BusDistances, scale: int | None = None) -> FeederMapTable:
    """Nodes (label position + 1) and integer distances for the contract's feeder map.

    ``scale`` defaults by metric (:data:`DISTANCE_SCALES`). Raises :class:`PeergridError` when
    the scaled integers, seen from some bus, do not order and tie the other buses exactly as the
    engine's distance groups do.
    """
    if scale is None:
        if distances.metric not in DISTANCE_SCALES:
            raise PeergridError(
                f"no integer scale known for distance metric {distances.metric!r}: pass scale"
            )
        scale = DISTANCE_SCALES[distances.metric]
    n = len(distances.labels)
    scaled = [[0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            value = float(distances.values[i, j])
            integer = round(value * scale)
            if not 0 <= integer <= MAX_DISTANCE_MM:
                raise PeergridError(
                    f"distance {value!r} between buses {distances.labels[i]!r} and "
                    f"{distances.labels[j]!r} is beyond the feeder map's integers at scale {scale}"
                )
            scaled[i][j] = scaled[j][i] = integer
    for i in range(n):
        # The rank of each group must map to one integer, increasing with the rank.
        by_rank: dict[int, set[int]] = {}
        for j in range(n):
            by_rank.setdefault(distances.rank(i, j), set()).add(scaled[i][j])
        ranks = sorted(by_rank)
        values = [by_rank[r] for r in ranks]
        if any(len(v) != 1 for v in values) or any(max(a) >= min(b) for a, b in pairwise(values)):
            raise PeergridError(
                f"distances from bus {distances.labels[i]!r} scaled by {scale} do not keep the "
                "order and ties of the distance table: choose another scale"
            )
    rows = tuple(DistanceRow(i + 1, j + 1, scaled[i][j]) for i in range(n) for j in range(i + 1, n))
    return FeederMapTable({label: k + 1 for k, label in enumerate(distances.labels)}, rows, scale)


@dataclass(frozen=True)
class ServiceTrade:
    """One trade of the contract, in the engine's terms and in the chain's integers."""

    buy_order: str
    sell_order: str
    energy_wh: int
    price_micro_per_kwh: int

    @property
    def quantity_kwh(self) -> float:
        return self.energy_wh / 1000

    @property
    def price(self) -> float:
        return self.price_micro_per_kwh / 1_000_000


@dataclass(frozen=True)
class ServiceCancellation:
    """An order that left the book unfilled: ``remaining_wh`` and the engine's reason name
    (``"self-trade"``, ``"fill-limit"``, ``"owner"``, or ``"expired"`` after the gate)."""

    order_id: str
    remaining_wh: int
    reason: str

    @property
    def remaining_kwh(self) -> float:
        return self.remaining_wh / 1000


@dataclass(frozen=True)
class PlacementGas:
    """The gas of one placement and what it did: fills, and whether its rest rested."""

    order_id: str
    gas: int
    fills: int
    rested: bool


@dataclass(frozen=True)
class RestingOnChain:
    """A resting order of the contract's book, best first in :meth:`ServiceMarket.resting`."""

    order_id: str
    agent: str
    side: Side
    remaining_wh: int
    price_micro_per_kwh: int


@dataclass(frozen=True)
class StreamRecord:
    """What a stream of placements on one pool did, in the order it happened."""

    session: int
    pool: str
    trades: tuple[ServiceTrade, ...]
    cancellations: tuple[ServiceCancellation, ...]
    placements: tuple[PlacementGas, ...]

    @property
    def gas(self) -> int:
        return sum(p.gas for p in self.placements)


@dataclass(frozen=True)
class GateClosure:
    """A session's gate closure: its gas, the gas of expiring the resting orders, and them."""

    gas_close: int
    gas_expiry: int
    expired: tuple[ServiceCancellation, ...]


@dataclass(frozen=True)
class SessionClear:
    """A session cleared on chain: each pool's stream, its books at the gate (before expiry),
    the gas of opening it and its closure."""

    session: int
    ncda: bool
    pools: dict[str, StreamRecord]
    resting: dict[str, tuple[tuple[RestingOnChain, ...], tuple[RestingOnChain, ...]]]
    gas_open: int
    closure: GateClosure


@dataclass
class ServiceMarket:
    """An order book on one chain with its members on the DSO's feeder map (see the module)."""

    ledger: OrderBookLedger
    distances: BusDistances
    address_of: dict[str, str]
    bus_of: dict[str, str | None]
    table: FeederMapTable
    _agent_of_address: dict[str, str] = field(default_factory=dict, repr=False)
    _ids: dict[int, str] = field(default_factory=dict, repr=False)  # chain id -> order id
    _chain_ids: dict[int, dict[str, int]] = field(default_factory=dict, repr=False)  # by session

    @classmethod
    def open(
        cls,
        chain: Chain,
        distances: BusDistances,
        members: Mapping[str, str | None],
        *,
        fee_micro_per_kwh: int = 0,
        strict: bool = True,
        scale: int | None = None,
    ) -> ServiceMarket:
        """Deploy the order book, admit ``members`` (agent -> bus label, or None for an unknown
        bus) as prosumers and put them and the distances on the feeder map."""
        table = feeder_map_table(distances, scale)
        operator, dso, issuer = (chain.new_account(n) for n in ("operator", "dso", "issuer"))
        ledger = OrderBookLedger.deploy(
            chain,
            operator=operator,
            dso=dso,
            issuer=issuer,
            supply_micro=SUPPLY_MICRO,
            fee_micro_per_kwh=fee_micro_per_kwh,
            strict_crossing=strict,
        )
        address_of = {agent: chain.new_account(agent) for agent in members}
        ledger.consortium.bootstrap([RoleGrant(a, Role.PROSUMER) for a in address_of.values()])
        ledger.consortium.end_bootstrap()
        nodes = {
            address_of[agent]: table.nodes[bus]
            for agent, bus in members.items()
            if bus is not None and bus in table.nodes
        }
        if nodes:
            ledger.set_nodes(nodes)
        if table.rows:
            ledger.set_distances(table.rows)
        market = cls(ledger, distances, address_of, dict(members), table)
        market._agent_of_address = {a.lower(): agent for agent, a in address_of.items()}
        return market

    # --- sessions ------------------------------------------------------------------------------

    def open_session(self, session: int, *, ncda: bool) -> Receipt:
        """Open both pools of ``session`` (operator), CDA or NCDA."""
        self._chain_ids.setdefault(session, {})
        return self.ledger.open_session(session, ncda=ncda)

    def close_session(self, session: int, *, expire: bool = True) -> GateClosure:
        """Gate closure (operator); with ``expire`` every resting order of both pools is then
        removed (reason ``"expired"``), releasing the buyers' escrow. Without it those orders
        keep their escrow and their owners' storage positions (a member rests at most
        ``ORDER_POSITIONS`` = 64 orders at once) until they are cancelled."""
        receipt = self.ledger.close_session(session)
        expired: list[ServiceCancellation] = []
        gas = 0
        if expire:
            for pool in Pool:
                for is_buy in (True, False):
                    for order in self.ledger.orders(session, pool, is_buy):
                        # The best order first: its hint is 0, no list walk.
                        r = self.ledger.chain.transact(
                            self.ledger.operator, self.ledger.market, "cancel", order.order_id, 0
                        )
                        gas += r.gas_used
                        expired.extend(self._cancellations(r))
        return GateClosure(receipt.gas_used, gas, tuple(expired))

    def place_stream(
        self, session: int, pool: str, orders: Sequence[Order], *, max_fills: int = MAX_FILLS
    ) -> StreamRecord:
        """Each order placed by its agent, in the given order, on ``pool`` of the open
        ``session``; each with its exact insertion hint from the ``book_orders`` view."""
        book = self._pool(pool)
        if not 0 <= max_fills <= MAX_FILLS:
            raise PeergridError(
                f"max_fills must be from 0 to {MAX_FILLS} on chain, got {max_fills}"
            )
        inputs = [self._inputs(session, o) for o in orders]
        self._top_up(orders, inputs)
        trades: list[ServiceTrade] = []
        cancellations: list[ServiceCancellation] = []
        placements: list[PlacementGas] = []
        ids = self._chain_ids.setdefault(session, {})
        for order, (is_buy, wh, micro) in zip(orders, inputs, strict=True):
            placed = self.ledger.place(
                self.address_of[order.agent], session, book, is_buy, wh, micro, max_fills=max_fills
            )
            self._ids[placed.order_id] = order.id
            ids[order.id] = placed.order_id
            trades.extend(
                ServiceTrade(
                    self._ids[t.buy_order],
                    self._ids[t.sell_order],
                    t.energy_wh,
                    t.price_micro_per_kwh,
                )
                for t in placed.trades
            )
            gone = [
                ServiceCancellation(self._ids[c.order_id], c.remaining_wh, REASONS[c.reason])
                for c in placed.cancellations
            ]
            cancellations.extend(gone)
            limited = any(c.order_id == order.id and c.reason == FILL_LIMIT for c in gone)
            rested = placed.filled_wh < wh and not limited
            placements.append(
                PlacementGas(order.id, placed.receipt.gas_used, len(placed.trades), rested)
            )
        return StreamRecord(session, pool, tuple(trades), tuple(cancellations), tuple(placements))

    def resting(
        self, session: int, pool: str
    ) -> tuple[tuple[RestingOnChain, ...], tuple[RestingOnChain, ...]]:
        """The resting buys and sells of one pool, each best first (price, then arrival)."""
        book = self._pool(pool)
        sides = []
        for is_buy in (True, False):
            sides.append(
                tuple(
                    RestingOnChain(
                        self._ids[o.order_id],
                        self._agent_of_address[o.owner.lower()],
                        Side.BUY if is_buy else Side.SELL,
                        o.remaining_wh,
                        o.price_micro_per_kwh,
                    )
                    for o in self.ledger.orders(session, book, is_buy)
                )
            )
        return sides[0], sides[1]

    def clear_session(
        self,
        session: int,
        pools: Mapping[str, Sequence[Order]],
        *,
        ncda: bool,
        max_fills: int = MAX_FILLS,
        expire: bool = True,
    ) -> SessionClear:
        """The market-solving function on chain, equal to
        :func:`~peergrid.mechanisms.cda.clear_session`: opens ``session``, places each pool's
        offers in time order, then its asks in price-descending, then time order, reads the
        books and closes the gate (expiring the rest)."""
        opened = self.open_session(session, ncda=ncda)
        records: dict[str, StreamRecord] = {}
        resting = {}
        for pool, orders in pools.items():
            offers, asks = session_order(orders)
            records[pool] = self.place_stream(session, pool, [*offers, *asks], max_fills=max_fills)
            resting[pool] = self.resting(session, pool)
        closure = self.close_session(session, expire=expire)
        return SessionClear(session, ncda, records, resting, opened.gas_used, closure)

    # --- internals -----------------------------------------------------------------------------

    @staticmethod
    def _pool(pool: str) -> Pool:
        if pool not in POOLS:
            raise PeergridError(f"unknown pool {pool!r} (known: {', '.join(POOLS)})")
        return POOLS[pool]

    def _inputs(self, session: int, order: Order) -> tuple[bool, int, int]:
        if order.agent not in self.address_of:
            raise OrderError(
                f"{order.agent!r} is not a member of this market", order_id=order.id, field="agent"
            )
        if order.bus != self.bus_of[order.agent]:
            raise OrderError(
                f"is {order.bus!r}, but agent {order.agent!r} is on bus "
                f"{self.bus_of[order.agent]!r} of the feeder map",
                order_id=order.id,
                field="bus",
            )
        if order.id in self._chain_ids.get(session, {}):
            raise OrderError(
                f"is already placed in session {session}", order_id=order.id, field="id"
            )
        wh = kwh_to_wh(order.quantity_kwh)
        if wh == 0:
            raise OrderError(
                f"{order.quantity_kwh!r} kWh rounds to 0 Wh on chain",
                order_id=order.id,
                field="quantity_kwh",
            )
        return order.side is Side.BUY, wh, to_micro(order.price)

    def _top_up(self, orders: Sequence[Order], inputs: Sequence[tuple[bool, int, int]]) -> None:
        """Fund and deposit what each buying member's escrow locks may need."""
        fee = self.ledger.fee_rate()
        need: dict[str, int] = {}
        for order, (is_buy, wh, micro) in zip(orders, inputs, strict=True):
            if is_buy:
                need[order.agent] = need.get(order.agent, 0) + lock_micro(wh, micro, fee)
        escrow = self.ledger.escrow
        for agent, amount in need.items():
            account = self.address_of[agent]
            missing = amount - escrow.available_of(account)
            if missing > 0:
                escrow.fund(account, missing)
                escrow.deposit(account, missing)

    def _cancellations(self, receipt: Receipt) -> list[ServiceCancellation]:
        return [
            ServiceCancellation(
                self._ids[int(e.args["order_id"])],
                int(e.args["remaining_wh"]),
                REASONS[CancelReason(int(e.args["reason"]))],
            )
            for e in receipt.events_named("OrderCancelled")
        ]
