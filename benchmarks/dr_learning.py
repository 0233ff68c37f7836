"""Speed of the prosumers' Q-learning (001a_book.md §2.2): 100 prosumers, 24 hourly slots, 1 000
episodes, each episode a full day of both settlements and one replay training step per prosumer
(the issue asks for at most 60 s).

The day is SimBench's households and PV of the reproduction (``peergrid reproduce
dr-scheduling``'s first day), each episode a new roulette-wheel price scenario.

    python benchmarks/dr_learning.py [--prosumers 100] [--episodes 1000] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np

from peergrid.mechanisms.dr.day import DayMarket
from peergrid.mechanisms.dr.learning import LearningSettings, learn_bids
from peergrid.mechanisms.dr.scheduling import prosumers_from_profiles
from peergrid.sim.reproduce.dr_prices import RouletteWheel, synthetic_history
from peergrid.sim.reproduce.dr_scheduling import DrSettings, households


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prosumers", type=int, default=100)
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    settings = DrSettings(prosumers=args.prosumers, episodes=args.episodes)
    rng = np.random.default_rng(settings.seed)
    load, pv = households(settings, rng)
    wheel = RouletteWheel.from_history(synthetic_history())
    prosumers = prosumers_from_profiles(load[:24], pv[:24], wheel.mean(0))
    market = DayMarket(
        upstream_price=wheel.spin(rng, 0),
        alpha=np.full(24, settings.alpha),
        penalty_rate=np.full(24, settings.penalty_rate),
        participants=rng.random(args.prosumers) < settings.participation,
    )
    seconds = []
    for k in range(args.repeat):
        start = time.perf_counter()
        learn_bids(
            prosumers,
            market,
            LearningSettings(episodes=args.episodes, seed=k),
            scenario=lambda r: wheel.spin(r, 0),
        )
        seconds.append(time.perf_counter() - start)
    figures = {
        "prosumers": args.prosumers,
        "slots": 24,
        "episodes": args.episodes,
        "median_s": statistics.median(seconds),
        "runs_s": seconds,
        "load_1min": os.getloadavg()[0],
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print(
            f"{args.prosumers} prosumers x 24 slots x {args.episodes} episodes: median "
            f"{figures['median_s']:.2f} s over {args.repeat} runs "
            f"({', '.join(f'{s:.2f}' for s in seconds)}); load {figures['load_1min']:.1f}"
        )


if __name__ == "__main__":
    main()
