"""A typed client of ``BatchMarket.vy``: a sealed-bid batch auction per slot, verified on chain.

The cycle of one delivery slot (003_dpda.md §1.5), each phase started by the operator (the
platform's clock drives it; the chain records when the reveals began, which starts the clearing
deadline):

1. :meth:`BatchMarketLedger.open_slot` (quotation, minutes 0–3): the DSO's rates (fee per kWh,
   penalty per kWh, distance charge per km per matched pair) are frozen for the slot;
   prosumers :meth:`~BatchMarketLedger.commit` the hash of their order and a secret salt
   (:func:`commitment`) under an order id of their own. Bids are hidden (003 §1.4).
   Commitments are kept per slot, member and id: nobody can take or block another's id (ids
   are told apart by their bits 32..255).
2. :meth:`~BatchMarketLedger.start_reveal` (matching, minutes 3–10): commitments close, bids are
   frozen; prosumers :meth:`~BatchMarketLedger.reveal` (a buy order locks its most cost in
   escrow). One order per member per slot; the contract stores every revealed order in reveal
   order (:meth:`~BatchMarketLedger.revealed` reads them back, so a restarted client knows
   them). It holds the last :data:`SLOT_RING` slots: a slot's storage is reused by the slot
   ``SLOT_RING`` later once it is finished, so what the contract stores stays bounded; reading
   back an older slot is a :class:`LedgerError` (its events remain).
3. :meth:`~BatchMarketLedger.post_clearing` (by minute 10): the operator clears off chain with
   any mechanism and posts the fills, naming orders by their index in reveal order; the
   contract verifies every fill against the stored orders (prices within both limits,
   quantities within both orders, no order used beyond its quantity) and tallies it (in the
   order words for a clearing in several parts; in transient storage, not kept, for one closed
   in the transaction of its only part: the contract then keeps the positions' hash); with the
   last part the clearing closes: sellers and the DSO's fee are paid and every buy order's
   escrow released (the last part carries every order's owner after its arguments, which the
   contract checks: cheaper than reading them). A large clearing goes in several transactions
   (:func:`clearing_calls`).
   With a distance charge rate (Score Matching's C_d), each fill also costs its pair ``C_d × d``
   on the DSO's feeder map (:meth:`~peergrid.ledger.markets.base.MarketLedger.set_nodes`,
   :meth:`~peergrid.ledger.markets.base.MarketLedger.set_distances`), half each, paid from free
   balances when the clearing closes (what a member cannot pay is logged as a shortfall). A part
   that fails verification reverts and changes nothing. A clearing with no fills cancels the
   slot.
4. The meter posts the metered energy of every position (:mod:`peergrid.ledger.markets.meters`):
   true-ups and deviation penalties move between members and the DSO (eqs. 4.8/4.9).

A silent operator: the contract's clearing deadline (:data:`DEFAULT_CLEARING_DEADLINE_S` by
default, set at deployment) runs from the start of the reveals; once it has passed without the
clearing's last part, any member :meth:`~BatchMarketLedger.reclaim` s the lock of its own order
and the slot is void: no part of its clearing can be posted any more.

Transactions per slot (:func:`slot_transactions`): 2 per order (commit, reveal), 2 phases (open,
start of the reveals), the clearing's :func:`clearing_calls` and the readings'
:func:`readings_calls`; 2 N + 4 up to 128 fills, 256 orders and 256 positions. Units are
integers: Wh, micro-currency per kWh, micro-currency. :func:`clear` states the contract's
clearing arithmetic in Python; :func:`sealed_order` and :func:`fills_from_trades` convert from
:mod:`peergrid.core` orders and trades.

The contract's price rule is stated once, in :func:`within_price_limits`: a fill's price is at
least the sell order's limit and at most the buy order's. :func:`fill_within_limits` applies it
to a fill and :func:`refused_trades` to core trades, so that a caller can void beforehand what
the contract would refuse (a DPDA Case 4 price can exceed a buyer's limit, 003 §6 item 9).
These rules, the packing of fills and the decoding of the contract's words are in
:mod:`peergrid.ledger.markets.batch_rules`; this module re-exports them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.base import Chain, Contract, Receipt
from peergrid.ledger.markets.base import MarketLedger
from peergrid.ledger.markets.batch_rules import (
    DEFAULT_CLEARING_DEADLINE_S,
    MAX_CLEARING_DEADLINE_S,
    MAX_FILLS_PER_CALL,
    MAX_FILLS_PER_SLOT,
    MAX_ORDERS_PER_SLOT,
    MAX_ORDERS_PER_VIEW,
    MAX_PRICE_MICRO_PER_KWH,
    MAX_QUANTITY_WH,
    MAX_RATE_MICRO_PER_KWH,
    MAX_SLOT,
    ORDERS_CLOSED_WITH_FILLS,
    SLOT_RING,
    ClearingOutcome,
    Fill,
    OrderState,
    Phase,
    RevealedOrder,
    SealedOrder,
    SlotInfo,
    TradeLog,
    clear,
    clearing_calls,
    commitment,
    decode_order,
    decode_slot_record,
    fill_within_limits,
    fills_from_trades,
    order_id_for,
    readings_calls,
    refused_trades,
    sealed_order,
    settled_wh,
    slot_transactions,
    within_price_limits,
)
from peergrid.ledger.markets.consortium import (
    DEFAULT_QUORUM_BPS,
    DEFAULT_VOTING_PERIOD_S,
)
from peergrid.ledger.markets.meters import (
    MeterClient,
    Position,
    packed_addresses,
    positions_hash,
)

_U32 = 2**32 - 1
"""A member index in the contract's packed order word (its low 32 bits)."""

