"""Settling on the sealed-bid batch market: the trading cycle on chain.

Every member commits its order (hash and salt), reveals it, the operator posts the clearing and
the contract verifies every fill against the revealed orders before it moves money and the
DSO's fee; the meter then posts each position's metered energy, which settles deviations with
the penalty of eqs. 4.8/4.9. With a distance charge (Score Matching's C_d) the DSO first puts
the members' buses and the path lengths between them on the contract's feeder map, and the
contract charges every matched pair C_d·d (eqs. 4.6/4.7).

Transactions per slot, for N orders, F fills and P positions
(:func:`~peergrid.ledger.slot_transactions`)::

    T = 2 N + 2 + C + R
    C = 1                    if F <= 128 and N <= 256   (fills and closing in one)
        ceil(F / 128) + 1    otherwise                  (parts of fills, then the closing)
    R = ceil(P / 256)        (0 without positions: the meter has nothing to read)

2 N + 2 are the opening, N commits, the start of the reveals and N reveals. So a community of
up to 256 members keeps the 2 N + 4 of one clearing and one posting of readings; 300 members
with 150 fills take 2 N + 2 + 3 + 2 = 2 N + 7. ``slots.csv`` reports each slot's count as
``transactions``. A slot takes at most :data:`~peergrid.ledger.MAX_ORDERS_PER_SLOT` orders (the
contract's ``MAX_ORDERS``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING

from peergrid.core.errors import LedgerError
from peergrid.core.orders import Order, Side
from peergrid.core.trades import Trade
from peergrid.core.units import kwh_to_wh, to_micro
from peergrid.ledger import (
    BatchMarketLedger,
    Chain,
    DistanceRow,
    Fill,
    GasLog,
    Receipt,
    Role,
    RoleGrant,
    batch_refused_trades,
    fill_within_limits,
    fills_from_trades,
    lock_micro,
    millimetres,
    sealed_order,
)
from peergrid.ledger.markets.batch_rules import Phase, SealedOrder
from peergrid.platform.settlement.base import MarketSetup

if TYPE_CHECKING:
    from peergrid.grid.distance import DistanceMatrix


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
    salt_seed: int | None = None
    # Resume a slot that a stopped client left between its transactions: read how far the
    # chain got and send only the rest (needs ``salt_seed``, so that a commitment made before
    # the stop is revealed with its own salt). Off in simulations: it costs reads per slot.
    resumable: bool = False

    @classmethod
    def open(cls, chain: Chain, setup: MarketSetup) -> BatchSettlement:
        """Deploy the market on ``chain``, admit every member and the meter, fund the deposits.

        The DSO deposits as much as a member: it is the counterparty of metered deviations.
        With a distance charge (``setup.distance_charge_per_m``), the DSO maps every member to
        its bus (node = bus + 1, node 0 being the unknown node) and puts the path length between
        every two of those buses on the feeder map before the first slot.
        """
        agents = setup.agents
        operator, dso, issuer, meter = (
            chain.new_account(label) for label in ("operator", "dso", "issuer", "meter")
        )
        deposit = to_micro(setup.deposit_per_member)
        charge_rate = to_micro(setup.distance_charge_per_m * 1000.0)  # micro-currency per km
        if charge_rate and (setup.buses is None or setup.distances is None):
            raise ValueError("a distance charge needs the members' buses and the distances")
        ledger = BatchMarketLedger.deploy(
            chain,
            operator=operator,
            dso=dso,
            issuer=issuer,
            supply_micro=deposit * (len(agents) + 1),
            fee_micro_per_kwh=to_micro(setup.fee_per_kwh),
            penalty_micro_per_kwh=to_micro(setup.penalty_per_kwh),
            distance_charge_micro_per_km=charge_rate,
        )
        address_of = {agent: chain.new_account(agent) for agent in agents}
        if charge_rate and setup.buses is not None and setup.distances is not None:
            nodes = [int(bus) + 1 for bus in setup.buses]
            ledger.set_nodes(dict(zip(address_of.values(), nodes, strict=True)))
            ledger.set_distances(feeder_map_rows(sorted(set(setup.buses)), setup.distances))
        ledger.consortium.bootstrap(
            [RoleGrant(a, Role.PROSUMER) for a in address_of.values()]
            + [RoleGrant(meter, Role.METER)]
        )
        ledger.consortium.end_bootstrap()
        with chain.pipeline():
            for account in [*address_of.values(), dso]:
                ledger.escrow.fund(account, deposit)
                ledger.escrow.deposit(account, deposit)
        return cls(
            ledger,
            address_of,
            meter,
            deposit * (len(agents) + 1),
            fee_micro_per_kwh=to_micro(setup.fee_per_kwh),
            salt_seed=setup.salt_seed,
        )

    def _salt(self, slot: int, order_id: str) -> bytes | None:
        """A commitment's salt: random (None) unless the market was opened with a seed."""
        if self.salt_seed is None:
            return None
        return hashlib.sha256(f"{self.salt_seed}:{slot}:{order_id}".encode()).digest()

    def refused(self, orders: Sequence[Order], trades: Sequence[Trade]) -> list[Trade]:
        """What the contract's verification refuses (``batch_refused_trades``), and every
        trade of a buy order whose member cannot lock its escrow (the contract refuses its
        reveal: a deposit drained by charges or penalties)."""
        unfunded = self._unfunded(orders)
        return [t for t in trades if t.buy_order in unfunded] + batch_refused_trades(
            orders, [t for t in trades if t.buy_order not in unfunded]
        )

    def _unfunded(self, orders: Sequence[Order]) -> set[str]:
        """Buy orders whose escrow exceeds their member's free balance now."""
        buys = [o for o in orders if o.side is Side.BUY and kwh_to_wh(o.quantity_kwh) > 0]
        if not buys:
            return set()
        key = tuple(buys)
        if self._unfunded_seen is not None and self._unfunded_seen[0] == key:
            return self._unfunded_seen[1]
        if self.resumable:
            # Once the reveals began, the buys sent were those funded then; the locks of the
            # revealed ones now lower their members' free balances, so balances cannot tell.
            phase, committed, revealed = self._progress(buys[0].slot, buys)
            if phase >= Phase.REVEAL:
                return {o.id for o in buys if o.id not in committed | revealed}
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
        phase, committed, revealed_ids = Phase.NONE, set[str](), set[str]()
        if self.resumable:
            phase, committed, revealed_ids = self._progress(slot, sealable)
            if phase in (Phase.SETTLED, Phase.VOID):
                return ()
        sealed = {o.id: sealed_order(o, salt=self._salt(slot, o.id)) for o in sealable}
        if phase is not Phase.NONE:  # a slot a stopped client left midway
            resumed = self._resume(
                slot, sealable, sealed, trades, metered_kwh, phase, committed, revealed_ids
            )
            self.settled_slots.append(slot)
            return resumed
        # One pipeline, one flush: this client opens the slot and sends every reveal, so it
        # knows what the contract stores (the reveals in the order sent) and posts the clearing
        # and the readings from that without reading the slot back. The contract verifies every
        # fill and owner; the positions are checked against its hash once all is mined.
        with ledger.chain.pipeline():
            receipts = [ledger.open_slot(slot)]
            receipts += [
                ledger.commit(self.address_of[o.agent], slot, sealed[o.id]) for o in sealable
            ]
            receipts.append(ledger.start_reveal(slot))
            receipts += [
                ledger.reveal(self.address_of[o.agent], slot, sealed[o.id]) for o in sealable
            ]
            revealed = tuple(sealed[o.id].revealed(self.address_of[o.agent]) for o in sealable)
            candidates = fills_from_trades(trades, revealed, self.address_of)
            fills = [f for f in candidates if fill_within_limits(f, revealed)]
            self.refused_fills += len(candidates) - len(fills)
            self.dropped_trades += len(trades) - len(candidates)
            clearing = ledger.post_clearing_as_revealed(
                slot, fills, revealed, self.fee_micro_per_kwh
            )
            receipts += clearing
            metering: tuple[Receipt, ...] = ()
            if fills:
                metering = ledger.post_readings_after_clearing(
                    self.meter, slot, self._readings(slot, trades, metered_kwh)
                )
                receipts += metering
        ledger.check_positions(slot)
        self._count_unpaid(clearing, metering)
        self.settled_slots.append(slot)
        return tuple(receipts)

    def _progress(self, slot: int, orders: Sequence[Order]) -> tuple[Phase, set[str], set[str]]:
        """How far the chain got with ``slot``: its phase, the ids of ``orders`` committed and
        not revealed, and of those revealed (an order is known on chain by its owner, side,
        quantity and limit as revealed, and its commitment by its id)."""
        info = self.ledger.slot_info(slot)
        committed: set[str] = set()
        revealed: set[str] = set()
        if info.phase is Phase.NONE:
            return info.phase, committed, revealed
        if self.salt_seed is None:
            raise LedgerError(
                "settle", f"slot {slot} was left midway and the market has no salt seed to resume"
            )
        on_chain = [
            (r.owner.lower(), r.is_buy, r.quantity_wh, r.price_micro_per_kwh)
            for r in (self.ledger.revealed(slot) if info.phase >= Phase.REVEAL else ())
        ]
        for o in orders:
            if kwh_to_wh(o.quantity_kwh) <= 0:
                continue
            owner = self.address_of[o.agent]
            sealed = sealed_order(o, salt=self._salt(slot, o.id))
            mine = (owner.lower(), sealed.is_buy, sealed.quantity_wh, sealed.price_micro_per_kwh)
            if mine in on_chain:
                on_chain.remove(mine)
                revealed.add(o.id)
            elif self.ledger.commitment_of(slot, owner, sealed.order_id) != bytes(32):
                committed.add(o.id)
        return info.phase, committed, revealed

    def _resume(
        self,
        slot: int,
        sealable: Sequence[Order],
        sealed: Mapping[str, SealedOrder],
        trades: Sequence[Trade],
        metered_kwh: Mapping[str, float] | None,
        phase: Phase,
        committed: set[str],
        revealed_ids: set[str],
    ) -> tuple[Receipt, ...]:
        """The rest of a slot the chain has up to ``phase``: each step is skipped when the
        chain has it, and the clearing and the readings read the slot back (they skip the
        parts and positions already posted)."""
        ledger = self.ledger
        receipts: list[Receipt] = []
        clearing: tuple[Receipt, ...] = ()
        metering: tuple[Receipt, ...] = ()
        with ledger.chain.pipeline():
            if phase <= Phase.OPEN:
                receipts += [
                    ledger.commit(self.address_of[o.agent], slot, sealed[o.id])
                    for o in sealable
                    if o.id not in committed
                ]
                receipts.append(ledger.start_reveal(slot))
            if phase <= Phase.REVEAL:
                receipts += [
                    ledger.reveal(self.address_of[o.agent], slot, sealed[o.id])
                    for o in sealable
                    if o.id not in revealed_ids
                ]
            fills: list[Fill] = []
            if phase <= Phase.CLEARED:
                # The same fills as the clearing posted before the stop: a clearing closed in
                # one transaction stores only its positions' hash, which they are checked
                # against (`BatchMarketLedger.positions`).
                revealed = ledger.revealed(slot)
                candidates = fills_from_trades(trades, revealed, self.address_of)
                fills = [f for f in candidates if fill_within_limits(f, revealed)]
            if phase <= Phase.CLEARING:
                self.refused_fills += len(candidates) - len(fills)
                self.dropped_trades += len(trades) - len(candidates)
                clearing = ledger.post_clearing(slot, fills)
                receipts += clearing
            # Read back (and cached for the readings) from the recomputed fills.
            positions = ledger.positions(slot, fills) if phase is Phase.CLEARED else ()
            if fills or positions:
                metering = ledger.post_readings(
                    self.meter, slot, self._readings(slot, trades, metered_kwh)
                )
                receipts += metering
        self._count_unpaid(clearing, metering)
        return tuple(receipts)

    def _count_unpaid(self, clearing: Sequence[Receipt], metering: Sequence[Receipt]) -> None:
        """Distance charges and penalties members could not pay (their shortfalls)."""
        self.unpaid_micro += sum(
            int(e.args["owed_micro"]) - int(e.args["paid_micro"])
            for r in clearing
            for e in r.events_named("ChargeShortfall")
        )
        self.unpaid_micro += sum(
            int(e.args["shortfall_micro"]) for r in metering for e in r.events_named("MeterSettled")
        )

    def _readings(
        self, slot: int, trades: Sequence[Trade], metered_kwh: Mapping[str, float] | None
    ) -> dict[str, int]:
        """Each position's reading, by member: the share of its contract a household delivered
        (or took), applied to its position's Wh. A contract delivered in full reads exactly as
        filled, nothing delivered reads 0 (rounding the two kWh figures apart would make up
        deviations of up to 1 Wh per trade, and penalties on them)."""
        agent_of = {address: agent for agent, address in self.address_of.items()}
        contracted: dict[str, float] = {}
        for t in trades:
            contracted[t.buyer] = contracted.get(t.buyer, 0.0) + t.quantity_kwh
            contracted[t.seller] = contracted.get(t.seller, 0.0) + t.quantity_kwh
        return {
            p.member: (
                p.energy_wh
                if metered_kwh is None or agent_of[p.member] not in metered_kwh
                else round(
                    p.energy_wh * metered_kwh[agent_of[p.member]] / contracted[agent_of[p.member]]
                )
            )
            for p in self.ledger.positions(slot)
        }

    @property
    def gas_log(self) -> GasLog:
        return self.ledger.gas_log

    def member_deposit_micro(self) -> int:
        return self.deposits_micro // (len(self.address_of) + 1)

    def money_conserved(self) -> bool:
        """The members' and the DSO's balances add up to the deposits, and the tokens the
        contract holds cover them (tokens sent to it without a deposit are a surplus, reported
        by :meth:`surplus_micro`, not a failure)."""
        escrow = self.ledger.escrow
        balances = sum(self.balances_micro().values()) + self.dso_balance()
        return balances == self.deposits_micro and escrow.conserved(self.deposits_micro)

    def surplus_micro(self) -> int:
        """Tokens the contract holds beyond every balance (sent without a deposit)."""
        return self.ledger.escrow.surplus_micro()

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
