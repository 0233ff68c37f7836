"""``peergrid reproduce dr-scheduling``: its JSON contract, files and statements (fast, with few
prosumers and episodes), the full run (slow), and the roulette wheel's draws."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from peergrid.cli.main import app
from peergrid.sim.reproduce.dr_prices import RouletteWheel, synthetic_history
from peergrid.sim.reproduce.dr_scheduling import HEADLINE_KEYS

FAST = ["--prosumers", "12", "--episodes", "60", "--chain-every", "12", "--quiet"]


def run(folder: Path, *extra: str) -> tuple[int, str]:
    done = CliRunner().invoke(app, ["reproduce", "dr-scheduling", "-o", str(folder), *extra])
    return done.exit_code, done.stdout


def test_fast_run_writes_the_headline_last_and_names_each_claim(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    code, out = run(folder, "--json", *FAST)
    assert code == 0, out
    headline = json.loads(out.strip().splitlines()[-1])
    assert tuple(headline) == HEADLINE_KEYS
    assert headline["dr_participation"] == round(0.6 * 12) / 12
    assert -1 <= headline["price_load_correlation"] <= 1
    assert 0 <= headline["peak_reduction"] < 1  # rescheduling only ever reduces demand
    for name in ("hours.csv", "prosumers.csv", "learning.csv", "participation.csv"):
        assert (folder / name).stat().st_size > 0
    assert json.loads((folder / "headline.json").read_text()) == headline
    summary = (folder / "summary.md").read_text()
    for claim in (
        "almost the same",
        "follow the load",
        "flatter, peak lower",
        "especially in peak time slots",
        "smart contract",
    ):
        assert claim in summary
    assert "first settlement mismatches 0, final 0" in summary
    assert "**synthetic**" in summary
    hours = np.genfromtxt(folder / "hours.csv", delimiter=",", names=True)
    assert len(hours) == 48
    assert (hours["dr_price"] <= hours["upstream_price"] + 1e-6).all()
    # A second run into the same folder needs --overwrite.
    assert run(folder, *FAST)[0] == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prosumers", "141"], "--prosumers: out of range"),
        (["--participation", "1.5"], "--participation: out of range"),
        (["--episodes", "0"], "--episodes: out of range"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    done = CliRunner().invoke(app, ["reproduce", "dr-scheduling", "-o", str(tmp_path / "o"), *args])
    assert done.exit_code == 2
    assert message in done.output and len(done.output.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_full_run_holds_the_chapters_claims(tmp_path: Path) -> None:
    code, out = run(tmp_path / "out", "--json", "--quiet")
    assert code == 0, out
    headline = json.loads(out.strip().splitlines()[-1])
    assert abs(headline["profit_gap_to_aggregator"]) <= 0.05
    assert headline["peak_reduction"] > 0.1
    assert headline["price_load_correlation"] > 0.5
    assert headline["dr_participation"] == 0.6
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "first settlement mismatches 0, final 0" in summary


def test_roulette_wheel_draws_follow_the_history() -> None:
    history = synthetic_history()
    wheel = RouletteWheel.from_history(history, bins=10)
    assert np.allclose(wheel.frequency.sum(axis=2), 1.0)
    rng = np.random.default_rng(5)
    draws = np.array([wheel.spin(rng, 0) for _ in range(4000)])
    counts = np.array([np.bincount(wheel.bin_of(0, d), minlength=10) for d in draws]).sum(axis=0)
    # Summed over the 24 hours: the drawn bins' shares match the history's within 1.5 points.
    expected = wheel.frequency[0].sum(axis=0) / 24
    assert np.abs(counts / counts.sum() - expected).max() < 0.015
    assert ((draws >= wheel.edges[0, :, 0]) & (draws <= wheel.edges[0, :, -1])).all()
    # The evening is dearer than the night, as in the history.
    assert wheel.mean(0)[18] > wheel.mean(0)[3]
