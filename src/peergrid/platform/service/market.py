"""A market run as a service: the trading cycle on a clock, orders in, the chain as the record.

:class:`LiveMarket` drives :class:`~peergrid.platform.cycle.TradingCycle` from a clock
(:mod:`.clock`): in the quotation window of cycle k−1 it takes orders for delivery slot k; when
the matching phase begins it clears them (the trades the ledger would refuse are voided, as in a
simulation); in the metering window after slot k's delivery (from the start of cycle k+1 to its
settlement phase) it takes the meters' readings; in the settlement phase of cycle k+1 it settles
slot k on the sealed-bid batch market (commit, reveal, verified clearing, readings with
penalties: :class:`~peergrid.platform.settlement.BatchSettlement`) and writes the read model from
the chain's events (:mod:`.events`).

Timing rules (times in market minutes; L the slot length, q, m, f the ends of quotation,
matching and feedback from Table 4.2 scaled to L):

==================  =============================================  ==========================
what                accepted from .. to (exclusive)                 otherwise
==================  =============================================  ==========================
order for slot k    any time .. (k−1)·L + q, and k ≤ now's cycle    refused: "outside the
                    + 1 + ``horizon_slots``                        quotation window"
withdraw            as an order of its slot                         refused, same reason
reading of slot k   (k+1)·L .. (k+1)·L + f                          refused: "outside the
                                                                    metering window"
==================  =============================================  ==========================

The cycle's own rule rolls a late order to the next cycle; the service refuses it instead,
because the slot is part of what the agent signed (a rolled order would trade on a signature
for another slot). A meter that does not report is settled as contracted (the batch market's
reading default), so a silent meter costs its household no penalty; the reading that arrives
late is refused, not applied.

Restart: the chain (a :class:`~peergrid.ledger.chain.persisted.JournaledChain`, embedded or a
managed anvil, or a node) and the database are all a restarted service needs. The read model is
rebuilt from the chain; the books of the slots not yet settled are refilled from the accepted
orders in arrival order (a replaced or withdrawn order is skipped), and matched again: the
mechanism is a pure function of its book, so the clearing is the one the service had. A slot
the chain has settled is never sent again. A slot whose settlement was cut off between its
transactions (a kill, a node that went away) is resumed where the chain stopped: each step
(opening, commits, reveals, the clearing's parts, the readings) is skipped when the chain has
it, and the commitments' salts come from a seed kept in the market's state file, so a
commitment made before the stop is revealed after it.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, delete, func, insert, select, update

import peergrid.platform.service.readmodel as db
from peergrid.core.errors import PeergridError
from peergrid.core.orders import Order, Side
from peergrid.grid.distance import DistanceMatrix
from peergrid.ledger import BatchMarketLedger, DistanceRow, Receipt, millimetres
from peergrid.ledger.chain.base import Chain
from peergrid.ledger.chain.journal import NodeError, NodeUnreachable
from peergrid.ledger.chain.jsonrpc import JsonRpcClient
from peergrid.ledger.markets.batch_rules import Phase as ChainPhase
from peergrid.platform.cycle import CycleTimes, Feedback, TradingCycle
from peergrid.platform.service.clock import Clock
from peergrid.platform.service.events import (
    agents_by_address,
    contract_events,
    rebuild,
    record_balances,
    record_slot,
    slots_by_event,
)
from peergrid.platform.service.rules import (
    ConflictError,
    Member,
    OrderRequest,
    WindowError,
    check_order_fields,
    check_quotation,
    quotation_closes,
)
from peergrid.platform.settlement import BatchSettlement, MarketSetup

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MarketConfig:
    """Everything a live market needs, in plain values (the api layer reads the scenario)."""

    members: tuple[Member, ...]
    dso: str  # the DSO's signing address
    mechanism: str = "dpda"
    params: Mapping[str, Any] = field(default_factory=dict)
    distances: DistanceMatrix | None = None  # between the members' buses, metres
    needs_distances: bool = False
    times: CycleTimes = field(default_factory=CycleTimes)
    deposit_per_member: float = 200.0
    penalty_per_kwh: float = 0.0
    network_fee_per_kwh: float = 0.0
    distance_charge_per_m: float = 0.0
    horizon_slots: int = 96  # how far ahead an order may be for


@dataclass(frozen=True)
class Accepted:
    order_id: str
    slot: int
    replaced: str | None


@dataclass
class _IntakeWrite:
    """An order checked and waiting for its group's commit; answered once ``done``."""

    order: Order
    minute: float
    row: dict[str, Any]
    replaced: str | None
    signer: str
    nonce: int
    done: bool = False
    error: BaseException | None = None


