"""Gas per contract function, and its cost in euro with the VDMA paper's Eq. 1.

``peergrid bench gas [--json]`` prints :func:`gas_table`. Every figure is the ``gasUsed`` of a
transaction receipt (see :mod:`peergrid.ledger.chain.gas`), measured on a fresh deployment in a
stated state, because gas depends on state: writing a zero storage slot costs 20 000, rewriting
a non-zero one 2 900, and the first touch of an account or slot in a transaction is "cold"
(EIP-2929). Each entry's ``note`` says what was measured.

Cost. The VDMA paper (``004_vdma.md`` §2.7, L156–L162) prices gas with its Eq. 1,
``C_ϵ = G · F̄ · H_ϵ``: "'Gas' costs are multiplied by a daily average *eth* fee F̄, and
multiplied again by the conversion rate between *eth* and €, H_ϵ", with F̄ = 3.2·10⁻⁹ eth per gas
(3.2 gwei) and H_ϵ = 273.90 €/eth ("the exchange rate on 25 June 2019"). So one gas costs
8.7648·10⁻⁷ € and 114 093 gas cost 0.10 €.

Per-trade figures are marginal: settling N + k trades against N trades in the same state,
divided by k, with each extra trade between two members not yet touched in that transaction
(so both balances are cold, the costlier and usual case of a slot where each household trades
once). The part of a settlement call that does not grow with its trades is its own entry
(``settlement_fixed``), so a slot of n trades costs about ``settlement_fixed + n ×
settlement_per_trade``.

The table as JSON::

    {"functions": {"register": {"gas": 140850, "eur": 0.123452, "calls": [...], "note": "..."},
                   ...},
     "per_order_placed": null | gas, "per_order_placed_first_use": null | gas,
     "per_trade_settled": null | gas,
     "per_trade_settled_charged": null | gas, "per_trade_metered": null | gas,
     "per_trade_settled_community": null | gas,
     "commit_reveal_per_order": null | gas,
     "summaries": {"per_trade_settled": {"gas": gas, "contract": "BatchMarket",
                                         "entries": ["clearing_per_trade"], "what": "..."},
                   ...},
     "not_measured": {},
     "cost_model": {...}, "chain": {...}}

Entries: the community's functions (register, approve, deposit, withdraw, settlement per trade
and its fixed part, an empty slot), the sealed-bid batch market's (commit, reveal, clearing per
trade, meter reading per position; commit and reveal also where a slot reuses the storage of an
earlier one, the steady state of a long run) and the order book's (place order in steady state and
at first use, match per trade).

Top-level summaries, each from one contract (``summaries`` names the contract and the entry of each,
and the text rendering says it on every line): ``per_order_placed`` is the order book's
``place_order``, a placement in steady state (the order's storage word reused from an earlier order
of the same member that left the book), and ``per_order_placed_first_use`` its
``place_order_first_use``, the same placement writing a word never used before (a member's first
``ORDER_POSITIONS`` = 64 orders); ``per_trade_settled`` the batch market's ``clearing_per_trade``,
the marginal fill of a clearing closed in one transaction between two members not touched before in
it (the fill verified against both stored orders, both tallied in transient storage, not kept,
both members paid, the buyer's escrow released; the meter's readings of the two positions come
after, ``meter_reading`` each, the positions posted with them and checked against the positions
hash);
``per_trade_settled_charged`` the same with a distance charge; ``per_trade_metered`` the fill with
the meter's readings of its two positions (the whole on-chain cost of a trade once its orders are
revealed); ``per_trade_settled_community`` the community contract's ``settlement_per_trade``;
``commit_reveal_per_order`` the batch market's ``commit`` plus ``reveal``. A summary whose entries
were not measured is ``null``.

An entry whose client module is missing is reported under ``not_measured`` instead of failing; a
new function becomes an entry with :func:`gas_entry` (and, if it needs a client module of its
own, a line in ``_ENTRY_MODULES``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from peergrid.ledger.chain import Chain, EmbeddedChain
from peergrid.ledger.chain.gas import (  # Eq. 1 lives with the gas accounting; named here too
    EUR_PER_ETH,
    EUR_PER_GAS,
    GWEI_PER_GAS,
    cost_eur,
)
from peergrid.ledger.markets.community import CommunityLedger, SettlementTrade, order_set_hash


@dataclass(frozen=True)
class GasFigure:
    """One measured function: its gas, what was measured and in which state."""

    gas: int
    calls: tuple[str, ...]
    note: str

    def as_json(self) -> dict[str, Any]:
        return {
            "gas": self.gas,
            "eur": round(cost_eur(self.gas), 6),
            "calls": list(self.calls),
            "note": self.note,
        }


ChainFactory = Callable[[], Chain]


@dataclass
class Bench:
    """What a measurement gets: fresh chains (or one shared chain) and ready communities."""

    new_chain: ChainFactory
    settle_base_trades: int = 5
    settle_extra_trades: int = 50
    _supply: int = field(default=10**15, repr=False)
    memo: dict[str, Any] = field(default_factory=dict, repr=False)
    """Results shared between entries (e.g. the settlements both settlement entries use)."""

    def community(self, n_members: int, *, deposit_micro: int = 10**9) -> Community:
        """Token and Community deployed, ``n_members`` registered, funded and deposited."""
        chain = self.new_chain()
        operator, dso, issuer = (chain.new_account(r) for r in ("operator", "dso", "issuer"))
        ledger = CommunityLedger.deploy(
            chain, operator=operator, dso=dso, issuer=issuer, supply_micro=self._supply
        )
        members = [chain.new_account(f"member{i}") for i in range(n_members)]
        if members:
            ledger.register_members(members)
        for member in members if deposit_micro else ():
            ledger.fund(member, deposit_micro)
            ledger.deposit(member, deposit_micro)
        return Community(chain, ledger, members)


@dataclass
class Community:
    chain: Chain
    ledger: CommunityLedger
    members: list[str]


Measurement = Callable[[Bench], GasFigure]

_ENTRIES: dict[str, Measurement] = {}


def gas_entry(name: str) -> Callable[[Measurement], Measurement]:
    """Register ``measure(bench) -> GasFigure`` as the entry ``name`` of :func:`gas_table`."""

    def register(measure: Measurement) -> Measurement:
        if name in _ENTRIES:
            raise ValueError(f"gas entry {name!r} is registered twice")
        _ENTRIES[name] = measure
        return measure

    return register


def _last_gas(chain: Chain) -> int:
    return chain.gas_log.records[-1].gas


# --- the community's functions -------------------------------------------------------------


@gas_entry("register")
def _register(bench: Bench) -> GasFigure:
    c = bench.community(4)
    newcomer = c.chain.new_account("newcomer")
    (receipt,) = c.ledger.register_members([newcomer])
    return GasFigure(
        receipt.gas_used,
        ("Community.register_members",),
        "the operator registers one member (a batch of one) in a community of 4",
    )


@gas_entry("approve")
def _approve(bench: Bench) -> GasFigure:
    c = bench.community(4, deposit_micro=0)
    member = c.members[0]
    c.ledger.fund(member, 10**6)
    receipt = c.chain.transact(member, c.ledger.token, "approve", c.ledger.community.address, 10**6)
    return GasFigure(
        receipt.gas_used,
        ("SettlementToken.approve",),
        "a member allows the Community contract to take its tokens (needed before deposit)",
    )


@gas_entry("deposit")
def _deposit(bench: Bench) -> GasFigure:
    c = bench.community(4)
    newcomer = c.chain.new_account("newcomer")
    c.ledger.register_members([newcomer])
    c.ledger.fund(newcomer, 10**6)
    receipt = c.ledger.deposit(newcomer, 10**6)
    return GasFigure(
        receipt.gas_used,
        ("Community.deposit",),
        "a member's first deposit into a community that holds deposits (approve not included)",
    )


@gas_entry("withdraw")
def _withdraw(bench: Bench) -> GasFigure:
    c = bench.community(4)
    receipt = c.ledger.withdraw(c.members[0], 10**6)
    return GasFigure(
        receipt.gas_used,
        ("Community.withdraw",),
        "a member withdraws part of its balance to its own account (which held no tokens)",
    )


def _pairs_trades(members: Sequence[str], n: int) -> list[SettlementTrade]:
    return [SettlementTrade(members[2 * i], members[2 * i + 1], 500, 100_000, 10) for i in range(n)]


def _settlements(bench: Bench) -> tuple[int, int, int]:
    """Receipts of settling N and N + k trades in a running community: (N, gas(N), gas(N+k)).

    A warm-up slot first leaves fees with the DSO, as in a running market (otherwise the first
    settlement alone pays the DSO balance's zero-to-non-zero write, 17 100 gas more).
    """
    if "settlements" in bench.memo:
        cached: tuple[int, int, int] = bench.memo["settlements"]
        return cached
    base, extra = bench.settle_base_trades, bench.settle_extra_trades
    c = bench.community(2 * (base + extra))
    c.ledger.settle_slot(1, order_set_hash(b"warm-up"), _pairs_trades(c.members, 1))
    (small,) = c.ledger.settle_slot(2, order_set_hash(b"base"), _pairs_trades(c.members, base))
    (large,) = c.ledger.settle_slot(
        3, order_set_hash(b"large"), _pairs_trades(c.members, base + extra)
    )
    bench.memo["settlements"] = (base, small.gas_used, large.gas_used)
    return bench.memo["settlements"]


@gas_entry("settlement_per_trade")
def _settlement_per_trade(bench: Bench) -> GasFigure:
    base, small, large = _settlements(bench)
    extra = bench.settle_extra_trades
    return GasFigure(
        round((large - small) / extra),
        ("Community.settle_slot",),
        f"marginal gas of one trade: settling {base + extra} against {base} trades in one "
        "settle_slot, each trade between two members not touched before in the transaction",
    )


@gas_entry("settlement_fixed")
def _settlement_fixed(bench: Bench) -> GasFigure:
    base, small, large = _settlements(bench)
    per_trade = (large - small) / bench.settle_extra_trades
    return GasFigure(
        round(small - base * per_trade),
        ("Community.settle_slot",),
        "the part of a settle_slot call with trades that does not grow with them: the "
        "transaction, the slot record, the DSO's fee balance (gas(N) less N marginal trades)",
    )


@gas_entry("settlement_empty_slot")
def _settlement_empty(bench: Bench) -> GasFigure:
    c = bench.community(4)
    (receipt,) = c.ledger.settle_slot(1, order_set_hash(b"empty"), [])
    return GasFigure(
        receipt.gas_used,
        ("Community.settle_slot",),
        "a slot settled with no trades (its record and event only)",
    )


# --- the markets: sealed-bid batch auction and order book --------------------------------
#
# The client modules are imported when measured, so this module does not depend on them.

_MARKET_FEE_MICRO_PER_KWH = 5_000
_DISTANCE_CHARGE_MICRO_PER_KM = 2_000_000  # the thesis's C_d, 0.002 per metre
_BUY_PRICE, _SELL_PRICE, _FILL_PRICE = 120_000, 80_000, 100_000


def _market_accounts(bench: Bench, n_members: int) -> tuple[Chain, list[str], list[str]]:
    chain = bench.new_chain()
    roles = [chain.new_account(r) for r in ("operator", "dso", "issuer", "meter")]
    members = [chain.new_account(f"member{i}") for i in range(n_members)]
    return chain, roles, members


def _batch_figures(bench: Bench) -> dict[str, int]:
    """Commit, reveal, clearing per fill and reading per position in a sealed-bid market.

    Three slots: a warm-up of one pair (fees reach the DSO), then N and N + k pairs, each pair
    a buy and a sell of 1 kWh from two members, cleared as one fill and metered exactly. Then
    the DSO sets a distance charge rate and maps every pair's two members (100 m apart), and
    two more slots of N and N + k pairs give the marginal fill with its distance charge. Those
    slots write storage words the contract had never written (first use); a last slot of N
    pairs, ``SLOT_RING`` after the second, reuses the second's ring position, its members'
    commitment words and its order words (the steady state of a long run), with orders of
    1.001 kWh, so that each reused order word is rewritten with another value.
    """
    if "batch" in bench.memo:
        cached: dict[str, int] = bench.memo["batch"]
        return cached
    from eth_utils import keccak

    from peergrid.ledger.markets.base import DistanceRow
    from peergrid.ledger.markets.batch_market import (
        SLOT_RING,
        BatchMarketLedger,
        Fill,
        SealedOrder,
    )
    from peergrid.ledger.markets.consortium import Role, RoleGrant

    base, extra = bench.settle_base_trades, bench.settle_extra_trades
    chain, (operator, dso, issuer, meter), members = _market_accounts(bench, 2 * (base + extra))
    market = BatchMarketLedger.deploy(
        chain,
        operator=operator,
        dso=dso,
        issuer=issuer,
        supply_micro=bench._supply,
        fee_micro_per_kwh=_MARKET_FEE_MICRO_PER_KWH,
    )
    grants = [RoleGrant(m, Role.PROSUMER) for m in members] + [RoleGrant(meter, Role.METER)]
    market.consortium.bootstrap(grants)
    market.consortium.end_bootstrap()
    for member in members:
        market.escrow.fund(member, 10**9)
        market.escrow.deposit(member, 10**9)

    def run_slot(
        slot: int, pairs: int, quantity_wh: int = 1000
    ) -> tuple[list[int], list[int], int, int]:
        orders = []
        for i in range(pairs):
            buy = SealedOrder(keccak(text=f"{slot}:b{i}"), True, quantity_wh, _BUY_PRICE, bytes(32))
            sell = SealedOrder(
                keccak(text=f"{slot}:s{i}"), False, quantity_wh, _SELL_PRICE, bytes(32)
            )
            orders += [(members[2 * i], buy), (members[2 * i + 1], sell)]
        market.open_slot(slot)
        commits = [market.commit(m, slot, o).gas_used for m, o in orders]
        market.start_reveal(slot)
        reveals = [market.reveal(m, slot, o).gas_used for m, o in orders]
        fills = [Fill(2 * i, 2 * i + 1, 1000, _FILL_PRICE) for i in range(pairs)]
        clearing = sum(r.gas_used for r in market.post_clearing(slot, fills))
        metered = [p.energy_wh for p in market.positions(slot)]
        readings = sum(r.gas_used for r in market.post_readings(meter, slot, metered))
        return commits, reveals, clearing, readings

    run_slot(1, 1)
    commits, reveals, clearing_small, readings_small = run_slot(2, base)
    _, _, clearing_large, readings_large = run_slot(3, base + extra)
    market.set_rates(_MARKET_FEE_MICRO_PER_KWH, 0, _DISTANCE_CHARGE_MICRO_PER_KM)
    market.set_nodes({m: i + 1 for i, m in enumerate(members)})
    market.set_distances([DistanceRow(2 * i + 1, 2 * i + 2, 100_000) for i in range(base + extra)])
    _, _, charged_small, _ = run_slot(4, base)
    _, _, charged_large, _ = run_slot(5, base + extra)
    market.set_rates(_MARKET_FEE_MICRO_PER_KWH, 0, 0)
    # Orders of another quantity than the earlier slot's: a reused order word is rewritten with
    # a new value, as in a real run (an unchanged word would cost 100 gas, not 2 900).
    commits_reused, reveals_reused, _, _ = run_slot(2 + SLOT_RING, base, quantity_wh=1001)
    figures = {
        "commit": round(sum(commits) / len(commits)),
        "reveal": round(sum(reveals) / len(reveals)),
        "commit_reused": round(sum(commits_reused) / len(commits_reused)),
        "reveal_reused": round(sum(reveals_reused) / len(reveals_reused)),
        "clearing_per_trade": round((clearing_large - clearing_small) / extra),
        "clearing_per_charged_trade": round((charged_large - charged_small) / extra),
        "meter_reading": round((readings_large - readings_small) / (2 * extra)),
    }
    bench.memo["batch"] = figures
    return figures


@gas_entry("commit")
def _commit(bench: Bench) -> GasFigure:
    return GasFigure(
        _batch_figures(bench)["commit"],
        ("BatchMarket.commit",),
        "a member commits to a sealed order (its hash) in an open slot; mean of the slot's "
        "commitments",
    )


@gas_entry("reveal")
def _reveal(bench: Bench) -> GasFigure:
    return GasFigure(
        _batch_figures(bench)["reveal"],
        ("BatchMarket.reveal",),
        "a member reveals its order (a buy order locks its most cost in escrow); mean of the "
        "slot's buy and sell reveals",
    )


@gas_entry("commit_reused")
def _commit_reused(bench: Bench) -> GasFigure:
    return GasFigure(
        _batch_figures(bench)["commit_reused"],
        ("BatchMarket.commit",),
        "as commit, in a slot whose ring position an earlier settled slot of the same members "
        "held: the member's commitment words are rewritten, not written new (steady state)",
    )


@gas_entry("reveal_reused")
def _reveal_reused(bench: Bench) -> GasFigure:
    return GasFigure(
        _batch_figures(bench)["reveal_reused"],
        ("BatchMarket.reveal",),
        "as reveal, in a slot whose ring position an earlier settled slot of the same members "
        "held: the order's word is rewritten, not written new (steady state)",
    )


@gas_entry("clearing_per_trade")
def _clearing_per_trade(bench: Bench) -> GasFigure:
    return GasFigure(
        _batch_figures(bench)["clearing_per_trade"],
        ("BatchMarket.post_clearing",),
        f"marginal gas of one fill: a clearing of "
        f"{bench.settle_base_trades + bench.settle_extra_trades} against "
        f"{bench.settle_base_trades} fills, each verified against its two stored orders and "
        "tallied in transient storage (a clearing closed in one transaction), and the two orders "
        "closed (their owners, posted after the arguments, checked; "
        "paid, fee to the DSO, the buyer's escrow released)",
    )


@gas_entry("clearing_per_charged_trade")
def _clearing_per_charged_trade(bench: Bench) -> GasFigure:
    return GasFigure(
        _batch_figures(bench)["clearing_per_charged_trade"],
        ("BatchMarket.post_clearing",),
        "marginal gas of one fill with Score Matching's distance charge: as clearing_per_trade, "
        "and the pair's path length read from the DSO's feeder map and C_d·d taken half from "
        "each side",
    )


@gas_entry("meter_reading")
def _meter_reading(bench: Bench) -> GasFigure:
    return GasFigure(
        _batch_figures(bench)["meter_reading"],
        ("BatchMarket.post_readings",),
        "marginal gas of one position's reading in the meter's post_readings of a slot, the "
        "position (member, side, energy, value) posted after the arguments and checked against "
        "the positions hash (metered energy equal to the traded energy: no true-up, no penalty)",
    )


def _book_figures(bench: Bench) -> dict[str, int]:
    """Placing resting orders, and the marginal fill of a crossing order, in an order book.

    A member's order is stored in one of its ``ORDER_POSITIONS`` storage words, reused once the
    order there has left the book. The same ten placements are measured twice: by members that
    never placed an order (each order's word written for the first time, zero to nonzero), and
    by the same members once each has placed and cancelled ``ORDER_POSITIONS`` orders (every
    position holds a left order's tombstone: the steady state of a member past its first
    ``ORDER_POSITIONS`` orders).
    """
    if "book" in bench.memo:
        cached: dict[str, int] = bench.memo["book"]
        return cached
    from peergrid.ledger.markets.consortium import Role, RoleGrant
    from peergrid.ledger.markets.orderbook import ORDER_POSITIONS, OrderBookLedger, Pool

    fills = 20
    chain, (operator, dso, issuer, _), members = _market_accounts(bench, fills + 2)
    book = OrderBookLedger.deploy(
        chain,
        operator=operator,
        dso=dso,
        issuer=issuer,
        supply_micro=bench._supply,
        fee_micro_per_kwh=_MARKET_FEE_MICRO_PER_KWH,
    )
    book.consortium.bootstrap([RoleGrant(m, Role.PROSUMER) for m in members])
    book.consortium.end_bootstrap()
    for member in members:
        book.escrow.fund(member, 10**9)
        book.escrow.deposit(member, 10**9)

    def resting_placements(session: int) -> list[int]:
        book.open_session(session)
        placed = []
        for i in range(10):  # buys below, sells above: nothing crosses, each rests behind the last
            is_buy = i % 2 == 0
            price = _SELL_PRICE - 100 * i if is_buy else _BUY_PRICE + 100 * i
            placed.append(
                book.place(members[i], session, Pool.UP, is_buy, 1000, price).receipt.gas_used
            )
        return placed

    first_use = resting_placements(1)
    # Each of the ten members leaves a tombstone in every one of its positions: one order
    # resting alone in its pool (the best, hint 0), cancelled at once.
    book.open_session(3)
    for i in range(10):
        for _ in range(ORDER_POSITIONS):
            left = book.place(members[i], 3, Pool.DOWN, False, 1000, _SELL_PRICE, hint=0)
            book.cancel(members[i], left.order_id, hint=0)
    steady = resting_placements(4)

    def crossing(pool: Pool, n: int) -> int:
        for i in range(n):
            book.place(members[i], 2, pool, False, 1000, _SELL_PRICE)
        buy = book.place(members[-1], 2, pool, True, 1000 * n, _BUY_PRICE)
        if len(buy.trades) != n:
            raise AssertionError(f"expected {n} fills, got {len(buy.trades)}")
        return buy.receipt.gas_used

    book.open_session(2)
    one, many = crossing(Pool.UP, 1), crossing(Pool.DOWN, 1 + fills)
    figures = {
        "place_order": round(sum(steady) / len(steady)),
        "place_order_first_use": round(sum(first_use) / len(first_use)),
        "match_per_trade": round((many - one) / fills),
    }
    bench.memo["book"] = figures
    return figures


@gas_entry("place_order")
def _place_order(bench: Bench) -> GasFigure:
    return GasFigure(
        _book_figures(bench)["place_order"],
        ("OrderBook.place",),
        "steady state: a member places an order that does not cross and rests in the book (a "
        "buy locks escrow), its storage word reused from an order of its own that left the book "
        "(every placement after a member's first 64); mean of 10 placements, alternating "
        "sides: the first of each side becomes its best, the other 8 rest behind another order "
        "(the costlier case)",
    )


@gas_entry("place_order_first_use")
def _place_order_first_use(bench: Bench) -> GasFigure:
    return GasFigure(
        _book_figures(bench)["place_order_first_use"],
        ("OrderBook.place",),
        "first use: as place_order, each order written to a storage word never used before "
        "(zero to nonzero, 17 100 gas more: a member's first 64 orders)",
    )


@gas_entry("match_per_trade")
def _match_per_trade(bench: Bench) -> GasFigure:
    return GasFigure(
        _book_figures(bench)["match_per_trade"],
        ("OrderBook.place",),
        "marginal gas of one fill when a placed order crosses resting orders: crossing 21 "
        "against 1 resting sell orders of different members (paid, fee to the DSO)",
    )


# --- the table ----------------------------------------------------------------------------

SUMMARIES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "per_order_placed": (
        "per order placed",
        ("place_order",),
        "place, an order resting in the book, steady state: its storage position reused",
    ),
    "per_order_placed_first_use": (
        "per order placed, first use",
        ("place_order_first_use",),
        "place, an order resting in the book in a position never used (a member's first 64)",
    ),
    "per_trade_settled": (
        "per trade settled",
        ("clearing_per_trade",),
        "post_clearing, the marginal fill between two members new to the transaction",
    ),
    "per_trade_settled_charged": (
        "per trade settled with a distance charge",
        ("clearing_per_charged_trade",),
        "post_clearing, as per trade settled, the pair charged C_d·d",
    ),
    "per_trade_metered": (
        "per trade settled and metered",
        ("clearing_per_trade", "meter_reading", "meter_reading"),
        "post_clearing's marginal fill and post_readings' reading of its two positions",
    ),
    "per_trade_settled_community": (
        "per trade settled by the community contract",
        ("settlement_per_trade",),
        "settle_slot, the marginal trade between two members new to the transaction",
    ),
    "commit_reveal_per_order": (
        "commit plus reveal per order",
        ("commit", "reveal"),
        "commit and reveal of one sealed order",
    ),
}
"""Top-level figures of :func:`gas_table`: label, the entries they add up (an entry named twice
counts twice), what they measure. Each comes from one contract, named with the entries' calls;
the JSON keys are a contract with the table's readers (``per_order_placed`` and
``per_trade_settled`` above all)."""


def _summaries(functions: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any] | None]:
    """Each of :data:`SUMMARIES` from the measured entries, with its contract (``None`` if one
    of its entries was not measured)."""
    out: dict[str, dict[str, Any] | None] = {}
    for key, (_, names, what) in SUMMARIES.items():
        entries = [functions.get(name) for name in names]
        if any(e is None for e in entries):
            out[key] = None
            continue
        measured = [e for e in entries if e is not None]
        contracts = sorted({call.split(".")[0] for e in measured for call in e["calls"]})
        out[key] = {
            "gas": sum(e["gas"] for e in measured),
            "contract": ", ".join(contracts),
            "entries": list(names),
            "what": what,
        }
    return out


def _module_exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


_ENTRY_MODULES = {
    "commit": "peergrid.ledger.markets.batch_market",
    "reveal": "peergrid.ledger.markets.batch_market",
    "commit_reused": "peergrid.ledger.markets.batch_market",
    "reveal_reused": "peergrid.ledger.markets.batch_market",
    "clearing_per_trade": "peergrid.ledger.markets.batch_market",
    "clearing_per_charged_trade": "peergrid.ledger.markets.batch_market",
    "meter_reading": "peergrid.ledger.markets.batch_market",
    "place_order": "peergrid.ledger.markets.orderbook",
    "place_order_first_use": "peergrid.ledger.markets.orderbook",
    "match_per_trade": "peergrid.ledger.markets.orderbook",
}
"""Entries that need a client module besides the community's."""


def gas_table(
    chain: Chain | None = None,
    *,
    entries: Sequence[str] | None = None,
    settle_base_trades: int = 5,
    settle_extra_trades: int = 50,
) -> dict[str, Any]:
    """Gas and euro cost per function (see the module docstring for the JSON layout).

    Without ``chain``, every entry runs on a fresh :class:`EmbeddedChain`; with one (e.g. an
    :class:`~peergrid.ledger.chain.rpc.RpcChain` on anvil) every entry deploys its own contracts on
    it, so the figures of both can be compared.
    """
    if settle_base_trades < 1 or settle_extra_trades < 1:
        raise ValueError("settle_base_trades and settle_extra_trades must be at least 1")
    bench = Bench(
        new_chain=(lambda: chain) if chain is not None else EmbeddedChain,
        settle_base_trades=settle_base_trades,
        settle_extra_trades=settle_extra_trades,
    )
    wanted = list(_ENTRIES) if entries is None else list(entries)
    unknown = sorted(set(wanted) - set(_ENTRIES))
    if unknown:
        raise ValueError(f"no gas entry {', '.join(unknown)}; known: {', '.join(_ENTRIES)}")
    functions: dict[str, dict[str, Any]] = {}
    not_measured: dict[str, str] = {}
    for name in wanted:
        module = _ENTRY_MODULES.get(name)
        if module is not None and not _module_exists(module):
            not_measured[name] = f"no client module {module} yet"
            continue
        functions[name] = _ENTRIES[name](bench).as_json()
    summaries = _summaries(functions)
    used = chain if chain is not None else EmbeddedChain()
    return {
        "functions": functions,
        **{key: (summary["gas"] if summary else None) for key, summary in summaries.items()},
        "summaries": summaries,
        "not_measured": not_measured,
        "cost_model": {
            "equation": "C = G · F̄ · H (VDMA paper, Eq. 1)",
            "gwei_per_gas": GWEI_PER_GAS,
            "eur_per_eth": EUR_PER_ETH,
            "eur_per_gas": EUR_PER_GAS,
        },
        "chain": {"backend": type(used).__name__, "chain_id": used.chain_id},
    }


def format_gas_table(table: dict[str, Any]) -> str:
    """A plain-text rendering of :func:`gas_table` for the terminal."""
    rows = [("function", "gas", "EUR", "contract calls")]
    for name, entry in table["functions"].items():
        rows.append((name, f"{entry['gas']:,}", f"{entry['eur']:.4f}", ", ".join(entry["calls"])))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [
        "  ".join(
            cell.rjust(w) if 0 < i < 3 else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    for key, (label, _, _) in SUMMARIES.items():
        summary = table["summaries"][key]
        lines.append(
            f"{label}: {summary['gas']:,} gas ({summary['contract']}, {summary['what']})"
            if summary is not None
            else f"{label}: not measured"
        )
    model = table["cost_model"]
    lines.append(
        f"cost: {model['equation']}, {model['gwei_per_gas']} gwei/gas × "
        f"{model['eur_per_eth']} €/ETH = {model['eur_per_gas']:.4e} €/gas"
    )
    for name, why in table["not_measured"].items():
        lines.append(f"not measured: {name} ({why})")
    return "\n".join(lines)
