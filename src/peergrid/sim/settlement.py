"""Settling a simulated market on the ledger: one member account per household.

This is where the simulation wires the ledger to the mechanisms' output; neither knows the
other. Two ways (``ledger.market`` in a scenario):

* ``community`` (:class:`LedgerSettlement`): the operator posts each slot's trades with the hash
  of the slot's order set; the community contract moves money from buyers to sellers and the
  DSO's fee to the DSO. One transaction per slot with trades.
* ``batch`` (:class:`BatchSettlement`): the sealed-bid batch market of the trading cycle. Every
  household commits its order (hash and salt), reveals it, the operator posts the clearing and
  the contract verifies every fill against the revealed orders before it moves money and the
  DSO's fee; the meter then posts each position's metered energy, which settles deviations with
  the penalty of eqs. 4.8/4.9. 2 N + 4 transactions per slot for N orders. With Score Matching
  the DSO first puts the households' buses and the path lengths between them on the contract's
  feeder map, and the contract charges every matched pair C_d·d (eqs. 4.6/4.7).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Protocol

from peergrid.core.orders import Order, Side, canonical_order_set
from peergrid.core.trades import Trade
from peergrid.core.units import kwh_to_wh, to_micro
from peergrid.grid.distance import DistanceMatrix
from peergrid.ledger.batch_market import (
    BatchMarketLedger,
    Fill,
    RevealedOrder,
    fills_from_trades,
    sealed_order,
    settled_wh,
)
from peergrid.ledger.chain import EmbeddedChain, Receipt
from peergrid.ledger.community import CommunityLedger, order_set_hash, split_settleable
from peergrid.ledger.consortium import Role, RoleGrant
from peergrid.ledger.escrow import lock_micro
from peergrid.ledger.gas import GasLog
from peergrid.ledger.market_base import DistanceRow, millimetres


class Settlement(Protocol):
    """What the runner needs of either way of settling."""

    address_of: dict[str, str]
    deposits_micro: int  # everything deposited: members (and, for the batch market, the DSO)
    dropped_trades: int
    refused_fills: int
    unpaid_micro: int  # charges and penalties owed on chain that members could not pay

    @property
    def gas_log(self) -> GasLog: ...

    def refused(self, orders: Sequence[Order], trades: Sequence[Trade]) -> list[Trade]:
        """The trades this ledger would not settle (:func:`unsettleable`)."""
        ...

    def settle(
        self,
        slot: int,
        orders: Sequence[Order],
        trades: Sequence[Trade],
        metered_kwh: Mapping[str, float] | None = None,
    ) -> tuple[Receipt, ...]: ...

    def money_conserved(self) -> bool: ...

    def balances_micro(self) -> dict[str, int]: ...

    def dso_balance(self) -> int: ...

    def member_deposit_micro(self) -> int: ...


@dataclass
class LedgerSettlement:
    ledger: CommunityLedger
    address_of: dict[str, str]
    deposits_micro: int
    dropped_trades: int = 0
    refused_fills: int = 0  # the community contract checks parties and balances, not limits
    unpaid_micro: int = 0  # a member short of its fee share reverts the slot instead
    settled_slots: list[int] = field(default_factory=list)

    @property
    def gas_log(self) -> GasLog:
        return self.ledger.gas_log

    def dso_balance(self) -> int:
        return self.ledger.dso_balance()

    def member_deposit_micro(self) -> int:
        return self.deposits_micro // len(self.address_of)

    @classmethod
    def open(cls, agents: Sequence[str], deposit_per_member: float) -> LedgerSettlement:
        """Deploy the community, register every household and fund its deposit."""
        chain = EmbeddedChain()
        operator = chain.new_account("operator")
        dso = chain.new_account("dso")
        issuer = chain.new_account("issuer")
        deposit = to_micro(deposit_per_member)
        ledger = CommunityLedger.deploy(
            chain,
            operator=operator,
            dso=dso,
            issuer=issuer,
            supply_micro=deposit * len(agents),
        )
        address_of = {agent: chain.new_account(agent) for agent in agents}
        ledger.register_members(list(address_of.values()))
        for address in address_of.values():
            ledger.fund(address, deposit)
            ledger.deposit(address, deposit)
        return cls(ledger=ledger, address_of=address_of, deposits_micro=deposit * len(agents))

    def refused(self, orders: Sequence[Order], trades: Sequence[Trade]) -> list[Trade]:
        return unsettleable(orders, trades, batch=False)

    def settle(
        self,
        slot: int,
        orders: Sequence[Order],
        trades: Sequence[Trade],
        metered_kwh: Mapping[str, float] | None = None,
    ) -> tuple[Receipt, ...]:
        """Post the slot's trades; a slot without trades sends nothing. The community contract
        has no meter: ``metered_kwh`` is not used (deviations are settled off chain)."""
        on_chain, dropped = split_settleable(trades, self.address_of)
        self.dropped_trades += len(dropped)
        if not on_chain:
            return ()
        receipts = self.ledger.settle_slot(
            slot, order_set_hash(canonical_order_set(orders)), on_chain
        )
        self.settled_slots.append(slot)
        return receipts

    def money_conserved(self) -> bool:
        """Members' and DSO's balances add up to the deposits, and to the contract's tokens."""
        ledger = self.ledger
        internal = ledger.total_internal_balance()
        held = ledger.token_balance(ledger.community.address)
        members = sum(self.balances_micro().values())
        return internal == held == self.deposits_micro == members + ledger.dso_balance()

    def balances_micro(self) -> dict[str, int]:
        return {agent: self.ledger.balance_of(addr) for agent, addr in self.address_of.items()}


