"""Deployed consortium markets for the tests: members bootstrapped, funded and deposited."""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils import keccak

from peergrid.ledger import (
    BatchMarketLedger,
    Chain,
    EmbeddedChain,
    Fill,
    OrderBookLedger,
    Role,
    RoleGrant,
    SealedOrder,
)
from peergrid.ledger.markets.batch_market import DEFAULT_CLEARING_DEADLINE_S
from peergrid.ledger.markets.escrow import Escrow

SUPPLY_MICRO = 10**15
FUNDS_MICRO = 1_000_000_000  # 1 000 currency units per member


@dataclass
class Market:
    """A market contract with its roles: operator, DSO, issuer, meter, prosumers, an outsider."""

    chain: Chain
    escrow: Escrow
    operator: str
    dso: str
    issuer: str
    meter: str
    members: list[str]
    outsider: str
    accounts: list[str]

    def balances(self) -> dict[str, int]:
        """Every account's internal balance."""
        return {a: self.escrow.balance_of(a) for a in self.accounts}

    def locked(self) -> dict[str, int]:
        return {a: self.escrow.locked_of(a) for a in self.accounts}

    def assert_conserved(self, total_micro: int, *, surplus_micro: int = 0) -> None:
        """Money is where it should be: balances sum to the total deposited, and the contract
        holds that plus what was sent to it without a deposit (``surplus_micro``)."""
        balances = self.balances()
        assert sum(balances.values()) == total_micro
        assert self.escrow.total_internal_balance() == total_micro
        assert self.escrow.held_tokens() == total_micro + surplus_micro
        assert self.escrow.surplus_micro() == surplus_micro
        assert self.escrow.conserved(total_micro)
        for account, locked in self.locked().items():
            assert 0 <= locked <= balances[account]


@dataclass
class Batch(Market):
    ledger: BatchMarketLedger


@dataclass
class Book(Market):
    ledger: OrderBookLedger


def _accounts(chain: Chain, n_members: int) -> tuple[str, str, str, str, list[str], str]:
    names = ("operator", "dso", "issuer", "meter")
    operator, dso, issuer, meter = (chain.new_account(n) for n in names)
    members = [chain.new_account(f"member{i}") for i in range(n_members)]
    return operator, dso, issuer, meter, members, chain.new_account("outsider")


def make_batch(
    n_members: int = 4,
    *,
    deposit_micro: int = FUNDS_MICRO,
    fee_micro_per_kwh: int = 0,
    penalty_micro_per_kwh: int = 0,
    distance_charge_micro_per_km: int = 0,
    clearing_deadline_s: int = DEFAULT_CLEARING_DEADLINE_S,
    dso_reserve_micro: int = 0,
    chain: Chain | None = None,
) -> Batch:
    """A BatchMarket with ``n_members`` prosumers (each deposited) and a meter; bootstrap ended.

    On a new embedded chain unless ``chain`` is given."""
    chain = chain if chain is not None else EmbeddedChain()
    operator, dso, issuer, meter, members, outsider = _accounts(chain, n_members)
    ledger = BatchMarketLedger.deploy(
        chain,
        operator=operator,
        dso=dso,
        issuer=issuer,
        supply_micro=SUPPLY_MICRO,
        fee_micro_per_kwh=fee_micro_per_kwh,
        penalty_micro_per_kwh=penalty_micro_per_kwh,
        distance_charge_micro_per_km=distance_charge_micro_per_km,
        clearing_deadline_s=clearing_deadline_s,
    )
    grants = [RoleGrant(m, Role.PROSUMER) for m in members] + [RoleGrant(meter, Role.METER)]
    ledger.consortium.bootstrap(grants)
    ledger.consortium.end_bootstrap()
    for member in members:
        if deposit_micro:
            ledger.escrow.fund(member, deposit_micro)
            ledger.escrow.deposit(member, deposit_micro)
    if dso_reserve_micro:
        ledger.escrow.fund(dso, dso_reserve_micro)
        ledger.escrow.deposit(dso, dso_reserve_micro)
    return Batch(
        chain=chain,
        escrow=ledger.escrow,
        operator=operator,
        dso=dso,
        issuer=issuer,
        meter=meter,
        members=members,
        outsider=outsider,
        accounts=[*members, dso, operator, meter],
        ledger=ledger,
    )


def make_book(
    n_members: int = 4,
    *,
    deposit_micro: int = FUNDS_MICRO,
    fee_micro_per_kwh: int = 0,
    strict_crossing: bool = True,
    open_session: int | None = 1,
    ncda: bool = False,
    chain: Chain | None = None,
) -> Book:
    """An OrderBook with ``n_members`` prosumers (each deposited); session 1 open by default.

    On a new embedded chain unless ``chain`` is given."""
    chain = chain if chain is not None else EmbeddedChain()
    operator, dso, issuer, meter, members, outsider = _accounts(chain, n_members)
    ledger = OrderBookLedger.deploy(
        chain,
        operator=operator,
        dso=dso,
        issuer=issuer,
        supply_micro=SUPPLY_MICRO,
        fee_micro_per_kwh=fee_micro_per_kwh,
        strict_crossing=strict_crossing,
    )
    ledger.consortium.bootstrap([RoleGrant(m, Role.PROSUMER) for m in members])
    ledger.consortium.end_bootstrap()
    for member in members:
        if deposit_micro:
            ledger.escrow.fund(member, deposit_micro)
            ledger.escrow.deposit(member, deposit_micro)
    if open_session is not None:
        ledger.open_session(open_session, ncda=ncda)
    return Book(
        chain=chain,
        escrow=ledger.escrow,
        operator=operator,
        dso=dso,
        issuer=issuer,
        meter=meter,
        members=members,
        outsider=outsider,
        accounts=[*members, dso, operator],
        ledger=ledger,
    )


def sealed(
    name: str, is_buy: bool, quantity_wh: int, price_micro_per_kwh: int, salt: str = "salt"
) -> SealedOrder:
    """A sealed order with readable id and salt."""
    return SealedOrder(
        order_id=bytes(keccak(text=name)),
        is_buy=is_buy,
        quantity_wh=quantity_wh,
        price_micro_per_kwh=price_micro_per_kwh,
        salt=bytes(keccak(text=f"{salt}:{name}")),
    )


# --- the worked example of the batch market (test_batch_market, test_meters) -------------

FEE = 10_000  # micro-currency per kWh: 0.01 per kWh
PENALTY = 50_000  # 0.05 per kWh of deviation
SLOT = 7

# Two sellers and two buyers; member i reveals order i, in this order.
S1 = sealed("S1", False, 3000, 100_000)
S2 = sealed("S2", False, 2000, 150_000)
B1 = sealed("B1", True, 2500, 200_000)
B2 = sealed("B2", True, 2000, 140_000)
ORDERS = (S1, S2, B1, B2)
FILLS = [Fill(2, 0, 2500, 145_000), Fill(3, 0, 500, 120_000)]


def revealed_slot(market: Batch, slot: int = SLOT) -> Batch:
    """Open ``slot``, commit and reveal the example's four orders (member i owns order i)."""
    ledger = market.ledger
    ledger.open_slot(slot)
    for member, order in zip(market.members, ORDERS, strict=True):
        ledger.commit(member, slot, order)
    ledger.start_reveal(slot)
    for member, order in zip(market.members, ORDERS, strict=True):
        ledger.reveal(member, slot, order)
    return market