class LiveMarket:
    """The trading cycle of one community on a clock, a chain and a database (module doc)."""

    def __init__(
        self,
        config: MarketConfig,
        chain: Chain,
        engine: Engine,
        settlement: BatchSettlement,
        clock: Clock,
    ) -> None:
        self.config = config
        self.chain = chain
        self.engine = engine
        self.settlement = settlement
        self.clock = clock
        self.times = config.times
        self.cycle = self._new_cycle()
        self.by_agent = {m.agent: m for m in config.members}
        self.by_signer = {m.signer.lower(): m for m in config.members}
        self.by_meter = {m.meter.lower(): m for m in config.members}
        self.buses = {m.bus for m in config.members}
        self.distances = config.distances  # the DSO may change them (set_distance)
        self.lock = threading.RLock()  # the books and the intake
        # The chain and the settlement, taken before ``lock`` where both are: a slot's
        # transactions go without ``lock``, so that orders for later slots are taken meanwhile.
        self.chain_lock = threading.RLock()
        # Group commit of the intake: orders checked under ``lock`` wait in ``_intake``; one
        # request at a time (``_commit_lock``, taken before ``lock``) writes every waiting order
        # in one database transaction, then puts them in their books. An order is answered
        # only once its transaction committed.
        self._commit_lock = threading.Lock()
        self._intake: list[_IntakeWrite] = []
        self._nonces: dict[str, int] = {}  # signer -> last nonce used (read from the database)
        self._books: set[int] = set()  # slots with orders, not settled yet
        self._matched: set[int] = set()
        self.healthy = True
        self.last_error: str | None = None
        self.probe_timeout_s = 1.0

    # --- opening ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        config: MarketConfig,
        chain: Chain,
        engine: Engine,
        state_path: Path,
        clock: Clock,
        on_deployed: Callable[[BatchSettlement], None] | None = None,
    ) -> LiveMarket:
        """Deploy the market on ``chain`` (first start, the addresses written to
        ``state_path``; ``on_deployed`` runs before they are, e.g. to keep the new accounts'
        keys) or attach to it (a restart), then recover the books."""
        if state_path.exists():
            settlement = _attach(chain, json.loads(state_path.read_text(encoding="utf-8")))
        else:
            settlement = _deploy(chain, config)
            if on_deployed is not None:
                on_deployed(settlement)
            _write_state(state_path, settlement)
        market = cls(config, chain, engine, settlement, clock)
        market.recover()
        market.advance()  # what fell due while the service was down
        return market

    def _new_cycle(self) -> TradingCycle:
        c = self.config
        return TradingCycle(
            c.mechanism,
            params=c.params,
            distances=c.distances if c.needs_distances else None,
            times=c.times,
            penalty_per_kwh=c.penalty_per_kwh,
            network_fee_per_kwh=c.network_fee_per_kwh,
        )

    def recover(self) -> None:
        """Rebuild the read model from the chain and refill the books not settled yet."""
        with self.lock:
            rebuild(self.engine, self.ledger, self.settlement.address_of)
            cleared = self._cleared_on_chain()
            last_cleared = max(cleared, default=-1)
            # Slots settle in order, so only the last cleared one can be cut off before its
            # readings: its book comes back to be resumed.
            if last_cleared >= 0 and self.ledger.slot_info(last_cleared).phase not in (
                ChainPhase.SETTLED,
                ChainPhase.VOID,
            ):
                cleared.discard(last_cleared)
            now = self.clock.minute()
            with self.engine.connect() as connection:
                rows = connection.execute(
                    select(db.orders).where(db.orders.c.withdrawn == 0).order_by(db.orders.c.seq)
                ).all()
            for row in rows:
                slot = int(row.slot)
                due = self._settles_at(slot) > now
                if slot in cleared or (slot < last_cleared and not due):
                    continue
                self.cycle.submit(_order(row), float(row.minute))
                self._books.add(slot)

    def _cleared_on_chain(self) -> set[int]:
        with self.engine.connect() as connection:
            return {int(s) for s in connection.execute(select(db.slots.c.slot)).scalars()}

    @property
    def ledger(self) -> BatchMarketLedger:
        return self.settlement.ledger

    # --- the windows ------------------------------------------------------------------------

    def quotation_closes(self, slot: int) -> float:
        return quotation_closes(self.times, slot)

    def _settles_at(self, slot: int) -> float:
        return (slot + 1) * self.times.slot_minutes + self.times.feedback_end

    def _check_quotation(self, slot: int, now: float, what: str) -> None:
        check_quotation(self.times, self.config.horizon_slots, slot, now, what)

    # --- intake -------------------------------------------------------------------------------

    def submit(
        self,
        member: Member,
        *,
        slot: int,
        side: str,
        quantity_wh: int,
        price_micro_per_kwh: int,
        bus: str,
        nonce: int,
        signature: str,
    ) -> Accepted:
        """Take a signed order (its signature checked by the caller)."""
        write = self._take(
            OrderRequest(
                member, slot, side, quantity_wh, price_micro_per_kwh, bus, nonce, signature
            )
        )
        with self._commit_lock:
            if not write.done:
                self._flush_intake()
        if write.error is not None:
            raise write.error
        return Accepted(write.order.id, slot, write.replaced)

    def submit_many(self, requests: Sequence[OrderRequest]) -> list[Accepted | BaseException]:
        """Take several signed orders (checked by the intake processes) in one group commit:
        each is checked in turn as :meth:`submit` checks one, so a refused one leaves nothing
        and the others are taken; the answer of each, in order, is its acceptance or its
        error, given only once the group committed."""
        answers: list[Accepted | BaseException] = []
        writes: list[_IntakeWrite | None] = []
        for request in requests:
            try:
                writes.append(self._take(request))
            # a refusal, or the database failing to read a nonce: this order's answer alone
            except Exception as exc:
                writes.append(None)
                answers.append(exc)
            else:
                answers.append(Accepted("", request.slot, None))  # replaced below
        if any(w is not None and not w.done for w in writes):
            with self._commit_lock:
                if any(w is not None and not w.done for w in writes):
                    self._flush_intake()
        for i, write in enumerate(writes):
            if write is not None:
                answers[i] = (
                    write.error
                    if write.error is not None
                    else Accepted(write.order.id, write.order.slot, write.replaced)
                )
        return answers

    def _take(self, request: OrderRequest) -> _IntakeWrite:
        """Check an order (bus, quantity, window, nonce) and queue it for the next group
        commit; its nonce is taken at once."""
        member, slot, nonce = request.member, request.slot, request.nonce
        order_id = check_order_fields(
            member, self.buses, slot, request.quantity_wh, request.bus, nonce
        )
        with self.lock:
            now = self.clock.minute()
            self._check_quotation(slot, now, f"order {order_id!r}")
            self._check_nonce(member.signer, nonce)
            order = Order(
                id=order_id,
                agent=member.agent,
                side=Side(request.side),
                quantity_kwh=request.quantity_wh / 1000,
                price=request.price_micro_per_kwh / 1_000_000,
                slot=slot,
                bus=request.bus,
            )
            write = _IntakeWrite(
                order=order,
                minute=now,
                row={
                    "id": order_id,
                    "slot": slot,
                    "agent": member.agent,
                    "side": request.side,
                    "quantity_wh": request.quantity_wh,
                    "price_micro_per_kwh": request.price_micro_per_kwh,
                    "bus": request.bus,
                    "nonce": nonce,
                    "signature": request.signature,
                    "minute": repr(now),
                    "withdrawn": 0,
                },
                replaced=self._replaced_by(member.agent, slot),
                signer=member.signer.lower(),
                nonce=nonce,
            )
            self._nonces[write.signer] = nonce
            self._intake.append(write)
        return write

    def _check_nonce(self, signer: str, nonce: int) -> None:
        """Refuse a nonce not above the signer's last one (orders waiting for their commit
        included). Called with ``lock`` held."""
        key = signer.lower()
        last = self._nonces.get(key)
        if last is None:
            with self.engine.connect() as connection:
                last = connection.execute(
                    select(db.nonces.c.last_nonce).where(db.nonces.c.signer == key)
                ).scalar()
            if last is not None:
                self._nonces[key] = last
        if last is not None and nonce <= last:
            raise ConflictError(f"nonce {nonce} is used: the next must be above {last}")

    def _replaced_by(self, agent: str, slot: int) -> str | None:
        """The member's order for ``slot`` that a new one replaces: the last one waiting for
        its commit, else the one in the book. Called with ``lock`` held."""
        for waiting in reversed(self._intake):
            if waiting.order.agent == agent and waiting.order.slot == slot:
                return waiting.order.id
        return next((o.id for o in self.cycle.orders(slot) if o.agent == agent), None)

    def _flush_intake(self) -> None:
        """Write every waiting order in one transaction, then put them in their books in the
        order they were taken. Called with ``_commit_lock`` held. If the database refuses,
        none is taken: each waiting request gets the error and the nonces are read again."""
        with self.lock:
            batch, self._intake = self._intake, []
        if not batch:
            return
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(db.orders), [w.row for w in batch])
                replaced = [w.replaced for w in batch if w.replaced is not None]
                if replaced:
                    connection.execute(
                        update(db.orders).where(db.orders.c.id.in_(replaced)).values(withdrawn=2)
                    )
                last = {w.signer: w.nonce for w in batch}  # nonces rise in the order taken
                for signer, nonce in last.items():
                    _set_nonce(connection, signer, nonce)
        # Whatever the database raised is the answer to every order of the group (a 500, as
        # an order's own failed commit was): none of them is in a book or answered as taken.
        except Exception as exc:
            with self.lock:
                self._nonces.clear()
            for w in batch:
                w.error, w.done = exc, True
            return
        with self.lock:
            for w in batch:
                try:
                    self.cycle.submit(w.order, w.minute)
                except PeergridError as exc:  # the book's own refusal, as before the groups
                    w.error = exc
                    continue
                self._books.add(w.order.slot)
        for w in batch:
            w.done = True

    def withdraw(self, member: Member, order_id: str, nonce: int) -> None:
        """Withdraw the member's own order inside its slot's quotation window."""
        with self._commit_lock, self.lock:
            self._flush_intake()  # the member's orders taken before are in the database
            with self.engine.connect() as connection:
                row = connection.execute(
                    select(db.orders).where(db.orders.c.id == order_id)
                ).first()
            if row is None or row.agent != member.agent:
                raise LookupError(f"order {order_id!r}: no such order of agent {member.agent!r}")
            if row.withdrawn:
                raise ConflictError(f"order {order_id!r} is withdrawn or replaced already")
            now = self.clock.minute()
            self._check_quotation(int(row.slot), now, f"withdrawal of {order_id!r}")
            self._check_nonce(member.signer, nonce)
            with self.engine.begin() as connection:
                connection.execute(
                    update(db.orders).where(db.orders.c.id == order_id).values(withdrawn=1)
                )
                _set_nonce(connection, member.signer, nonce)
            self._nonces[member.signer.lower()] = nonce
            self.cycle.withdraw(order_id)

    def post_reading(self, member: Member, slot: int, net_wh: int, signature: str) -> None:
        """A meter's reading of its household's net energy in delivered ``slot``."""
        with self.lock:
            now = self.clock.minute()
            opens = (slot + 1) * self.times.slot_minutes
            if not opens <= now < self._settles_at(slot):
                raise WindowError(
                    f"reading of slot {slot}: outside the metering window, market minutes "
                    f"{opens:g} to {self._settles_at(slot):g} (it is minute {now:.2f})"
                )
            with self.engine.begin() as connection:
                seen = connection.execute(
                    select(func.count())
                    .select_from(db.meter_posts)
                    .where(db.meter_posts.c.slot == slot, db.meter_posts.c.agent == member.agent)
                ).scalar()
                if seen:
                    raise ConflictError(f"slot {slot} already has a reading of {member.agent!r}")
                connection.execute(
                    insert(db.meter_posts),
                    {"slot": slot, "agent": member.agent, "net_wh": net_wh, "signature": signature},
                )

    # --- the clock --------------------------------------------------------------------------

    def advance(self) -> list[int]:
        """Do what the clock says is due: match the books whose quotation closed, settle the
        slots whose settlement phase began. Returns the slots settled."""
        settled = []
        with self.chain_lock:
            with self._commit_lock:
                with self.lock:
                    now = self.clock.minute()
                # every order taken before ``now`` is in its book before the book closes;
                # one taken after is refused for a slot closed by then
                self._flush_intake()
                with self.lock:
                    closed = [
                        s
                        for s in sorted(self._books - self._matched)
                        if now >= self.quotation_closes(s)
                    ]
            for slot in closed:
                self._match(slot)
            with self.lock:
                due = [s for s in sorted(self._matched) if now >= self._settles_at(s)]
            for slot in due:  # no order or reading is taken for these any more
                self._settle(slot)
                settled.append(slot)
        return settled

    def run_forever(self, stop: threading.Event, period_s: float) -> None:
        """Advance every ``period_s`` until ``stop`` is set; a chain that fails marks the
        service unhealthy and is tried again at the next tick (nothing is lost: a slot is
        settled once the chain takes it)."""
        while not stop.is_set():
            down = self.chain_down()  # a node that went away is seen here, at once
            if down is not None:
                if self.healthy:
                    logger.warning("%s; trying again", down)
                self.healthy, self.last_error = False, down
            else:
                try:
                    self.advance()
                    self.healthy, self.last_error = True, None
                except (PeergridError, NodeUnreachable, NodeError) as exc:
                    # a managed node that went away mid-slot fails here: tried again too
                    self.healthy, self.last_error = False, str(exc)
                    logger.warning("the chain failed, trying again: %s", exc)
            stop.wait(period_s)

    def chain_down(self) -> str | None:
        """Why the chain does not answer now, or ``None`` when it does. A node is asked once,
        on a connection of its own with a short timeout (the chain client's own requests wait
        out an outage, holding its lock); the in-process chain always answers."""
        url = getattr(self.chain, "url", None)
        if not isinstance(url, str):
            return None
        client = JsonRpcClient(url, timeout=self.probe_timeout_s)
        try:
            client.call("eth_chainId", [])
        except (NodeUnreachable, NodeError) as exc:
            return f"the chain node at {url} does not answer: {exc}"
        finally:
            client.close()
        return None

    def _match(self, slot: int) -> None:
        """Clear a closed book and void what the contract would refuse. The funds are read
        from the chain without ``lock`` (orders for later slots are taken meanwhile): the book
        is closed, and no reader sees the slot before it is in ``_matched``."""
        with self.lock:
            clearing = self.cycle.match(slot)
            orders = list(self.cycle.orders(slot))
        refused = self.settlement.refused(orders, clearing.trades)
        with self.lock:
            if refused:
                self.cycle.void(slot, refused)
            self._matched.add(slot)

    def _settle(self, slot: int) -> None:
        """Settle ``slot`` on chain (resuming what a stop cut off), then write the read model;
        the books forget it only once the chain has it, so a failure is tried again. Called
        with ``chain_lock`` held, not ``lock``: the book of a slot due to settle is closed."""
        with self.lock:
            clearing = self.cycle.match(slot)
            orders = list(self.cycle.orders(slot))
            trades = list(clearing.trades)
        metered = self._metered(slot, orders, trades)
        receipts: Sequence[Receipt] = ()
        before = self.ledger.slot_info(slot).phase if trades else ChainPhase.NONE
        if before is ChainPhase.VOID:
            logger.warning("slot %d was voided on chain (its clearing deadline passed)", slot)
        elif trades and before is not ChainPhase.SETTLED:
            receipts = self.settlement.settle(slot, orders, trades, metered)
        events = [e for r in receipts for e in r.events if e.address == self.ledger.market.address]
        resumed = before not in (ChainPhase.NONE, ChainPhase.SETTLED, ChainPhase.VOID)
        if resumed:
            # the transactions sent before the stop logged part of the slot's events, and a
            # rebuild may have written the slot's rows from them already
            events = slots_by_event(contract_events(self.chain, self.ledger.market)).get(slot, [])
        with self.lock:
            self.cycle.settle(
                slot, {o.id: metered.get(o.agent, _contracted(o, trades)) for o in orders}
            )
        with self.engine.begin() as connection:
            if resumed:
                for table in (db.slots, db.trades, db.readings):
                    connection.execute(delete(table).where(table.c.slot == slot))
            if events:
                for events_of_slot in slots_by_event(events).values():
                    record_slot(
                        connection,
                        self.ledger,
                        slot,
                        events_of_slot,
                        agents_by_address(self.settlement.address_of),
                    )
            record_balances(connection, self.ledger, self.settlement.address_of)
        with self.lock:
            self.cycle.forget(slot)
            self._matched.discard(slot)
            self._books.discard(slot)

    def _metered(
        self, slot: int, orders: Sequence[Order], trades: Sequence[Any]
    ) -> dict[str, float]:
        """Each reporting household's metered energy against its contract (kWh, by agent):
        what it delivered (a seller) or took (a buyer), at most its contract, as the simulation
        meters (:func:`peergrid.sim.accounting.delivered_kwh`)."""
        with self.engine.connect() as connection:
            posts = {
                row.agent: row.net_wh / 1000
                for row in connection.execute(
                    select(db.meter_posts).where(db.meter_posts.c.slot == slot)
                )
            }
        metered = {}
        for order in orders:
            if order.agent not in posts:
                continue
            net = posts[order.agent]
            available = max(0.0, net) if order.side is Side.SELL else max(0.0, -net)
            metered[order.agent] = min(_contracted(order, trades), available)
        return metered

    # --- reading --------------------------------------------------------------------------

    def feedback(self, agent: str) -> list[Feedback]:
        """The agent's quotes and messages of the matched slots not settled yet."""
        with self.lock:
            return [
                f
                for slot in sorted(self._matched)
                for f in self.cycle.feedback(slot)
                if f.agent == agent
            ]

    def matched_views(self) -> list[Any]:
        """The DSO's view of each matched slot not settled yet (no bids)."""
        with self.lock:
            return [self.cycle.dso_view(slot) for slot in sorted(self._matched)]

    def open_orders(self, agent: str) -> list[Order]:
        with self.lock:
            return [
                o
                for slot in sorted(self._books)
                for o in self.cycle.orders(slot)
                if o.agent == agent
            ]

    def set_distance(self, a: str, b: str, metres: float) -> None:
        """The DSO changes the path length between buses ``a`` and ``b``: the matching of the
        next books and the contract's feeder map both use the new length."""
        distances = self.distances
        if distances is None:
            raise PeergridError("this market has no distance table to update")
        for bus in (a, b):
            if bus not in self.buses:
                raise PeergridError(f"unknown bus {bus!r}")
        if not (np.isfinite(metres) and 0 <= metres <= 1_000_000):
            raise PeergridError(f"metres must be from 0 to 1 000 000, got {metres!r}")
        with self.chain_lock, self.lock:
            values = np.array(distances.values, dtype=float)
            i, j = distances.index(int(a)), distances.index(int(b))
            values[i, j] = values[j, i] = metres
            values.setflags(write=False)
            updated = DistanceMatrix(distances.buses, values, distances.metric, distances.unit)
            if self.config.distance_charge_per_m:
                self.ledger.set_distances(
                    [DistanceRow(int(a) + 1, int(b) + 1, millimetres(metres))]
                )
            self.distances = updated
            self.cycle.distances = updated if self.config.needs_distances else None


