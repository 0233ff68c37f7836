"""Benchmark: the batch market's storage words after N slots on the managed anvil, a block's cost.

A community of 55 households on ``BatchMarket.vy`` runs slots as the settlement adapter sends them
(one pipeline per slot: open, commits, reveals, clearing, readings). After each checkpoint the
market contract's storage entries are counted from ``anvil_dumpState`` (every key anvil keeps,
zero-valued ones included: they cost the state root as much as the others), and the time of one
empty block (``evm_mine``) is measured: anvil computes each block's state root from its whole
in-memory state, so that time follows the storage every run has written (see
``anvil_block_cost.py``).

    python benchmarks/batch_storage.py [--slots 8,32,64,128] [--households 55] [--blocks 10]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import time

from ledger_batch_slot import (
    DEPOSIT_MICRO,
    FEE_MICRO_PER_KWH,
    PENALTY_MICRO_PER_KWH,
    slot_orders,
    verified_fills,
)
from peergrid.ledger import BatchMarketLedger, Role, RoleGrant, fills_from_trades, sealed_order
from peergrid.ledger.chain import open_chain
from peergrid.ledger.chain.jsonrpc import JsonRpcClient
from peergrid.mechanisms.dpda import clear_dpda


def storage_words(client: JsonRpcClient, address: str) -> int:
    """Storage entries anvil keeps for ``address`` (from its state dump)."""
    dump = client.call("anvil_dumpState", [])
    state = json.loads(gzip.decompress(bytes.fromhex(dump.removeprefix("0x"))))
    account = state["accounts"].get(address.lower()) or state["accounts"].get(address)
    return len(account["storage"]) if account else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slots", default="8,32,64,128")
    parser.add_argument("--households", type=int, default=55)
    parser.add_argument("--blocks", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    checkpoints = sorted(int(s) for s in args.slots.split(","))
    rng = random.Random(args.seed)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    with open_chain("anvil") as chain:
        operator, dso, issuer, meter = (chain.new_account(x) for x in ("op", "dso", "issuer", "m"))
        n = args.households
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
            [RoleGrant(a, Role.PROSUMER) for a in households.values()]
            + [RoleGrant(meter, Role.METER)]
        )
        ledger.consortium.end_bootstrap()
        for account in [*households.values(), dso]:
            ledger.escrow.fund(account, DEPOSIT_MICRO)
            ledger.escrow.deposit(account, DEPOSIT_MICRO)
        total = ledger.escrow.total_internal_balance()
        client = JsonRpcClient(chain.url)  # type: ignore[attr-defined]
        print(f"households {n}; after setup: {storage_words(client, ledger.market.address)} words")
        slot = 0
        for checkpoint in checkpoints:
            start = time.perf_counter()
            done = slot
            while slot < checkpoint:
                orders = slot_orders(n, slot, rng)
                sealed = [sealed_order(o, salt=rng.randbytes(32)) for o in orders]
                trades = clear_dpda(orders).trades
                with chain.pipeline():
                    ledger.open_slot(slot)
                    for order, s in zip(orders, sealed, strict=True):
                        ledger.commit(households[order.agent], slot, s)
                    ledger.start_reveal(slot)
                    for order, s in zip(orders, sealed, strict=True):
                        ledger.reveal(households[order.agent], slot, s)
                    revealed = [
                        s.revealed(households[o.agent]) for o, s in zip(orders, sealed, strict=True)
                    ]
                    fills = verified_fills(
                        revealed,
                        fills_from_trades(trades, revealed, households),
                        FEE_MICRO_PER_KWH,
                    )
                    ledger.post_clearing_as_revealed(slot, fills, revealed, FEE_MICRO_PER_KWH)
                    metered = {p.member: p.energy_wh for p in ledger.positions(slot)}
                    ledger.post_readings_after_clearing(meter, slot, metered)
                ledger.check_positions(slot)
                slot += 1
            per_slot = (time.perf_counter() - start) / max(1, slot - done)
            words = storage_words(client, ledger.market.address)
            client.call("evm_mine")
            t0 = time.perf_counter()
            for _ in range(args.blocks):
                client.call("evm_mine")
            block_ms = (time.perf_counter() - t0) / args.blocks * 1000
            print(
                f"  after {slot:5d} slots: {words:7d} storage words of the market, "
                f"{block_ms:6.2f} ms per empty block, {per_slot:6.3f} s per slot"
            )
        client.close()
        assert ledger.escrow.total_internal_balance() == total == ledger.escrow.held_tokens()
        print("money conserved: internal balances unchanged and equal to the tokens held")


if __name__ == "__main__":
    main()
