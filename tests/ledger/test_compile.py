"""Compilation: cached by source hash, recompiled when a source changes, never hand-edited."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain import compile as compile_module
from peergrid.ledger.chain.compile import (
    CACHE_ENV_VAR,
    CONTRACT_NAMES,
    CONTRACTS_DIR,
    EVM_VERSION,
    compile_all,
    compile_contract,
    default_cache_dir,
    source_hash,
)


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    """A private copy of the contracts folder, free to edit."""
    folder = tmp_path / "contracts"
    shutil.copytree(CONTRACTS_DIR, folder)
    return folder


def test_every_contract_compiles_for_cancun(tmp_path: Path) -> None:
    artifacts = compile_all(cache_dir=tmp_path)
    assert set(artifacts) == set(CONTRACT_NAMES)
    for name, artifact in artifacts.items():
        assert artifact.name == name
        assert artifact.evm_version == EVM_VERSION == "cancun"
        assert artifact.compiler_version == "0.4.3"
        assert artifact.bytecode and artifact.runtime_bytecode
        assert artifact.runtime_bytecode in artifact.bytecode
        assert any(item["type"] == "function" for item in artifact.abi)
        # EIP-170: no deployed code above 24 576 bytes.
        assert len(artifact.runtime_bytecode) <= 24_576, name


def test_every_contract_file_is_listed() -> None:
    # Contracts are capitalised; lower-case files are the modules they embed.
    contracts = {path.stem for path in CONTRACTS_DIR.glob("*.vy") if path.stem[0].isupper()}
    assert contracts == set(CONTRACT_NAMES)


def test_the_cache_is_written_and_then_read(
    sources: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    first = compile_contract("Community", cache_dir=cache, contracts_dir=sources)
    (cached,) = cache.glob("Community-*.json")
    assert json.loads(cached.read_text())["source_hash"] == first.source_hash

    # A new process (empty memo) reads the file instead of compiling.
    monkeypatch.setattr(compile_module, "_memo", {})

    def refuse(*args: object) -> None:
        raise AssertionError("compiled although the cache holds the artifact")

    monkeypatch.setattr(compile_module, "_compile", refuse)
    assert compile_contract("Community", cache_dir=cache, contracts_dir=sources) == first


def test_a_changed_source_is_recompiled(sources: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    before = compile_contract("Community", cache_dir=cache, contracts_dir=sources)
    # Change the imported module only: its importer must be recompiled too.
    module = sources / "membership.vy"
    module.write_text(module.read_text().replace("caller is not the operator", "not operator"))
    after = compile_contract("Community", cache_dir=cache, contracts_dir=sources)
    assert after.source_hash != before.source_hash
    assert after.bytecode != before.bytecode
    assert len(list(cache.glob("Community-*.json"))) == 2


def test_a_corrupt_cache_file_is_recompiled(
    sources: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    good = compile_contract("SettlementToken", cache_dir=cache, contracts_dir=sources)
    (cached,) = cache.glob("SettlementToken-*.json")
    cached.write_text("{ not json")
    monkeypatch.setattr(compile_module, "_memo", {})
    assert compile_contract("SettlementToken", cache_dir=cache, contracts_dir=sources) == good
    assert json.loads(cached.read_text())["name"] == "SettlementToken"


def test_the_cache_directory_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path / "elsewhere"))
    assert default_cache_dir() == tmp_path / "elsewhere"
    compile_contract("SettlementToken")
    assert list((tmp_path / "elsewhere").glob("SettlementToken-*.json"))
    monkeypatch.delenv(CACHE_ENV_VAR)
    assert default_cache_dir() == Path.home() / ".cache" / "peergrid" / "contracts"


def test_the_hash_covers_settings_and_every_source(sources: Path) -> None:
    base = source_hash(contracts_dir=sources)
    assert source_hash(contracts_dir=sources) == base
    assert source_hash(contracts_dir=sources, evm_version="prague") != base
    (sources / "SettlementToken.vy").write_text(
        (sources / "SettlementToken.vy").read_text() + "\n# a comment\n"
    )
    assert source_hash(contracts_dir=sources) != base


def test_errors_name_the_contract(sources: Path, tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match=r"no contract Missing\.vy"):
        compile_contract("Missing", cache_dir=tmp_path)
    (sources / "Community.vy").write_text("this is not vyper")
    with pytest.raises(LedgerError) as info:
        compile_contract("Community", cache_dir=tmp_path, contracts_dir=sources)
    assert info.value.call == "compile Community"


def test_an_unwritable_cache_only_costs_a_recompile(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    artifact = compile_contract("SettlementToken", cache_dir=blocker / "cache")
    assert artifact.bytecode
    assert not (blocker / "cache").exists()
