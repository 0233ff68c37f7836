"""A typed client of ``DrSettlement.vy``: the two-stage DR market of chapter 7 on chain.

Who calls what (001a_book.md §2.6):

1. The system operator deploys the contract and :meth:`DrSettlementLedger.register` s qualified
   prosumers; every participant :meth:`~DrSettlementLedger.deposit` s tokens into its checking
   account and :meth:`~DrSettlementLedger.withdraw` s its free balance (pull payments).
2. The operator opens each hourly slot (:meth:`~DrSettlementLedger.open_slot`: upstream price,
   α, penalty rate, deadline) and may change α until the first settlement
   (:meth:`~DrSettlementLedger.set_alpha`).
3. Prosumers :meth:`~DrSettlementLedger.bid` ``(demand, price, supply)``; the operator runs
   :meth:`~DrSettlementLedger.settle_first` (the contract clears and prices; the client only
   passes the bids in merit order, :func:`merit_order`, which the contract checks).
4. Buyers :meth:`~DrSettlementLedger.reschedule`; the operator runs
   :meth:`~DrSettlementLedger.settle_final` with the sellers' metered deliveries.

Units on chain: Wh, micro-currency per kWh, α in parts per million, money in micro-currency;
each product ``wh * price // 1000``. The rules are the contract's docstring; the same integers come
from :mod:`peergrid.mechanisms.dr.two_stage` off chain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

from peergrid.ledger.chain.base import Chain, Contract, Receipt
from peergrid.ledger.chain.compile import compile_contract

CONTRACT = "DrSettlement"
MAX_BIDS = 140
"""Most bids one slot holds (the contract's ``MAX_BIDS``)."""
ALPHA_ONE = 10**6
MAX_PAGE = 256
"""Most addresses one ``prosumer_range`` call returns."""


class SlotPhase(IntEnum):
    NONE = 0
    OPEN = 1
    RESCHEDULE = 2
    SETTLED = 3


@dataclass(frozen=True, slots=True)
class SlotState:
    """A slot as the contract holds it (integers in the contract's units)."""

    phase: SlotPhase
    upstream_price: int
    alpha: int
    penalty_rate: int
    settle_by: int
    bidders: int
    buyers: int
    sellers: int
    total_buy: int
    total_sell: int
    price: int
    dr_price: int
    cleared: int
    operator_change: int


@dataclass(frozen=True, slots=True)
class BidState:
    """A prosumer's bid in a slot and what both settlements gave it (Wh, micro-currency)."""

    placed: bool
    demand: int
    supply: int
    price: int
    reserve: int
    bought: int
    sold: int
    rescheduled: bool
    new_demand: int
    local: int
    imported: int
    sold_final: int
    shortfall: int
    dr: int
    dr_paid: int
    penalty: int
    change: int
    released: bool

    @property
    def buy(self) -> int:
        return max(self.demand - self.supply, 0)

    @property
    def sell(self) -> int:
        return max(self.supply - self.demand, 0)


def merit_order(bids: Mapping[str, tuple[int, BidState]], *, buying: bool) -> list[str]:
    """The addresses of one side's bids in the order the contract checks: buyers by price
    descending, sellers ascending, equal prices by registration index. ``bids`` maps an address
    to its (index, bid)."""
    side = [
        (address, index, bid)
        for address, (index, bid) in bids.items()
        if bid.placed and (bid.buy if buying else bid.sell) > 0
    ]
    side.sort(key=lambda row: (-row[2].price if buying else row[2].price, row[1]))
    return [address for address, _, _ in side]


class DrSettlementLedger:
    """The settlement token and the ``DrSettlement`` contract, with the operator and the issuer
    that funds participants' token accounts."""

    def __init__(
        self, chain: Chain, token: Contract, market: Contract, *, operator: str, issuer: str
    ) -> None:
        self.chain = chain
        self.token = token
        self.market = market
        self.operator = operator
        self.issuer = issuer

    @classmethod
    def deploy(
        cls,
        chain: Chain,
        *,
        operator: str,
        issuer: str,
        supply_micro: int,
        token: Contract | None = None,
    ) -> DrSettlementLedger:
        """Deploy the contract (by the operator), and a settlement token with ``supply_micro``
        to ``issuer`` unless ``token`` is given."""
        if token is None:
            token = chain.deploy(
                issuer,
                compile_contract("SettlementToken"),
                "peergrid settlement token",
                "PGS",
                issuer,
                supply_micro,
            )
        market = chain.deploy(operator, compile_contract(CONTRACT), token.address)
        return cls(chain, token, market, operator=operator, issuer=issuer)

    # --- the operator ----------------------------------------------------------------------------

    def register(self, prosumer: str) -> Receipt:
        return self.chain.transact(self.operator, self.market, "register", prosumer)

    def open_slot(
        self, slot: int, *, upstream_price: int, alpha: int, penalty_rate: int, settle_by: int
    ) -> Receipt:
        return self.chain.transact(
            self.operator,
            self.market,
            "open_slot",
            slot,
            upstream_price,
            alpha,
            penalty_rate,
            settle_by,
        )

    def set_alpha(self, slot: int, alpha: int) -> Receipt:
        return self.chain.transact(self.operator, self.market, "set_alpha", slot, alpha)

    def settle_first(self, slot: int) -> Receipt:
        """Stage 1: the bids in merit order, read from the contract, cleared by it."""
        bids = self.bids(slot)
        return self.chain.transact(
            self.operator,
            self.market,
            "settle_first",
            slot,
            merit_order(bids, buying=True),
            merit_order(bids, buying=False),
        )

    def settle_final(self, slot: int, delivered: Mapping[str, int] | None = None) -> Receipt:
        """Stage 2 with each seller's metered delivery (Wh; a seller not named delivered what it
        was cleared for)."""
        bids = self.bids(slot)
        sellers = merit_order(bids, buying=False)
        readings = dict(delivered or {})
        return self.chain.transact(
            self.operator,
            self.market,
            "settle_final",
            slot,
            merit_order(bids, buying=True),
            sellers,
            [readings.get(s, bids[s][1].sold) for s in sellers],
        )

    # --- participants ----------------------------------------------------------------------------

    def fund(self, account: str, amount_micro: int) -> Receipt:
        """The issuer transfers tokens to ``account``'s own token account."""
        return self.chain.transact(self.issuer, self.token, "transfer", account, amount_micro)

    def deposit(self, account: str, amount_micro: int) -> Receipt:
        """``account`` approves the contract and deposits (two transactions)."""
        self.chain.transact(account, self.token, "approve", self.market.address, amount_micro)
        return self.chain.transact(account, self.market, "deposit", amount_micro)

    def withdraw(self, account: str, amount_micro: int) -> Receipt:
        return self.chain.transact(account, self.market, "withdraw", amount_micro)

    def bid(self, prosumer: str, slot: int, *, demand: int, price: int, supply: int) -> Receipt:
        return self.chain.transact(prosumer, self.market, "bid", slot, demand, price, supply)

    def reschedule(self, prosumer: str, slot: int, new_demand: int) -> Receipt:
        return self.chain.transact(prosumer, self.market, "reschedule", slot, new_demand)

    def release(self, prosumer: str, slot: int) -> Receipt:
        return self.chain.transact(prosumer, self.market, "release", slot)

    # --- views -----------------------------------------------------------------------------------

    def prosumers(self) -> list[str]:
        """Every registered prosumer, in order of registration."""
        count = int(self.chain.call(self.market, "prosumer_count"))
        out: list[str] = []
        while len(out) < count:
            page = self.chain.call(self.market, "prosumer_range", len(out) + 1, MAX_PAGE)
            out.extend(str(a) for a in page)
        return out

    def slot(self, slot: int) -> SlotState:
        row = self.chain.call(self.market, "slot_of", slot)
        return SlotState(SlotPhase(int(row[0])), *(int(v) for v in row[1:]))

    def bid_of(self, slot: int, prosumer: str) -> BidState:
        return _bid(self.chain.call(self.market, "bid_of", slot, prosumer))

    def bids(self, slot: int) -> dict[str, tuple[int, BidState]]:
        """Every registered prosumer's bid in ``slot`` with its registration index."""
        who = self.prosumers()
        out: dict[str, tuple[int, BidState]] = {}
        for start in range(0, len(who), MAX_BIDS):
            chunk = who[start : start + MAX_BIDS]
            rows = self.chain.call(self.market, "bids_of", slot, chunk)
            for k, (address, row) in enumerate(zip(chunk, rows, strict=True)):
                out[address] = (start + k + 1, _bid(row))
        return out

    def bids_of(self, slot: int, prosumers: Sequence[str]) -> list[BidState]:
        """The bids of ``prosumers`` (at most :data:`MAX_BIDS`) in ``slot``, in one call."""
        return [_bid(row) for row in self.chain.call(self.market, "bids_of", slot, list(prosumers))]

    def balance_of(self, account: str) -> int:
        return int(self.chain.call(self.market, "balance_of", account))

    def free_balance(self, account: str) -> int:
        return int(self.chain.call(self.market, "free_balance", account))

    def locked(self, account: str) -> int:
        return int(self.chain.call(self.market, "locked", account))

    def total_balance(self) -> int:
        return int(self.chain.call(self.market, "total_balance"))

    def token_balance(self, account: str) -> int:
        return int(self.chain.call(self.token, "balanceOf", account))


def _bid(row: Sequence[object]) -> BidState:
    values = list(row)
    flags = {0, 7, 17}
    return BidState(
        *(bool(v) if k in flags else int(v) for k, v in enumerate(values))  # type: ignore[call-overload]
    )
