"""``peergrid sweep``: the sweep file's checks and expansion, and a tiny sweep on Ray (two
workers) with a failing run, a resume and runs identical to ``peergrid run``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from peergrid.cli import app
from peergrid.sim.sweep import SweepError, load_sweep, run_sweep, runs_frame, write_runs_table
from peergrid.sim.sweep.execute import Progress, read_record
from peergrid.sim.sweep.spec import run_id

ROOT = Path(__file__).resolve().parents[2]
BASE = """
name = "tiny"
seed = 5

[households]
count = 6

[time]
slot_minutes = 60

[ledger]
enabled = false
"""


def _files(tmp_path: Path, sweep: str, base: str = BASE) -> Path:
    (tmp_path / "base.toml").write_text(base, encoding="utf-8")
    path = tmp_path / "sweep.toml"
    path.write_text(sweep, encoding="utf-8")
    return path


def test_grid_list_and_seeds_expand_with_stable_ids(tmp_path: Path) -> None:
    grid = load_sweep(
        _files(
            tmp_path,
            'base = "base.toml"\nseeds = [1, 2]\n[axes]\nmechanism = ["dpda", "mcafee"]\n'
            "pv_share = [0.2, 0.4, 0.6]\n",
        )
    )
    assert len(grid.runs) == 2 * 3 * 2
    assert grid.axes == ("market.mechanism", "households.pv_share", "seed")
    first = grid.runs[0]
    assert first.values == {"market.mechanism": "dpda", "households.pv_share": 0.2, "seed": 1}
    assert (first.scenario.market.mechanism, first.scenario.seed) == ("dpda", 1)
    assert first.scenario.households.count == 6  # the base's
    assert len({r.run_id for r in grid.runs}) == len(grid.runs)
    # The id hangs on the values alone: another name, another order, another file, same id.
    same = run_id({"seed": 1, "households.pv_share": 0.2, "market.mechanism": "dpda"})
    assert same == first.run_id
    listed = load_sweep(
        _files(
            tmp_path,
            'base = "base.toml"\nmode = "list"\n[axes]\n"households.pv_share" = [0.2, 0.4]\n'
            'market.mechanism = ["dpda", "mcafee"]\n',
        )
    )
    assert [r.values for r in listed.runs] == [
        {"households.pv_share": 0.2, "market.mechanism": "dpda"},
        {"households.pv_share": 0.4, "market.mechanism": "mcafee"},
    ]
    # Without the seed, the same values are another run.
    assert listed.runs[0].run_id == run_id({"market.mechanism": "dpda", "households.pv_share": 0.2})
    assert listed.runs[0].run_id != first.run_id


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ('base = "base.toml"\n[axes]\ncolour = [1]\n', "unknown axis 'colour'"),
        ('base = "base.toml"\n[axes]\n"market.colour" = [1]\n', "unknown axis 'market.colour'"),
        ('base = "base.toml"\n[axes]\npv_share = []\n', "'pv_share': an empty list"),
        ('base = "base.toml"\n[axes]\n', "axes: name at least one axis"),
        ('base = "nowhere.toml"\n[axes]\npv_share = [0.5]\n', "base: scenario file .* not found"),
        ("[axes]\npv_share = [0.5]\n", "base: missing"),
        (
            'base = "base.toml"\nmode = "list"\n[axes]\npv_share = [0.1, 0.2]\nseed = [1]\n',
            "in list mode every axis needs as many values",
        ),
        (
            'base = "base.toml"\n[axes]\npv_share = [0.5, 1.5]\n',
            r"run households.pv_share=1.5: households.pv_share: .*less than or equal to 1",
        ),
        ('base = "base.toml"\n[axes]\nname = ["a"]\n', "set by the sweep"),
        (
            'base = "base.toml"\n[axes]\npv_share = [0.5]\n"households.pv_share" = [0.6]\n',
            "named twice",
        ),
        ('base = "base.toml"\nseeds = [1]\n[axes]\nseed = [2]\n', "seed is an axis and seeds"),
        ('base = "base.toml"\nseeds = []\n[axes]\nseed = [2]\n', "seeds: must list at least"),
        ('base = "base.toml"\n[fixed]\n"time.days" = 0\n[axes]\nseed = [2]\n', r"fixed: .*days"),
        ('base = "base.toml"\n[axes]\npv_share = [0.5, 0.5]\n', "listed twice"),
        ('base = "base.toml"\ncolour = 1\n[axes]\npv_share = [0.5]\n', "colour: unknown key"),
    ],
)
def test_a_bad_sweep_file_is_one_line_naming_what_is_wrong(
    tmp_path: Path, sweep: str, message: str
) -> None:
    path = _files(tmp_path, sweep)
    with pytest.raises(SweepError, match=message) as caught:
        load_sweep(path)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith(str(path))


def test_the_command_refuses_a_bad_file_with_exit_status_2(tmp_path: Path) -> None:
    path = _files(tmp_path, 'base = "base.toml"\n[axes]\nbattery_colour = [1]\n')
    out = CliRunner().invoke(app, ["sweep", str(path), "-o", str(tmp_path / "out")])
    assert out.exit_code == 2
    assert "unknown axis 'battery_colour'" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_the_example_sweep_loads_into_at_least_four_one_day_runs() -> None:
    sweep = load_sweep(ROOT / "examples" / "sweep.toml")
    assert len(sweep.runs) >= 4
    assert all(r.scenario.time.days == 1 for r in sweep.runs)


FAILING = """
base = "base.toml"
name = "tiny-sweep"

