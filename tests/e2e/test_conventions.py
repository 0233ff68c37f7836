"""The command line's conventions: one meaning per short option, output folders and files,
metavars in help, --version, `run --no-ledger`, and `chain up` stopped by SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from peergrid.cli import app
from peergrid.mechanisms.registry import MECHANISMS

from .test_cli import ROOT, peergrid

HELP = [
    ("--help",),
    ("demo", "--help"),
    ("run", "--help"),
    ("clear", "--help"),
    ("mechanisms", "--help"),
    ("reproduce", "dpda", "--help"),
    ("reproduce", "vdma", "--help"),
    ("grid", "list", "--help"),
    ("grid", "show", "--help"),
    ("grid", "distances", "--help"),
    ("grid", "validate", "--help"),
    ("chain", "up", "--help"),
    ("bench", "gas", "--help"),
    ("sweep", "--help"),
    ("region", "--help"),
]


def _help(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("args", HELP, ids=[" ".join(a[:-1]) or "peergrid" for a in HELP])
def test_help_shows_what_a_value_is_not_a_python_type(args: tuple[str, ...]) -> None:
    text = _help(*args)
    assert not re.search(r"<(bool|str|int|float|list\[str\])>", text), text


def test_short_options_mean_one_thing() -> None:
    meanings: dict[str, set[str]] = {}
    for args in HELP:
        for short, long in re.findall(r"(--[a-z-]+)\s+(-[a-z])\s", _help(*args)):
            meanings.setdefault(long, set()).add(short)
    assert meanings == {
        "-v": {"--verbose"},
        "-o": {"--output"},
        "-q": {"--quiet"},
        "-m": {"--mechanism"},
        "-p": {"--port"},
    }


def test_clear_help_lists_every_mechanism() -> None:
    text = " ".join(_help("clear", "--help").split())
    for name in MECHANISMS:
        assert name in text


def test_output_folders_and_files() -> None:
    for args in (("demo", "--help"), ("run", "--help"), ("reproduce", "dpda", "--help")):
        text = _help(*args)
        assert "--output" in text and "<folder>" in text and "--overwrite" in text
    text = _help("grid", "show", "--help")
    assert "--out-file" in text and "--picture" not in text and "--overwrite" in text


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout == "peergrid 0.1.0\n"


def test_the_order_file_is_the_argument_or_orders(tmp_path: Path) -> None:
    book = ROOT / "examples" / "orders-thesis-table-2-2.json"
    by_argument = CliRunner().invoke(app, ["clear", str(book)])
    by_option = CliRunner().invoke(app, ["clear", "--orders", str(book)])
    from_stdin = CliRunner().invoke(app, ["clear", "-"], input=book.read_bytes())
    assert by_argument.exit_code == by_option.exit_code == from_stdin.exit_code == 0
    assert by_argument.stdout == by_option.stdout == from_stdin.stdout
    assert json.loads(by_argument.stdout)["price"] == 16.5


def test_grid_validate_lists_every_violation(tmp_path: Path) -> None:
    heavy = tmp_path / "heavy.csv"
    heavy.write_text("slot,p_kw:34,p_kw:47\n0,300,300\n1,1,1\n")
    result = CliRunner().invoke(app, ["grid", "validate", "ieee-eu-lv", str(heavy)])
    assert result.exit_code == 1, result.stderr
    report = CliRunner().invoke(app, ["grid", "validate", "ieee-eu-lv", str(heavy), "--json"])
    violations = [v for s in json.loads(report.stdout)["slots"] for v in s["violations"]]
    assert violations
    assert f"{len(violations)} violation(s)" in result.stdout
    for v in violations:
        assert v["kind"] in result.stdout and v["element"] in result.stdout


SHORT = """
name = "short"
seed = 7
[households]
count = 4
[time]
slot_minutes = 240
[grid]
power_flow = false
"""


def test_run_no_ledger_and_the_overwrite_rule(tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(SHORT)
    out = tmp_path / "out"
    first = peergrid("run", str(scenario), "-o", str(out), "--no-ledger", "--quiet")
    assert first.returncode == 0, first.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ledger"] is False
    # A second run into the same folder is refused before any work, unless --overwrite.
    (out / "notes.txt").write_text("mine")
    again = peergrid("run", str(scenario), "-o", str(out), "--no-ledger", "--quiet")
    assert again.returncode == 2
    assert again.stderr.strip().splitlines() == [
        f"error: {out}: the folder is not empty (an earlier run's results?); choose another "
        "folder with --output or pass --overwrite"
    ]
    # With --overwrite the run's files are replaced (both table formats), nothing else.
    (out / "slots.parquet").write_text("stale")
    scenario.write_text(SHORT + '[output]\nformat = "parquet"\n')
    done = peergrid("run", str(scenario), "-o", str(out), "--no-ledger", "--quiet", "--overwrite")
    assert done.returncode == 0, done.stderr
    assert (out / "notes.txt").read_text() == "mine"
    assert not (out / "slots.csv").exists()
    assert (out / "slots.parquet").read_bytes()[:4] == b"PAR1"


def test_extreme_but_valid_scenario_gives_finite_results(tmp_path: Path) -> None:
    """Every bound at its largest: the summary holds no NaN and no infinity."""
    scenario = tmp_path / "extreme.toml"
    scenario.write_text(
        """
