"""Benchmark: the ledger part of one market day on the embedded chain.

A community of N households (default 55) on a fresh embedded chain: deploy the token and the
Community contract, register the members, fund and deposit for each, then settle 96 fifteen-
minute slots of about N trades each (every household buys once per slot from a random other
household), converting core trades (kWh, currency) to on-chain integers on the way. Prints the
wall time of each phase, transactions per second, and gas per settle call and per trade.

    .venv/bin/python benchmarks/ledger_settlement.py [--households 55] [--slots 96] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time

from peergrid.core.trades import Trade
from peergrid.ledger import (
    CommunityLedger,
    EmbeddedChain,
    order_set_hash,
    settlement_trades,
)
from peergrid.ledger.chain.compile import compile_all

DEPOSIT_MICRO = 100_000_000  # 100 currency units per household, enough for a day


def day_trades(households: list[str], slots: int, rng: random.Random) -> list[list[Trade]]:
    day = []
    for slot in range(slots):
        trades = []
        for buyer in households:
            seller = rng.choice([h for h in households if h != buyer])
            quantity = round(rng.uniform(0.05, 1.5), 3)
            trades.append(
                Trade(
                    buyer=buyer,
                    seller=seller,
                    quantity_kwh=quantity,
                    price=round(rng.uniform(0.08, 0.30), 4),
                    slot=slot,
                    grid_fee=round(0.005 * quantity, 6),
                )
            )
        day.append(trades)
    return day


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=55)
    parser.add_argument("--slots", type=int, default=96)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    names = [f"h{i:02d}" for i in range(args.households)]
    day = day_trades(names, args.slots, rng)

    t0 = time.perf_counter()
    compile_all()
    t_compile = time.perf_counter() - t0

    t0 = time.perf_counter()
    chain = EmbeddedChain()
    operator, dso, issuer = (chain.new_account(n) for n in ("operator", "dso", "issuer"))
    ledger = CommunityLedger.deploy(
        chain,
        operator=operator,
        dso=dso,
        issuer=issuer,
        supply_micro=10 * DEPOSIT_MICRO * args.households,
    )
    address_of = {name: chain.new_account(name) for name in names}
    members = list(address_of.values())
    ledger.register_members(members)
    for member in members:
        ledger.fund(member, DEPOSIT_MICRO)
        ledger.deposit(member, DEPOSIT_MICRO)
    t_setup = time.perf_counter() - t0
    n_setup = len(chain.gas_log)

    t0 = time.perf_counter()
    settle_gas: list[int] = []
    n_trades: list[int] = []
    for slot, trades in enumerate(day):
        converted = settlement_trades(trades, address_of)
        document = json.dumps([t.to_dict() for t in trades], sort_keys=True).encode()
        for receipt in ledger.settle_slot(slot, order_set_hash(document), converted):
            settle_gas.append(receipt.gas_used)
        n_trades.append(len(converted))
    t_settle = time.perf_counter() - t0

    assert ledger.total_internal_balance() == ledger.token_balance(ledger.community.address)
    n_tx = len(chain.gas_log)
    total_trades = sum(n_trades)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"households {args.households}, slots {args.slots}, trades {total_trades}")
    print(f"compile (cached after the first run)   {t_compile:7.3f} s")
    print(f"deploy + register + fund + deposit     {t_setup:7.3f} s  ({n_setup} tx)")
    print(
        f"settle {len(settle_gas)} slots                      {t_settle:7.3f} s  "
        f"({t_settle / len(settle_gas) * 1000:.1f} ms per settle, "
        f"{total_trades / t_settle:.0f} trades/s)"
    )
    print(f"ledger part of the day                 {t_setup + t_settle:7.3f} s  ({n_tx} tx)")
    print(
        f"gas per settle: mean {statistics.mean(settle_gas):,.0f}, min {min(settle_gas):,}, "
        f"max {max(settle_gas):,}"
    )
    print(f"gas per trade (settle gas / trades): {sum(settle_gas) / total_trades:,.0f}")
    print("gas by function:")
    for summary in chain.gas_log.summary():
        print(
            f"  {summary.call:32s} {summary.count:5d} tx  mean {summary.mean:12,.0f}"
            f"  total {summary.total:14,}"
        )
    print(f"total gas {chain.gas_log.total:,}")


if __name__ == "__main__":
    main()