@dataclass
class BatchSettlement:
    """The sealed-bid batch market: commit, reveal, verified clearing, meter readings."""

    ledger: BatchMarketLedger
    address_of: dict[str, str]
    meter: str
    deposits_micro: int
    dropped_trades: int = 0  # trades below half a Wh
    refused_fills: int = 0  # fills on the wrong side of an order's limit after rounding
    unpaid_micro: int = 0  # distance charges and penalties members could not pay (shortfalls)
    fee_micro_per_kwh: int = 0
    # The last `_unfunded` answer, by its buy orders: `refused` and `settle` of one slot read the
    # balances once (nothing moves in between); cleared once the slot's transactions are sent.
    _unfunded_seen: tuple[tuple[Order, ...], set[str]] | None = field(default=None, repr=False)
    settled_slots: list[int] = field(default_factory=list)

    @classmethod
    def open(
        cls,
        agents: Sequence[str],
        deposit_per_member: float,
        fee_per_kwh: float,
        penalty_per_kwh: float,
        distance_charge_per_m: float = 0.0,
        buses: Sequence[int] | None = None,
        distances: DistanceMatrix | None = None,
    ) -> BatchSettlement:
        """Deploy the market, admit every household and the meter, fund the deposits.

        The DSO deposits as much as a household: it is the counterparty of metered deviations.
        With a distance charge (currency per metre per matched pair), the DSO maps every
        household to its bus (``buses``, in the order of ``agents``; node = bus + 1, node 0
        being the unknown node) and the path length between every two of those buses
        (``distances``, metres) before the first slot.
        """
        chain = EmbeddedChain()
        operator, dso, issuer, meter = (
            chain.new_account(label) for label in ("operator", "dso", "issuer", "meter")
        )
        deposit = to_micro(deposit_per_member)
        charge_rate = to_micro(distance_charge_per_m * 1000.0)  # micro-currency per km
        if charge_rate and (buses is None or distances is None):
            raise ValueError("a distance charge needs the households' buses and the distances")
        ledger = BatchMarketLedger.deploy(
            chain,
            operator=operator,
            dso=dso,
            issuer=issuer,
            supply_micro=deposit * (len(agents) + 1),
            fee_micro_per_kwh=to_micro(fee_per_kwh),
            penalty_micro_per_kwh=to_micro(penalty_per_kwh),
            distance_charge_micro_per_km=charge_rate,
        )
        address_of = {agent: chain.new_account(agent) for agent in agents}
        if charge_rate and buses is not None and distances is not None:
            nodes = [int(bus) + 1 for bus in buses]
            ledger.set_nodes(dict(zip(address_of.values(), nodes, strict=True)))
            ledger.set_distances(feeder_map_rows(sorted(set(buses)), distances))
        ledger.consortium.bootstrap(
            [RoleGrant(a, Role.PROSUMER) for a in address_of.values()]
            + [RoleGrant(meter, Role.METER)]
        )
        ledger.consortium.end_bootstrap()
        for account in [*address_of.values(), dso]:
            ledger.escrow.fund(account, deposit)
            ledger.escrow.deposit(account, deposit)
        return cls(
            ledger,
            address_of,
            meter,
            deposit * (len(agents) + 1),
            fee_micro_per_kwh=to_micro(fee_per_kwh),
        )

    def refused(self, orders: Sequence[Order], trades: Sequence[Trade]) -> list[Trade]:
        """As :func:`unsettleable`, and every trade of a buy order whose member cannot lock its
        escrow (the contract refuses its reveal: a deposit drained by charges or penalties)."""
        unfunded = self._unfunded(orders)
        return [t for t in trades if t.buy_order in unfunded] + unsettleable(
            orders, [t for t in trades if t.buy_order not in unfunded], batch=True
        )

    def _unfunded(self, orders: Sequence[Order]) -> set[str]:
        """Buy orders whose escrow exceeds their member's free balance now."""
        buys = [o for o in orders if o.side is Side.BUY and kwh_to_wh(o.quantity_kwh) > 0]
        if not buys:
            return set()
        key = tuple(buys)
        if self._unfunded_seen is not None and self._unfunded_seen[0] == key:
            return self._unfunded_seen[1]
        free = self.ledger.available_of_many([self.address_of[o.agent] for o in buys])
        unfunded = {
            o.id
            for o, available in zip(buys, free, strict=True)
            if lock_micro(kwh_to_wh(o.quantity_kwh), to_micro(o.price), self.fee_micro_per_kwh)
            > available
        }
        self._unfunded_seen = (key, unfunded)
        return unfunded

    def settle(
        self,
        slot: int,
        orders: Sequence[Order],
        trades: Sequence[Trade],
        metered_kwh: Mapping[str, float] | None = None,
    ) -> tuple[Receipt, ...]:
        """One slot through the market; ``metered_kwh`` by agent (default: as traded)."""
        sealable = [o for o in orders if kwh_to_wh(o.quantity_kwh) > 0]
        if not sealable or not trades:
            return ()
        # A buy order its member cannot fund would have its reveal refused: its trades were
        # voided (`refused`), and it is not sent.
        unfunded = self._unfunded(orders)
        self._unfunded_seen = None  # balances move from here on
        sealable = [o for o in sealable if o.id not in unfunded]
        ledger = self.ledger
        sealed = {o.id: sealed_order(o) for o in sealable}
        receipts = [ledger.open_slot(slot)]
        receipts += [ledger.commit(self.address_of[o.agent], slot, sealed[o.id]) for o in sealable]
        receipts.append(ledger.start_reveal(slot))
        receipts += [ledger.reveal(self.address_of[o.agent], slot, sealed[o.id]) for o in sealable]
        revealed = ledger.revealed(slot)
        candidates = fills_from_trades(trades, revealed)
        fills = [f for f in candidates if _within_limits(f, revealed)]
        self.refused_fills += len(candidates) - len(fills)
        self.dropped_trades += len(trades) - len(candidates)
        receipts.append(ledger.post_clearing(slot, fills))
        self.unpaid_micro += sum(
            int(e.args["owed_micro"]) - int(e.args["paid_micro"])
            for e in receipts[-1].events_named("ChargeShortfall")
        )
        if fills:
            agent_of = {address: agent for agent, address in self.address_of.items()}
            contracted: dict[str, float] = {}
            for t in trades:
                contracted[t.buyer] = contracted.get(t.buyer, 0.0) + t.quantity_kwh
                contracted[t.seller] = contracted.get(t.seller, 0.0) + t.quantity_kwh
            # The reading is the share of its contract a household delivered (or took),
            # applied to its position's Wh: a contract delivered in full reads exactly as
            # filled, nothing delivered reads 0 (rounding the two kWh figures apart would make
            # up deviations of up to 1 Wh per trade, and penalties on them).
            readings = {
                p.member: (
                    p.energy_wh
                    if metered_kwh is None or agent_of[p.member] not in metered_kwh
                    else round(
                        p.energy_wh
                        * metered_kwh[agent_of[p.member]]
                        / contracted[agent_of[p.member]]
                    )
                )
                for p in ledger.positions(slot)
            }
            receipts.append(ledger.post_readings(self.meter, slot, readings))
            self.unpaid_micro += sum(
                int(e.args["shortfall_micro"]) for e in receipts[-1].events_named("MeterSettled")
            )
        self.settled_slots.append(slot)
        return tuple(receipts)

    @property
    def gas_log(self) -> GasLog:
        return self.ledger.gas_log

    def member_deposit_micro(self) -> int:
        return self.deposits_micro // (len(self.address_of) + 1)

    def money_conserved(self) -> bool:
        escrow = self.ledger.escrow
        return escrow.total_internal_balance() == escrow.held_tokens() == self.deposits_micro

    def balances_micro(self) -> dict[str, int]:
        escrow = self.ledger.escrow
        return {agent: escrow.balance_of(addr) for agent, addr in self.address_of.items()}

    def dso_balance(self) -> int:
        return self.ledger.escrow.balance_of(self.ledger.dso)


