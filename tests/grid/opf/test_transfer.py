"""The transfer OPF behind OCDA: limits respected (checked by pandapower's AC power flow), the
relaxation tight, the shortfall only where the network refuses, and feeders without the data
refused in one line."""

from __future__ import annotations

import copy

import pytest

from peergrid.core.errors import GridError
from peergrid.grid.feeder_types import Feeder
from peergrid.grid.feeders import load_feeder
from peergrid.grid.opf.transfer import TransferOPF, base_draws_kw
from peergrid.grid.service import ServiceDelivery

from .conftest import ac_state, case33bw


@pytest.fixture(scope="module")
def vdma() -> Feeder:
    return load_feeder("cigre-mv-vdma")


@pytest.fixture(scope="module")
def opf(vdma: Feeder) -> TransferOPF:
    return TransferOPF(vdma)


def test_base_draws_are_table_1(vdma: Feeder) -> None:
    p, q = base_draws_kw(vdma)
    assert sum(p.values()) == pytest.approx(8857.65 - 7610.0)
    assert sum(q.values()) == pytest.approx(2678.9)
    assert p[4] == pytest.approx(430.0 - 6000.0)


def test_an_unconstrained_transfer_is_served_whole(opf: TransferOPF, vdma: Feeder) -> None:
    result = opf.solve("up", 14, {13: 100.0, 7: 100.0}, 150.0)
    assert result.transferred_kwh == pytest.approx(150.0, abs=1e-9)
    assert result.max_relaxation_gap < 1e-5
    # Losses: the nearer offer (13, one hop from 14) carries more than the far one (7, 8 hops).
    assert result.dispatch_kwh[13] > result.dispatch_kwh.get(7, 0.0)


def test_the_line_limit_caps_an_upward_transfer_and_ac_agrees(
    opf: TransferOPF, vdma: Feeder
) -> None:
    # The 6 MW unit at bus 4 loads line 3-4 to 83.5 %: more upward service from it congests.
    result = opf.solve("up", 14, {4: 6000.0}, 6000.0)
    got = result.dispatch_kwh[4]
    assert 100.0 < got < 2000.0
    assert result.max_relaxation_gap < 1e-5
    loading, v_min, v_max = ac_state(vdma, "up", [ServiceDelivery(14, 4, got)])
    assert loading <= 100.5
    assert vdma.limits.v_min_pu <= v_min and v_max <= vdma.limits.v_max_pu
    # 10 % more than the OPF's answer breaks the line's limit.
    assert ac_state(vdma, "up", [ServiceDelivery(14, 4, got * 1.1)])[0] > 100.5


def test_downward_service_relieves_that_line(opf: TransferOPF, vdma: Feeder) -> None:
    result = opf.solve("down", 14, {4: 6000.0}, 6000.0)
    assert result.dispatch_kwh == {4: 6000.0}
    assert ac_state(vdma, "down", [ServiceDelivery(14, 4, 6000.0)])[0] <= 100.0


def test_earlier_matches_count(opf: TransferOPF) -> None:
    alone = opf.solve("up", 14, {4: 6000.0}, 6000.0).transferred_kwh
    after = opf.solve("up", 14, {4: 6000.0}, 6000.0, [ServiceDelivery(14, 4, 300.0)])
    assert after.transferred_kwh == pytest.approx(alone - 300.0, rel=1e-3)


def test_feeders_without_the_data_are_refused(vdma: Feeder) -> None:
    with pytest.raises(GridError, match="without a current rating"):
        TransferOPF(case33bw())
    empty = copy.deepcopy(vdma)
    empty.net.load = empty.net.load.iloc[0:0]
    with pytest.raises(GridError, match="no base-case loads"):
        TransferOPF(empty)
    with pytest.raises(GridError, match="unknown pool"):
        TransferOPF(vdma).solve("sideways", 14, {4: 1.0}, 1.0)
