"""``peergrid region``: the region file's checks, the feeders it builds, the MV grid's power flow
against pandapower's, and a tiny region on Ray (two workers)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandapower as pp
import pandas as pd
import pytest
from typer.testing import CliRunner

from peergrid.cli import app
from peergrid.grid.feeder_types import GridLimits
from peergrid.sim.region import RegionError, load_region
from peergrid.sim.region.execute import RegionOutcome, _mv
from peergrid.sim.region.mv import check_mv, connect, load_mv_net
from peergrid.sim.region.report import feeders_frame, import_profile, region_figures

ROOT = Path(__file__).resolve().parents[2]
BASE = """
name = "tiny"
seed = 11

[households]
count = 4

[time]
slot_minutes = 60

[ledger]
enabled = false
"""
MV = "1-MV-rural--0-sw"


def _files(tmp_path: Path, region: str) -> Path:
    (tmp_path / "base.toml").write_text(BASE, encoding="utf-8")
    path = tmp_path / "region.toml"
    path.write_text(region, encoding="utf-8")
    return path


def test_every_grid_of_a_type_copied_with_their_own_seeds(tmp_path: Path) -> None:
    region = load_region(
        _files(tmp_path, 'base = "base.toml"\n[feeders]\nsimbench_type = "rural"\ncopies = 2\n')
    )
    grids = [f.grid for f in region.feeders]
    assert grids == [f"simbench:1-LV-rural{k}--0-sw" for k in (1, 1, 2, 2, 3, 3)]
    assert [f.scenario.seed for f in region.feeders] == [11 + k for k in range(6)]
    assert [f.feeder_id for f in region.feeders][:2] == ["0000-rural1", "0001-rural1"]
    copies = load_region(_files(tmp_path, 'base = "base.toml"\ndays = 2\n[feeders]\ncopies = 3\n'))
    assert [f.grid for f in copies.feeders] == ["ieee-eu-lv"] * 3  # the base's feeder
    assert {f.scenario.time.days for f in copies.feeders} == {2}
    assert {f.scenario.households.count for f in copies.feeders} == {4}


def test_households_one_per_load_bus(tmp_path: Path) -> None:
    region = load_region(
        _files(
            tmp_path,
            'base = "base.toml"\nhouseholds = "buses"\n[feeders]\n'
            'grids = ["simbench:1-LV-rural1--0-sw"]\n',
        )
    )
    assert region.feeders[0].scenario.households.count == 13  # rural1's load buses


@pytest.mark.parametrize(
    ("region", "message"),
    [
        ('base = "none.toml"\n', "base: scenario file .* not found"),
        ('base = "base.toml"\n[feeders]\nsimbench_type = "alpine"\n', "no SimBench LV grid"),
        ('base = "base.toml"\n[feeders]\ngrids = ["nowhere"]\n', r"feeders\.grids\[0\]"),
        (
            'base = "base.toml"\n[feeders]\ngrids = ["ieee-eu-lv"]\nsimbench_type = "rural"\n',
            "grids or simbench_type, not both",
        ),
        ('base = "base.toml"\n[feeders]\ncopies = 0\n', "feeders.copies"),
        ('base = "base.toml"\n[mv]\ngrid = "1-LV-rural1--0-sw"\n', "not a SimBench MV grid"),
        (
            'base = "base.toml"\n[feeders]\nsimbench_type = "rural3"\ncopies = 8\n'
            f'[mv]\ngrid = "{MV}"\n',
            "7 LV substations of profile 'lv_rural3'",
        ),
        ('base = "base.toml"\n[fixed]\n"households.count" = 3\n', "set by the region"),
        ('base = "base.toml"\n[fixed]\n"time.days" = 0\n', r"fixed: time\.days"),
        ('base = "base.toml"\ncolour = 1\n', "colour: unknown key"),
    ],
)
def test_a_bad_region_file_is_one_line(tmp_path: Path, region: str, message: str) -> None:
    path = _files(tmp_path, region)
    with pytest.raises(RegionError, match=message) as caught:
        load_region(path)
    assert "\n" not in str(caught.value) and str(caught.value).startswith(str(path))


def test_the_command_refuses_a_bad_file_with_exit_status_2(tmp_path: Path) -> None:
    path = _files(tmp_path, 'base = "base.toml"\n[feeders]\nsimbench_type = "alpine"\n')
    out = CliRunner().invoke(app, ["region", str(path), "-o", str(tmp_path / "out")])
    assert out.exit_code == 2
    assert len(out.stderr.strip().splitlines()) == 1 and "alpine" in out.stderr


@pytest.fixture(scope="module")
def mv_net() -> object:
    return load_mv_net(MV)


@pytest.mark.slow
def test_the_mv_check_agrees_with_pandapower(mv_net: object) -> None:
    net = copy.deepcopy(mv_net)
    connections = connect(net, [("a", "rural1"), ("b", "rural2"), ("c", None)])
    assert [c.profile for c in connections] == ["lv_rural1", "lv_rural2", "lv_rural1"]
    assert len({c.load for c in connections}) == 3
    imports = np.array([[120.0, -340.0, 55.0], [80.0, 10.0, -20.0]])
    start = pd.Timestamp("2016-06-09").date()
    slots, violations = check_mv(net, MV, connections, imports, start, 60, GridLimits())
    assert len(slots) == 2 and violations == []
    # The same slot in pandapower: the replaced loads carry the feeders' import, their PV is
    # off, the rest follow SimBench's profiles averaged over the hour.
    import simbench as sb

    reference = copy.deepcopy(mv_net)
    values = sb.get_absolute_values(reference, profiles_instead_of_study_cases=True)
    first = (pd.Timestamp("2016-06-09") - pd.Timestamp("2016-01-01")) // pd.Timedelta("15min")
    for k in range(2):
        rows = slice(first + 4 * k, first + 4 * k + 4)
        reference.load["p_mw"] = values[("load", "p_mw")].iloc[rows].mean().to_numpy()
        reference.load["q_mvar"] = values[("load", "q_mvar")].iloc[rows].mean().to_numpy()
        reference.sgen["p_mw"] = values[("sgen", "p_mw")].iloc[rows].mean().to_numpy()
        reference.sgen["q_mvar"] = 0.0
        for c, kw in zip(connections, imports[k], strict=True):
            reference.load.loc[c.load, ["p_mw", "q_mvar"]] = [kw / 1e3, 0.0]
            same = (reference.sgen.bus == c.bus) & (reference.sgen.profile == c.profile)
            reference.sgen.loc[same, "p_mw"] = 0.0
        pp.runpp(reference, tolerance_mva=1e-10)
        row = slots.iloc[k]
        assert row["hv_import_kw"] == pytest.approx(
            reference.res_ext_grid.p_mw.sum() * 1e3, abs=0.5
        )
        vm = reference.res_bus.vm_pu.dropna()
        assert row["v_min_pu"] == pytest.approx(vm.min(), abs=1e-6)
        assert row["v_max_pu"] == pytest.approx(vm.max(), abs=1e-6)
        assert row["max_line_loading_pct"] == pytest.approx(
            reference.res_line.loading_percent.max(), abs=1e-3
        )


@pytest.mark.slow
def test_a_failed_feeder_skips_the_mv_check_and_is_left_out_of_the_sums(
    tmp_path: Path,
) -> None:
    region = load_region(
        _files(tmp_path, f'base = "base.toml"\n[feeders]\ncopies = 2\n[mv]\ngrid = "{MV}"\n')
    )
    summary = {
        "households": 4,
        "consumption_kwh": 10.0,
        "imported_kwh": 6.0,
        "grid_violations": 2,
        "dso_income": 0.5,
    }
    outcome = RegionOutcome(
        [
            {
                "feeder_id": region.feeders[0].feeder_id,
                "grid": "ieee-eu-lv",
                "status": "ok",
                "error": None,
                "elapsed_s": 1.0,
                "summary": summary,
                "import_kw": [1.0] * 24,
            },
            {
                "feeder_id": region.feeders[1].feeder_id,
                "grid": "ieee-eu-lv",
                "status": "failed",
                "error": "LedgerError: down",
                "elapsed_s": 1.0,
                "summary": None,
                "import_kw": None,
            },
        ]
    )
    _mv(region, outcome)
    assert outcome.mv_slots is None and "1 feeder(s) failed" in (outcome.mv_skipped or "")
    frame = feeders_frame(region, outcome)
    figures = region_figures(region, frame, import_profile(region, outcome), outcome)
    assert (figures["feeders_ok"], figures["feeders_failed"]) == (1, 1)
    assert (figures["households"], figures["dso_income"]) == (4, 0.5)
    assert figures["violations_by_feeder"] == {region.feeders[0].feeder_id: 2}
    assert figures["self_sufficiency"] == pytest.approx(0.4)


@pytest.mark.slow
def test_a_tiny_region_on_ray(tmp_path: Path) -> None:
    path = _files(
        tmp_path,
        'base = "base.toml"\nname = "tiny-region"\n[feeders]\n'
        'grids = ["simbench:1-LV-rural1--0-sw"]\ncopies = 2\n'
        f'[mv]\ngrid = "{MV}"\n',
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["region", str(path), "-o", str(out), "--workers", "2", "-q"])
    assert result.exit_code == 0, result.output
    figures = json.loads((out / "region.json").read_text(encoding="utf-8"))
    frame = pd.read_parquet(out / "feeders.parquet")
    assert list(frame["status"]) == ["ok", "ok"]
    assert list(frame["seed"]) == [11, 12]
    # Copies with other households: other consumption.
    assert frame["consumption_kwh"].nunique() == 2
    for key in ("consumption_kwh", "p2p_traded_kwh", "dso_income", "community_bill"):
        assert figures[key] == pytest.approx(frame[key].sum())
    assert figures["mv_checked"] and figures["mv_not_converged"] == 0
    profile = pd.read_csv(out / "import_profile.csv")
    assert len(profile) == 24
    # The aggregate is the feeders' own transformer power, slot by slot.
    own = sum(
        pd.read_csv(out / "feeders" / fid / "slots.csv")["transformer_p_kw"]
        for fid in frame["feeder_id"]
    )
    assert np.allclose(profile["feeders_import_kw"], own)
    # HV import = feeders + the rest of the MV grid's load - its generation + losses (>= 0).
    losses = profile["hv_import_kw"] - (
        profile["feeders_import_kw"] + profile["other_load_kw"] - profile["other_generation_kw"]
    )
    assert (losses > 0).all() and (losses < 0.05 * profile["other_load_kw"].abs().max() + 200).all()
    # Each feeder is what `peergrid run` gives for its scenario.
    fid = frame["feeder_id"].iloc[1]
    alone = tmp_path / "alone"
    ran = CliRunner().invoke(
        app, ["run", str(out / "feeders" / fid / "scenario.toml"), "-o", str(alone), "-q"]
    )
    assert ran.exit_code == 0, ran.output
    expected = json.loads((alone / "summary.json").read_text(encoding="utf-8"))
    got = json.loads((out / "feeders" / fid / "summary.json").read_text(encoding="utf-8"))
    expected.pop("timings_s"), got.pop("timings_s")
    assert got == expected
    assert "MV grid" in (out / "summary.md").read_text(encoding="utf-8")
    assert (out / "plots" / "import_profile.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow
def test_the_example_region_loads() -> None:
    region = load_region(ROOT / "examples" / "region.toml")
    assert len(region.feeders) == 6 and len(region.mv_connections) == 6
    assert not any(f.scenario.ledger.enabled for f in region.feeders)
