"""Gas of the EV charging quota contract (``EvQuota.vy``, 001b_book.md chapter 9), per function.

Each figure is a transaction receipt's ``gasUsed`` on a fresh period (stations with 40 kW of
demand and 80 kW chargers, a margin of half the demand, tariff 112 and penalty 200 tokens/kWh):

- *demand_submit*: the first registration and the mean of the others (the token's
  ``transferFrom`` of the deposit included; the approval before it is not);
- *pre_allocation*: one call, the same for any number of stations (the quotas are computed
  when read);
- *submit*, per side and book size n (orders already on that side): the n orders placed in
  turn, each after the last (the client's exact hint), their mean; then three more: at the tail
  with the exact hint, at the tail with no hint (the contract walks the whole side, its growth
  with n), and at the head (the new best);
- *auction*, with n orders (bids all above offers, quantities such that every step exhausts
  exactly one order: n - 1 matched pairs, the worst case of Algorithm 1), also at the cap
  ``MAX_ORDERS``: its gas, the gas per matched pair, the marginal gas of one more pair, and the
  auction of a book that does not cross (its fixed part);
- *payment*: one reading in a call, and n readings in one call (the gas per reading), within
  and over quota; *withdraw*.

    python benchmarks/ev_quota_gas.py [--sizes 8 100 390] [--chain embedded|anvil] [--json]

Gas is the same on the embedded chain and on anvil (``--chain anvil`` runs a managed node).
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from peergrid.ledger import Chain, open_chain
from peergrid.ledger.markets.ev_quota import (
    MAX_ORDERS,
    EvQuotaLedger,
    price_units,
    quota_units,
)

DEMAND_KW = 40.0
RATING_KW = 80.0
TARIFF = 112.0
PENALTY = 200.0
DEPOSIT_MICRO = 10**11
DELIVERY_S = 1800


@dataclass
class Period:
    chain: Chain
    ledger: EvQuotaLedger
    stations: list[str]
    demand_gas: list[int]
    pre_allocation_gas: int


def open_period(chain: Chain, n_stations: int) -> Period:
    dso, issuer = chain.new_account("dso"), chain.new_account("issuer")
    ledger = EvQuotaLedger.deploy(chain, dso=dso, issuer=issuer, supply_micro=10**18)
    now = chain.timestamp()
    ledger.initialize(
        capacity_margin=quota_units(DEMAND_KW * n_stations / 2),
        tariff=price_units(TARIFF),
        penalty_rate=price_units(PENALTY),
        delivery_end=now + DELIVERY_S,
        settle_by=now + 10 * DELIVERY_S,
    )
    stations = [chain.new_account(f"station{k}") for k in range(n_stations)]
    demand_gas = []
    with chain.pipeline():
        for station in stations:
            ledger.fund(station, DEPOSIT_MICRO)
            receipt = ledger.demand_submit(
                station, quota_units(DEMAND_KW), quota_units(RATING_KW), DEPOSIT_MICRO
            )
            demand_gas.append(receipt)
    gas = [r.gas_used for r in demand_gas]
    pre = ledger.pre_allocation().gas_used
    return Period(chain, ledger, stations, gas, pre)


def submit_gas(backend: str, is_bid: bool, size: int) -> dict[str, Any]:
    """``size`` orders on one side, then three measured ones (module docstring)."""
    with open_chain(backend) as chain:
        period = open_period(chain, size + 3)
        ledger, stations = period.ledger, period.stations
        # Bids in descending price, offers ascending: each goes after the last.
        step = -1 if is_bid else 1
        base = 1_000 if is_bid else 10
        filling = [
            ledger.submit(stations[k], is_bid, price_units(base + step * k * 0.01), 1_000_000)
            for k in range(size)
        ]
        tail = base + step * size * 0.01
        exact = ledger.submit(stations[size], is_bid, price_units(tail), 1_000_000)
        walk = ledger.submit(stations[size + 1], is_bid, price_units(tail), 1_000_000, hint=0)
        head = ledger.submit(stations[size + 2], is_bid, price_units(base - step), 1_000_000)
        return {
            "side": "bid" if is_bid else "offer",
            "book": size,
            "mean_filling": round(statistics.fmean(r.gas_used for r in filling)),
            "tail_exact_hint": exact.gas_used,
            "tail_no_hint": walk.gas_used,
            "head": head.gas_used,
        }


def auction_gas(backend: str, size: int, *, crossing: bool = True) -> dict[str, Any]:
    """``size`` orders, 2/5 bids of 3 kW and 3/5 offers of 2 kW (the last offer takes what is
    left): every step exhausts exactly one order, bar the last, which exhausts both."""
    with open_chain(backend) as chain:
        period = open_period(chain, size)
        ledger, stations = period.ledger, period.stations
        bids, offers = stations[: 2 * size // 5], stations[2 * size // 5 :]
        # 3 000 001 and 2 000 001 micro-kW: no common multiple within the book, so no step
        # but the last exhausts a bid and an offer together.
        bid_quantity, offer_quantity = 3_000_001, 2_000_001
        total_bid = bid_quantity * len(bids)
        with chain.pipeline():
            for k, station in enumerate(bids):
                price = 50 - k * 0.01 if crossing else 5
                ledger.submit(station, True, price_units(price), bid_quantity)
            for k, station in enumerate(offers):
                last = k == len(offers) - 1
                quantity = (
                    max(1, total_bid - offer_quantity * (len(offers) - 1))
                    if last
                    else offer_quantity
                )
                price = 10 + k * 0.01 if crossing else 20
                ledger.submit(station, False, price_units(price), quantity)
        receipt = ledger.auction()
        trades = ledger.info().trade_count
        out: dict[str, Any] = {"book": size, "pairs": trades, "auction": receipt.gas_used}
        if crossing:
            out["payment"] = _payment_gas(period)
        return out


def _payment_gas(period: Period) -> dict[str, Any]:
    ledger, chain = period.ledger, period.chain
    chain.advance_time(DELIVERY_S)
    states = ledger.stations()
    first, rest = states[0], states[1:]
    one = ledger.payment({first.address: first.final_quota})[0].gas_used
    within = {s.address: s.final_quota for s in rest[: len(rest) // 2]}
    over = {s.address: s.final_quota + quota_units(1) for s in rest[len(rest) // 2 :]}
    within_gas = sum(r.gas_used for r in ledger.payment(within))
    over_gas = sum(r.gas_used for r in ledger.payment(over))
    withdraw = [ledger.withdraw(s.address).gas_used for s in states]
    return {
        "one_reading": one,
        "per_reading_within_quota": round(within_gas / max(1, len(within))),
        "per_reading_over_quota": round(over_gas / max(1, len(over))),
        "readings_per_call": min(len(within), 256),
        "withdraw_mean": round(statistics.fmean(withdraw)),
    }


def run(backend: str, sizes: Sequence[int]) -> dict[str, Any]:
    with open_chain(backend) as chain:
        period = open_period(chain, max(sizes))
        registration = {
            "first": period.demand_gas[0],
            "mean_others": round(statistics.fmean(period.demand_gas[1:])),
            "pre_allocation": period.pre_allocation_gas,
            "stations": len(period.stations),
        }
    submits = [submit_gas(backend, is_bid, n) for is_bid in (True, False) for n in sizes]
    auctions = [auction_gas(backend, n) for n in [*sizes, MAX_ORDERS]]
    for entry in auctions:
        entry["per_pair_total"] = round(entry["auction"] / max(1, entry["pairs"]))
    idle = auction_gas(backend, max(sizes), crossing=False)
    big, small = auctions[-1], auctions[0]
    marginal = (big["auction"] - small["auction"]) / max(1, big["pairs"] - small["pairs"])
    return {
        "chain": backend,
        "max_orders": MAX_ORDERS,
        "demand_submit": registration,
        "submit": submits,
        "auction": auctions,
        "auction_no_cross": {"book": idle["book"], "auction": idle["auction"]},
        "auction_marginal_per_pair": round(marginal),
    }


def print_table(result: dict[str, Any]) -> None:
    reg = result["demand_submit"]
    print(f"EvQuota gas on the {result['chain']} chain (gasUsed of each receipt)")
    print(
        f"demand_submit: first {reg['first']:,}, others {reg['mean_others']:,} (mean of "
        f"{reg['stations'] - 1}); pre_allocation {reg['pre_allocation']:,}"
    )
    print("\nsubmit          book   filling  tail+hint  tail, no hint  head")
    for s in result["submit"]:
        print(
            f"  {s['side']:<6} {s['book']:>10} {s['mean_filling']:>9,} {s['tail_exact_hint']:>10,}"
            f" {s['tail_no_hint']:>14,} {s['head']:>6,}"
        )
    print("\nauction   orders  pairs      gas  gas/pair")
    for a in result["auction"]:
        print(f"  {a['book']:>12} {a['pairs']:>6} {a['auction']:>10,} {a['per_pair_total']:>9,}")
    idle = result["auction_no_cross"]
    print(
        f"  marginal gas per matched pair: {result['auction_marginal_per_pair']:,}; a book of "
        f"{idle['book']} that does not cross: {idle['auction']:,}"
    )
    print("\npayment   orders  one reading  per reading (within / over quota)  withdraw")
    for a in result["auction"]:
        p = a["payment"]
        print(
            f"  {a['book']:>12} {p['one_reading']:>12,} {p['per_reading_within_quota']:>10,} /"
            f" {p['per_reading_over_quota']:>7,} {p['withdraw_mean']:>22,}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 100, MAX_ORDERS - 10])
    parser.add_argument("--chain", default="embedded", choices=("embedded", "anvil"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if any(not 2 <= n <= MAX_ORDERS - 3 for n in args.sizes):
        parser.error(f"book sizes must be from 2 to {MAX_ORDERS - 3} (MAX_ORDERS - 3)")
    result = run(args.chain, sorted(args.sizes))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)


if __name__ == "__main__":
    main()