[fixed]
"ledger.rpc" = "http://127.0.0.1:9"   # nothing listens there: a run on chain fails at once

[axes]
pv_share = [0.3, 0.6]
"ledger.enabled" = [false, true]
"""


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[Progress]]:
    folder = tmp_path_factory.mktemp("sweep")
    path = _files(folder, FAILING)
    out = folder / "out"
    states: list[Progress] = []
    sweep = load_sweep(path)
    run_sweep(sweep, out, workers=2, on_progress=lambda p: states.append(_copy(p)))
    return path, out, states


def _copy(p: Progress) -> Progress:
    return Progress(p.total, p.skipped, p.done, p.failed, p.running)


@pytest.mark.slow
def test_a_failed_run_is_recorded_and_the_sweep_goes_on(
    swept: tuple[Path, Path, list[Progress]],
) -> None:
    path, out, states = swept
    sweep = load_sweep(path)
    final = states[-1]
    assert (final.total, final.done, final.failed, final.running) == (4, 4, 2, 0)
    assert max(s.running for s in states) == 2  # two workers, both busy
    for run in sweep.runs:
        record = read_record(out, run.run_id)
        assert record is not None
        if run.scenario.ledger.enabled:
            assert record["status"] == "failed"
            assert "127.0.0.1:9" in record["error"]
            assert not (out / "runs" / run.run_id / "summary.json").exists()
        else:
            assert record["status"] == "ok" and record["error"] is None
            assert (out / "runs" / run.run_id / "summary.json").is_file()


@pytest.mark.slow
def test_runs_are_identical_to_peergrid_run(
    swept: tuple[Path, Path, list[Progress]], tmp_path: Path
) -> None:
    path, out, _ = swept
    ok = [r for r in load_sweep(path).runs if not r.scenario.ledger.enabled]
    for run in ok:
        alone = tmp_path / run.run_id
        result = CliRunner().invoke(
            app, ["run", str(out / "runs" / run.run_id / "scenario.toml"), "-o", str(alone), "-q"]
        )
        assert result.exit_code == 0, result.output
        expected = json.loads((alone / "summary.json").read_text(encoding="utf-8"))
        expected.pop("timings_s")
        record = read_record(out, run.run_id)
        assert record is not None
        assert record["summary"] == expected
        for table in ("slots.csv", "trades.csv", "households.csv"):
            swept_table = (out / "runs" / run.run_id / table).read_bytes()
            assert swept_table == (alone / table).read_bytes(), table


@pytest.mark.slow
def test_resume_skips_the_runs_with_results_and_retries_the_failed(
    swept: tuple[Path, Path, list[Progress]],
) -> None:
    path, out, _ = swept
    sweep = load_sweep(path)
    stamps = {
        r.run_id: (out / "runs" / r.run_id / "run.json").stat().st_mtime_ns for r in sweep.runs
    }
    states: list[Progress] = []
    records = run_sweep(
        sweep, out, workers=2, resume=True, on_progress=lambda p: states.append(_copy(p))
    )
    assert (states[-1].skipped, states[-1].done, states[-1].failed) == (2, 2, 2)
    for run, record in zip(sweep.runs, records, strict=True):
        after = (out / "runs" / run.run_id / "run.json").stat().st_mtime_ns
        kept = record["status"] == "ok"
        assert (after == stamps[run.run_id]) is kept
    frame = runs_frame(sweep, records)
    assert list(frame["status"]) == ["ok", "failed", "ok", "failed"]
    assert frame.loc[frame["status"] == "ok", "self_sufficiency"].notna().all()
    assert frame.loc[frame["status"] == "failed", "self_sufficiency"].isna().all()


@pytest.mark.slow
def test_the_command_writes_the_table_and_the_report(tmp_path: Path) -> None:
    path = _files(tmp_path, FAILING.replace('"ledger.enabled" = [false, true]', ""))
    out = tmp_path / "out"
    done = CliRunner().invoke(app, ["sweep", str(path), "-o", str(out), "--workers", "2", "-q"])
    assert done.exit_code == 0, done.output
    assert "2 of 2 runs ok, 0 failed" in done.stdout
    frame = pd.read_parquet(out / "runs.parquet")
    assert len(frame) == 2
    assert {
        "run_id",
        "status",
        "error",
        "households.pv_share",
        "self_sufficiency",
        "community_bill",
        "dso_income",
        "grid_violations_by_kind",
    } <= set(frame.columns)
    assert sorted(frame["households.pv_share"]) == [0.3, 0.6]
    report = (out / "summary.md").read_text(encoding="utf-8")
    assert "2 runs, 2 ok, 0 failed" in report
    assert (out / "plots" / "self_sufficiency.png").read_bytes().startswith(b"\x89PNG")
    # A second sweep into the same folder is refused unless resumed or overwritten.
    again = CliRunner().invoke(app, ["sweep", str(path), "-o", str(out), "-q"])
    assert again.exit_code == 2 and "not empty" in again.stderr


def test_the_report_plots_against_a_numeric_axis_per_mechanism(tmp_path: Path) -> None:
    from peergrid.sim.sweep import write_report

    sweep = load_sweep(
        _files(
            tmp_path,
            'base = "base.toml"\nseeds = [1, 2]\n[axes]\nmechanism = ["dpda", "mcafee"]\n'
            'pv_share = [0.2, 0.6]\n"market.params" = [{}]\n',
        )
    )
    records = [
        {
            "status": "ok" if k != 3 else "failed",
            "error": None if k != 3 else "GridError: no",
            "elapsed_s": 1.0,
            "summary": None
            if k == 3
            else {
                "self_sufficiency": 0.1 * k,
                "self_sufficiency_baseline": 0.05 * k,
                "community_bill": 10.0 + k,
                "community_bill_baseline": 20.0,
                "p2p_traded_kwh": float(k),
                "dso_income": 0.01 * k,
                "grid_violations": 0,
                "grid_violations_by_kind": {},
            },
        }
        for k in range(len(sweep.runs))
    ]
    frame = runs_frame(sweep, records)
    (tmp_path / "report").mkdir()
    table = pd.read_parquet(write_runs_table(frame, tmp_path / "report"))
    assert list(table["market.params"]) == ["{}"] * 8
    assert list(table["status"]).count("failed") == 1
    paths = write_report(sweep, frame, tmp_path / "report")
    assert {"self_sufficiency", "community_bill", "p2p_traded_kwh", "dso_income"} <= set(paths)
    text = paths["summary"].read_text(encoding="utf-8")
    assert "8 runs, 7 ok, 1 failed" in text
    assert "Against `pv_share`, one line per mechanism (mean over market.params, seed)" in text
    assert f"`{sweep.runs[3].run_id}`: GridError: no" in text
