"""The DVPP off chain (002_dvpp.md): a week at 15-s intervals for 20 households, and the study.

1. **Coordination alone**: 40 320 intervals (a week at Δt_c = 15 s) for ``--households``
   batteries. Every interval reports the community's residual load at its first second (the
   substitute data of :mod:`peergrid.sim.dvpp.profiles`) and every battery's state of charge;
   the set-points come from the sorting heuristic as the contract's instruction computes it,
   and each battery's energy moves by its set-point for the 15 s (no losses: the physics is
   not what is timed). Timed twice: through the mechanism's API
   (:func:`peergrid.mechanisms.dvpp.setpoints`, checked :class:`BatteryState` objects, W) and
   through the integer path the simulation calls every second
   (:func:`peergrid.mechanisms.dvpp.setpoints_mw_units`). The issue's bound is 10 s.
2. **The whole study** (``--study``): :func:`peergrid.sim.reproduce.dvpp.reproduce_dvpp` with
   the default settings (profiles, every case second by second, the AC checks, the files).

The machine's load (``uptime``) is printed beside each figure: the machine may be shared.

    python benchmarks/dvpp_week.py [--households 20] [--study] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from peergrid.mechanisms.dvpp import (
    MILLIWATTS_PER_W,
    SOC_UNITS,
    BatteryState,
    setpoints,
    setpoints_mw_units,
)
from peergrid.sim.dvpp.profiles import ProfileSettings, community_profiles

INTERVAL_S = 15
CAPACITY_J = 8.0 * 3.6e6
P_OPT_W = 2000.0


def coordination(residual_w: np.ndarray, households: int, api: bool) -> tuple[float, int]:
    """Seconds for every interval's set-points, and the number of intervals."""
    energy = np.full(households, 0.5 * CAPACITY_J)
    ids = [f"h{i}" for i in range(households)]
    optimum_mw = [round(P_OPT_W * MILLIWATTS_PER_W)] * households
    intervals = residual_w[::INTERVAL_S]
    start = time.perf_counter()
    for target in intervals:
        soc = np.clip(energy / CAPACITY_J, 0.0, 1.0)
        if api:
            states = [BatteryState(i, float(s), P_OPT_W) for i, s in zip(ids, soc, strict=True)]
            values = np.fromiter(setpoints(states, float(target)).values(), float, households)
        else:
            units = np.rint(soc * SOC_UNITS).astype(np.int64).tolist()
            mw = setpoints_mw_units(units, optimum_mw, optimum_mw, round(target * 1000))
            values = np.asarray(mw, dtype=float) / MILLIWATTS_PER_W
        energy -= values * INTERVAL_S
    return time.perf_counter() - start, len(intervals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=20)
    parser.add_argument("--study", action="store_true", help="also time the whole study")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    profiles = community_profiles(ProfileSettings(households=args.households, days=7))
    residual = (profiles.load_w - profiles.pv_w).sum(axis=1)
    out: dict[str, Any] = {"households": args.households}
    for name, api in (("coordination_api_s", True), ("coordination_integer_s", False)):
        seconds, intervals = coordination(residual, args.households, api)
        out[name] = round(seconds, 3)
        out["intervals"] = intervals
        out[name.replace("_s", "_load")] = os.getloadavg()[0]
    if args.study:
        from peergrid.sim.reproduce.dvpp import DvppSettings, reproduce_dvpp

        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            reproduce_dvpp(Path(folder), DvppSettings(households=args.households))
            out["study_s"] = round(time.perf_counter() - start, 1)
            out["study_load"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(out))
    else:
        for key, value in out.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
