"""A run's tables are streamed to disk in chunks and read back as the frames (and files) that
the whole run's rows in memory gave."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from peergrid.sim import tables
from peergrid.sim.metrics import summarise
from peergrid.sim.results import write_results
from peergrid.sim.rows import TRADE_COLUMNS, VIOLATION_COLUMNS
from peergrid.sim.runner import run_scenario
from peergrid.sim.scenario import scenario_from_dict
from peergrid.sim.tables import TableSpool

# Ints with a None (float over the whole table), bools with a None (object), a column that is
# None but once, strings, and a column that is always None.
ROWS: list[dict[str, Any]] = [
    {"n": 1, "flag": True, "rare": None, "name": "a", "never": None, "x": 0.5},
    {"n": 2, "flag": False, "rare": None, "name": "b", "never": None, "x": 1.5},
    {"n": None, "flag": None, "rare": None, "name": "c", "never": None, "x": 2},
    {"n": 4, "flag": True, "rare": 0.25, "name": "d", "never": None, "x": 3},
    {"n": 5, "flag": True, "rare": None, "name": "e", "never": None, "x": None},
]


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 100])
def test_chunks_read_back_as_the_whole_frame(tmp_path: Path, chunk_rows: int) -> None:
    spool = TableSpool(tmp_path, "t", chunk_rows=chunk_rows)
    for row in ROWS:
        spool.append(row)
    whole = pd.DataFrame(ROWS)
    pd.testing.assert_frame_equal(spool.frame(), whole)
    pd.testing.assert_frame_equal(spool.frame(["n", "x"]), whole[["n", "x"]])
    assert sum(len(c) for c in spool.chunks()) == len(ROWS) == spool.rows


def test_an_empty_table_has_its_columns(tmp_path: Path) -> None:
    spool = TableSpool(tmp_path, "t", ["a", "b"])
    pd.testing.assert_frame_equal(spool.frame(), pd.DataFrame([], columns=["a", "b"]))


def _scenario(fmt: str) -> Any:
    return scenario_from_dict(
        {
            "name": "streamed",
            "seed": 5,
            "households": {"count": 20, "pv_share": 0.6},
            "time": {"start": "2016-06-09", "days": 2},
            "market": {"forecast_error": 0.1, "late_order_share": 0.1},
            # A loading limit every slot breaks, so that there are violations to stream.
            "grid": {"power_flow": True, "max_line_loading_pct": 0.5},
            "ledger": {"enabled": False},
            "output": {"format": fmt},
        }
    )


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_streamed_run_gives_the_in_memory_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """Rows are caught on their way to the spool and made into frames as the runner did when
    it kept them in lists; tables, summary and files must be those."""
    rows: dict[str, list[dict[str, Any]]] = {"slots": [], "trades": [], "violations": []}
    append = TableSpool.append

    def keep(spool: TableSpool, row: dict[str, Any]) -> None:
        rows[spool._name].append(row)
        append(spool, row)

    monkeypatch.setattr(TableSpool, "append", keep)
    monkeypatch.setattr(tables, "CHUNK_ROWS", 50)  # many chunks: 192 slots, hundreds of trades
    scenario = _scenario(fmt)
    result = run_scenario(scenario)

    slots = pd.DataFrame(rows["slots"])
    trades = pd.DataFrame(rows["trades"], columns=TRADE_COLUMNS)
    violations = pd.DataFrame(rows["violations"], columns=VIOLATION_COLUMNS)
    assert len(slots) == 192 and len(trades) > 100 and len(violations) > 100
    assert len(result.tables.trades._chunks) > 2
    pd.testing.assert_frame_equal(result.slots, slots)
    pd.testing.assert_frame_equal(result.trades, trades)
    pd.testing.assert_frame_equal(result.violations, violations)
    in_memory = summarise(scenario, slots, result.bills, violations, None, trades)
    assert result.summary == in_memory

    write_results(result, tmp_path / "out")
    for name, frame in (("slots", slots), ("trades", trades), ("violations", violations)):
        path, whole = tmp_path / "out" / f"{name}.{fmt}", tmp_path / f"{name}.{fmt}"
        if fmt == "csv":
            frame.to_csv(whole, index=False)
            assert path.read_bytes() == whole.read_bytes(), name
        else:
            frame.to_parquet(whole, index=False)
            pd.testing.assert_frame_equal(pd.read_parquet(path), pd.read_parquet(whole))


def test_the_spool_goes_with_the_result() -> None:
    result = run_scenario(
        scenario_from_dict(
            {
                "time": {"slot_minutes": 60},
                "ledger": {"enabled": False},
                "grid": {"power_flow": False},
            }
        )
    )
    folder = result.tables.folder
    assert any(folder.iterdir())
    result.tables.remove()
    assert not folder.exists()
