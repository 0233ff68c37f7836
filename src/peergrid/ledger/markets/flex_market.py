"""A typed client of ``FlexMarket.vy``: the DSO's local flexibility market on chain.

Who calls what:

1. The DSO deploys the contract (naming the meter operator) and :meth:`FlexMarketLedger.register`
   s each member with its bus; every participant :meth:`~FlexMarketLedger.deposit` s tokens (the
   DSO its escrow, a member its collateral) and :meth:`~FlexMarketLedger.withdraw` s its free
   balance.
2. The DSO :meth:`~FlexMarketLedger.post_need` s a need: slot, direction, effective Wh, maximum
   price, penalty rate and the area's buses with their relative sensitivities (ppm).
3. Members :meth:`~FlexMarketLedger.offer` Wh at a price from their registered bus.
4. The DSO :meth:`~FlexMarketLedger.award` s: the client reads the offers and passes them in merit
   order (:func:`merit_order`), which the contract checks before it clears.
5. The meter operator :meth:`~FlexMarketLedger.settle` s each award with the member's baseline and
   metered Wh: paid or penalised.

Units on chain: Wh over the slot, micro-currency per kWh, sensitivities in ppm, money in
micro-currency; each product ``wh * price // 1000``. The rules are the contract's docstring; the
same clearing in floats is :mod:`peergrid.mechanisms.flexibility`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

from peergrid.ledger.chain.base import Chain, Contract, Receipt
from peergrid.ledger.chain.compile import compile_contract

CONTRACT = "FlexMarket"
MAX_AREA = 128
MAX_OFFERS = 128
WEIGHT_ONE = 10**6
MIN_WEIGHT = 500_000
DOWN, UP = 0, 1
KINDS = {"battery": 0, "ev": 1, "flexible_load": 2}


class NeedPhase(IntEnum):
    NONE = 0
    OPEN = 1
    AWARDED = 2
    SETTLED = 3
    RELEASED = 4


@dataclass(frozen=True, slots=True)
class NeedState:
    """A need as the contract holds it."""

    phase: NeedPhase
    slot: int
    direction: int
    need_wh: int
    max_price: int
    penalty_rate: int
    settle_by: int
    area_size: int
    offer_count: int
    covered_wh: int
    escrow: int
    paid: int
    penalties: int


@dataclass(frozen=True, slots=True)
class OfferState:
    """An offer and what the award and the settlement gave it."""

    member: str
    bus: int
    wh: int
    price: int
    kind: int
    collateral: int
    awarded_wh: int
    delivered_wh: int
    payment: int
    penalty: int


def merit_order(offers: Sequence[OfferState], weights: Mapping[int, int]) -> list[int]:
    """Offer numbers (from 1) by ``price * 10**6 // weight``, equal keys by number."""
    keyed = [(o.price * WEIGHT_ONE // weights[o.bus], k) for k, o in enumerate(offers, start=1)]
    return [k for _, k in sorted(keyed)]


class FlexMarketLedger:
    """The settlement token and the ``FlexMarket`` contract, with the DSO, the meter operator and
    the issuer that funds participants' token accounts."""

    def __init__(
        self,
        chain: Chain,
        token: Contract,
        market: Contract,
        *,
        dso: str,
        meter_operator: str,
        issuer: str,
    ) -> None:
        self.chain = chain
        self.token = token
        self.market = market
        self.dso = dso
        self.meter_operator = meter_operator
        self.issuer = issuer
        self._weights: dict[int, dict[int, int]] = {}

    @classmethod
    def deploy(
        cls,
        chain: Chain,
        *,
        dso: str,
        meter_operator: str,
        issuer: str,
        supply_micro: int,
        token: Contract | None = None,
    ) -> FlexMarketLedger:
        """Deploy the contract (by the DSO), and a settlement token with ``supply_micro`` to
        ``issuer`` unless ``token`` is given."""
        if token is None:
            token = chain.deploy(
                issuer,
                compile_contract("SettlementToken"),
                "peergrid settlement token",
                "PGS",
                issuer,
                supply_micro,
            )
        market = chain.deploy(dso, compile_contract(CONTRACT), token.address, meter_operator)
        return cls(chain, token, market, dso=dso, meter_operator=meter_operator, issuer=issuer)

    # --- the DSO -----------------------------------------------------------------------------

    def register(self, member: str, bus: int) -> Receipt:
        return self.chain.transact(self.dso, self.market, "register", member, bus)

    def post_need(
        self,
        *,
        slot: int,
        direction: int,
        need_wh: int,
        max_price: int,
        penalty_rate: int,
        weights: Mapping[int, int],
        settle_by: int | None = None,
    ) -> tuple[int, Receipt]:
        """Post a need; ``weights`` maps each area bus to its relative sensitivity (ppm);
        ``settle_by`` (block time) defaults to a day from now. Returns the need's number and the
        receipt."""
        buses = sorted(weights)
        deadline = settle_by if settle_by is not None else self.chain.timestamp() + 86_400
        receipt = self.chain.transact(
            self.dso,
            self.market,
            "post_need",
            slot,
            direction,
            need_wh,
            max_price,
            penalty_rate,
            deadline,
            buses,
            [weights[b] for b in buses],
        )
        (posted,) = receipt.events_named("NeedPosted")
        need = int(posted.args["need"])
        self._weights[need] = {int(b): int(weights[b]) for b in buses}
        return need, receipt

    def award(self, need: int) -> Receipt:
        """Clear the need: its offers, read from the contract, in merit order."""
        offers = self.offers(need)
        weights = {o.bus: self.weight(need, o.bus) for o in offers}
        return self.chain.transact(
            self.dso, self.market, "award", need, merit_order(offers, weights)
        )

    # --- the meter operator -----------------------------------------------------------------

    def settle(self, need: int, readings: Mapping[int, tuple[int, int]]) -> Receipt:
        """Settle every award: ``readings`` maps an awarded offer's number to the member's
        (baseline, metered) Wh in the slot."""
        offers = sorted(readings)
        return self.chain.transact(
            self.meter_operator,
            self.market,
            "settle",
            need,
            offers,
            [readings[k][0] for k in offers],
            [readings[k][1] for k in offers],
        )

    def release(self, caller: str, need: int) -> Receipt:
        """Free a need's locks after its settlement deadline (anyone)."""
        return self.chain.transact(caller, self.market, "release", need)

    # --- participants ------------------------------------------------------------------------

    def fund(self, account: str, amount_micro: int) -> Receipt:
        """The issuer transfers tokens to ``account``'s own token account."""
        return self.chain.transact(self.issuer, self.token, "transfer", account, amount_micro)

    def deposit(self, account: str, amount_micro: int) -> Receipt:
        """``account`` approves the contract and deposits (two transactions)."""
        self.chain.transact(account, self.token, "approve", self.market.address, amount_micro)
        return self.chain.transact(account, self.market, "deposit", amount_micro)

    def withdraw(self, account: str, amount_micro: int) -> Receipt:
        return self.chain.transact(account, self.market, "withdraw", amount_micro)

    def offer(
        self, member: str, need: int, *, wh: int, price: int, kind: str
    ) -> tuple[int, Receipt]:
        """Offer ``wh`` at ``price`` (kind: battery, ev or flexible_load); the offer's number."""
        receipt = self.chain.transact(member, self.market, "offer", need, wh, price, KINDS[kind])
        (offered,) = receipt.events_named("Offered")
        return int(offered.args["offer"]), receipt

    # --- views -------------------------------------------------------------------------------

    def weight(self, need: int, bus: int) -> int:
        cached = self._weights.get(need, {}).get(bus)
        if cached is not None:
            return cached
        return int(self.chain.call(self.market, "weight_of", need, bus))

    def need(self, need: int) -> NeedState:
        row = self.chain.call(self.market, "need_of", need)
        return NeedState(NeedPhase(int(row[0])), *(int(v) for v in row[1:]))

    def offers(self, need: int) -> list[OfferState]:
        return [_offer(row) for row in self.chain.call(self.market, "offers_of", need)]

    def offer_of(self, need: int, offer: int) -> OfferState:
        return _offer(self.chain.call(self.market, "offer_of", need, offer))

    def bus_of(self, member: str) -> int:
        return int(self.chain.call(self.market, "bus_of", member))

    def balance_of(self, account: str) -> int:
        return int(self.chain.call(self.market, "balance_of", account))

    def locked(self, account: str) -> int:
        return int(self.chain.call(self.market, "locked", account))

    def total_balance(self) -> int:
        return int(self.chain.call(self.market, "total_balance"))

    def token_balance(self, account: str) -> int:
        return int(self.chain.call(self.token, "balanceOf", account))


def _offer(row: Sequence[object]) -> OfferState:
    values = list(row)
    return OfferState(str(values[0]), *(int(v) for v in values[1:]))  # type: ignore[call-overload]
