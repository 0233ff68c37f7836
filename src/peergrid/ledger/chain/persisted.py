"""Chains kept on disk: every state change in a journal, replayed into a fresh chain on open.

py-evm's state lives in memory (an ``AtomicDB``), so an :class:`EmbeddedChain` dies with its
process; so does a managed anvil node's (it keeps no state file). A journaled chain appends
every change it makes to a file, one JSON line each, written and synced before the call
returns: the genesis block time, each account made, each successful transaction (sender,
target, calldata) and each move of the clock. Opening the same file again replays the lines
into a fresh chain; the EVM is deterministic, so the state, the accounts, the nonces and every
log come back exactly. It is a write-ahead log for a chain of one writer (the service that owns
it), not a node: nothing else may send to it.

:class:`JournaledChain` is that journal, written once for every backend that keeps one:
:class:`PersistedEmbeddedChain` here (py-evm in process) and
:class:`~peergrid.ledger.chain.persisted_anvil.PersistedAnvilChain` (a managed anvil node). The
journal holds nothing of the backend: accounts have the same derived addresses on both, the
clock stands still between the moves the journal records on both, and gas is the same, so
either chain replays the other's journal.

A process killed while writing leaves at most one line without its newline: it is dropped when
the file is opened (that transaction never returned, so nobody relied on it).

The chain keeps every log its transactions emitted, in order (:meth:`JournaledChain.logs`): the
event source a read model is rebuilt from, as ``eth_getLogs`` is on a node that keeps its whole
history.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.abi import Log
from peergrid.ledger.chain.base import TX_GAS_LIMIT, Chain, Mined
from peergrid.ledger.chain.embedded import EmbeddedChain

JOURNAL_FORMAT = 1

Transaction = tuple[str, str | None, bytes, str]
"""``(sender, to, data, call)``; ``to`` is ``None`` for a contract's creation."""


class JournaledChain(Chain):
    """The journal of a chain (module doc): put before the backend's class in the bases.

    A backend calls :meth:`_open_journal` once it can run transactions, and
    :meth:`_journal_transactions` after each successful run (one call per batch: one write and
    one sync). It implements :meth:`_set_genesis_time`.
    """

    path: Path
    replayed: int
    """How many entries (after the genesis line) the last open replayed."""

    def _open_journal(self, path: Path | str, entries: list[dict[str, Any]] | None = None) -> None:
        """Replay the journal at ``path`` (its ``entries`` when read already) into this chain,
        or start one with this chain's genesis time; then journal what follows."""
        self.path = Path(path)
        self._logs: list[Log] = []
        self._journal: IO[str] | None = None
        self._replaying = False
        lines = read_journal(self.path) if entries is None else entries
        if not lines:
            lines = [{"kind": "genesis", "format": JOURNAL_FORMAT, "timestamp": self.timestamp()}]
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(lines[0]) + "\n", encoding="utf-8")
        self._replaying = True
        try:
            self._replay(lines)
        finally:
            self._replaying = False
        self.replayed = len(lines) - 1
        self._journal = self.path.open("a", encoding="utf-8")

    def _replay(self, lines: list[dict[str, Any]]) -> None:
        batch: list[Transaction] = []
        first = 0  # the line number of the batch's first transaction

        def run_batch() -> None:
            if not batch:
                return
            try:
                self._replay_transactions(batch)
            except LedgerError as exc:
                where = f"{self.path}:{first}..{first + len(batch) - 1}"
                raise LedgerError("journal", f"{where} does not replay: {exc}") from exc
            batch.clear()

        for number, entry in enumerate(lines, start=1):
            kind = entry.get("kind")
            if kind == "tx":
                if not batch:
                    first = number
                batch.append(
                    (entry["sender"], entry["to"], bytes.fromhex(entry["data"]), entry["call"])
                )
                continue
            run_batch()
            where = f"{self.path}:{number}"
            if kind == "genesis":
                if entry.get("format") != JOURNAL_FORMAT:
                    raise LedgerError("journal", f"{where}: unknown format {entry.get('format')!r}")
                if number != 1:
                    raise LedgerError("journal", f"{where}: a genesis line after the first")
                self._set_genesis_time(int(entry["timestamp"]))
            elif kind == "account":
                self.new_account(str(entry["label"]))
            elif kind == "clock":
                self._advance_clock(int(entry["seconds"]))
            else:
                raise LedgerError("journal", f"{where}: unknown entry {kind!r}")
        run_batch()

    def _set_genesis_time(self, timestamp: int) -> None:
        """Set the clock of a chain that has run nothing yet to ``timestamp``."""
        raise NotImplementedError

    def _replay_transactions(self, batch: Sequence[Transaction]) -> None:
        """Run journaled transactions again, in order (a backend may send them together)."""
        for sender, to, data, call in batch:
            self._execute(sender, to, data, call)

    def _check_open(self, call: str) -> None:
        if self._journal is None and not self._replaying:
            raise LedgerError(call, f"the chain journaled at {self.path} is closed")

    def _write(self, lines: Sequence[dict[str, Any]]) -> None:
        if self._journal is None:  # replaying: the lines are in the file already
            return
        self._journal.write(
            "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)
        )
        self._journal.flush()
        os.fsync(self._journal.fileno())

    def _journal_transactions(self, batch: Sequence[Transaction], mined: Sequence[Mined]) -> None:
        """``batch`` ran and left ``mined``: keep its logs and journal it."""
        for one in mined:
            self._logs.extend(one.logs)
        self._write(
            [
                {"kind": "tx", "sender": sender, "to": to, "data": data.hex(), "call": call}
                for sender, to, data, call in batch
            ]
        )

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        super().close()

    # --- what every chain does, journaled ------------------------------------------------------

    def new_account(self, label: str) -> str:
        self._check_open("new_account")
        address = super().new_account(label)  # type: ignore[safe-super]  # the backend's
        self._write([{"kind": "account", "label": label}])
        return address

    def _advance_clock(self, seconds: int) -> None:
        self._check_open("advance_time")
        super()._advance_clock(seconds)
        self._write([{"kind": "clock", "seconds": seconds}])

    # --- the event source ----------------------------------------------------------------------

    def logs(self, address: str | None = None) -> list[Log]:
        """Every log emitted so far (by ``address`` when given), in the order emitted."""
        if address is None:
            return list(self._logs)
        return [log for log in self._logs if log.address.lower() == address.lower()]


