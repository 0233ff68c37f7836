"""Check a day's schedule against the grid: every household of the IEEE European LV feeder
draws its base load, and some charge an electric vehicle at 11 kW in the evening. Does the
feeder stay within its voltage band and its lines' ratings?

    python examples/check_schedule.py --ev-share 0.5

Prints the worst voltage and loading of the day, with and without the EVs, and every violated
limit.
"""

from __future__ import annotations

import argparse

import numpy as np

from peergrid.grid.feeders import load_feeder
from peergrid.grid.powerflow import PowerFlowCheck, SlotCheck

SLOTS = 96  # a day of 15-minute slots
EV_KW = 11.0  # a three-phase wallbox
EVENING = range(18 * 4, 21 * 4)  # 18:00 to 21:00


def schedule(n_households: int, ev_share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """kW drawn by each household in each slot (slots x households): base load alone, and base
    load with the EVs of ``ev_share`` of the households charging every evening slot."""
    rng = np.random.default_rng(seed)
    hours = np.arange(SLOTS) / 4
    # a household's daily shape: low at night, peaks in the morning and evening
    shape = 0.3 + 0.4 * np.exp(-((hours - 8) ** 2) / 2) + 0.8 * np.exp(-((hours - 19) ** 2) / 3)
    base = shape[:, None] * rng.uniform(0.6, 1.4, size=n_households)[None, :]
    with_evs = base.copy()
    chargers = rng.random(n_households) < ev_share
    with_evs[np.ix_(list(EVENING), np.flatnonzero(chargers))] += EV_KW
    return base, with_evs


def check(ev_share: float, seed: int = 1) -> dict[str, list[SlotCheck]]:
    feeder = load_feeder("ieee-eu-lv")
    checker = PowerFlowCheck(feeder, feeder.household_buses)
    base, with_evs = schedule(len(feeder.household_buses), ev_share, seed)
    return {"base load": checker.check_many(base), "with EVs": checker.check_many(with_evs)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ev-share", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    for name, checks in check(args.ev_share, args.seed).items():
        v_min = min(c.v_min_pu for c in checks)
        line = max(c.max_line_loading_pct for c in checks)
        violations = [v for c in checks for v in c.violations]
        print(
            f"{name}: lowest voltage {v_min:.3f} p.u., highest line loading {line:.0f} %, "
            f"{len(violations)} violation(s)"
        )
        for v in violations[:10]:
            print(f"  slot {v.slot}: {v.kind} {v.element} {v.value:.3f} (limit {v.limit})")


if __name__ == "__main__":
    main()
