"""The addresses file ``peergrid deploy`` writes: refused before deploying if it could not be
written, never over an existing file unless asked, atomic, and no temporary copy left behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from peergrid.core.errors import LedgerError
from peergrid.ledger import EmbeddedChain
from peergrid.ledger.markets import deployment as module
from peergrid.ledger.markets.deployment import (
    check_addresses_path,
    check_deploy_options,
    deploy_market,
    read_addresses,
    write_addresses,
)


@pytest.fixture(scope="module")
def batch() -> module.Deployment:
    return deploy_market(EmbeddedChain())


def test_the_batch_market_is_deployed_by_default_with_its_meter(batch: module.Deployment) -> None:
    assert batch.market == "batch"
    assert set(batch.accounts) == {"operator", "dso", "issuer", "meter"}
    assert set(batch.contracts) == {"SettlementToken", "BatchMarket"}
    assert batch.parameters == {"supply_micro": 10**15, "clearing_deadline_s": 1800}
    assert batch.keys == {}  # the embedded chain's accounts are not anvil's dev accounts


def test_options_a_deployment_would_refuse_are_refused_first() -> None:
    for market, supply, deadline, words in (
        ("auction", 1, 1800, "unknown market 'auction' (known: batch, community)"),
        ("batch", 0, 1800, "the token supply must be > 0 micro-units, got 0"),
        ("community", -5, 1800, "the token supply must be > 0 micro-units, got -5"),
        ("batch", 1, 0, "the clearing deadline must be 1 to 31622400 s, got 0"),
    ):
        with pytest.raises(LedgerError) as info:
            check_deploy_options(market, supply, deadline)
        assert str(info.value) == f"deploy: {words}"
    check_deploy_options("community", 1, 0)  # the community market has no deadline
    chain = EmbeddedChain()
    with pytest.raises(LedgerError, match="supply must be > 0"):
        deploy_market(chain, supply_micro=0)
    assert chain.gas_log.total == 0  # nothing was deployed


def test_an_existing_file_is_refused_unless_overwritten(
    batch: module.Deployment, tmp_path: Path
) -> None:
    path = write_addresses(batch, tmp_path / "deployment.json")
    assert read_addresses(path) == batch
    with pytest.raises(LedgerError, match=r"deployment\.json exists; pass --overwrite"):
        check_addresses_path(path)
    with pytest.raises(LedgerError, match="exists"):
        write_addresses(batch, path)
    path.write_text("old")
    assert write_addresses(batch, path, overwrite=True) == path
    assert read_addresses(path) == batch
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deployment.json"]


def test_a_path_that_cannot_be_written_is_refused(tmp_path: Path) -> None:
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("")
    with pytest.raises(LedgerError, match=r"cannot write .*not-a-folder/deployment\.json"):
        check_addresses_path(a_file / "deployment.json")
    with pytest.raises(LedgerError, match="is a folder, not a file"):
        check_addresses_path(tmp_path)
    # A missing folder is made; the probe leaves nothing behind.
    assert check_addresses_path(tmp_path / "new" / "deployment.json").parent.is_dir()
    assert list((tmp_path / "new").iterdir()) == []


def test_a_failed_write_leaves_no_temporary_file(
    batch: module.Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(LedgerError, match=r"cannot write .*No space left on device"):
        write_addresses(batch, tmp_path / "deployment.json")
    assert list(tmp_path.iterdir()) == []


def test_the_file_is_written_whole_or_not_at_all(
    batch: module.Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "deployment.json"
    path.write_text("the previous deployment")

    def crash(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(LedgerError, match="Input/output error"):
        write_addresses(batch, path, overwrite=True)
    assert path.read_text() == "the previous deployment"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deployment.json"]
