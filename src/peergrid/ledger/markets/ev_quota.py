"""A typed client of ``EvQuota.vy``: one period's EV charging power quota market on chain.

The chapter's functions (001b_book.md §9.2) and who calls them:

1. :meth:`EvQuotaLedger.initialize` (DSO): the transformer's capacity margin, the charging tariff,
   the over-quota penalty rate, the end of delivery and the settlement deadline.
2. :meth:`~EvQuotaLedger.demand_submit` (a station): its demand and charger rating, with a
   deposit pulled from its token account (the client approves the contract first).
3. :meth:`~EvQuotaLedger.pre_allocation` (DSO): closes the demand window; eqs. 1–2. When the
   demands fit in the margin every demand is met and the auction is skipped.
4. :meth:`~EvQuotaLedger.submit` (a station with quota): one bid or offer; the contract keeps
   bids sorted by price descending and offers ascending, equal prices in submission order. The
   client passes the exact insertion point (``hint``) read from the book, so an insertion costs
   the same at any book size; ``hint=0`` makes the contract search from the best.
5. :meth:`~EvQuotaLedger.auction` (DSO): Algorithm 1, each matched pair at its own mid-point,
   money moved between deposits, final quotas.
6. :meth:`~EvQuotaLedger.payment` (DSO, after delivery): the DSO reports each station's metered
   energy; the station pays ``tariff × metered`` and, above its final quota, the penalty, from
   its deposit to the DSO. :meth:`~EvQuotaLedger.withdraw` (a station, after its payment, or
   from the settlement deadline on whatever happened): the rest of the deposit.

Units on chain are integers (the grid of :mod:`peergrid.mechanisms.ev_quota`, so both give the
same numbers): quotas, demands, ratings, quantities and readings in micro-kW (the chapter's
one-hour basis: a quota order of x kWh moves x kW); prices, tariff and penalty rate in
micro-tokens per kWh; money in micro-tokens (the settlement token's 6 decimals).
:func:`quota_units` and :func:`price_units` convert from kW, kWh and tokens per kWh (nearest).

:meth:`EvQuotaLedger.clearing` reads the period back as an :class:`OnChainQuotaClearing`: the
same ``trades``, ``beta``, ``auction_held`` and per-station ``demand_kw``, ``initial_kw``,
``final_kw``, ``payment`` and ``charging_fee`` as the off-chain mechanism's ``QuotaClearing``, so
the two compare directly. Everything it reads is in the contract's storage: a client that starts
later (:meth:`EvQuotaLedger.attach`) reads the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from peergrid.core.errors import LedgerError
from peergrid.core.orders import Order, Side
from peergrid.core.trades import Clearing, Trade
from peergrid.ledger.chain.base import Chain, Contract, Receipt
from peergrid.ledger.chain.compile import compile_contract

QUOTA_UNITS_PER_KW = 10**6
"""Micro-kW per kW (and micro-kWh per kWh of a quota order or reading)."""

PRICE_UNITS = 10**6
"""Micro-tokens per token (prices per kWh, and money)."""

MAX_ORDERS = 400
"""Most quota orders one period holds (the contract's ``MAX_ORDERS``): the auction's worst case
stays within a transaction's 2**24 gas (``benchmarks/ev_quota_gas.py`` measures it)."""

MAX_READINGS_PER_CALL = 256
"""Most readings one ``payment`` transaction carries."""

CONTRACT = "EvQuota"


def quota_units(kw: float) -> int:
    """Power (kW), or energy (kWh) on the one-hour basis, in the contract's micro-kW (nearest)."""
    return round(kw * QUOTA_UNITS_PER_KW)


def price_units(per_kwh: float) -> int:
    """A price, tariff or rate (tokens per kWh) in micro-tokens per kWh (nearest)."""
    return round(per_kwh * PRICE_UNITS)


def deposit_reserve(tariff: int, penalty_rate: int, rating: int) -> int:
    """The least deposit of a station (micro-tokens): the most it can owe at payment,
    ``(tariff + penalty_rate) * rating // 10**6`` (a reading above the rating is refused)."""
    return (tariff + penalty_rate) * rating // QUOTA_UNITS_PER_KW


def bid_cost(price: int, quantity: int) -> int:
    """The most a bid can pay in the auction (micro-tokens): ``price * quantity // 10**6``; the
    deposit must hold it on top of :func:`deposit_reserve` when the bid is submitted."""
    return price * quantity // QUOTA_UNITS_PER_KW


class Phase(IntEnum):
    """The period's phases, advanced by the DSO."""

    NONE = 0
    DEMAND = 1
    ORDERS = 2
    CLEARED = 3


@dataclass(frozen=True, slots=True)
class PeriodInfo:
    """The period's parameters and counters (integers in the contract's units)."""

    phase: Phase
    period: int
    capacity_margin: int
    tariff: int
    penalty_rate: int
    delivery_end: int
    settle_by: int
    total_demand: int
    station_count: int
    auction_held: bool
    order_count: int
    trade_count: int


@dataclass(frozen=True, slots=True)
class StationState:
    """A station as the contract holds it. ``auction_payment`` is positive for what it paid in
    the auction, negative for what it received; ``fee`` and ``penalty`` are zero until paid."""

    address: str
    index: int
    demand: int
    rating: int
    initial_quota: int
    final_quota: int
    deposit: int
    auction_payment: int
    ordered: bool
    paid: bool
    withdrawn: bool
    metered: int
    fee: int
    penalty: int


@dataclass(frozen=True, slots=True)
class QuotaOrder:
    """An order in the book: its station (index and address), side, price, quantity, and the
    quantity it moved in the auction."""

    station: int
    owner: str
    is_bid: bool
    price: int
    quantity: int
    moved: int


@dataclass(frozen=True, slots=True)
class QuotaTrade:
    """A trade the auction stored: quota from ``seller`` to ``buyer``; ``price_sum`` = bid +
    offer, ``value = price_sum * quantity // (2 * 10**6)`` micro-tokens."""

    buyer: str
    seller: str
    quantity: int
    price_sum: int
    value: int


@dataclass(frozen=True)
class StationOutcome:
    """A station's quotas (kW), auction payment and charging fee (tokens): the fields of the
    off-chain mechanism's ``StationQuota``, read from the contract."""

    demand_kw: float
    initial_kw: float
    final_kw: float
    payment: float
    charging_fee: float


@dataclass(frozen=True)
class OnChainQuotaClearing(Clearing):
    """The period read back from the contract, in the shape of the off-chain ``QuotaClearing``:
    ``trades`` in the order the auction formed them, ``beta``, ``auction_held`` and ``stations``
    (``charging_fee`` is the fee the station paid on its metered energy; 0 before payment)."""

    beta: float = 1.0
    auction_held: bool = False
    stations: Mapping[str, StationOutcome] = field(default_factory=dict)


class EvQuotaLedger:
    """The settlement token and one period's ``EvQuota`` contract, with the DSO and the issuer
    that funds stations' token accounts."""

    def __init__(
        self, chain: Chain, token: Contract, market: Contract, *, dso: str, issuer: str
    ) -> None:
        self.chain = chain
        self.token = token
        self.market = market
        self.dso = dso
        self.issuer = issuer

    @classmethod
    def deploy(
        cls,
        chain: Chain,
        *,
        dso: str,
        issuer: str,
        supply_micro: int,
        token: Contract | None = None,
    ) -> EvQuotaLedger:
        """Deploy the period's contract (by the DSO), and a settlement token with
        ``supply_micro`` to ``issuer`` unless ``token`` is given."""
        if token is None:
            token = chain.deploy(
                issuer,
                compile_contract("SettlementToken"),
                "peergrid settlement token",
                "PGS",
                issuer,
                supply_micro,
            )
        market = chain.deploy(dso, compile_contract(CONTRACT), token.address, dso)
        return cls(chain, token, market, dso=dso, issuer=issuer)

    @classmethod
    def attach(
        cls, chain: Chain, *, token: str, market: str, dso: str, issuer: str
    ) -> EvQuotaLedger:
        """The client of a period already deployed at ``market`` (addresses)."""
        return cls(
            chain,
            chain.at(compile_contract("SettlementToken"), token),
            chain.at(compile_contract(CONTRACT), market),
            dso=dso,
            issuer=issuer,
        )

    # --- DSO ---------------------------------------------------------------------------------

    def initialize(
        self,
        *,
        capacity_margin: int,
        tariff: int,
        penalty_rate: int,
        delivery_end: int,
        settle_by: int,
        period: int = 0,
    ) -> Receipt:
        """Open the period (DSO): margin in micro-kW, tariff and penalty rate in micro-tokens per
        kWh, ``delivery_end`` and ``settle_by`` as block times (seconds)."""
        return self.chain.transact(
            self.dso,
            self.market,
            "initialize",
            period,
            capacity_margin,
            tariff,
            penalty_rate,
            delivery_end,
            settle_by,
        )

    def pre_allocation(self) -> Receipt:
        """Close the demand window and fix the initial quotas (DSO)."""
        return self.chain.transact(self.dso, self.market, "pre_allocation")

    def auction(self) -> Receipt:
        """Run Algorithm 1 on the book (DSO)."""
        return self.chain.transact(self.dso, self.market, "auction")

    def payment(self, metered: Mapping[str, int]) -> list[Receipt]:
        """Report metered energy (micro-kWh) by station address and bill each station (DSO),
        :data:`MAX_READINGS_PER_CALL` to a transaction."""
        rows = list(metered.items())
        return [
            self.chain.transact(
                self.dso,
                self.market,
                "payment",
                [station for station, _ in chunk],
                [reading for _, reading in chunk],
            )
            for chunk in (
                rows[start : start + MAX_READINGS_PER_CALL]
                for start in range(0, len(rows), MAX_READINGS_PER_CALL)
            )
        ]

    # --- stations ------------------------------------------------------------------------------

    def fund(self, station: str, amount_micro: int) -> Receipt:
        """The issuer transfers ``amount_micro`` tokens to ``station``'s own account."""
        return self.chain.transact(self.issuer, self.token, "transfer", station, amount_micro)

    def demand_submit(self, station: str, demand: int, rating: int, deposit: int) -> Receipt:
        """``station`` approves the contract for ``deposit`` and submits its demand and rating
        (micro-kW) with it (two transactions)."""
        self.chain.transact(station, self.token, "approve", self.market.address, deposit)
        return self.chain.transact(station, self.market, "demand_submit", demand, rating, deposit)

    def submit(
        self, station: str, is_bid: bool, price: int, quantity: int, *, hint: int | None = None
    ) -> Receipt:
        """``station`` places its quota order (price in micro-tokens per kWh, quantity in
        micro-kW); ``hint`` defaults to the exact insertion point read from the book."""
        if hint is None:
            hint = self.insertion_hint(is_bid, price)
        return self.chain.transact(station, self.market, "submit", is_bid, price, quantity, hint)

    def submit_order(self, station: str, order: Order, *, hint: int | None = None) -> Receipt:
        """Place a core :class:`~peergrid.core.orders.Order` (kWh, tokens per kWh)."""
        return self.submit(
            station,
            order.side is Side.BUY,
            price_units(order.price),
            quota_units(order.quantity_kwh),
            hint=hint,
        )

    def withdraw(self, station: str) -> Receipt:
        """``station`` takes the rest of its deposit back."""
        return self.chain.transact(station, self.market, "withdraw")

    # --- views ---------------------------------------------------------------------------------

    def info(self) -> PeriodInfo:
        names = (
            "phase",
            "period",
            "capacity_margin",
            "tariff",
            "penalty_rate",
            "delivery_end",
            "settle_by",
            "total_demand",
            "station_count",
            "auction_held",
            "order_count",
            "trade_count",
        )
        raw = {name: self.chain.call(self.market, name) for name in names}
        return PeriodInfo(
            phase=Phase(int(raw["phase"])),
            auction_held=bool(raw["auction_held"]),
            **{k: int(v) for k, v in raw.items() if k not in ("phase", "auction_held")},
        )

    def station(self, address: str) -> StationState:
        """A station's state (raises if ``address`` never registered)."""
        row = self.chain.call(self.market, "station", address)
        if int(row[0]) == 0:
            raise LedgerError(f"{self.market.name}.station", f"{address} is not a station")
        return self._station(address, row)

    def stations(self) -> list[StationState]:
        """Every station, in order of registration."""
        count = int(self.chain.call(self.market, "station_count"))
        out = []
        for index in range(1, count + 1):
            address = str(self.chain.call(self.market, "station_at", index))
            out.append(self._station(address, self.chain.call(self.market, "station", address)))
        return out

    def book(self, is_bid: bool) -> list[QuotaOrder]:
        """One side of the book, best first."""
        rows = self.chain.call(self.market, "book", is_bid, MAX_ORDERS)
        return [
            QuotaOrder(int(s), str(o), bool(b), int(p), int(q), int(m)) for s, o, b, p, q, m in rows
        ]

    def trades(self) -> list[QuotaTrade]:
        """The auction's trades, in the order it formed them."""
        rows = self.chain.call(self.market, "trades", 0, MAX_ORDERS)
        return [QuotaTrade(str(b), str(s), int(q), int(p), int(v)) for b, s, q, p, v in rows]

    def insertion_hint(self, is_bid: bool, price: int) -> int:
        """The station whose order a new one at ``price`` goes right after (0: the best):
        the last order at an equal or better price (submission order at equal prices)."""
        hint = 0
        for order in self.book(is_bid):
            ahead = order.price >= price if is_bid else order.price <= price
            if not ahead:
                break
            hint = order.station
        return hint

    def token_balance(self, account: str) -> int:
        return int(self.chain.call(self.token, "balanceOf", account))

    def clearing(
        self,
        names: Mapping[str, str] | None = None,
        order_ids: Mapping[str, str] | None = None,
    ) -> OnChainQuotaClearing:
        """The period as the off-chain mechanism reports it. ``names`` maps station addresses to
        the ids to report (default: the addresses), ``order_ids`` station addresses to their
        orders' ids (default: the station's id)."""
        names = dict(names or {})
        order_ids = dict(order_ids or {})
        info = self.info()
        stations = self.stations()

        def name(address: str) -> str:
            return names.get(address, address)

        def order_id(address: str) -> str:
            return order_ids.get(address, name(address))

        trades = tuple(
            Trade(
                buyer=name(t.buyer),
                seller=name(t.seller),
                quantity_kwh=t.quantity / QUOTA_UNITS_PER_KW,
                price=t.price_sum / (2 * PRICE_UNITS),
                buy_order=order_id(t.buyer),
                sell_order=order_id(t.seller),
            )
            for t in self.trades()
        )
        allocations = {order_id(s.address): 0.0 for s in stations if s.ordered}
        for trade in trades:
            allocations[trade.buy_order] += trade.quantity_kwh
            allocations[trade.sell_order] += trade.quantity_kwh
        held = info.auction_held
        decided = info.phase in (Phase.ORDERS, Phase.CLEARED)
        beta = info.capacity_margin / info.total_demand if held else 1.0
        return OnChainQuotaClearing(
            trades=trades,
            price=None,
            allocations=allocations,
            info=_clearing_info(info, decided),
            beta=beta,
            auction_held=held,
            stations={
                name(s.address): StationOutcome(
                    demand_kw=s.demand / QUOTA_UNITS_PER_KW,
                    initial_kw=s.initial_quota / QUOTA_UNITS_PER_KW,
                    final_kw=s.final_quota / QUOTA_UNITS_PER_KW,
                    payment=s.auction_payment / PRICE_UNITS,
                    charging_fee=s.fee / PRICE_UNITS,
                )
                for s in stations
            },
        )

    @staticmethod
    def _station(address: str, row: Sequence[Any]) -> StationState:
        (
            index,
            demand,
            rating,
            initial,
            final,
            deposit,
            paid_in_auction,
            ordered,
            paid,
            withdrawn,
            metered,
            fee,
            penalty,
        ) = row
        return StationState(
            address=address,
            index=int(index),
            demand=int(demand),
            rating=int(rating),
            initial_quota=int(initial),
            final_quota=int(final),
            deposit=int(deposit),
            auction_payment=int(paid_in_auction),
            ordered=bool(ordered),
            paid=bool(paid),
            withdrawn=bool(withdrawn),
            metered=int(metered),
            fee=int(fee),
            penalty=int(penalty),
        )


def _clearing_info(info: PeriodInfo, decided: bool) -> dict[str, Any]:
    return {
        "mechanism": "ev-quota",
        "ledger": CONTRACT,
        "phase": info.phase.name.lower(),
        "quotas_decided": decided,
        "auction_held": info.auction_held,
        "capacity_margin_kw": info.capacity_margin / QUOTA_UNITS_PER_KW,
        "total_demand_kw": info.total_demand / QUOTA_UNITS_PER_KW,
        "tariff_per_kwh": info.tariff / PRICE_UNITS,
        "penalty_per_kwh": info.penalty_rate / PRICE_UNITS,
        "trades": info.trade_count,
    }
