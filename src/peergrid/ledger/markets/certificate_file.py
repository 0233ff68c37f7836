"""A certificate registry kept on disk, for ``peergrid certificates``: the registry file names
the contract and its accounts, and the chain is the embedded chain journaled beside it
(:class:`~peergrid.ledger.chain.persisted.PersistedEmbeddedChain`), so that each command reopens
the same chain, state and accounts.

The registry file is JSON (``format`` 1)::

    {
      "format": 1,
      "journal": "certificates.chain.jsonl",       # relative to the registry file
      "contract": "0x…",
      "slot_seconds": 900,
      "lifetime_seconds": 31536000,
      "accounts": {"issuer": "0x…", "meter": "0x…", "pv-1": "0x…", "school": "0x…"}
    }

Accounts are named: the issuer and the meter, every producer registered and every other member
added. A name is what commands take in place of an address. Nothing else is kept here: the
certificates, readings and cancellations are the contract's storage and logs (:meth:`ids`).
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.persisted import PersistedEmbeddedChain
from peergrid.ledger.markets.certificates import CertificateRegistry

FILE_FORMAT = 1
ROLE_NAMES = ("issuer", "meter")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
CALL = "certificates"


def journal_path(path: Path) -> Path:
    """Where the chain of the registry file ``path`` is journaled."""
    return path.with_name(path.stem + ".chain.jsonl")


def check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise LedgerError(
            CALL, f"account name {name!r}: 1-40 letters, digits, '_', '.', '-' (no space)"
        )
    return name


@dataclass
class RegistryFile:
    """An open registry: its file, chain and client, and the named accounts."""

    path: Path
    chain: PersistedEmbeddedChain
    registry: CertificateRegistry
    accounts: dict[str, str] = field(default_factory=dict)

    @property
    def issuer(self) -> str:
        return self.accounts["issuer"]

    @property
    def meter(self) -> str:
        return self.accounts["meter"]

    def address(self, name: str) -> str:
        """The address of the account named ``name``; :class:`LedgerError` if there is none."""
        try:
            return self.accounts[name]
        except KeyError:
            known = ", ".join(sorted(self.accounts))
            raise LedgerError(CALL, f"no account named {name!r} (known: {known})") from None

    def name_of(self, address: str) -> str:
        for name, known in self.accounts.items():
            if known == address:
                return name
        return address

    def add_account(self, name: str) -> str:
        """A new named account on the chain, saved in the file."""
        check_name(name)
        if name in self.accounts:
            raise LedgerError(CALL, f"an account named {name!r} exists already")
        address = self.chain.new_account(name)
        self.accounts[name] = address
        self.save()
        return address

    def ids(self) -> list[int]:
        """Every id issued, in order of issuance (from the contract's ``Issued`` logs)."""
        decode = self.registry.contract.abi.decode_log
        found: list[int] = []
        for log in self.chain.logs(self.registry.address):
            event = decode(log)
            if event is not None and event.name == "Issued":
                found.append(int(event.args["id"]))
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FILE_FORMAT,
            "journal": journal_path(self.path).name,
            "contract": self.registry.address,
            "slot_seconds": self.registry.slot_seconds(),
            "lifetime_seconds": int(self.chain.call(self.registry.contract, "lifetime_seconds")),
            "accounts": dict(self.accounts),
        }

    def save(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        tmp.replace(self.path)


def follow_wall_clock(chain: PersistedEmbeddedChain) -> None:
    """Move the embedded chain's clock (which stands still between calls) to the wall clock, so
    that slots end and certificates expire as time passes."""
    behind = int(time.time()) - chain.timestamp()
    if behind > 0:
        chain.advance_time(behind)


def create_registry(
    path: Path,
    *,
    slot_seconds: int,
    lifetime_seconds: int,
    epoch: int,
    overwrite: bool = False,
) -> RegistryFile:
    """A new registry: an embedded chain journaled beside ``path``, the issuer and meter
    accounts, the contract deployed (slot 0 starts at ``epoch``, unix seconds) and the meter
    allowed."""
    journal = journal_path(path)
    if path.exists() or journal.exists():
        if not overwrite:
            raise LedgerError(CALL, f"{path} exists already (pass --overwrite to replace it)")
        for old in (path, journal):
            with contextlib.suppress(FileNotFoundError):
                old.unlink()
    if not path.parent.is_dir():
        raise LedgerError(CALL, f"no folder {path.parent} for {path.name}")
    chain = PersistedEmbeddedChain(journal)
    try:
        issuer = chain.new_account("issuer")
        meter = chain.new_account("meter")
        registry = CertificateRegistry.deploy(
            chain,
            issuer=issuer,
            slot_seconds=slot_seconds,
            lifetime_seconds=lifetime_seconds,
            epoch=epoch,
        )
        registry.set_meter(meter)
        opened = RegistryFile(path, chain, registry, {"issuer": issuer, "meter": meter})
        opened.save()
    except BaseException:
        chain.close()
        raise
    return opened


@contextlib.contextmanager
def open_registry(path: Path) -> Iterator[RegistryFile]:
    """Reopen the registry of ``path`` (its journal replayed); closed on exit."""
    document = _read(path)
    journal = path.parent / str(document["journal"])
    if not journal.is_file():
        raise LedgerError(CALL, f"{path}: its chain journal {journal} is missing")
    chain = PersistedEmbeddedChain(journal)
    try:
        follow_wall_clock(chain)
        accounts = document["accounts"]
        registry = CertificateRegistry.attach(chain, str(document["contract"]))
        if registry.issuer != accounts["issuer"]:
            raise LedgerError(CALL, f"{path}: the contract's issuer is not the file's")
        yield RegistryFile(path, chain, registry, dict(accounts))
    finally:
        chain.close()


def _read(path: Path) -> Mapping[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LedgerError(
            CALL, f"no registry file {path}: run `peergrid certificates deploy` first"
        ) from None
    except (OSError, ValueError) as exc:
        raise LedgerError(CALL, f"{path}: {exc}") from exc
    if not isinstance(document, Mapping) or document.get("format") != FILE_FORMAT:
        raise LedgerError(CALL, f"{path}: not a certificate registry file (format {FILE_FORMAT})")
    for key in ("journal", "contract", "accounts"):
        if key not in document:
            raise LedgerError(CALL, f"{path}: missing field {key!r}")
    accounts = document["accounts"]
    if not isinstance(accounts, Mapping) or any(r not in accounts for r in ROLE_NAMES):
        raise LedgerError(CALL, f"{path}: accounts must name the issuer and the meter")
    return document
