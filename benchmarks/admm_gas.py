"""Gas per ADMM iteration with the aggregator on chain, per household and per value sent.

For 10 and 55 households (example cases on cigre-lv and ieee-eu-lv-reduced, one day in hourly
periods, 10 trading partners each as in ``bder_admm.py``) and the grid-only and trade-only
designs (``households`` partition), runs ``--iterations`` iterations of consensus ADMM with the
``AdmmAggregator`` contract on the embedded chain (py-evm, Prague rules, gas from each
transaction's receipt) and prints per iteration: the gas of every agent's submission and of
the z-update (the operator's ``update`` calls), their total, the total per household, and per
value sent (a copy value in grid-only, a bid value in trade-only). **first** is iteration 1
(the contract's storage words are written for the first time: zero to non-zero), **second**
iteration 2 (the second bank's first writes), **steady** the mean of iterations 3 onwards.

    PYTHONPATH=src python benchmarks/admm_gas.py [--households 10 55] [--iterations 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from peergrid.grid.feeders import load_feeder
from peergrid.mechanisms.admm import AdmmSettings, example_case
from peergrid.sim.bder_chain import run_on_chain

FEEDERS = {10: "cigre-lv", 55: "ieee-eu-lv-reduced"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", type=int, nargs="+", default=[10, 55])
    ap.add_argument("--designs", nargs="+", default=["grid-only", "trade-only"])
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--partners", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    for n in args.households:
        case = example_case(load_feeder(FEEDERS.get(n, "ieee-eu-lv-reduced")), n)
        for design in args.designs:
            t0 = time.perf_counter()
            settings = AdmmSettings(max_iterations=args.iterations)
            run = run_on_chain(case, design, settings, max_partners=args.partners)
            wall = time.perf_counter() - t0
            built = run.aggregator.built
            T = case.periods
            if design == "grid-only":
                assert built.network is not None
                values = sum(len(r) for r in built.network.copies.rows) * T
            else:
                assert built.pairs is not None
                values = len(built.pairs) * T
            totals = [g.total for g in run.gas]
            steady = totals[2:] or totals[-1:]
            household_sub = [statistics.mean(g.submissions[:n]) for g in run.gas]
            row = {
                "households": n,
                "design": design,
                "agents": len(run.aggregator.agents),
                "values_per_iteration": values,
                "iterations": len(totals),
                "gas_first": totals[0],
                "gas_second": totals[1] if len(totals) > 1 else None,
                "gas_steady": round(statistics.mean(steady)),
                "gas_steady_per_household": round(statistics.mean(steady) / n),
                "gas_steady_per_value": round(statistics.mean(steady) / values, 1),
                "household_submission_steady": round(
                    statistics.mean(household_sub[2:] or household_sub[-1:])
                ),
                "operator_submission_steady": (
                    round(statistics.mean(g.submissions[n] for g in run.gas[2:] or run.gas[-1:]))
                    if len(run.aggregator.agents) > n
                    else None
                ),
                "update_steady": round(
                    statistics.mean(g.update for g in run.gas[2:] or run.gas[-1:])
                ),
                "wall_s": round(wall, 1),
            }
            rows.append(row)
            if not args.json:
                print(json.dumps(row), flush=True)
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
