"""Benchmark: one 55-household slot of the sealed-bid batch market on the embedded chain.

A community of N households (default 55) on ``BatchMarket.vy``: each household commits one
sealed order, reveals it, the operator posts the clearing (the DPDA of ``peergrid.mechanisms``,
cleared off chain, verified on chain), and the meter posts every position's metered energy
(the traded energy +-5 %), which settles true-ups and penalties. The time of a slot is the wall
time of all of it: 2 N + 4 transactions up to 256 households (more beyond: the clearing and the
readings in parts, see ``peergrid.ledger.slot_transactions``). Setup (deployment, bootstrap,
deposits) is not timed.

Then the on-chain order book (``OrderBook.vy``): every household places one order that does not
cross (half become the best of their side, the others rest behind a hint), then crossing orders
take them, to give the gas per order placed and per fill.

Prints wall times, transactions, gas per order (commit + reveal), per trade settled (clearing
gas / fills), per function, and the order book's gas per placement and per fill.

    .venv/bin/python benchmarks/ledger_batch_slot.py [--households 55] [--slots 4] [--seed 1]
        [--anvil | --rpc URL]

``--anvil`` runs the batch-market part through ``RpcChain`` on a local anvil node (npm) that
mines each transaction as it comes (automine; ``RpcChain`` checks a slot's flush in one
``eth_simulateV1`` request and has it mined as one block), ``--managed`` on the managed anvil
(``open_chain("anvil")``), ``--rpc URL`` on any node. A slot runs under ``chain.pipeline()``, as
the settlement adapters run it. Slots get slower as the node's storage grows (anvil 1.7.1 hashes
all of it for every block) until the market's storage ring is full (32 slots): the median and
the last slot's time are printed beside the mean.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import statistics
import time
from collections.abc import Sequence

from peergrid.core.errors import LedgerError
from peergrid.core.orders import Order, Side
from peergrid.ledger import (
    BatchMarketLedger,
    Chain,
    EmbeddedChain,
    OrderBookLedger,
    Pool,
    Role,
    RoleGrant,
    fills_from_trades,
    sealed_order,
)
from peergrid.ledger.chain.compile import compile_contract
from peergrid.ledger.markets.batch_market import Fill, RevealedOrder, clear
from peergrid.mechanisms.dpda import clear_dpda

DEPOSIT_MICRO = 100_000_000  # 100 currency units per household
FEE_MICRO_PER_KWH = 5_000  # 0.005 per kWh
PENALTY_MICRO_PER_KWH = 50_000  # 0.05 per kWh of deviation


def slot_orders(n: int, slot: int, rng: random.Random) -> list[Order]:
    """One order per household: about half buy, prices around 0.20 per kWh (003 §2.11)."""
    orders = []
    for i in range(n):
        buys = rng.random() < 0.5
        price = rng.gauss(0.205, 0.01) if buys else rng.gauss(0.195, 0.025)
        orders.append(
            Order(
                id=f"s{slot}-h{i:02d}",
                agent=f"h{i:02d}",
                side=Side.BUY if buys else Side.SELL,
                quantity_kwh=round(rng.uniform(0.1, 1.5), 3),
                price=round(min(max(price, 0.08), 0.30), 6),
                slot=slot,
                submitted_at=i,
            )
        )
    return orders


def verified_fills(revealed: Sequence[RevealedOrder], fills: list[Fill], fee: int) -> list[Fill]:
    """The fills the contract will accept: a DPDA Case 4 price can exceed a buyer's limit
    (003 §6 item 9); the contract refuses such a fill, so it is left out here and counted."""
    kept: list[Fill] = []
    for fill in fills:
        try:
            clear(revealed, [*kept, fill], fee)
        except LedgerError:
            continue
        kept.append(fill)
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=55)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--anvil", action="store_true", help="batch market on a local anvil")
    parser.add_argument("--rpc", default=None, help="batch market on this JSON-RPC node")
    parser.add_argument("--managed", action="store_true", help="batch market on a managed anvil")
    args = parser.parse_args()
    if args.managed:
        from peergrid.ledger.chain import open_chain

        with open_chain("anvil") as managed:
            batch_market(args, managed, "managed anvil")
        return
    if args.anvil or args.rpc:
        with contextlib.ExitStack() as stack:
            url = args.rpc
            if url is None:
                from peergrid.ledger.chain.anvil import start_anvil

                url = stack.enter_context(start_anvil()).url
            from peergrid.ledger.chain import open_chain

            chain = stack.enter_context(open_chain("rpc", url))  # type: ignore[arg-type]
            batch_market(args, chain, f"JSON-RPC node at {url}")
        return
    batch_market(args, EmbeddedChain(), "embedded chain")
    order_book(args)


def batch_market(args: argparse.Namespace, chain: Chain, where: str) -> None:
    rng = random.Random(args.seed)
    n = args.households

    t0 = time.perf_counter()
    for name in ("SettlementToken", "BatchMarket", "OrderBook"):
        compile_contract(name)
    t_compile = time.perf_counter() - t0

    # --- setup (not timed) ------------------------------------------------------------------
    operator, dso, issuer, meter = (chain.new_account(x) for x in ("op", "dso", "issuer", "m"))
    ledger = BatchMarketLedger.deploy(
        chain,
        operator=operator,
        dso=dso,
        issuer=issuer,
        supply_micro=10 * DEPOSIT_MICRO * (n + 1),
        fee_micro_per_kwh=FEE_MICRO_PER_KWH,
        penalty_micro_per_kwh=PENALTY_MICRO_PER_KWH,
    )
    households = {f"h{i:02d}": chain.new_account(f"h{i:02d}") for i in range(n)}
    ledger.consortium.bootstrap(
        [RoleGrant(a, Role.PROSUMER) for a in households.values()] + [RoleGrant(meter, Role.METER)]
    )
    ledger.consortium.end_bootstrap()
    for account in [*households.values(), dso]:
        ledger.escrow.fund(account, DEPOSIT_MICRO)
        ledger.escrow.deposit(account, DEPOSIT_MICRO)
    total = ledger.escrow.total_internal_balance()
    chain.gas_log.clear()

    # --- slots (timed) ------------------------------------------------------------------------
    slot_times, fills_per_slot, dropped = [], [], 0
    clearing_gas, readings_gas, order_gas, tx_per_slot = [], [], [], []
    for slot in range(args.slots):
        orders = slot_orders(n, slot, rng)
        sealed = [sealed_order(o, salt=rng.randbytes(32)) for o in orders]
        trades = clear_dpda(orders).trades  # off chain, before the clock starts
        start = time.perf_counter()
        # One pipeline, one flush, as the settlement adapter sends a slot: the clearing and the
        # readings are posted from what this client revealed, checked by the contract.
        with chain.pipeline():
            ledger.open_slot(slot)
            commits = [
                ledger.commit(households[order.agent], slot, s)
                for order, s in zip(orders, sealed, strict=True)
            ]
            ledger.start_reveal(slot)
            reveals = [
                ledger.reveal(households[order.agent], slot, s)
                for order, s in zip(orders, sealed, strict=True)
            ]
            revealed = [
                s.revealed(households[order.agent]) for order, s in zip(orders, sealed, strict=True)
            ]
            candidate = fills_from_trades(trades, revealed, households)
            fills = verified_fills(revealed, candidate, FEE_MICRO_PER_KWH)
            dropped += len(candidate) - len(fills)
            clearing = ledger.post_clearing_as_revealed(slot, fills, revealed, FEE_MICRO_PER_KWH)
            metered = {
                p.member: max(0, round(p.energy_wh * rng.uniform(0.95, 1.05)))
                for p in ledger.positions(slot)
            }
            readings = ledger.post_readings_after_clearing(meter, slot, metered)
        ledger.check_positions(slot)
        order_gas += [c.gas_used + r.gas_used for c, r in zip(commits, reveals, strict=True)]
        clearing_gas.append(sum(r.gas_used for r in clearing))
        readings_gas.append(sum(r.gas_used for r in readings))
        slot_times.append(time.perf_counter() - start)
        fills_per_slot.append(len(fills))
        tx_per_slot.append(2 * n + 2 + len(clearing) + len(readings))
    assert ledger.escrow.total_internal_balance() == total == ledger.escrow.held_tokens()

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"households {n}, slots {args.slots}, compile {t_compile:.2f} s (cached after the first)")
    print(
        f"\nsealed-bid batch market on the {where}, "
        "one slot = commits, reveals, clearing, meter readings"
    )
    print(
        f"  wall time per slot: mean {statistics.mean(slot_times):.3f} s, "
        f"max {max(slot_times):.3f} s, min {min(slot_times):.3f} s "
        f"({min(tx_per_slot)}-{max(tx_per_slot)} tx); "
        f"median {statistics.median(slot_times):.3f} s, last {slot_times[-1]:.3f} s"
    )
    print(
        f"  fills per slot: mean {statistics.mean(fills_per_slot):.1f} "
        f"(DPDA fills refused by the contract's limit check: {dropped})"
    )
    print(f"  gas per order (commit + reveal): mean {statistics.mean(order_gas):,.0f}")
    per_trade = sum(clearing_gas) / sum(fills_per_slot)
    print(f"  gas per trade settled (clearing gas / fills): {per_trade:,.0f}")
    print(f"  gas per clearing: mean {statistics.mean(clearing_gas):,.0f}")
    positions = sum(len(ledger.positions(s)) for s in range(args.slots))
    print(f"  gas per metered position: {sum(readings_gas) / positions:,.0f}")
    print("  gas by function:")
    for summary in chain.gas_log.summary():
        print(f"    {summary.call:30s} {summary.count:5d} tx  mean {summary.mean:10,.0f}")


def order_book(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    n = args.households
    # --- order book -----------------------------------------------------------------------------
    chain = EmbeddedChain()
    operator, dso, issuer = (chain.new_account(x) for x in ("op", "dso", "issuer"))
    book = OrderBookLedger.deploy(
        chain,
        operator=operator,
        dso=dso,
        issuer=issuer,
        supply_micro=10 * DEPOSIT_MICRO * n,
        fee_micro_per_kwh=FEE_MICRO_PER_KWH,
    )
    members = [chain.new_account(f"h{i:02d}") for i in range(n)]
    book.consortium.bootstrap([RoleGrant(a, Role.PROSUMER) for a in members])
    for account in members:
        book.escrow.fund(account, DEPOSIT_MICRO)
        book.escrow.deposit(account, DEPOSIT_MICRO)
    book.open_session(1)
    best, behind = [], []
    start = time.perf_counter()
    for i, member in enumerate(members):
        is_buy = i % 2 == 0
        price = rng.randint(150_000, 195_000) if is_buy else rng.randint(205_000, 250_000)
        hint = book.insertion_hint(1, Pool.UP, is_buy, price)
        placement = book.place(member, 1, Pool.UP, is_buy, rng.randint(100, 1500), price, hint=hint)
        assert not placement.trades
        (best if hint == 0 else behind).append(placement.receipt.gas_used)
    t_place = time.perf_counter() - start
    taker_gas, taker_fills = 0, 0
    for member in members[:10]:
        placement = book.place(member, 1, Pool.UP, True, 3000, 260_000, max_fills=8)
        taker_gas += placement.receipt.gas_used
        taker_fills += len(placement.trades)
    print("\non-chain order book (CDA)")
    print(f"  {n} placements that do not cross: {t_place:.3f} s")
    print(f"  gas per order placed, new best of its side: mean {statistics.mean(best):,.0f}")
    print(f"  gas per order placed, behind a hint: mean {statistics.mean(behind):,.0f}")
    print(
        f"  crossing buys: {taker_fills} fills in 10 orders, "
        f"{(taker_gas - 10 * statistics.mean(best)) / max(taker_fills, 1):,.0f} gas per fill"
        " beyond a placement that rests as the best"
    )


if __name__ == "__main__":
    main()