__all__ = [
    "DEFAULT_CLEARING_DEADLINE_S",
    "MAX_CLEARING_DEADLINE_S",
    "MAX_FILLS_PER_CALL",
    "MAX_FILLS_PER_SLOT",
    "MAX_ORDERS_PER_SLOT",
    "MAX_ORDERS_PER_VIEW",
    "MAX_PRICE_MICRO_PER_KWH",
    "MAX_QUANTITY_WH",
    "MAX_RATE_MICRO_PER_KWH",
    "MAX_SLOT",
    "ORDERS_CLOSED_WITH_FILLS",
    "SLOT_RING",
    "BatchMarketLedger",
    "ClearingOutcome",
    "Fill",
    "OrderState",
    "Phase",
    "RevealedOrder",
    "SealedOrder",
    "SlotInfo",
    "TradeLog",
    "clear",
    "clearing_calls",
    "commitment",
    "decode_order",
    "decode_slot_record",
    "fill_within_limits",
    "fills_from_trades",
    "order_id_for",
    "readings_calls",
    "refused_trades",
    "sealed_order",
    "settled_wh",
    "slot_transactions",
    "within_price_limits",
]


class BatchMarketLedger(MarketLedger):
    """The settlement token and a ``BatchMarket`` contract on one chain, with its roles.

    Everything a slot needs is read back from the contract when asked: the revealed orders
    (:meth:`revealed`), what a clearing in several parts tallied (:meth:`order_states`) and
    the positions (:meth:`positions`; of a clearing closed in one transaction, from its fills,
    checked against the positions hash). So a client started after a crash, attached to the
    deployed contracts with :meth:`at`, finishes any slot the one before it left.
    """

    def __init__(
        self,
        chain: Chain,
        token: Contract,
        market: Contract,
        *,
        operator: str,
        dso: str,
        issuer: str,
    ) -> None:
        super().__init__(chain, token, market, operator=operator, dso=dso, issuer=issuer)
        self.meters = MeterClient(chain, market)
        self._positions: dict[int, tuple[Position, ...]] = {}
        self._members: dict[int, str] = {}  # member index -> address: kept for ever on chain

    @classmethod
    def deploy(
        cls,
        chain: Chain,
        *,
        operator: str,
        dso: str,
        issuer: str,
        supply_micro: int,
        fee_micro_per_kwh: int = 0,
        penalty_micro_per_kwh: int = 0,
        distance_charge_micro_per_km: int = 0,
        clearing_deadline_s: int = DEFAULT_CLEARING_DEADLINE_S,
        quorum_bps: int = DEFAULT_QUORUM_BPS,
        voting_period_s: int = DEFAULT_VOTING_PERIOD_S,
        token: Contract | None = None,
    ) -> BatchMarketLedger:
        """Deploy the market (and a settlement token with ``supply_micro`` to ``issuer``,
        unless ``token`` is given). The consortium is in bootstrap: see
        :meth:`ConsortiumClient.bootstrap`. ``clearing_deadline_s``: seconds after a slot's
        reveals start by which its clearing must be closed (1 to a year)."""
        token, market = cls.deploy_contracts(
            chain,
            "BatchMarket",
            operator=operator,
            issuer=issuer,
            supply_micro=supply_micro,
            token=token,
            market_args=(
                operator,
                dso,
                quorum_bps,
                voting_period_s,
                fee_micro_per_kwh,
                penalty_micro_per_kwh,
                distance_charge_micro_per_km,
                clearing_deadline_s,
            ),
        )
        return cls(chain, token, market, operator=operator, dso=dso, issuer=issuer)

    @classmethod
    def at(
        cls, chain: Chain, *, token: str, market: str, operator: str, dso: str, issuer: str
    ) -> BatchMarketLedger:
        """A client of the token and ``BatchMarket`` already deployed at ``token`` and
        ``market``, acting with the roles' accounts (which ``chain`` must sign for)."""
        token_contract, market_contract = cls.attach_contracts(
            chain, "BatchMarket", token=token, market=market
        )
        return cls(
            chain, token_contract, market_contract, operator=operator, dso=dso, issuer=issuer
        )

    # --- DSO ---------------------------------------------------------------------------------

    def set_rates(
        self, fee_micro_per_kwh: int, penalty_micro_per_kwh: int, distance_charge_micro_per_km: int
    ) -> Receipt:
        """Fee, penalty and distance charge rates for slots opened from now on (DSO)."""
        return self.chain.transact(
            self.dso,
            self.market,
            "set_rates",
            fee_micro_per_kwh,
            penalty_micro_per_kwh,
            distance_charge_micro_per_km,
        )

    # --- phases --------------------------------------------------------------------------------

    def open_slot(self, slot: int) -> Receipt:
        """Open ``slot`` for commitments and freeze its rates (operator)."""
        return self.chain.transact(self.operator, self.market, "open_slot", slot, slot=slot)

    def start_reveal(self, slot: int) -> Receipt:
        """Close ``slot``'s commitments and open its reveals (operator); the clearing deadline
        runs from now."""
        return self.chain.transact(self.operator, self.market, "start_reveal", slot, slot=slot)

    # --- prosumers -----------------------------------------------------------------------------

    def commit(self, member: str, slot: int, order: SealedOrder) -> Receipt:
        """``member`` commits to ``order`` in ``slot``."""
        return self.chain.transact(
            member,
            self.market,
            "commit",
            slot,
            order.order_id,
            order.commitment(slot, member),
            slot=slot,
        )

    def reveal(self, member: str, slot: int, order: SealedOrder) -> Receipt:
        """``member`` reveals ``order`` in ``slot``; the contract stores it."""
        return self.chain.transact(
            member,
            self.market,
            "reveal",
            slot,
            order.order_id,
            order.is_buy,
            order.quantity_wh,
            order.price_micro_per_kwh,
            order.salt,
            slot=slot,
        )

    def reclaim(self, member: str, slot: int) -> Receipt:
        """``member`` takes back the lock of its order in ``slot`` once the slot's clearing
        deadline has passed without the clearing (the first reclaim voids the slot)."""
        for state in self.order_states(slot):
            if state.order.owner == member:
                return self.chain.transact(
                    member, self.market, "reclaim", slot, state.index, slot=slot
                )
        raise LedgerError(
            f"{self.market.name}.reclaim", f"{member} revealed no order in slot {slot}"
        )

    def release_slot(self, sender: str, slot: int) -> list[Receipt]:
        """``sender`` (any account, typically the operator) releases every order of ``slot``
        not yet reclaimed, each lock to its owner, once the slot's clearing deadline has
        passed without the clearing: what frees a void slot's position on the storage ring
        when members do not reclaim themselves."""
        return [
            self.chain.transact(sender, self.market, "reclaim", slot, state.index, slot=slot)
            for state in self.order_states(slot)
            if not state.reclaimed
        ]

    # --- what the contract holds of a slot ------------------------------------------------------

    def revealed(self, slot: int) -> tuple[RevealedOrder, ...]:
        """The orders revealed in ``slot`` so far, in reveal order (read from the contract)."""
        return tuple(s.order for s in self.order_states(slot))

    def order_states(self, slot: int) -> tuple[OrderState, ...]:
        """Every revealed order of ``slot`` with its tallies, in reveal order."""
        count = self.slot_info(slot).order_count
        states: list[OrderState] = []
        while len(states) < count:
            start = len(states)
            page = self.chain.call(self.market, "orders_of", slot, start, MAX_ORDERS_PER_VIEW)
            if not page:
                break
            for offset, (packed, owed) in enumerate(page):
                owner = self.member_address(int(packed) & _U32)
                states.append(decode_order(start + offset, owner, int(packed), int(owed)))
        return tuple(states)

    def member_address(self, index: int) -> str:
        """The address of the member with index ``index`` (an order's owner on chain)."""
        address = self._members.get(index)
        if address is None:
            address = str(self.chain.call(self.market, "address_of", index))
            self._members[index] = address
        return address

    # --- operator: the clearing ---------------------------------------------------------------

    def post_clearing(self, slot: int, fills: Sequence[Fill]) -> tuple[Receipt, ...]:
        """Post ``slot``'s whole clearing (operator): its receipts, in order.

        In one transaction, or in parts of :data:`MAX_FILLS_PER_CALL` fills and a last one that
        closes (:func:`clearing_calls`). Before sending several, the whole clearing is checked
        with :func:`clear`, so that a fill the contract would refuse does not leave the earlier
        parts posted (a pair off the feeder map is only found by the contract). Fills already
        posted (the slot's ``trade_count``, by a client that stopped midway) are not sent again,
        once checked to be the first of ``fills``. The positions the contract records must be
        the client's (else :class:`LedgerError`).
        """
        call = f"{self.market.name}.post_clearing"
        fills = list(fills)
        info = self.slot_info(slot)
        orders = self.revealed(slot)
        fee = info.fee_micro_per_kwh
        posted = info.trade_count if info.phase is Phase.CLEARING else 0
        if posted:
            self._check_posted(slot, orders, fills, posted, fee)
        receipts, outcome = self._post_parts(slot, fills, orders, posted, fee)
        self._check_positions(call, outcome.positions, self.slot_info(slot))
        self._positions[slot] = outcome.positions
        return receipts

    def post_clearing_as_revealed(
        self,
        slot: int,
        fills: Sequence[Fill],
        revealed: Sequence[RevealedOrder],
        fee_micro_per_kwh: int,
    ) -> tuple[Receipt, ...]:
        """Post ``slot``'s clearing from what this client sent, without reading the slot back.

        For the client that opened ``slot`` at ``fee_micro_per_kwh`` and sent every one of its
        reveals, ``revealed`` in the order sent: under a pipeline, the slot's opening, commits,
        reveals, clearing and readings (:meth:`post_readings_after_clearing`) then go in one
        flush. Nothing is trusted: the contract verifies every fill against the orders it
        stored and every owner; the positions are compared with the contract's hash by
        :meth:`check_positions` once the clearing is mined.
        """
        receipts, outcome = self._post_parts(slot, list(fills), revealed, 0, fee_micro_per_kwh)
        self._positions[slot] = outcome.positions
        return receipts

    def check_positions(self, slot: int) -> None:
        """The positions this client computed for ``slot`` hash to the contract's (else
        :class:`LedgerError`)."""
        call = f"{self.market.name}.post_clearing"
        positions = self._positions.get(slot)
        if positions is None:
            raise LedgerError(call, f"this client did not clear slot {slot}")
        self._check_positions(call, positions, self.slot_info(slot))

    @staticmethod
    def _check_positions(call: str, positions: Sequence[Position], info: SlotInfo) -> None:
        if positions_hash(positions) != info.positions_hash:
            raise LedgerError(
                call, "the contract's positions hash differs from the client's positions"
            )

    def _post_parts(
        self,
        slot: int,
        fills: list[Fill],
        orders: Sequence[RevealedOrder],
        posted: int,
        fee: int,
    ) -> tuple[tuple[Receipt, ...], ClearingOutcome]:
        """Send the fills after the first ``posted``: in one transaction, or in parts of
        :data:`MAX_FILLS_PER_CALL` and a last one that closes (:func:`clearing_calls`), checked
        whole with :func:`clear` before the first part. The receipts and the outcome."""
        owners = [o.owner for o in orders]
        if not posted and clearing_calls(len(orders), len(fills)) == 1:
            # One transaction: a fill the contract refuses reverts it with the contract's reason.
            receipt = self._post_part(slot, fills, owners)
            return (receipt,), clear(orders, fills, fee)
        outcome = clear(orders, fills, fee)
        rest = fills[posted:]
        receipts = [
            self._post_part(slot, rest[start : start + MAX_FILLS_PER_CALL], None)
            for start in range(0, len(rest), MAX_FILLS_PER_CALL)
        ]
        receipts.append(self._post_part(slot, [], owners))
        return tuple(receipts), outcome

    def _post_part(self, slot: int, fills: Sequence[Fill], owners: Sequence[str] | None) -> Receipt:
        """One part; ``owners`` (every revealed order's owner, in reveal order) makes it the
        last, which closes the clearing: they follow the arguments, 20 bytes each."""
        return self.chain.transact(
            self.operator,
            self.market,
            "post_clearing",
            slot,
            [f.packed() for f in fills],
            owners is not None,
            slot=slot,
            tail=packed_addresses(owners or ()),
        )

    def _check_posted(
        self,
        slot: int,
        orders: Sequence[RevealedOrder],
        fills: Sequence[Fill],
        posted: int,
        fee: int,
    ) -> None:
        """The tallies on chain are those of the first ``posted`` of ``fills``: the parts
        already posted were these."""
        mine: list[tuple[int, int, int]] = []
        if posted <= len(fills):
            expected = clear(orders, fills[:posted], fee)
            mine = list(
                zip(expected.filled_wh, expected.value_micro, expected.paid_micro, strict=True)
            )
        tallies = [(s.filled_wh, s.value_micro, s.money_micro) for s in self.order_states(slot)]
        if tallies != mine:
            raise LedgerError(
                f"{self.market.name}.post_clearing",
                f"slot {slot} has {posted} fills posted that are not the first of these",
            )

    @staticmethod
    def trades_in(receipt: Receipt) -> tuple[TradeLog, ...]:
        """The fills a ``post_clearing`` receipt logged, with their distance charges."""
        return tuple(
            TradeLog.from_word(int(word))
            for e in receipt.events_named("Traded")
            for word in e.args["trades"]
        )

    def positions(self, slot: int, fills: Sequence[Fill] | None = None) -> tuple[Position, ...]:
        """The positions of a cleared slot (in the contract's order); they must hash to the
        contract's positions hash.

        Those this client computed if it cleared the slot; else the orders' tallies the
        contract stored, for a clearing posted in several parts. A clearing closed in one
        transaction keeps its tallies only in that transaction (the contract stores only their
        hash): a client that did not post it passes the slot's ``fills`` (the operator's, e.g.
        recomputed from the same trades, or read from the ``Traded`` events), which are cleared
        again against the stored orders and checked against the hash.
        """
        cached = self._positions.get(slot)
        if cached is not None:
            return cached
        call = f"{self.market.name}.positions"
        info = self.slot_info(slot)
        if info.phase not in (Phase.CLEARED, Phase.SETTLED):
            raise LedgerError(call, f"slot {slot} is not cleared")
        states = self.order_states(slot)
        positions = tuple(p for s in states if (p := s.position) is not None)
        if positions_hash(positions) != info.positions_hash and fills is not None:
            orders = tuple(s.order for s in states)
            positions = clear(orders, list(fills), info.fee_micro_per_kwh).positions
        if positions_hash(positions) != info.positions_hash:
            raise LedgerError(
                call,
                f"slot {slot}'s positions hash matches neither the stored tallies nor the fills "
                "given (a clearing closed in one transaction stores no tallies: pass its fills)",
            )
        self._positions[slot] = positions
        return positions

    # --- meter ---------------------------------------------------------------------------------

    def post_readings(
        self,
        meter: str,
        slot: int,
        metered_wh: Mapping[str, int] | Sequence[int],
        fills: Sequence[Fill] | None = None,
    ) -> tuple[Receipt, ...]:
        """The meter posts ``slot``'s readings (by member, or in position order), as many
        transactions as :func:`readings_calls` says; positions the meter already settled (a
        client that stopped midway) are not posted again. ``fills``: see :meth:`positions`."""
        positions = self.positions(slot, fills)
        done = self.slot_info(slot).metered_positions
        readings = self.meters.readings_for(slot, positions, metered_wh)
        return self.meters.post_readings(meter, slot, positions[done:], readings[done:])

    def post_readings_after_clearing(
        self, meter: str, slot: int, metered_wh: Mapping[str, int] | Sequence[int]
    ) -> tuple[Receipt, ...]:
        """The meter posts ``slot``'s readings right after this client posted its clearing
        (:meth:`post_clearing_as_revealed`): from the positions it computed, every one of them
        (none can be metered yet), without reading the slot back."""
        positions = self._positions.get(slot)
        if positions is None:
            raise LedgerError(
                f"{self.market.name}.post_readings", f"this client did not clear slot {slot}"
            )
        return self.meters.post_readings(meter, slot, positions, metered_wh)

    # --- views ---------------------------------------------------------------------------------

    def slot_info(self, slot: int) -> SlotInfo:
        record, positions = self.chain.call(self.market, "slot_info", slot)
        return decode_slot_record(slot, int(record), bytes(positions))

    def clearing_deadline(self) -> int:
        """Seconds after a slot's reveals start by which its clearing must be closed."""
        return int(self.chain.call(self.market, "clearing_deadline"))

    def deadline_of(self, slot: int) -> int | None:
        """The block time from which ``slot`` can be voided (``None`` before its reveals)."""
        started = self.slot_info(slot).reveal_started_at
        return started + self.clearing_deadline() if started else None

    def max_orders(self) -> int:
        """The most orders one slot takes (the contract's ``MAX_ORDERS``)."""
        return int(self.chain.call(self.market, "MAX_ORDERS"))

    def commitment_of(self, slot: int, member: str, order_id: bytes) -> bytes:
        """``member``'s commitment under ``order_id`` in ``slot`` (32 zero bytes once
        revealed)."""
        return bytes(self.chain.call(self.market, "commitment_of", slot, member, order_id))

    def fee_rate(self) -> int:
        return int(self.chain.call(self.market, "fee_rate"))

    def available_of_many(self, accounts: Sequence[str]) -> list[int]:
        """What each of ``accounts`` may withdraw or lock, 256 to a call."""
        free: list[int] = []
        for start in range(0, len(accounts), 256):
            chunk = list(accounts[start : start + 256])
            free += [int(v) for v in self.chain.call(self.market, "available_of_many", chunk)]
        return free

    def penalty_rate(self) -> int:
        return int(self.chain.call(self.market, "penalty_rate"))

    def distance_charge_rate(self) -> int:
        return int(self.chain.call(self.market, "distance_charge_rate"))
