"""A long run's report draws bins of whole hours or days, not a bar per slot."""

from __future__ import annotations

import numpy as np
import pandas as pd

from peergrid.sim import report


def _slots(n: int) -> pd.DataFrame:
    times = pd.date_range("2016-01-01", periods=n, freq="15min")
    k = np.arange(n, dtype=float)
    frame = pd.DataFrame({"time": times.strftime("%Y-%m-%dT%H:%M")})
    for column in (*report._MEAN, *report._MIN, *report._MAX):
        frame[column] = k
    frame["network_fees"] = frame["penalties"] = frame["dso_imbalance"] = 1.0
    return frame


def test_a_short_run_is_drawn_slot_by_slot() -> None:
    drawn, span = report._plotted(_slots(report.MAX_POINTS), 15)
    assert span == "" and len(drawn) == report.MAX_POINTS


def test_a_year_is_drawn_in_bins_of_whole_hours() -> None:
    drawn, span = report._plotted(_slots(35_136), 15)
    assert span == "8 h" and len(drawn) == 35_136 // 32 <= report.MAX_POINTS
    first = drawn.iloc[0]
    assert first["time"] == "2016-01-01T00:00" and drawn.iloc[1]["time"] == "2016-01-01T08:00"
    assert first["p2p_kwh"] == np.arange(32).mean()  # mean per slot
    assert first["v_min_pu"] == 0 and first["v_max_pu"] == 31  # extremes
    assert first["fees_cumulative"] == 32  # the last of the bin
    assert first["income_cumulative"] == 3 * 32
