"""Gas of the two-stage DR contract (``DrSettlement.vy``, 001a_book.md chapter 7) per prosumer
and per settlement.

One hourly slot with n prosumers (half buyers, half sellers, distinct prices so that the books
cross half-way, every buyer rescheduling to 80 % of its demand, every seller delivering 90 % of
what it was cleared for): each figure is a receipt's ``gasUsed`` on the embedded chain. Printed:
``bid`` (mean), ``settle_first`` and ``settle_final`` (whole call and per prosumer),
``reschedule`` (mean), ``open_slot``, ``deposit`` and ``withdraw``.

    python benchmarks/dr_settlement_gas.py [--sizes 10 50 100 140] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
from typing import Any

from peergrid.ledger import EmbeddedChain
from peergrid.ledger.markets.dr_settlement import DrSettlementLedger

UP = 300_000
FUNDS = 10**12


def measure(n: int) -> dict[str, Any]:
    chain = EmbeddedChain()
    operator, issuer = chain.new_account("operator"), chain.new_account("issuer")
    ledger = DrSettlementLedger.deploy(chain, operator=operator, issuer=issuer, supply_micro=10**18)
    prosumers = [chain.new_account(f"p{k}") for k in range(n)]
    deposits = []
    for account in [operator, *prosumers]:
        if account != operator:
            ledger.register(account)
        ledger.fund(account, FUNDS)
        deposits.append(ledger.deposit(account, FUNDS // 2).gas_used)
    opened = ledger.open_slot(
        1,
        upstream_price=UP,
        alpha=1_200_000,
        penalty_rate=300_000,
        settle_by=chain.timestamp() + 3600,
    )
    bids = []
    for k, account in enumerate(prosumers):
        if k % 2 == 0:  # a buyer at a falling price
            receipt = ledger.bid(account, 1, demand=2000 + 10 * k, price=UP - 1000 * k, supply=0)
        else:  # a seller at a rising price
            receipt = ledger.bid(
                account, 1, demand=0, price=50_000 + 1000 * k, supply=1500 + 10 * k
            )
        bids.append(receipt.gas_used)
    first = ledger.settle_first(1).gas_used
    reschedules = [
        ledger.reschedule(account, 1, (2000 + 10 * k) * 8 // 10).gas_used
        for k, account in enumerate(prosumers)
        if k % 2 == 0
    ]
    cleared = {a: b.sold for a, (_, b) in ledger.bids(1).items() if b.sell > 0}
    final = ledger.settle_final(1, {a: q * 9 // 10 for a, q in cleared.items()}).gas_used
    withdraw = ledger.withdraw(prosumers[1], 1000).gas_used
    return {
        "prosumers": n,
        "open_slot": opened.gas_used,
        "deposit": statistics.mean(deposits[1:]),
        "bid_mean": statistics.mean(bids),
        "settle_first": first,
        "settle_first_per_prosumer": first / n,
        "reschedule_mean": statistics.mean(reschedules),
        "settle_final": final,
        "settle_final_per_prosumer": final / n,
        "withdraw": withdraw,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 100, 140])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [measure(n) for n in args.sizes]
    if args.json:
        print(json.dumps(rows))
        return
    print(
        f"{'n':>4} {'bid':>8} {'first':>10} {'/pros':>7} {'resched':>8} {'final':>10} {'/pros':>7}"
    )
    for r in rows:
        print(
            f"{r['prosumers']:>4} {r['bid_mean']:>8.0f} {r['settle_first']:>10,} "
            f"{r['settle_first_per_prosumer']:>7.0f} {r['reschedule_mean']:>8.0f} "
            f"{r['settle_final']:>10,} {r['settle_final_per_prosumer']:>7.0f}"
        )
    r = rows[-1]
    print(f"open_slot {r['open_slot']:,}, deposit {r['deposit']:,.0f}, withdraw {r['withdraw']:,}")


if __name__ == "__main__":
    main()
