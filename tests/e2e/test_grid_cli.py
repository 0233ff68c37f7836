"""The grid commands and distance-priced clearing, through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .test_cli import peergrid


def test_grid_list() -> None:
    done = peergrid("grid", "list")
    assert done.returncode == 0, done.stderr
    for name in ("ieee-eu-lv", "ieee-eu-lv-reduced", "cigre-mv-vdma", "case33bw", "simbench:"):
        assert name in done.stdout


def test_grid_show_writes_a_picture(tmp_path: Path) -> None:
    picture = tmp_path / "feeder.png"
    done = peergrid("grid", "show", "cigre-lv", "--out-file", str(picture), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["radial"] is True and summary["converged"] is True
    assert summary["households"] == 15
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_grid_distances_reproduce_the_thesis() -> None:
    done = peergrid("grid", "distances", "ieee-eu-lv-reduced", "--json")
    assert done.returncode == 0, done.stderr
    matrix = json.loads(done.stdout)
    assert matrix["metric"] == "length" and matrix["unit"] == "m"
    index = {b: i for i, b in enumerate(matrix["buses"])}

    def d(a: int, b: int) -> float:
        return float(matrix["matrix"][index[a]][index[b]])

    assert d(39, 4) == pytest.approx(121.332, abs=1e-3)
    assert d(9, 24) == pytest.approx(119.377, abs=1e-3)


def test_grid_distances_refuse_meshed_or_unknown() -> None:
    done = peergrid("grid", "distances", "nowhere")
    assert done.returncode == 2 and "unknown feeder" in done.stderr
    done = peergrid("grid", "distances", "case33bw", "--metric", "bogus")
    assert done.returncode == 2 and "unknown metric" in done.stderr


def test_grid_validate(tmp_path: Path) -> None:
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps({"buses": [34, 47], "p_kw": [[1.0, -1.0], [2.0, 0.5]]}))
    done = peergrid("grid", "validate", "ieee-eu-lv", "--injections", str(ok), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["passed"] is True and report["n_slots"] == 2

    heavy = tmp_path / "heavy.csv"
    heavy.write_text("slot,p_kw:34,p_kw:47\n0,300,300\n")
    done = peergrid("grid", "validate", "ieee-eu-lv", "--injections", str(heavy))
    assert done.returncode == 1
    assert "AC validation" in done.stdout

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"buses": [34], "p_kw": [[None]]}))
    done = peergrid("grid", "validate", "ieee-eu-lv", "--injections", str(bad))
    assert done.returncode == 2 and "bus 34" in done.stderr


def test_clear_with_score_matching_on_the_reduced_feeder() -> None:
    done = peergrid(
        "clear",
        "--mechanism",
        "dpda+score",
        "--feeder",
        "ieee-eu-lv-reduced",
        "--orders",
        "examples/orders-thesis-appendix-b.json",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    pairs = [(t["buyer"], t["seller"], t["quantity_kwh"]) for t in result["trades"]]
    assert pairs[:3] == [("B39", "S4", 16.0), ("B12", "S4", 53.25), ("B12", "S20", 6.75)]
    assert result["info"]["quotes"]["B9"]["bill"] == pytest.approx(1155.328, abs=1e-3)
    assert result["info"]["dso_income"] == pytest.approx(1.131, abs=1e-3)


def test_clear_score_refuses_bus_off_the_feeder(tmp_path: Path) -> None:
    book = tmp_path / "book.json"
    book.write_text(
        json.dumps(
            {
                "orders": [
                    {"id": "s", "side": "sell", "price": 1, "quantity_kwh": 5, "bus": "4"},
                    {"id": "b", "side": "buy", "price": 2, "quantity_kwh": 5, "bus": "500"},
                ]
            }
        )
    )
    done = peergrid(
        "clear", "-m", "dpda+score", "--feeder", "ieee-eu-lv-reduced", "--orders", str(book)
    )
    assert done.returncode == 2
    assert "'b'" in done.stderr and "'bus'" in done.stderr
