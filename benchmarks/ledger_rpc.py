"""Benchmark: the ledger on a real JSON-RPC node (anvil from npm), through RpcChain.

Starts anvil on 127.0.0.1 (or uses ``--url``), then:

1. **Settlement.** A community of N households (default 55): deploy, register, fund and
   deposit, then settle ``--slots`` fifteen-minute slots of about N trades each (every household
   buys once from a random other household), one ``settle_slot`` transaction per slot. Prints
   the wall time per slot (estimate, sign, send, read the receipt), its gas, and the block
   height when it ran; once on a short chain and once more after the transfers below.
2. **Simple transfers.** ``--transfers`` token transfers (``SettlementToken.transfer``, issuer to
   a household) and as many plain ether transfers, one after the other, each waiting for its
   receipt: transactions per second, with the block heights before and after (anvil slows as its
   chain grows). Both with the Python nonce check against the node (``verify_nonces``, off by
   default: one more request per transaction) and without, in alternating chunks so that both
   meet the same chain length.

    .venv/bin/python benchmarks/ledger_rpc.py [--households 55] [--slots 10]
        [--transfers 500] [--seed 1] [--url http://127.0.0.1:8545] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import statistics
import time
from collections.abc import Iterator
from typing import Any

from peergrid.core.trades import Trade
from peergrid.ledger import CommunityLedger, order_set_hash, settlement_trades
from peergrid.ledger.chain.anvil import ANVIL_DEV_KEYS, anvil_version, find_anvil, start_anvil
from peergrid.ledger.chain.compile import compile_all
from peergrid.ledger.chain.rpc import RpcChain

DEPOSIT_MICRO = 100_000_000


def slot_trades(households: list[str], slot: int, rng: random.Random) -> list[Trade]:
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
    return trades


@contextlib.contextmanager
def node_url(url: str | None) -> Iterator[tuple[str, str]]:
    if url:
        yield url, "external node"
        return
    with start_anvil() as node:
        yield node.url, f"anvil {anvil_version(find_anvil())} (npm), automine"


def signer_backend() -> str:
    try:
        import coincurve  # noqa: F401
    except ImportError:
        return "pure Python (install coincurve for native signatures)"
    return "coincurve"


def run(args: argparse.Namespace) -> dict[str, Any]:
    compile_all()  # not timed
    rng = random.Random(args.seed)
    with (
        node_url(args.url) as (url, node_kind),
        RpcChain(url, funder=ANVIL_DEV_KEYS[0], fund_wei=10**20) as chain,
    ):
        result: dict[str, Any] = {
            "node": node_kind,
            "url": url,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}",
            "signer": signer_backend(),
        }
        start = time.perf_counter()
        operator, dso, issuer = (chain.new_account(r) for r in ("operator", "dso", "issuer"))
        ledger = CommunityLedger.deploy(
            chain, operator=operator, dso=dso, issuer=issuer, supply_micro=10**15
        )
        households = [chain.new_account(f"h{i}") for i in range(args.households)]
        ledger.register_members(households)
        for household in households:
            ledger.fund(household, DEPOSIT_MICRO)
            ledger.deposit(household, DEPOSIT_MICRO)
        setup_s = time.perf_counter() - start
        result["setup"] = {
            "households": args.households,
            "transactions": len(chain.journal),
            "seconds": round(setup_s, 2),
            "tx_per_s": round(len(chain.journal) / setup_s, 1),
            "block_height_after": chain.block_number(),
        }

        address_of = {h: h for h in households}
        slot_counter = iter(range(10**6))

        def settle_slots() -> dict[str, Any]:
            slots = []
            for _ in range(args.slots):
                slot = next(slot_counter)
                trades = settlement_trades(slot_trades(households, slot, rng), address_of)
                height = chain.block_number()
                t0 = time.perf_counter()
                (receipt,) = ledger.settle_slot(slot, order_set_hash(f"{slot}".encode()), trades)
                elapsed = time.perf_counter() - t0
                slots.append((elapsed, receipt.gas_used, len(trades), height))
            times = [s[0] for s in slots]
            return {
                "slots": args.slots,
                "trades_per_slot": statistics.mean(s[2] for s in slots),
                "seconds_median": round(statistics.median(times), 4),
                "seconds_min": round(min(times), 4),
                "seconds_max": round(max(times), 4),
                "gas_mean": round(statistics.mean(s[1] for s in slots)),
                "block_height_first": slots[0][3],
                "block_height_last": slots[-1][3],
            }

        result["settle_slot"] = [settle_slots()]

        # Transfers: with and without the nonce check, in alternating chunks so that both see
        # the same block heights (anvil slows as its chain grows).
        transfers = []
        chunk = max(1, args.transfers // 5)
        for kind in ("token", "ether"):
            seconds = {True: 0.0, False: 0.0}
            counts = {True: 0, False: 0}
            height = chain.block_number()
            while counts[False] < args.transfers:
                for verify in (True, False):
                    chain.verify_nonces = verify
                    n = min(chunk, args.transfers - counts[verify])
                    t0 = time.perf_counter()
                    for i in range(n):
                        to = households[(counts[verify] + i) % len(households)]
                        if kind == "token":
                            ledger.fund(to, 1)
                        else:
                            chain.transfer_value(issuer, to, 1)
                    seconds[verify] += time.perf_counter() - t0
                    counts[verify] += n
            for verify in (True, False):
                transfers.append(
                    {
                        "kind": kind,
                        "verify_nonces": verify,
                        "transactions": counts[verify],
                        "tx_per_s": round(counts[verify] / seconds[verify], 1),
                        "block_height_before": height,
                        "block_height_after": chain.block_number(),
                    }
                )
        chain.verify_nonces = False  # the default again
        result["transfers"] = transfers
        # The same settlement again, now that the chain is longer.
        result["settle_slot"].append(settle_slots())
        result["reconnects"] = chain.reconnects
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=55)
    parser.add_argument("--slots", type=int, default=10)
    parser.add_argument("--transfers", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--url", default=None, help="an existing node instead of a fresh anvil")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    result = run(args)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"node: {result['node']} at {result['url']}; {result['machine']}")
    print(f"signatures: {result['signer']}")
    setup = result["setup"]
    print(
        f"setup: {setup['households']} households, {setup['transactions']} transactions in "
        f"{setup['seconds']} s ({setup['tx_per_s']} tx/s), "
        f"block height {setup['block_height_after']}"
    )
    for s in result["settle_slot"]:
        print(
            f"settle one slot of {s['trades_per_slot']:.0f} trades: "
            f"median {s['seconds_median'] * 1000:.1f} ms "
            f"(min {s['seconds_min'] * 1000:.1f}, max {s['seconds_max'] * 1000:.1f}) over "
            f"{s['slots']} slots, {s['gas_mean']:,} gas, at block heights "
            f"{s['block_height_first']}–{s['block_height_last']}"
        )
    for t in result["transfers"]:
        check = "with" if t["verify_nonces"] else "without"
        print(
            f"{t['kind']} transfers, {check} the nonce check: {t['tx_per_s']} tx/s over "
            f"{t['transactions']} (interleaved, block heights {t['block_height_before']}–"
            f"{t['block_height_after']})"
        )


if __name__ == "__main__":
    main()
