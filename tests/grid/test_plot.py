"""Feeder pictures (geodata and tree layout) and the feeder summary."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandapower as pp
import pytest

from peergrid.core.errors import GridError
from peergrid.grid.feeders import load_feeder
from peergrid.grid.plot import (
    draw_feeder,
    feeder_figure,
    feeder_summary,
    geodata_positions,
    tree_layout,
)
from peergrid.grid.topology import topology

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _is_png(path: Path) -> bool:
    data = path.read_bytes()
    return len(data) > 10_000 and data.startswith(PNG_SIGNATURE)


def test_geodata_feeder_with_voltages(tmp_path: Path) -> None:
    feeder = load_feeder("cigre-mv-vdma")
    assert geodata_positions(feeder) is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(feeder.net, numba=False)
    out = draw_feeder(feeder, tmp_path / "cigre.png", vm_pu=feeder.net.res_bus.vm_pu.to_dict())
    assert out == tmp_path / "cigre.png"
    assert _is_png(out)


def test_lines_coloured_by_loading(tmp_path: Path) -> None:
    feeder = load_feeder("case33bw")
    loading = {int(i): 10.0 * n for n, i in enumerate(feeder.net.line.index)}
    fig = feeder_figure(feeder, line_loading_pct=loading)
    bars = [ax.get_ylabel() for ax in fig.axes[1:]]
    assert bars == ["line loading [%]"]
    # the colour scale reaches the highest loading, or 100 % when every line is below it
    (lines,) = [c for c in fig.axes[0].collections if c.get_array() is not None]
    assert lines.norm.vmax == max(100.0, float(lines.get_array().max()))
    assert 100.0 < lines.norm.vmax <= max(loading.values())  # lines out of service not drawn
    assert _is_png(draw_feeder(feeder, tmp_path / "loading.png", line_loading_pct=loading))


def test_line_geometries_of_the_reduced_feeder(tmp_path: Path) -> None:
    feeder = load_feeder("ieee-eu-lv-reduced")
    positions = geodata_positions(feeder)
    assert positions is not None and len(positions) == 118
    assert _is_png(draw_feeder(feeder, tmp_path / "reduced.png"))


def test_tree_layout_feeder(tmp_path: Path) -> None:
    feeder = load_feeder("kerber-dorfnetz")
    assert geodata_positions(feeder) is None  # no geodata: the tree layout is used
    xy = tree_layout(feeder)
    assert set(xy) == set(feeder.buses)
    assert xy[feeder.source_bus][1] == 0.0
    topo = topology(feeder)
    ids = topo.buses.tolist()
    for a, b in zip(topo.u.tolist(), topo.v.tolist(), strict=True):
        assert abs(xy[ids[a]][1] - xy[ids[b]][1]) == 1.0  # every branch spans one level
    assert len(set(xy.values())) == len(xy)  # no two buses drawn on top of each other
    vm = dict.fromkeys(feeder.buses, 1.0)  # a flat profile still draws
    assert _is_png(draw_feeder(feeder, tmp_path / "kerber.png", vm_pu=vm))


def test_voltages_for_no_bus_are_refused(tmp_path: Path) -> None:
    with pytest.raises(GridError, match="vm_pu covers none"):
        draw_feeder(load_feeder("case33bw"), tmp_path / "x.png", vm_pu={999: 1.0})


def test_summary_of_cigre_mv_vdma() -> None:
    summary = feeder_summary(load_feeder("cigre-mv-vdma"))
    assert summary["buses"] == 15
    assert summary["lines"] == 15
    assert summary["transformers"] == 2
    assert summary["households"] == 13
    assert summary["vn_kv"] == 20.0
    assert summary["radial"] is True
    assert summary["converged"] is True
    assert summary["v_min_pu"] == pytest.approx(1.0064, abs=1e-4)
    assert summary["v_max_pu"] == pytest.approx(1.0373, abs=1e-4)
    assert summary["total_line_length_m"] == pytest.approx(24_950.0)


def test_summary_of_the_reduced_feeder_and_a_meshed_net() -> None:
    summary = feeder_summary(load_feeder("ieee-eu-lv-reduced"))
    assert summary["total_line_length_m"] == pytest.approx(1185.749, abs=1e-3)
    assert (summary["buses"], summary["lines"], summary["households"]) == (118, 116, 55)
    meshed = load_feeder("case33bw")
    meshed.net.line["in_service"] = True  # all five tie lines closed
    summary = feeder_summary(meshed)
    assert summary["radial"] is False
    assert summary["converged"] is True
    assert summary["lines"] == 37
