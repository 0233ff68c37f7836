"""``peergrid reproduce ev-quota``: its JSON contract, its files and what they must say."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from peergrid.cli.main import app
from peergrid.sim.reproduce.ev_quota import HEADLINE_KEYS


def test_the_chapter_is_reproduced_with_its_inconsistencies_named(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    done = CliRunner().invoke(app, ["reproduce", "ev-quota", "-o", str(folder), "--json"])
    assert done.exit_code == 0, done.output
    headline = json.loads(done.stdout.strip().splitlines()[-1])
    assert tuple(headline) == HEADLINE_KEYS
    assert headline["margin_kw"] == 323 and round(headline["beta"], 2) == 0.83
    assert len(headline["table2_rows_matched"]) == 8
    assert headline["table2_rows_matched_at_printed_margin"] == []
    assert [(t["buyer"], t["seller"]) for t in headline["trades"]] == [
        ("E", "H"),
        ("D", "H"),
        ("D", "F"),
        ("D", "C"),
        ("B", "C"),
    ]
    assert headline["payments_sum"] == 0
    assert len(headline["table4_fee_rows_matched"]) == 8
    assert headline["table4_payment_rows_matched"] == ["A", "G"]
    assert headline["table4_payment_rows_matched_uniform_last"] == ["A", "D", "E", "F", "G", "H"]

    for name in ("table1", "table2", "table3", "table4", "trades"):
        assert (folder / f"{name}.csv").exists()
    table4 = pd.read_csv(folder / "table4.csv").set_index("station")
    assert table4.loc["D", "ours_uniform_last_payment_token"] == 250.7
    assert table4.loc["C", "ours_auction_payment_token"] == -151.9
    summary = (folder / "summary.md").read_text()
    assert "we read 343 as a misprint of 323" in summary
    assert "buyers pay 397.9, sellers receive 547.4" in summary
    # A second run into the same folder needs --overwrite.
    again = CliRunner().invoke(app, ["reproduce", "ev-quota", "-o", str(folder)])
    assert again.exit_code == 2
