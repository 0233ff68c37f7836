"""Gas of the flexibility market (``FlexMarket.vy``) and the community asset crowdsale
(``AssetFunding.vy``), and the wall time of a flexibility day.

FlexMarket: one need over an area of 14 buses (the SimBench rural1 LV feeder's), n offers of
distinct prices from members spread over the area, awarded (the marginal one in part at half the
offers) and settled with every award's reading. Printed per n: ``post_need``, ``offer`` (mean),
``award`` (whole call and per offer), ``settle`` (whole call and per award).

AssetFunding: n holders buy; a distribution's gas for each n (pull payments: it should not grow
with n), a claim, a share transfer, a buy.

Day run: ``peergrid flex run``'s scenario (default settings) with and without the ledger, the
median of ``--repeat`` runs, the feeder and profiles cached by a first run that is not counted.

    python benchmarks/flex_market.py [--sizes 5 20 60 128] [--holders 10 100] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from peergrid.ledger import EmbeddedChain
from peergrid.ledger.chain.compile import compile_contract
from peergrid.ledger.markets.asset_funding import AssetFundingLedger
from peergrid.ledger.markets.flex_market import FlexMarketLedger
from peergrid.sim.flex_day import FlexDaySettings, run_flex_day_scenario

AREA = {bus: 1_000_000 - 30_000 * bus for bus in range(14)}
FUNDS = 10**12


def flex_gas(n: int) -> dict[str, Any]:
    chain = EmbeddedChain()
    dso, meter, issuer = (chain.new_account(x) for x in ("dso", "meter", "issuer"))
    ledger = FlexMarketLedger.deploy(
        chain, dso=dso, meter_operator=meter, issuer=issuer, supply_micro=10**18
    )
    members = [chain.new_account(f"m{k}") for k in range(n)]
    for k, account in enumerate(members):
        ledger.register(account, k % len(AREA))
        ledger.fund(account, FUNDS)
        ledger.deposit(account, FUNDS)
    ledger.fund(dso, FUNDS)
    ledger.deposit(dso, FUNDS)
    offer_wh = 1000
    # need: half the offers' effective Wh, so about half are awarded
    need_wh = sum(offer_wh * AREA[k % len(AREA)] // 10**6 for k in range(n)) // 2
    need, posted = ledger.post_need(
        slot=72, direction=0, need_wh=need_wh, max_price=300_000, penalty_rate=100_000,
        weights=AREA,
    )  # fmt: skip
    offers = [
        ledger.offer(a, need, wh=offer_wh, price=100_000 + 997 * ((k * 7919) % n), kind="ev")[
            1
        ].gas_used
        for k, a in enumerate(members)
    ]
    award = ledger.award(need).gas_used
    states = ledger.offers(need)
    readings = {
        k: (2000, 2000 - s.awarded_wh * 9 // 10)
        for k, s in enumerate(states, start=1)
        if s.awarded_wh
    }
    settle = ledger.settle(need, readings).gas_used
    return {
        "offers": n,
        "awarded": len(readings),
        "post_need": posted.gas_used,
        "offer_mean": round(statistics.mean(offers)),
        "award": award,
        "award_per_offer": round(award / n),
        "settle": settle,
        "settle_per_award": round(settle / max(len(readings), 1)),
    }


def crowdsale_gas(holders: int) -> dict[str, Any]:
    chain = EmbeddedChain()
    operator, issuer = chain.new_account("operator"), chain.new_account("issuer")
    token = chain.deploy(
        issuer, compile_contract("SettlementToken"), "peergrid settlement token", "PGS",
        issuer, 10**18,
    )  # fmt: skip
    sale = AssetFundingLedger.deploy(
        chain, token, operator=operator, share_price=1_000_000, target=holders,
        cap=10 * holders, deadline=chain.timestamp() + 86_400,
    )  # fmt: skip
    people = [chain.new_account(f"h{k}") for k in range(holders)]
    for account in [operator, *people]:
        chain.transact(issuer, token, "transfer", account, FUNDS)
    buys = [sale.buy(a, 1 + k % 3).gas_used for k, a in enumerate(people)]
    chain.advance_time(86_400)
    withdraw = sale.withdraw_raised().gas_used
    distributes = [sale.distribute(1_234_567 + k).gas_used for k in range(3)]
    claim = sale.claim(people[0]).gas_used
    transfer = sale.transfer(people[1], people[2], 1).gas_used
    return {
        "holders": holders,
        "buy_mean": round(statistics.mean(buys)),
        "withdraw_raised": withdraw,
        "distribute": distributes[-1],
        "claim": claim,
        "transfer": transfer,
    }


def day_time(repeat: int) -> dict[str, Any]:
    run_flex_day_scenario(FlexDaySettings(ledger=False))  # caches the feeder and profiles
    out: dict[str, Any] = {}
    for ledger in (False, True):
        walls, ledgers = [], []
        summary: dict[str, Any] = {}
        for _ in range(repeat):
            t = time.perf_counter()
            day = run_flex_day_scenario(FlexDaySettings(ledger=ledger))
            walls.append(time.perf_counter() - t)
            ledgers.append(day.ledger_s)
            summary = day.summary()
        out["ledger" if ledger else "off_chain"] = {
            "wall_s_median": round(statistics.median(walls), 3),
            "ledger_s_median": round(statistics.median(ledgers), 3),
            "needs": summary["needs"],
            "flexibility_kwh": summary["flexibility_kwh"],
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 20, 60, 128])
    parser.add_argument("--holders", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = {
        "flex_market": [flex_gas(n) for n in args.sizes],
        "asset_funding": [crowdsale_gas(h) for h in args.holders],
        "day": day_time(args.repeat),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print("FlexMarket gas")
    for row in result["flex_market"]:
        print("  " + ", ".join(f"{k} {v}" for k, v in row.items()))
    print("AssetFunding gas")
    for row in result["asset_funding"]:
        print("  " + ", ".join(f"{k} {v}" for k, v in row.items()))
    print("flexibility day (median)")
    for name, row in result["day"].items():
        print(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
