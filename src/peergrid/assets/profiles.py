"""Real 15-minute household load and PV profiles shipped by the simbench package.

simbench ships one year (2016, 35 136 quarter hours) of normalised profiles: household loads
``H0-*`` (active power, peak 1.0) and PV infeed ``PV1``..``PV8`` (per unit of
installed power). Reading them from simbench's CSV files takes a few seconds, so the columns
peergrid uses are cached once as a compressed NumPy file in the cache directory
(``$PEERGRID_CACHE_DIR`` or ``~/.cache/peergrid``), keyed by the simbench version.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from peergrid.core.errors import ScenarioError

log = logging.getLogger(__name__)

PROFILE_YEAR_START = dt.datetime(2016, 1, 1)
PROFILE_YEAR_END = dt.date(2016, 12, 31)  # simbench's profiles cover the leap year 2016
STEPS_PER_DAY = 96
STEP_MINUTES = 15
HOUSEHOLD_LOAD_PROFILES = ("H0-A", "H0-B", "H0-C", "H0-G", "H0-H", "H0-L")
PV_PROFILES = tuple(f"PV{i}" for i in range(1, 9))

FloatArray = npt.NDArray[np.float64]


def cache_dir() -> Path:
    root = os.environ.get("PEERGRID_CACHE_DIR")
    return Path(root) if root else Path.home() / ".cache" / "peergrid"


@dataclass(frozen=True)
class ProfileLibrary:
    """Normalised yearly profiles by name: household active power and PV infeed."""

    load_p: dict[str, FloatArray]
    pv: dict[str, FloatArray]

    def window(self, start: dt.date, days: int) -> slice:
        """The profile steps covering ``days`` days from ``start`` (within simbench's 2016)."""
        first = (dt.datetime.combine(start, dt.time()) - PROFILE_YEAR_START).days
        n_steps = len(next(iter(self.load_p.values())))
        if first < 0 or days < 1 or (first + days) * STEPS_PER_DAY > n_steps:
            last = PROFILE_YEAR_START + dt.timedelta(minutes=STEP_MINUTES * (n_steps - 1))
            raise ScenarioError(
                f"time.start: {start.isoformat()} plus {days} day(s) lies outside the profile year "
                f"{PROFILE_YEAR_START.date()}..{last.date()}"
            )
        return slice(first * STEPS_PER_DAY, (first + days) * STEPS_PER_DAY)


def _simbench_version() -> str:
    from importlib.metadata import version

    return version("simbench")


def load_profile_library() -> ProfileLibrary:
    """The household and PV profiles, from the cache or (first time) from simbench."""
    path = cache_dir() / f"simbench-{_simbench_version()}-household-profiles.npz"
    if path.exists():
        with np.load(path) as data:
            return _library_from_arrays(dict(data))
    log.info("extracting simbench profiles (first run only)")
    import simbench

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        profiles = simbench.get_all_simbench_profiles(0)
    arrays: dict[str, FloatArray] = {}
    for name in HOUSEHOLD_LOAD_PROFILES:
        arrays[f"load_p/{name}"] = profiles["load"][f"{name}_pload"].to_numpy(dtype=np.float64)
    for name in PV_PROFILES:
        arrays[f"pv/{name}"] = profiles["renewables"][name].to_numpy(dtype=np.float64)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp.npz")
    np.savez_compressed(tmp, **arrays)  # type: ignore[arg-type]
    tmp.replace(path)
    return _library_from_arrays(arrays)


def _library_from_arrays(arrays: dict[str, FloatArray]) -> ProfileLibrary:
    def group(prefix: str) -> dict[str, FloatArray]:
        return {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith(prefix + "/")}

    return ProfileLibrary(load_p=group("load_p"), pv=group("pv"))
