"""Where the gas of the two target figures goes: an account per opcode group and storage access.

    PYTHONPATH=src python benchmarks/gas_profile.py

Runs the entries ``place_order`` and ``clearing_per_trade`` of ``peergrid bench gas`` on the
embedded chain with every opcode of py-evm's Prague table wrapped, so that each transaction's
execution gas is split by opcode (storage accesses by their price: a cold ``SLOAD`` 2 100, a new
storage word 22 100, a rewritten one 2 900, ...), with the intrinsic gas of each transaction (21 000
and its calldata) and the refund of the storage it clears.

* ``per_order_placed``: the mean of the bench's ten resting placements in steady state (each
  order's storage word reused from an order that left the book), and apart the two that become
  the best of their side and the eight that rest behind another order; the same for
  ``per_order_placed_first_use`` (each word written for the first time).
* ``per_trade_settled``: the marginal fill, as the bench measures it: the clearing of N + k fills
  less that of N, divided by k.
* ``commit`` and ``reveal``: the means the bench reports (``commit_reveal_per_order`` is their
  sum).

The opcode wrappers are removed before the script ends. Gas is what py-evm charges, which equals
anvil's receipts (``tests/ledger/test_anvil_managed.py``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from eth.vm import opcode_values
from eth.vm.forks import PragueVM

from peergrid.bench.gas import gas_table
from peergrid.ledger.chain.base import Mined
from peergrid.ledger.chain.embedded import EmbeddedChain
from peergrid.ledger.markets.orderbook import ORDER_POSITIONS

_NAMES = {v: k for k, v in vars(opcode_values).items() if k.isupper() and isinstance(v, int)}
_CALLS = {"CALL", "CALLCODE", "DELEGATECALL", "STATICCALL", "CREATE", "CREATE2"}
_STORAGE = {"SLOAD", "SSTORE", "TLOAD", "TSTORE"}


@contextmanager
def opcode_profile() -> Iterator[Counter[str]]:
    """Count the gas of every opcode run while the context is open into one ``Counter``
    (``SLOAD:2100``, ``SSTORE:22100``, ...: storage opcodes by their price). A call's own
    charge excludes what the callee spends (counted under the callee's opcodes)."""
    # py-evm calls each entry with the computation; a plain function stands in for an OpcodeAPI.
    table: dict[int, Any] = PragueVM._state_class.computation_class.opcodes
    original = dict(table)
    gas: Counter[str] = Counter()
    counted = [0]

    def wrap(value: int, fn: Callable[..., Any]) -> Callable[..., Any]:
        name = _NAMES.get(value, hex(value))

        def run(computation: Any) -> Any:
            before = computation._gas_meter.gas_remaining
            start = counted[0]
            try:
                return fn(computation)
            finally:
                used = before - computation._gas_meter.gas_remaining
                if name in _CALLS:
                    used -= counted[0] - start
                gas[f"{name}:{used}" if name in _STORAGE else name] += used
                counted[0] += used

        return run

    table.update({value: wrap(value, fn) for value, fn in original.items()})
    try:
        yield gas
    finally:
        table.clear()
        table.update(original)


def intrinsic_gas(data: bytes) -> int:
    """21 000 and the calldata: 4 gas a zero byte, 16 any other (no access list, no creation)."""
    zeros = data.count(0)
    return 21_000 + 4 * zeros + 16 * (len(data) - zeros)


def profiled_transactions(entries: list[str]) -> list[tuple[str, int, Counter[str]]]:
    """Run ``entries`` of the gas table; each transaction as (call, receipt gas, gas by item):
    the opcodes' gas, ``intrinsic`` and ``refund`` (negative: storage cleared, capped at a fifth
    of the gas used)."""
    out: list[tuple[str, int, Counter[str]]] = []
    execute = EmbeddedChain._execute

    def recorded(self: EmbeddedChain, sender: str, to: str | None, data: bytes, call: str) -> Mined:
        with opcode_profile() as gas:
            mined = execute(self, sender, to, data, call)
        gas["intrinsic"] = intrinsic_gas(data)
        gas["refund"] = mined.gas_used - sum(gas.values())
        out.append((call, mined.gas_used, gas))
        return mined

    EmbeddedChain._execute = recorded  # type: ignore[method-assign]
    try:
        gas_table(entries=entries)
    finally:
        EmbeddedChain._execute = execute  # type: ignore[method-assign]
    return out


def group(opcode: str) -> str:
    if opcode == "intrinsic":
        return "transaction and calldata (21 000 + 4 or 16 a byte)"
    if opcode == "refund":
        return "refund (a cleared storage word)"
    if ":" in opcode:
        name, price = opcode.split(":")
        return {
            ("SLOAD", "2100"): "storage read, cold (2 100)",
            ("SLOAD", "100"): "storage read, warm (100)",
            ("SSTORE", "22100"): "storage write, new word (22 100)",
            ("SSTORE", "20000"): "storage write, new word, warm (20 000)",
            ("SSTORE", "5000"): "storage write, cold rewrite (5 000)",
            ("SSTORE", "2900"): "storage write, rewrite (2 900)",
            ("SSTORE", "100"): "storage write, unchanged or again (100)",
        }.get((name, price), f"{name} ({price})")
    if opcode.startswith("LOG"):
        return "events (LOG)"
    if opcode == "SHA3":
        return "keccak (mapping keys, hashes)"
    return "other opcodes (stack, memory, control, arithmetic)"


def account(
    transactions: list[tuple[str, int, Counter[str]]], weight: float
) -> tuple[Counter[str], float]:
    """The gas by group of ``transactions`` summed and times ``weight``, and their receipts' gas
    times ``weight``."""
    groups: Counter[str] = Counter()
    for _, _, gas in transactions:
        for opcode, used in gas.items():
            groups[group(opcode)] += used
    total = sum(receipt for _, receipt, _ in transactions)
    return Counter({k: v * weight for k, v in groups.items()}), total * weight


def print_account(title: str, groups: Counter[str], receipt: float) -> None:
    print(f"\n{title}: {receipt:,.0f} gas")
    for name, used in sorted(groups.items(), key=lambda kv: -kv[1]):
        if round(used):
            print(f"  {name:<52} {used:>9,.0f}")


def main() -> None:
    placements = [t for t in profiled_transactions(["place_order"]) if t[0] == "OrderBook.place"]
    # The bench's ten resting placements at first use come first, then each of the ten members
    # places (and cancels) ORDER_POSITIONS orders, then the same ten placements in steady state.
    first_use = placements[:10]
    steady_from = 10 + 10 * ORDER_POSITIONS
    steady = placements[steady_from : steady_from + 10]
    for title, resting in (
        ("per_order_placed (OrderBook.place, steady state, mean of 10)", steady),
        ("per_order_placed_first_use (OrderBook.place, mean of 10)", first_use),
    ):
        print_account(title, *account(resting, 1 / 10))
        print_account("  of which the 2 that become best", *account(resting[:2], 1 / 2))
        print_account(
            "  of which the 8 that rest behind another order", *account(resting[2:], 1 / 8)
        )

    clearings = [
        t for t in profiled_transactions(["clearing_per_trade"]) if t[0].endswith("post_clearing")
    ]
    # warm-up slot, N fills, N + k fills (bench defaults: N = 5, k = 50)
    _, small, large = clearings[:3]
    extra = 50
    groups, receipt = account([large], 1 / extra)
    minus, receipt_small = account([small], 1 / extra)
    groups.subtract(minus)
    print_account(
        "per_trade_settled (BatchMarket.post_clearing, marginal fill)",
        groups,
        receipt - receipt_small,
    )

    sealed = profiled_transactions(["commit"])
    # the warm-up slot's 2 orders, then the bench's slot of 10 (its figure is their mean)
    commits = [t for t in sealed if t[0] == "BatchMarket.commit"][2:12]
    reveals = [t for t in sealed if t[0] == "BatchMarket.reveal"][2:12]
    print_account("commit (BatchMarket.commit, mean of 10)", *account(commits, 1 / 10))
    print_account("reveal (BatchMarket.reveal, mean of 10)", *account(reveals, 1 / 10))


if __name__ == "__main__":
    main()
