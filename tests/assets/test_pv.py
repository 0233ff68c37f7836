"""The PV model: its availability series and its inverter's limits."""

from __future__ import annotations

import numpy as np
import pytest

from peergrid.assets.pv import PVSystem
from peergrid.core.errors import GridError


def test_availability_becomes_a_float_series() -> None:
    pv = PVSystem("roof", 4, [0, 1, 2])  # type: ignore[arg-type]
    assert pv.available_kw.dtype == np.float64
    assert pv.available_kw.tolist() == [0.0, 1.0, 2.0]
    assert pv.curtailable and pv.q_max_kvar == 0.0 and pv.s_max_kva is None


def test_curtailable_output_may_exceed_the_inverter_rating() -> None:
    PVSystem("roof", 4, np.array([0.0, 6.0]), s_max_kva=5.0)  # curtailed to the rating
    with pytest.raises(GridError, match=r"pv 'roof': fixed output exceeds 's_max_kva' 5\.0"):
        PVSystem("roof", 4, np.array([0.0, 6.0]), curtailable=False, s_max_kva=5.0)


@pytest.mark.parametrize(
    ("available", "match"),
    [
        ([1.0, -1.0], "'available_kw' is negative"),
        ([1.0, float("nan")], "'available_kw' contains NaN"),
        ([[1.0, 2.0]], "'available_kw' must be a 1-D series"),
    ],
)
def test_bad_availability_is_refused(available: list[float], match: str) -> None:
    with pytest.raises(GridError, match=f"pv 'roof': field {match}"):
        PVSystem("roof", 4, np.array(available))


def test_bad_inverter_limits_are_refused() -> None:
    with pytest.raises(GridError, match="'q_max_kvar' must be non-negative"):
        PVSystem("roof", 4, np.ones(2), q_max_kvar=-1.0)
    with pytest.raises(GridError, match="'s_max_kva' must be positive"):
        PVSystem("roof", 4, np.ones(2), s_max_kva=0.0)
