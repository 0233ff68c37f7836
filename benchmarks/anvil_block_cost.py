"""Benchmark: what one block costs anvil as a contract's storage grows.

A managed-style anvil (the options of ``ManagedAnvilChain``) is given one account holding
``N`` non-zero storage words (``anvil_setStorageAt``), then mines empty blocks; the time of one
``evm_mine`` is printed for each ``N``. anvil computes every block's state root from its whole
in-memory state, so this time grows with the storage of every contract on the node: it is what
a long simulation on anvil pays per block once the batch market has stored a few months of
orders. Setting the words back to zero does not bring it down (the entries stay).

``--history 0,2000,6000`` measures instead a node under the Prague rules that only mines empty
blocks, once as anvil starts it and once without the code of EIP-2935's block-hash history
contract (as ``ManagedAnvilChain`` runs it): each block writes one word into that contract's
ring of 8 191, so a chain's own length grows the cost of its blocks until the ring is full.

    python benchmarks/anvil_block_cost.py [--words 0,10000,50000,100000] [--blocks 10]
    python benchmarks/anvil_block_cost.py --history 0,2000,6000 [--blocks 10]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from peergrid.ledger.chain.anvil import anvil_version, find_anvil, free_port, start_anvil
from peergrid.ledger.chain.jsonrpc import JsonRpcClient
from peergrid.ledger.chain.managed import (
    HISTORY_STORAGE_ADDRESS,
    MANAGED_HARDFORK,
    managed_anvil_args,
)

HOLDER = "0x" + "11" * 20
ONE = "0x" + "01".rjust(64, "0")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", default="0,10000,50000,100000")
    parser.add_argument("--blocks", type=int, default=10)
    parser.add_argument("--history", default=None, help="chain lengths, blocks (see above)")
    args = parser.parse_args()
    if args.history is not None:
        history(sorted(int(n) for n in args.history.split(",")), args.blocks)
        return
    targets = sorted(int(w) for w in args.words.split(","))
    binary = find_anvil()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    print(f"anvil {anvil_version(binary)}, options {' '.join(managed_anvil_args())}")
    with start_anvil(
        free_port(), quiet=True, binary=binary, extra_args=managed_anvil_args()
    ) as node:
        client = JsonRpcClient(node.url)
        client.call("anvil_setCode", [HOLDER, "0x00"])
        words = 0
        for target in targets:
            while words < target:
                chunk = min(1000, target - words)
                client.batch(
                    [
                        ("anvil_setStorageAt", [HOLDER, hex(words + i + 1), ONE])
                        for i in range(chunk)
                    ]
                )
                words += chunk
            client.call("evm_mine")
            start = time.perf_counter()
            for _ in range(args.blocks):
                client.call("evm_mine")
            per_block = (time.perf_counter() - start) / args.blocks
            print(f"  {words:8d} storage words: {per_block * 1000:8.2f} ms per empty block")
        client.close()


def history(lengths: list[int], blocks: int) -> None:
    binary = find_anvil()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    options = " ".join(managed_anvil_args())
    print(f"anvil {anvil_version(binary)}, {MANAGED_HARDFORK}, options {options}")
    for with_code in (True, False):
        print("history contract as anvil starts it" if with_code else "without its code")
        with start_anvil(
            free_port(),
            quiet=True,
            binary=binary,
            hardfork=MANAGED_HARDFORK,
            extra_args=managed_anvil_args(),
        ) as node:
            client = JsonRpcClient(node.url)
            if not with_code:
                client.call("anvil_setCode", [HISTORY_STORAGE_ADDRESS, "0x"])
            for length in lengths:
                while int(client.call("eth_blockNumber"), 16) < length:
                    client.call("evm_mine")
                start = time.perf_counter()
                for _ in range(blocks):
                    client.call("evm_mine")
                per_block = (time.perf_counter() - start) / blocks
                print(f"  after {length:6d} blocks: {per_block * 1000:8.2f} ms per empty block")
            client.close()


if __name__ == "__main__":
    main()