def feeder_map_rows(buses: Sequence[int], distances: DistanceMatrix) -> list[DistanceRow]:
    """The feeder map's rows between every two of ``buses``: node = bus + 1, millimetres."""
    if distances.unit != "m":
        raise ValueError(f"the feeder map holds path lengths in metres, not {distances.unit!r}")
    return [
        DistanceRow(int(a) + 1, int(b) + 1, millimetres(distances.between(a, b)))
        for a, b in combinations(buses, 2)
    ]


def unsettleable(orders: Sequence[Order], trades: Sequence[Trade], *, batch: bool) -> list[Trade]:
    """The trades a ledger would not settle, so that the cycle voids them first.

    On either market: a trade whose energy rounds to 0 Wh (a per-pair charge on it would be
    owed off chain only). On the batch market (``batch``), as its verification: a price, in
    micro-units, outside either order's limit (a DPDA Case 4 price can exceed a buyer's, 003 §6
    item 9), and energy cut to what the two orders have left in Wh.
    """
    by_id = {o.id: o for o in orders}
    refused: list[Trade] = []
    kept: list[Trade] = []
    for t in trades:
        within = not batch or (
            to_micro(by_id[t.sell_order].price)
            <= to_micro(t.price)
            <= to_micro(by_id[t.buy_order].price)
        )
        (kept if within else refused).append(t)
    wanted = [kwh_to_wh(t.quantity_kwh) for t in kept]
    if batch:
        position = {o.id: i for i, o in enumerate(orders)}
        legs = [(position[t.buy_order], position[t.sell_order]) for t in kept]
        wanted = settled_wh(wanted, legs, [kwh_to_wh(o.quantity_kwh) for o in orders])
    return refused + [t for t, energy in zip(kept, wanted, strict=True) if energy <= 0]


def _within_limits(fill: Fill, revealed: Sequence[RevealedOrder]) -> bool:
    """The contract's price check: a DPDA Case 4 price can exceed a buyer's limit (003 §6
    item 9), and rounding the uniform price to micro-units can push it one unit past one."""
    buy, sell = revealed[fill.buy], revealed[fill.sell]
    return sell.price_micro_per_kwh <= fill.price_micro_per_kwh <= buy.price_micro_per_kwh