name = "extreme"
[households]
count = 3
pv_share = 1.0
annual_consumption_kwh = [1000000.0, 1000000.0]
pv_kwp = [1000.0, 1000.0]
[time]
slot_minutes = 720
[market]
mechanism = "dpda+score"
min_order_kwh = 0.001
penalty_per_kwh = 281474976.0
[market.params]
distance_charge_per_m = 281474.0
[tariffs]
retail_per_kwh = 281474976.0
feed_in_per_kwh = 281474975.0
network_fee_per_kwh = 281474976.0
[grid]
v_min_pu = 1.0
v_max_pu = 1.0000001
max_line_loading_pct = 1000.0
max_trafo_loading_pct = 0.001
[ledger]
deposit_per_member = 1e12
market = "community"  # the batch market takes 32-bit prices; the community contract 48-bit
"""
    )
    out = tmp_path / "out"
    done = peergrid("run", str(scenario), "-o", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    text = (out / "summary.json").read_text()
    json.loads(text, parse_constant=_refuse)  # no NaN, Infinity or -Infinity
    summary = json.loads(text)
    assert summary["consumption_kwh"] > 1000 and abs(summary["community_bill"]) > 1e9


def _refuse(name: str) -> float:
    raise AssertionError(f"summary.json holds {name}")


@pytest.mark.slow
def test_chain_up_stopped_by_sigterm_leaves_nothing_behind(tmp_path: Path) -> None:
    from peergrid.core.errors import PeergridError
    from peergrid.ledger.chain.anvil import find_anvil

    try:
        find_anvil(ROOT)
    except PeergridError:
        pytest.skip("anvil is not installed (npm ci)")
    temp = tmp_path / "tmp"
    temp.mkdir()
    state = tmp_path / "state" / "chain.json"
    env = dict(os.environ, TMPDIR=str(temp), PYTHONPATH=str(ROOT / "src"))
    node = subprocess.Popen(
        [sys.executable, "-m", "peergrid", "chain", "up", "--port", "0", "--state", str(state)],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert node.stderr is not None
        line = node.stderr.readline()
        assert "anvil at http://127.0.0.1:" in line, line
        assert [p.name for p in temp.iterdir() if p.name.startswith("peergrid-anvil-")]
        node.send_signal(signal.SIGTERM)
        assert node.wait(timeout=60) == 0
    finally:
        if node.poll() is None:
            node.kill()
            node.wait()
        if node.stderr is not None:
            node.stderr.close()
    assert list(temp.iterdir()) == []  # the log's temporary folder is gone
    deadline = time.monotonic() + 10
    while not state.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert state.exists()  # anvil stopped gracefully: it wrote its state
