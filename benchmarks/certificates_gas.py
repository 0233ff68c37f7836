"""Gas of the guarantees-of-origin registry (``Certificates.vy``) and of OTC bilateral contracts
(``OtcContracts.vy``), S10.

Certificates, for n producers in one slot (each reading 1000 + k Wh; one certificate is one Wh):
``post_production`` and ``issue`` (one batch per slot: whole call, per producer, i.e. per token
id, and per certificate), ``transfer`` (to a holder of none of that id, and to one that holds
some), ``cancel`` (the first cancellation of an id for a beneficiary, and a later one).
OTC, for n contracts between members: ``propose``, ``accept`` (mean) and one slot's ``settle``
(whole call and per contract, every contract with a deviation on both sides).
Each figure is a receipt's ``gasUsed`` on the embedded chain (deterministic: the same on every
run).

With ``--month``, also the wall time of a month of issuance on the embedded chain: 30 days of
15-minute slots, each slot's production readings of ``--producers`` PV producers posted and
their certificates issued (a clear-sky bell from 06:00 to 20:00, zero readings posted at night
and nothing issued for them), median of ``--repeat`` runs.

    python benchmarks/certificates_gas.py [--sizes 1 10 55 128] [--json]
    python benchmarks/certificates_gas.py --month [--producers 28] [--days 30] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from typing import Any

from peergrid.ledger import EmbeddedChain
from peergrid.ledger.markets.certificates import CertificateRegistry
from peergrid.ledger.markets.otc import OtcLedger
from peergrid.platform.certificates import issue_from_meters

SLOT_S = 900


def certificates(n: int) -> dict[str, Any]:
    chain = EmbeddedChain()
    issuer, meter = chain.new_account("issuer"), chain.new_account("meter")
    registry = CertificateRegistry.deploy(chain, issuer=issuer, slot_seconds=SLOT_S)
    registry.set_meter(meter)
    producers = [chain.new_account(f"p{k}") for k in range(n)]
    register = [registry.register_device(p, "solar", k).gas_used for k, p in enumerate(producers)]
    chain.advance_time(SLOT_S)
    readings = {p: 1000 + k for k, p in enumerate(producers)}
    post = sum(r.gas_used for r in registry.post_production(meter, 0, readings))
    issue = sum(r.gas_used for r in registry.issue_slot(0, producers))
    consumer, other = chain.new_account("consumer"), chain.new_account("other")
    ids = [registry.token_id(0, p) for p in producers]
    to_new = [
        registry.transfer(p, consumer, i, 500).gas_used for p, i in zip(producers, ids, strict=True)
    ]
    to_holder = [
        registry.transfer(p, consumer, i, 100).gas_used for p, i in zip(producers, ids, strict=True)
    ]
    first_cancel = [registry.cancel(consumer, i, 300, consumer, (0, 3)).gas_used for i in ids]
    later_cancel = [registry.cancel(consumer, i, 100, consumer, (0, 3)).gas_used for i in ids]
    registry.transfer(consumer, other, ids[0], 1)
    issued_wh = sum(readings.values())
    return {
        "producers": n,
        "register_device": statistics.mean(register),
        "post_production": post,
        "post_production_per_producer": post / n,
        "issue": issue,
        "issue_per_id": issue / n,
        "issue_per_certificate": issue / issued_wh,
        "transfer_to_new_holder": statistics.median(to_new),
        "transfer_to_holder": statistics.median(to_holder),
        "cancel_first": statistics.median(first_cancel),
        "cancel_later": statistics.median(later_cancel),
    }


def otc(n: int) -> dict[str, Any]:
    chain = EmbeddedChain()
    operator, dso, issuer = (chain.new_account(x) for x in ("operator", "dso", "issuer"))
    ledger = OtcLedger.deploy(
        chain,
        operator=operator,
        dso=dso,
        issuer=issuer,
        supply_micro=10**15,
        fee_micro_per_kwh=20_000,
        slot_seconds=SLOT_S,
    )
    members = [chain.new_account(f"m{k}") for k in range(2 * n)]
    for account in [*members, dso]:
        if account != dso:
            ledger.set_member(account)
        ledger.fund(account, 10**10)
        ledger.deposit(account, 10**10)
    proposed, accepted, ids = [], [], []
    for k in range(n):
        seller, buyer = members[2 * k], members[2 * k + 1]
        receipt = chain.transact(
            seller, ledger.market, "propose", buyer, True, 120_000, 500 + k, 2, 97
        )
        proposed.append(receipt.gas_used)
        cid = int(receipt.events_named("Proposed")[0].args["id"])
        accepted.append(ledger.accept(buyer, cid).gas_used)
        ids.append(cid)
    chain.advance_time(3 * SLOT_S)
    readings = [(cid, 400, 450) for cid in ids]  # short on both sides
    first = sum(r.gas_used for r in ledger.settle(2, 90_000, readings))
    return {
        "contracts": n,
        "propose": statistics.mean(proposed),
        "accept": statistics.mean(accepted),
        "settle": first,
        "settle_per_contract": first / n,
    }


def month(producers: int, days: int) -> dict[str, Any]:
    """Wall time and gas of ``days`` of 15-minute slots of issuance for ``producers``."""
    chain = EmbeddedChain()
    issuer, meter = chain.new_account("issuer"), chain.new_account("meter")
    registry = CertificateRegistry.deploy(chain, issuer=issuer, slot_seconds=SLOT_S)
    registry.set_meter(meter)
    accounts = [chain.new_account(f"pv{k}") for k in range(producers)]
    for k, account in enumerate(accounts):
        registry.register_device(account, "solar", k)
    slots = days * 96
    chain.advance_time(slots * SLOT_S)
    gas = transactions = 0
    started = time.perf_counter()
    for slot in range(slots):
        hour = (slot % 96) / 4
        sun = math.sin(math.pi * (hour - 6) / 14) if 6 <= hour < 20 else 0.0
        readings = {a: int(1000 * sun * (0.8 + 0.01 * k)) for k, a in enumerate(accounts)}
        receipts = issue_from_meters(registry, meter, slot, readings)
        gas += sum(r.gas_used for r in receipts)
        transactions += len(receipts)
    seconds = time.perf_counter() - started
    return {
        "producers": producers,
        "slots": slots,
        "seconds": seconds,
        "transactions": transactions,
        "gas": gas,
        "certificates_issued": registry.totals()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 55, 128])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--month", action="store_true", help="time a month of issuance")
    parser.add_argument("--producers", type=int, default=28)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.month:
        runs = [month(args.producers, args.days) for _ in range(args.repeat)]
        median = statistics.median(r["seconds"] for r in runs)
        result = runs[0] | {"seconds_median": median, "runs": [r["seconds"] for r in runs]}
        if args.json:
            print(json.dumps(result))
        else:
            print(
                f"{result['producers']} producers, {result['slots']} slots: "
                f"{median:.1f} s median of {args.repeat} ({result['transactions']} transactions, "
                f"{result['gas']:,} gas, {result['certificates_issued']:,} certificates)"
            )
        return
    rows = [{"certificates": certificates(n), "otc": otc(n)} for n in args.sizes]
    if args.json:
        print(json.dumps(rows))
        return
    print("certificates (gas; one certificate = 1 Wh)")
    print(
        f"{'n':>4} {'post/prod':>10} {'issue':>10} {'issue/id':>9} {'issue/cert':>10} "
        f"{'xfer new':>9} {'xfer':>7} {'cancel1':>8} {'cancel':>7}"
    )
    for row in rows:
        c = row["certificates"]
        print(
            f"{c['producers']:>4} {c['post_production_per_producer']:>10.0f} {c['issue']:>10,} "
            f"{c['issue_per_id']:>9.0f} {c['issue_per_certificate']:>10.1f} "
            f"{c['transfer_to_new_holder']:>9.0f} {c['transfer_to_holder']:>7.0f} "
            f"{c['cancel_first']:>8.0f} {c['cancel_later']:>7.0f}"
        )
    print("OTC contracts (gas)")
    print(f"{'n':>4} {'propose':>8} {'accept':>8} {'settle':>10} {'settle/contract':>16}")
    for row in rows:
        o = row["otc"]
        print(
            f"{o['contracts']:>4} {o['propose']:>8.0f} {o['accept']:>8.0f} {o['settle']:>10,} "
            f"{o['settle_per_contract']:>16.0f}"
        )


if __name__ == "__main__":
    main()