class PersistedEmbeddedChain(JournaledChain, EmbeddedChain):
    """An :class:`EmbeddedChain` whose changes are journaled to ``path`` and replayed on open."""

    def __init__(self, path: Path | str, *, tx_gas_limit: int = TX_GAS_LIMIT) -> None:
        EmbeddedChain.__init__(self, tx_gas_limit=tx_gas_limit)
        self._open_journal(path)

    def _set_genesis_time(self, timestamp: int) -> None:
        self.state_context()._timestamp = timestamp

    def state_context(self) -> Any:
        """py-evm's execution context of the pending block (its clock)."""
        return self._state.execution_context

    def _execute(self, sender: str, to: str | None, data: bytes, call: str) -> Mined:
        self._check_open(call)
        mined = super()._execute(sender, to, data, call)
        self._journal_transactions([(sender, to, data, call)], [mined])
        return mined


def read_journal(path: Path) -> list[dict[str, Any]]:
    """The journal's entries; a last line without its newline (a write cut short) is dropped
    from the file too, so that the next entry starts on a line of its own."""
    if not path.exists():
        return []
    raw = path.read_bytes()
    end = raw.rfind(b"\n") + 1
    if end < len(raw):
        with path.open("r+b") as f:
            f.truncate(end)
    entries = []
    for number, line in enumerate(raw[:end].decode("utf-8").splitlines(), start=1):
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise LedgerError("journal", f"{path}:{number} is not JSON: {exc}") from exc
    return entries


def journal_genesis_time(entries: Sequence[dict[str, Any]]) -> int | None:
    """The genesis time a journal's ``entries`` start from (``None``: an empty journal)."""
    if not entries:
        return None
    first = entries[0]
    if first.get("kind") != "genesis":
        raise LedgerError("journal", f"the first line is {first.get('kind')!r}, not the genesis")
    return int(first["timestamp"])
