"""``simbench:<code>``: any SimBench grid at the LV level only, by its code.

A code is ``1-LV-<grid>--<scenario>-<sw|no_sw>`` (grids rural1-3, semiurb4-5, urban6; scenarios
0, 1 or 2), e.g. ``1-LV-rural1--0-sw``; anything else is refused. Households sit at the load
buses of the lowest level (the default rule of :mod:`peergrid.grid.catalogue.common`).
"""

from __future__ import annotations

from functools import cache

from peergrid.core.errors import GridError
from peergrid.grid.catalogue.common import level_kv, lowest_level_load_buses, quietly
from peergrid.grid.feeder_types import Feeder

SIMBENCH_PREFIX = "simbench:"
SIMBENCH_EXAMPLE = "1-LV-rural1--0-sw"


@cache
def simbench_lv_codes() -> tuple[str, ...]:
    """Every SimBench code of a grid at the LV level only (36 codes in simbench 1.6)."""
    import simbench as sb

    codes = quietly(sb.collect_all_simbench_codes)
    return tuple(c for c in codes if c.split("-")[1] == "LV")


def check_simbench_code(code: str) -> None:
    """Raise :class:`GridError` unless ``code`` is a SimBench LV grid code (builds no net)."""
    valid = simbench_lv_codes()
    if code not in valid:
        grids = sorted({c.split("-")[2] for c in valid})
        raise GridError(
            f"{code!r} is not a SimBench LV grid code: expected "
            f"1-LV-<grid>--<scenario>-<sw|no_sw> with grid in {grids} and scenario 0, 1 or 2, "
            f"e.g. {SIMBENCH_EXAMPLE!r}"
        )


def simbench_lv(code: str) -> Feeder:
    """The SimBench LV grid ``code``, named ``simbench:<code>``."""
    import simbench as sb

    check_simbench_code(code)
    net = quietly(lambda: sb.get_simbench_net(code))
    households = lowest_level_load_buses(net)
    return Feeder(
        name=SIMBENCH_PREFIX + code,
        net=net,
        household_buses=households,
        vn_kv=level_kv(net, households),
        description=f"SimBench LV grid {code} ({len(households)} load buses)",
    )
