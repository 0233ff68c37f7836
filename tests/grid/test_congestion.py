"""Congestion screening: a SimBench feeder whose transformer EVs overload in the evening."""

from __future__ import annotations

import numpy as np
import pytest

from peergrid.core.errors import GridError
from peergrid.grid.congestion import (
    LOADING_MARGIN_PCT,
    CongestionScreen,
    element_values,
)
from peergrid.grid.feeder_types import GridLimits
from peergrid.grid.feeders import load_feeder
from peergrid.grid.sensitivity import LinearSensitivity

FEEDER = "simbench:1-LV-rural1--0-sw"


@pytest.fixture(scope="module")
def screen() -> CongestionScreen:
    feeder = load_feeder(FEEDER)
    return CongestionScreen(feeder, feeder.household_buses)


def loads(screen: CongestionScreen, kw: float, slots: int = 3) -> np.ndarray:
    p = np.full((slots, len(screen.buses)), 2.0)
    p[1:] = kw  # slot 0: light; later slots: every household at kw
    return p


def test_no_congestion_no_need(screen: CongestionScreen) -> None:
    assert screen.screen(np.full((2, len(screen.buses)), 2.0)) == []


def test_transformer_overload_is_found_and_sized(screen: CongestionScreen) -> None:
    p = loads(screen, 14.0)
    result = screen.run(p)
    found = screen.screen(p, result)
    assert [c.slot for c in found] == [1, 2]
    c = found[0]
    assert (c.element, c.kind, c.direction) == ("trafo 0", "trafo_overload", "down")
    loading = element_values(result, "trafo 0")
    assert c.value == pytest.approx(loading[1]) and c.value > 100.0
    # every LV bus is downstream of the transformer and relieves it (about 100 % / 160 kVA)
    assert set(c.area) == set(screen.candidates)
    best_bus = max(c.relief_per_kw, key=c.relief_per_kw.__getitem__)
    assert 0.55 < c.relief_per_kw[best_bus] < 0.75
    assert c.kw == pytest.approx((c.value - 100.0 + LOADING_MARGIN_PCT) / c.relief_per_kw[best_bus])
    # the need drawn less at the best bus: the linear estimate lands at the limit less the margin
    buses = [*screen.buses, best_bus]
    sens = LinearSensitivity(screen.feeder, buses, np.r_[p[1], 0.0], model=screen.check.model)
    delta = np.zeros(len(buses))
    delta[-1] = -c.kw
    estimate = sens.estimate(delta)
    assert estimate.trafo_loading_pct[0] == pytest.approx(100.0 - LOADING_MARGIN_PCT, abs=0.05)
    # and the AC check agrees that it is relieved
    relieved = p[1:2].copy()
    relieved[0, screen.buses.index(best_bus)] -= c.kw
    assert element_values(screen.run(relieved), "trafo 0")[0] < 100.0


def test_line_area_is_downstream(screen: CongestionScreen) -> None:
    feeder = screen.feeder
    tight = CongestionScreen(
        feeder, feeder.household_buses, limits=GridLimits(max_line_loading_pct=20.0)
    )
    found = [c for c in tight.screen(loads(tight, 10.0, 2)) if c.kind == "line_overload"]
    assert found
    for c in found:
        line = int(c.element.split()[1])
        row = feeder.net.line.loc[line]
        ends = {int(row.from_bus), int(row.to_bus)}
        # the far end is in the area, the near end (toward the source) is not
        assert len(ends & set(c.area)) == 1
        assert set(c.area) < set(tight.candidates)


def test_undervoltage_asks_for_less_drawn(screen: CongestionScreen) -> None:
    feeder = screen.feeder
    tight = CongestionScreen(
        feeder, feeder.household_buses, limits=GridLimits(v_min_pu=1.01, max_trafo_loading_pct=500)
    )
    found = tight.screen(loads(tight, 10.0, 2))
    assert [c.kind for c in found] == ["undervoltage"]
    assert found[0].direction == "down" and found[0].kw > 0


def test_unknown_element() -> None:
    feeder = load_feeder(FEEDER)
    screen = CongestionScreen(feeder, feeder.household_buses)
    with pytest.raises(GridError, match="no line 999"):
        element_values(screen.run(np.zeros((1, len(screen.buses)))), "line 999")


def test_reverse_flow_asks_for_more_drawn(screen: CongestionScreen) -> None:
    # every household exporting 14 kW (midday PV): the transformer overloads the other way
    found = screen.screen(np.full((1, len(screen.buses)), -14.0))
    assert [(c.element, c.direction) for c in found] == [("trafo 0", "up")]
    assert found[0].kw > 0 and all(r > 0 for r in found[0].relief_per_kw.values())
