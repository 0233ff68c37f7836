"""The example scripts in examples/ run, on small cases, and say something true."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_script_is_tested() -> None:
    scripts = {p.stem for p in EXAMPLES.glob("*.py")}
    tested = {"compare_mechanisms", "sweep_pv_share", "check_schedule", "read_chain_state"}
    assert scripts == tested


def test_compare_mechanisms(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    example = _example("compare_mechanisms")
    picture = tmp_path / "bills.png"
    example.main(["--households", "6", "--out-file", str(picture)])
    assert picture.stat().st_size > 0
    frame = example.compare(6, 1)
    assert list(frame.index) == ["dpda", "mcafee", "dpda+score", "mcafee+score"]
    # the pairing does not change which orders win, only who trades with whom
    assert frame.loc["dpda", "p2p_kwh"] == pytest.approx(frame.loc["dpda+score", "p2p_kwh"])
    # the DPDA serves demand first: it trades at least what the DAM trades
    assert frame.loc["dpda", "p2p_kwh"] >= frame.loc["mcafee", "p2p_kwh"]
    # the distance charges are the DSO's income on top of its fees
    assert frame.loc["dpda+score", "dso_income"] > frame.loc["dpda", "dso_income"]
    assert frame.attrs["bills"].shape == (6, 4)
    assert "dpda+score" in capsys.readouterr().out


def test_sweep_pv_share(tmp_path: Path) -> None:
    example = _example("sweep_pv_share")
    picture = tmp_path / "pv.png"
    example.main(["--households", "6", "--shares", "0.2", "0.8", "--out-file", str(picture)])
    assert picture.stat().st_size > 0
    frame = example.sweep([0.2, 0.8], 6, 1)
    # more PV, more self-sufficiency; and the market never makes the community less so
    assert frame.loc[0.8, "self_sufficiency"] > frame.loc[0.2, "self_sufficiency"]
    assert (frame["self_sufficiency"] >= frame["self_sufficiency_without_market"]).all()


def test_check_schedule(capsys: pytest.CaptureFixture[str]) -> None:
    example = _example("check_schedule")
    checks = example.check(ev_share=0.5)
    base, evs = checks["base load"], checks["with EVs"]
    assert len(base) == len(evs) == 96
    assert not any(c.violations for c in base)
    # 11 kW per charging household in the evening overloads the feeder's first lines
    assert min(c.v_min_pu for c in evs) < min(c.v_min_pu for c in base)
    assert any(v.kind == "line_overload" for c in evs for v in c.violations)
    example.main(["--ev-share", "0"])
    assert "with EVs" in capsys.readouterr().out


def test_read_chain_state(capsys: pytest.CaptureFixture[str]) -> None:
    example = _example("read_chain_state")
    result, members, figures = example.run_and_read(4, "community")
    assert figures["money_conserved"] is True
    # every household's money moved on chain is its bill's counterpart in the accounts
    moved = members.set_index("household")["net_moved"]
    bills = result.households.set_index("household")["ledger_net_micro"] / 1e6
    assert (moved - bills).abs().max() < 1e-9
    assert figures["gas"]["Community.settle_slot"] > 0
    example.main(["--households", "3", "--market", "community"])
    assert "money conserved: True" in capsys.readouterr().out
