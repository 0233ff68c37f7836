"""The fixed load: active and reactive power drawn per period."""

from __future__ import annotations

import numpy as np
import pytest

from peergrid.assets.load import FixedLoad
from peergrid.core.errors import GridError


def test_reactive_power_defaults_to_zero_in_every_period() -> None:
    load = FixedLoad("home", 5, np.array([1.0, 2.0, 0.5]))
    assert load.q_kvar is not None
    assert load.q_kvar.tolist() == [0.0, 0.0, 0.0]


def test_a_net_infeed_is_a_negative_load() -> None:
    load = FixedLoad("home", 5, [1.0, -2.0], [0.1, -0.2])  # type: ignore[arg-type]
    assert load.p_kw.tolist() == [1.0, -2.0]


def test_series_of_different_lengths_are_refused() -> None:
    with pytest.raises(GridError, match="load 'home': 'q_kvar' has 3 periods, 'p_kw' 2"):
        FixedLoad("home", 5, np.ones(2), np.ones(3))
