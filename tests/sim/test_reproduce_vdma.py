"""``peergrid reproduce vdma``: its JSON contract, its files, and what its figures must satisfy.

A short study (3 runs per s, 3 gas rounds per network) through the command line; the full
default reproduction is the slow test at the end.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from peergrid.cli import app
from peergrid.ledger.chain.gas import cost_eur

HEADLINE_KEYS = {
    "constraint_satisfaction",
    "eur_per_shout",
    "eur_per_day_per_brp",
    "eur_per_day_clearing",
}


def _reproduce(folder: Path, *args: str) -> tuple[dict[str, Any], str]:
    result = CliRunner().invoke(app, ["reproduce", "vdma", "-o", str(folder), "--json", *args])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    last = result.stdout.strip().splitlines()[-1]
    return json.loads(last), result.stderr


@pytest.fixture(scope="module")
def short(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], str]:
    folder = tmp_path_factory.mktemp("vdma")
    headline, stderr = _reproduce(folder, "--runs", "3", "--rounds", "3")
    return folder, headline, stderr


def test_the_json_is_the_contract(short: tuple[Path, dict[str, Any], str]) -> None:
    folder, headline, stderr = short
    assert set(headline) == HEADLINE_KEYS
    shares = headline["constraint_satisfaction"]
    assert set(shares) == {"cda", "ncda", "ocda"}
    assert all(0.0 <= v <= 1.0 for v in shares.values())
    assert "sessions cleared" in stderr and "gas: tree-50" in stderr  # progress, on stderr
    # the headline is what summary.json and the runs say
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["headline"] == headline
    runs = pd.read_csv(folder / "runs.csv")
    assert len(runs) == 5 * 3 * 3
    for mechanism, share in shares.items():
        assert share == pytest.approx(runs[runs.mechanism == mechanism].feasible.mean())


def test_the_files_are_written(short: tuple[Path, dict[str, Any], str]) -> None:
    folder, _, _ = short
    names = {p.name for p in folder.iterdir()}
    assert {
        "summary.md",
        "summary.json",
        "runs.csv",
        "by_s_and_mechanism.csv",
        "gas_placements.csv",
        "gas_sessions.csv",
        "gas_growth.csv",
        "network.png",
        "gas_growth.png",
    } <= names
    assert {f"s_{s:g}.csv" for s in (0.02, 0.05, 0.07, 0.1, 0.15)} <= names
    table = pd.read_csv(folder / "by_s_and_mechanism.csv")
    assert len(table) == 15 and set(table.mechanism) == {"cda", "ncda", "ocda"}
    text = (folder / "summary.md").read_text()
    for heading in ("Fig. 6", "Fig. 7a–d", "Cost (Eq. 1", "Growth up to 50 nodes"):
        assert heading in text
    assert (folder / "network.png").read_bytes()[:4] == b"\x89PNG"


def test_ocda_is_valid_to_the_models_precision(short: tuple[Path, dict[str, Any], str]) -> None:
    """The paper: OCDA "gives network valid solutions" (L71). Its OPF puts a binding line at its
    limit; the AC check of the same dispatch may find it a hair past, never past the tolerance."""
    folder, _, _ = short
    runs = pd.read_csv(folder / "runs.csv")
    ocda = runs[runs.mechanism == "ocda"]
    assert ocda.feasible_within_tolerance.all()
    assert (ocda.max_line_loading_pct <= 100.5).all()
    tolerant = runs.groupby("mechanism").feasible_within_tolerance.mean()
    assert tolerant["ocda"] >= max(tolerant["cda"], tolerant["ncda"])
    # OCDA never matches more than the ask wanted, and serves less where the limits bind
    assert (ocda.matched_kwh <= ocda.asked_kwh + 1e-6).all()


def test_the_costs_follow_eq_1_from_the_measured_gas(
    short: tuple[Path, dict[str, Any], str],
) -> None:
    folder, headline, _ = short
    cigre = json.loads((folder / "summary.json").read_text())["cost"]["cigre-mv-vdma"]
    assert headline["eur_per_shout"] == pytest.approx(cost_eur(cigre["gas_per_shout"]))
    assert headline["eur_per_day_clearing"] == pytest.approx(
        24 * cost_eur(cigre["clearing_gas_per_session"])
    )
    placements = pd.read_csv(folder / "gas_placements.csv")
    resting = placements[placements.trades == 0]
    assert cigre["gas_per_shout"] == pytest.approx(resting.gas.mean())
    # a shout is one write to the book: tens of thousands of gas, little spread (L215)
    assert 30_000 < cigre["gas_per_shout"] < 114_093
    assert resting.gas.std(ddof=0) < 0.1 * resting.gas.mean()
    # a BRP shouts in about half of the 24 sessions (f = 0.5)
    assert headline["eur_per_day_per_brp"] == pytest.approx(
        24 * (len(placements) / 15 / 3) * headline["eur_per_shout"]
    )


def test_a_short_study_repeats_the_first_runs_of_a_longer_one(
    short: tuple[Path, dict[str, Any], str], tmp_path: Path
) -> None:
    from peergrid.sim.reproduce.vdma import StudySettings, run_study

    folder, _, _ = short
    runs = pd.read_csv(folder / "runs.csv")
    again = run_study(StudySettings(runs=2, spreads=(0.1,)))
    first = runs[(runs.s == 0.1) & (runs.run < 2)].reset_index(drop=True)
    for column in ("mechanism", "asks", "offers", "trades", "feasible"):
        assert first[column].tolist() == again[column].tolist()
    assert first.matched_kwh.tolist() == pytest.approx(again.matched_kwh.tolist())


@pytest.mark.slow
@pytest.mark.long
def test_the_full_default_reproduction(tmp_path: Path) -> None:
    """100 runs per s and 300 gas rounds per network: the paper's setup (a few minutes)."""
    headline, _ = _reproduce(tmp_path / "full")
    assert set(headline) == HEADLINE_KEYS
    summary = json.loads((tmp_path / "full" / "summary.json").read_text())
    assert summary["constraint_satisfaction_within_tolerance"]["ocda"] == 1.0
    slopes = summary["cost"]["log_log_slopes"]
    assert 0.8 <= slopes["placement"] <= 1.2  # "almost linear" (L197)
    assert 1.0 < slopes["matching"] <= 2.0  # "more than linear", at most quadratic (L197, L221)
    assert 0.01 < headline["eur_per_shout"] < 0.2