def _contracted(order: Order, trades: Sequence[Any]) -> float:
    return sum(t.quantity_kwh for t in trades if order.id in (t.buy_order, t.sell_order))


def _order(row: Any) -> Order:
    return Order(
        id=row.id,
        agent=row.agent,
        side=Side(row.side),
        quantity_kwh=row.quantity_wh / 1000,
        price=row.price_micro_per_kwh / 1_000_000,
        slot=int(row.slot),
        bus=row.bus,
    )


def _set_nonce(connection: Any, signer: str, nonce: int) -> None:
    key = signer.lower()
    done = connection.execute(
        update(db.nonces).where(db.nonces.c.signer == key).values(last_nonce=nonce)
    )
    if done.rowcount == 0:
        connection.execute(insert(db.nonces), {"signer": key, "last_nonce": nonce})


def _deploy(chain: Chain, config: MarketConfig) -> BatchSettlement:
    distances = config.distances
    setup = MarketSetup(
        agents=[m.agent for m in config.members],
        deposit_per_member=config.deposit_per_member,
        fee_per_kwh=config.network_fee_per_kwh,
        penalty_per_kwh=config.penalty_per_kwh,
        distance_charge_per_m=config.distance_charge_per_m,
        buses=[int(m.bus) for m in config.members] if distances is not None else None,
        distances=distances,
        # secret (the state file is the operator's, mode 600): commitments stay sealed to
        # anyone else, and a slot cut off between commit and reveal can be revealed later
        salt_seed=secrets.randbits(128),
    )
    settlement = BatchSettlement.open(chain, setup)
    settlement.resumable = True
    return settlement


