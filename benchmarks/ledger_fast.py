"""Benchmark: the ledger backends side by side, in one run.

For each backend (the embedded py-evm chain, the managed anvil, and a plain ``RpcChain`` on an
anvil node that mines every transaction):

1. **Token transfers per second**: ``--transfers`` plain ``SettlementToken.transfer`` calls
   (the issuer funding 50 households in turn), each backend at its best: the embedded chain and
   the plain RpcChain one transaction at a time, the managed anvil under a pipeline flushed
   every ``--flush`` transactions (sent, mined as one block, receipts read). Every receipt's gas
   is read, and the total gas is printed: it is the same on the embedded chain and the managed
   anvil (same accounts, same calldata).
2. **The demo's ledger stage**: the built-in scenario (55 households, one day, the batch market)
   run by ``run_scenario`` on a fresh chain of each backend; the ledger stage's wall time, and
   the run's total gas and money, which must be identical on the embedded chain and the managed
   anvil.

Medians of ``--runs`` runs. Needs anvil (``npm ci``).

    .venv/bin/python benchmarks/ledger_fast.py [--runs 3] [--transfers 2000] [--flush 500]
        [--skip-demo] [--backends embedded,managed anvil] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

from peergrid.ledger import Chain, CommunityLedger, EmbeddedChain, open_chain
from peergrid.ledger.chain.anvil import anvil_version, find_anvil, start_anvil
from peergrid.ledger.chain.managed import ManagedAnvilChain

HOUSEHOLDS = 50


@contextlib.contextmanager
def plain_rpc() -> Iterator[Chain]:
    """An RpcChain on a fresh anvil node that mines each transaction as it comes."""
    with start_anvil() as node, open_chain("rpc", node.url) as chain:
        yield chain


BACKENDS: dict[str, Callable[[], contextlib.AbstractContextManager[Chain]]] = {
    "embedded": lambda: contextlib.nullcontext(EmbeddedChain()),
    "managed anvil": lambda: ManagedAnvilChain(),
    "plain RpcChain on anvil": plain_rpc,
}


def transfers(chain: Chain, n: int, flush: int) -> tuple[float, int]:
    """Transactions per second of ``n`` token transfers, and their total gas."""
    operator, dso, issuer = (chain.new_account(x) for x in ("operator", "dso", "issuer"))
    ledger = CommunityLedger.deploy(
        chain, operator=operator, dso=dso, issuer=issuer, supply_micro=10**15
    )
    members = [chain.new_account(f"h{i}") for i in range(HOUSEHOLDS)]
    start = time.perf_counter()
    gas = 0
    for first in range(0, n, flush):
        with chain.pipeline():
            receipts = [
                ledger.fund(members[i % HOUSEHOLDS], 1 + i)
                for i in range(first, min(n, first + flush))
            ]
        gas += sum(r.gas_used for r in receipts)
    return n / (time.perf_counter() - start), gas


def demo_ledger(chain: Chain) -> tuple[float, int, float]:
    """The demo day on ``chain``: its ledger stage's seconds, total gas, DSO balance."""
    from peergrid.sim.runner import run_scenario
    from peergrid.sim.scenario import Scenario

    result = run_scenario(Scenario(), chain=chain)
    summary = result.summary
    total_gas = int(summary["gas_used"]) + int(summary.get("ledger_setup_gas", 0))
    return result.timings["ledger"], total_gas, float(summary.get("ledger_dso_balance", 0.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--transfers", type=int, default=2000)
    parser.add_argument("--flush", type=int, default=500)
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help="comma-separated, of: " + ", ".join(BACKENDS)
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    figures: dict[str, dict[str, Any]] = {}
    chosen = [b.strip() for b in args.backends.split(",")]
    unknown = sorted(set(chosen) - set(BACKENDS))
    if unknown or "embedded" not in chosen:
        parser.error(f"--backends must include embedded and name only {', '.join(BACKENDS)}")
    for name in chosen:
        opener = BACKENDS[name]
        rates, gas, stage, demo_gas, dso = [], set(), [], set(), set()
        for _ in range(args.runs):
            with opener() as chain:
                rate, total = transfers(chain, args.transfers, args.flush)
                rates.append(rate)
                gas.add(total)
            if args.skip_demo:
                continue
            with opener() as chain:
                seconds, total, balance = demo_ledger(chain)
                stage.append(seconds)
                demo_gas.add(total)
                dso.add(balance)
        figures[name] = {
            "transfers_per_s": statistics.median(rates),
            "transfer_gas": sorted(gas),
            "demo_ledger_s": statistics.median(stage) if stage else None,
            "demo_gas": sorted(demo_gas),
            "demo_dso_balance": sorted(dso),
        }
        if not args.json:
            print(f"{name}: {figures[name]}", flush=True)

    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    if args.json:
        print(json.dumps({"machine": machine, "figures": figures}, indent=2))
        return
    print(f"\nmachine: {machine}, anvil {anvil_version(find_anvil())}")
    print(f"median of {args.runs} runs; {args.transfers} transfers, flush {args.flush}")
    print(f"{'backend':<26} {'transfers/s':>12} {'demo ledger s':>14} {'demo gas':>12}")
    base = figures["embedded"]
    for name, f in figures.items():
        stage = f"{f['demo_ledger_s']:14.2f}" if f["demo_ledger_s"] is not None else " " * 14
        demo_gas = ",".join(f"{g:,}" for g in f["demo_gas"]) or "-"
        print(f"{name:<26} {f['transfers_per_s']:12,.0f} {stage} {demo_gas:>12}")
    for name, f in figures.items():
        speed = f["transfers_per_s"] / base["transfers_per_s"]
        line = f"{name}: transfers x{speed:.1f} the embedded chain"
        if f["demo_ledger_s"] and base["demo_ledger_s"]:
            line += f", demo ledger stage x{base['demo_ledger_s'] / f['demo_ledger_s']:.1f}"
        print(line)


if __name__ == "__main__":
    main()
