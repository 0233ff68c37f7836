"""``peergrid deploy`` as a user runs it: what is refused before anything is deployed, and the
addresses file it writes on a node (anvil)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from peergrid.ledger.chain.anvil import ANVIL_DEV_ADDRESSES, AnvilProcess, start_anvil

from .test_cli import peergrid

NO_NODE = "http://127.0.0.1:9"  # nothing answers there: a refusal must come before connecting


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    """The one line the CLI's error boundary prints, with exit status 2."""
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--supply-micro", "0"], "error: deploy: the token supply must be > 0 micro-units, got 0"),
        (["--supply-micro", "-1"], "error: deploy: the token supply must be > 0 micro-units"),
        (["--market", "auction"], "error: deploy: unknown market 'auction'"),
        (["--clearing-deadline", "0"], "error: deploy: the clearing deadline must be 1 to"),
    ],
)
def test_bad_options_are_refused_before_connecting(
    tmp_path: Path, options: list[str], words: str
) -> None:
    out = tmp_path / "deployment.json"
    done = peergrid("deploy", "--rpc", NO_NODE, "--out-file", str(out), *options)
    assert one_line_error(done).startswith(words)
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_cannot_be_written_is_refused_before_connecting(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    done = peergrid("deploy", "--rpc", NO_NODE, "--out-file", str(blocker / "deployment.json"))
    assert one_line_error(done).startswith(f"error: deploy: cannot write {blocker}/deployment.json")
    existing = tmp_path / "deployment.json"
    existing.write_text("{}")
    done = peergrid("deploy", "--rpc", NO_NODE, "--out-file", str(existing))
    assert one_line_error(done) == (
        f"error: deploy: {existing} exists; pass --overwrite to replace it"
    )
    assert existing.read_text() == "{}"


def test_the_short_output_option_is_gone(tmp_path: Path) -> None:
    done = peergrid("deploy", "--rpc", NO_NODE, "-o", str(tmp_path / "x.json"))
    assert done.returncode == 2
    assert "No such option: -o" in done.stderr


@pytest.fixture(scope="module")
def anvil() -> Iterator[AnvilProcess]:
    node = start_anvil()
    try:
        yield node
    finally:
        node.close()


@pytest.mark.slow
def test_deploy_writes_every_address_the_operator_needs(
    anvil: AnvilProcess, tmp_path: Path
) -> None:
    out = tmp_path / "out" / "deployment.json"
    done = peergrid("deploy", "--rpc", anvil.url, "--out-file", str(out))
    assert done.returncode == 0, done.stderr
    document = json.loads(out.read_text())
    assert (document["format"], document["market"]) == (2, "batch")
    assert set(document["contracts"]) == {"SettlementToken", "BatchMarket"}
    assert document["accounts"] == {
        "operator": ANVIL_DEV_ADDRESSES[1],
        "dso": ANVIL_DEV_ADDRESSES[2],
        "issuer": ANVIL_DEV_ADDRESSES[3],
        "meter": ANVIL_DEV_ADDRESSES[4],
    }
    assert document["parameters"]["clearing_deadline_s"] == 1800
    for name, address in {**document["contracts"], **document["accounts"]}.items():
        assert f"{name}: {address}" in done.stderr
    # Again: refused, the file untouched; with --overwrite, the community market replaces it.
    before = out.read_text()
    done = peergrid("deploy", "--rpc", anvil.url, "--out-file", str(out))
    assert one_line_error(done).endswith("exists; pass --overwrite to replace it")
    assert out.read_text() == before
    done = peergrid(
        "deploy", "--rpc", anvil.url, "--out-file", str(out), "--overwrite", "--market", "community"
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(out.read_text())
    assert document["market"] == "community"
    assert set(document["contracts"]) == {"SettlementToken", "Community"}
    assert sorted(p.name for p in out.parent.iterdir()) == ["deployment.json"]
