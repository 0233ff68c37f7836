"""Compile the ledger's Vyper contracts, cached by source hash.

The sources live in ``ledger/contracts/``; they are compiled with the ``vyper`` package's Python
API on first use and the result (ABI, deployment bytecode, runtime bytecode) is written as JSON
to a cache directory: ``$PEERGRID_CACHE_DIR`` if set, else ``~/.cache/peergrid/contracts``. The
cache key hashes the compiler version, the compiler settings and every ``.vy`` file in the
contracts folder (so a change to an imported module recompiles its importers). Artifacts are
compiler output only; nothing edits them by hand, and a cache file that does not parse is
recompiled.

EVM version: ``cancun``, set explicitly. Vyper 0.4.3 targets ``prague`` by default. The embedded
chain (titanoboa 0.2.8 on py-evm 0.12) runs the Prague rules, which accept Cancun bytecode, and so
do anvil and any geth/Besu network from Cancun (March 2024) on; a consortium network that has not
enabled Prague still runs these contracts. Cancun brings the transient storage that Vyper's
``@nonreentrant`` uses. Gas is optimised (``optimize = gas``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import vyper
from vyper.compiler import compile_from_file_input
from vyper.compiler.input_bundle import FilesystemInputBundle
from vyper.compiler.settings import OptimizationLevel, Settings
from vyper.exceptions import VyperException

from peergrid.core.errors import LedgerError

EVM_VERSION = "cancun"
"""The EVM version every contract is compiled for (see the module docstring)."""

OPTIMIZE = "gas"
CONTRACTS_DIR = Path(__file__).resolve().parent.parent / "contracts"
CONTRACT_NAMES = (
    "SettlementToken",
    "Community",
    "Consortium",
    "BatchMarket",
    "OrderBook",
    "EvQuota",
    "Dvpp",
    "DvppMeters",
    "AdmmAggregator",
    "ProtectionLog",
    "DrSettlement",
    "MicrogridAuction",
    "Certificates",
    "OtcContracts",
    "DrEvents",
    "FlexMarket",
    "AssetFunding",
)
"""The deployable contracts; other ``.vy`` files in the folder are modules they import."""

logger = logging.getLogger(__name__)

CACHE_ENV_VAR = "PEERGRID_CACHE_DIR"
_CACHE_FORMAT = 1


@dataclass(frozen=True)
class Artifact:
    """One compiled contract: what a chain backend needs to deploy and call it."""

    name: str
    abi: tuple[Mapping[str, Any], ...]
    bytecode: bytes
    """Deployment (init) code; constructor arguments are appended ABI-encoded."""
    runtime_bytecode: bytes
    source_hash: str
    evm_version: str
    compiler_version: str


def default_cache_dir() -> Path:
    """``$PEERGRID_CACHE_DIR``, or ``~/.cache/peergrid/contracts``."""
    override = os.environ.get(CACHE_ENV_VAR)
    if override:
        return Path(override).expanduser()
    return Path.home() / ".cache" / "peergrid" / "contracts"


def source_hash(*, evm_version: str = EVM_VERSION, contracts_dir: Path = CONTRACTS_DIR) -> str:
    """SHA-256 over the compiler version, settings and every ``.vy`` source in the folder."""
    digest = hashlib.sha256()
    digest.update(f"vyper={vyper.__version__};evm={evm_version};opt={OPTIMIZE};".encode())
    digest.update(f"format={_CACHE_FORMAT};".encode())
    for path in sorted(contracts_dir.glob("*.vy")):
        digest.update(path.name.encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


_memo: dict[tuple[str, str, Path, Path], Artifact] = {}


def compile_contract(
    name: str,
    *,
    evm_version: str = EVM_VERSION,
    cache_dir: Path | None = None,
    contracts_dir: Path = CONTRACTS_DIR,
) -> Artifact:
    """The artifact of contract ``name``, from memory, the cache directory, or the compiler."""
    if not (contracts_dir / f"{name}.vy").is_file():
        raise LedgerError(f"compile {name}", f"no contract {name}.vy in {contracts_dir}")
    cache = cache_dir if cache_dir is not None else default_cache_dir()
    key = (name, evm_version, cache, contracts_dir)
    digest = source_hash(evm_version=evm_version, contracts_dir=contracts_dir)
    memoised = _memo.get(key)
    if memoised is not None and memoised.source_hash == digest:
        return memoised

    path = cache / f"{name}-{digest[:24]}.json"
    artifact = _read_cached(path, name, digest)
    if artifact is None:
        artifact = _compile(name, evm_version, digest, contracts_dir)
        _write_cached(path, artifact)
    _memo[key] = artifact
    return artifact


def compile_all(
    *, evm_version: str = EVM_VERSION, cache_dir: Path | None = None
) -> dict[str, Artifact]:
    """Every deployable contract, by name."""
    return {
        name: compile_contract(name, evm_version=evm_version, cache_dir=cache_dir)
        for name in CONTRACT_NAMES
    }


def _compile(name: str, evm_version: str, digest: str, contracts_dir: Path) -> Artifact:
    bundle = FilesystemInputBundle([contracts_dir])
    settings = Settings(evm_version=evm_version, optimize=OptimizationLevel.from_string(OPTIMIZE))
    try:
        file_input = bundle.load_file(Path(f"{name}.vy"))
        out = compile_from_file_input(
            file_input,
            input_bundle=bundle,
            settings=settings,
            output_formats=["abi", "bytecode", "bytecode_runtime"],
        )
    except VyperException as exc:
        raise LedgerError(f"compile {name}", str(exc)) from exc
    return Artifact(
        name=name,
        abi=tuple(out["abi"]),
        bytecode=bytes.fromhex(out["bytecode"].removeprefix("0x")),
        runtime_bytecode=bytes.fromhex(out["bytecode_runtime"].removeprefix("0x")),
        source_hash=digest,
        evm_version=evm_version,
        compiler_version=vyper.__version__,
    )


def _read_cached(path: Path, name: str, digest: str) -> Artifact | None:
    try:
        raw = json.loads(path.read_text())
        artifact = Artifact(
            name=raw["name"],
            abi=tuple(raw["abi"]),
            bytecode=bytes.fromhex(raw["bytecode"]),
            runtime_bytecode=bytes.fromhex(raw["runtime_bytecode"]),
            source_hash=raw["source_hash"],
            evm_version=raw["evm_version"],
            compiler_version=raw["compiler_version"],
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if artifact.name != name or artifact.source_hash != digest:
        return None
    return artifact


def _write_cached(path: Path, artifact: Artifact) -> None:
    document = {
        "name": artifact.name,
        "abi": list(artifact.abi),
        "bytecode": artifact.bytecode.hex(),
        "runtime_bytecode": artifact.runtime_bytecode.hex(),
        "source_hash": artifact.source_hash,
        "evm_version": artifact.evm_version,
        "compiler_version": artifact.compiler_version,
    }
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a concurrent reader never sees half a file.
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, prefix=f".{path.name}.", delete=False
        ) as handle:
            tmp = Path(handle.name)
            json.dump(document, handle)
        os.replace(tmp, path)
    except OSError:
        # A read-only or missing cache directory only costs a recompile next time.
        logger.debug("could not write the contract cache file %s", path, exc_info=True)
        if tmp is not None:
            tmp.unlink(missing_ok=True)
