"""A generated island of any size (the benchmark's 50 entities, tests' small islands): one
station in ten of each kind (PV, wind, diesel), four prosumers in ten, the rest consumers."""

from __future__ import annotations

from typing import Any

from peergrid.microgrid.config import MicrogridScenario, microgrid_scenario_from_dict


def generated_island(entities: int, **parameters: Any) -> MicrogridScenario:
    """An island of ``entities`` entities (at least 5); ``parameters`` go to ``[microgrid]``."""
    if entities < 5:
        raise ValueError(f"entities must be at least 5, got {entities}")
    stations = max(entities // 10, 1)
    prosumers = max(4 * entities // 10, 1)
    rows: list[dict[str, Any]] = []
    for i in range(stations):
        rows.append(_station("pv", i, 30.0, 60.0))
        rows.append(_station("wind", i, 20.0, 40.0))
        rows.append(_station("diesel", i, 15.0, 30.0))
    for i in range(prosumers):
        rows.append(
            {
                "name": f"prosumer-{i + 1}",
                "kind": "prosumer",
                "load_kw": 0.4 + 0.05 * (i % 5),
                "generation_kw": 3.0 + 0.5 * (i % 4),
                "battery_kwh": 8.0 + 2.0 * (i % 3),
                "battery_initial_kwh": 4.0,
            }
        )
    for i in range(entities - len(rows)):
        rows.append(
            {"name": f"consumer-{i + 1}", "kind": "consumer", "load_kw": 0.4 + 0.1 * (i % 8)}
        )
    return microgrid_scenario_from_dict({"microgrid": parameters, "entities": rows})


def _station(kind: str, i: int, kw: float, kwh: float) -> dict[str, Any]:
    return {
        "name": f"{kind}-{i + 1}",
        "kind": kind,
        "generation_kw": kw,
        "battery_kwh": kwh,
        "battery_initial_kwh": kwh / 2,
        "battery_power_kw": kw,
    }