def _write_state(path: Path, settlement: BatchSettlement) -> None:
    ledger = settlement.ledger
    state = {
        "format": 1,
        "token": ledger.token.address,
        "market": ledger.market.address,
        "operator": ledger.operator,
        "dso": ledger.dso,
        "issuer": ledger.escrow.issuer,
        "meter": settlement.meter,
        "address_of": settlement.address_of,
        "deposits_micro": settlement.deposits_micro,
        "fee_micro_per_kwh": settlement.fee_micro_per_kwh,
        "salt_seed": settlement.salt_seed,
        "written_at": time.time(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as f:
        f.write(json.dumps(state, indent=2))
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def _attach(chain: Chain, state: Mapping[str, Any]) -> BatchSettlement:
    ledger = BatchMarketLedger.at(
        chain,
        token=state["token"],
        market=state["market"],
        operator=state["operator"],
        dso=state["dso"],
        issuer=state["issuer"],
    )
    return BatchSettlement(
        ledger,
        dict(state["address_of"]),
        state["meter"],
        int(state["deposits_micro"]),
        fee_micro_per_kwh=int(state["fee_micro_per_kwh"]),
        salt_seed=state.get("salt_seed"),
        resumable=True,
    )


__all__ = [
    "Accepted",
    "ConflictError",
    "LiveMarket",
    "MarketConfig",
    "Member",
    "OrderRequest",
    "WindowError",
]
