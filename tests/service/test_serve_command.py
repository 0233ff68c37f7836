"""``peergrid serve``: bad flags are one line and exit status 2, before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import peergrid.ledger.chain.anvil as anvil
from peergrid.cli.main import app
from peergrid.core.errors import PeergridError
from peergrid.platform.service import clock_speed


@pytest.mark.parametrize(
    "args, reason",
    [
        (["--clock", "fast:0"], "--clock must be"),
        (["--clock", "slow"], "--clock must be"),
        (["--port", "70000"], "--port must be"),
        (["--bogus"], "No such option"),
        (["--chain", "ganache"], "--chain must be one of embedded, anvil"),
        (["--rpc", "http://127.0.0.1:1", "--chain", "anvil"], "--rpc and --chain anvil"),
    ],
)
def test_bad_flags_exit_2(args: list[str], reason: str) -> None:
    result = CliRunner().invoke(app, ["serve", "--scenario", "examples/demo.toml", *args])
    assert result.exit_code == 2
    assert reason in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_missing_scenario_exits_2() -> None:
    result = CliRunner().invoke(app, ["serve", "--scenario", "no-such.toml"])
    assert result.exit_code == 2
    assert "no-such.toml" in result.output


def test_clock_speeds() -> None:
    assert clock_speed("real") == 1.0
    assert clock_speed("fast:60") == 60.0
    for bad in ("fast:", "fast:-1", "fast:nan", "fast:4000", "real:2"):
        with pytest.raises(PeergridError):
            clock_speed(bad)


def test_chain_anvil_without_anvil_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = Path("examples/demo.toml").resolve()
    monkeypatch.delenv(anvil.ANVIL_ENV_VAR, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no anvil on PATH
    monkeypatch.setattr(anvil, "repository_root", lambda: tmp_path)  # nor in node_modules
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["serve", "--scenario", str(scenario), "--chain", "anvil"])
    assert result.exit_code == 2
    assert "npm ci" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "results").exists()  # refused before anything was written
