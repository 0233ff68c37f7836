"""A month of 55 households with all four services on the embedded chain: wall time, and the
share of it spent on the ledger.

The scenario is ``examples/services.toml`` (55 households on the IEEE European LV feeder,
electrically heated homes, guarantees of origin, three OTC contracts, the DSO's flexibility
market and a crowdfunded community battery) run for ``--days`` days from ``--start``, the energy
market settled on the embedded chain (``community`` market) and the services on their own
embedded chain. The first run is not counted (profiles, feeder and contracts compiled and
cached); the median of ``--repeat`` runs is printed, with the stages of the run's wall time.

Ledger time: the energy market's ledger stage plus the services' time on their chain (issuing,
cancelling, OTC settlement, the flexibility market's posting, offering, awarding and settling,
the crowdsale and the dividends); the congestion screening's AC power flows are not ledger time.

    python benchmarks/services_month.py [--days 30] [--start 2016-01-01] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from peergrid.sim.runner import run_scenario
from peergrid.sim.scenario import Scenario

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "services.toml"


def one_run(scenario: Scenario) -> dict[str, Any]:
    started = time.perf_counter()
    result = run_scenario(scenario)
    wall = time.perf_counter() - started
    s, t = result.summary, result.timings
    market_ledger = t["ledger"]
    services_ledger = s["services_ledger_s"]
    return {
        "wall_s": wall,
        "market_ledger_s": market_ledger,
        "services_ledger_s": services_ledger,
        "screening_s": s["services_screening_s"],
        "ledger_share": (market_ledger + services_ledger) / wall,
        "stages_s": {k: round(v, 2) for k, v in t.items()},
        "slots": s["slots"],
        "services_transactions": s["services_transactions"],
        "services_gas_used": s["services_gas_used"],
        "market_transactions": s["transactions"],
        "certificates_issued": s["certificates_issued"],
        "certificates_cancelled": s["certificates_cancelled"],
        "otc_kwh": s["otc_kwh"],
        "flexibility_kwh": s["flexibility_kwh"],
        "dividends_paid": s["dividends_paid"],
        "congested_slots": [
            s["services_congested_slots_before"],
            s["services_congested_slots_after"],
        ],
        "money_conserved": s["services_money_conserved"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--start", default="2016-01-01")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    scenario = Scenario.load(EXAMPLE).replace(
        time={"start": args.start, "days": args.days},
        ledger={"chain": "embedded", "market": "community"},
    )
    one_run(scenario.replace(time={"days": 1}))  # warm the caches; not counted
    runs = [one_run(scenario) for _ in range(args.repeat)]
    median = statistics.median(r["wall_s"] for r in runs)
    chosen = min(runs, key=lambda r: abs(r["wall_s"] - median))
    out = {
        "days": args.days,
        "start": args.start,
        "households": scenario.households.count,
        "repeat": args.repeat,
        "wall_s_runs": [round(r["wall_s"], 1) for r in runs],
        "load_average": os.getloadavg(),
        **chosen,
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(
        f"{args.days} days from {args.start}, {out['households']} households, all four services, "
        f"embedded chain: median wall {median:.1f} s over {args.repeat} runs "
        f"{out['wall_s_runs']} (load {out['load_average'][0]:.1f})"
    )
    print(
        f"ledger {chosen['market_ledger_s']:.1f} s (energy market) + "
        f"{chosen['services_ledger_s']:.1f} s (services) = {chosen['ledger_share']:.0%} of the "
        f"wall time; congestion screening {chosen['screening_s']:.1f} s"
    )
    print(f"stages: {chosen['stages_s']}")
    print(
        f"services: {chosen['services_transactions']:,} transactions, "
        f"{chosen['services_gas_used'] / 1e9:.2f} G gas; certificates "
        f"{chosen['certificates_issued']:,} issued, {chosen['certificates_cancelled']:,} "
        f"cancelled; OTC {chosen['otc_kwh']:.1f} kWh; flexibility {chosen['flexibility_kwh']:.1f} "
        f"kWh (congested slots {chosen['congested_slots'][0]} -> "
        f"{chosen['congested_slots'][1]}); dividends {chosen['dividends_paid']:.4f}; money "
        f"conserved {chosen['money_conserved']}"
    )


if __name__ == "__main__":
    main()
