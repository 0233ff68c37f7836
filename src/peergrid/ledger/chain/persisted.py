"""The embedded chain kept on disk: py-evm in process, with every state change in a journal.

py-evm's state lives in memory (an ``AtomicDB``), so an :class:`EmbeddedChain` dies with its
process. :class:`PersistedEmbeddedChain` appends every change it makes to a file, one JSON line
each, written and synced before the call returns: the genesis block time, each account made,
each successful transaction (sender, target, calldata) and each move of the clock. Opening the
same file again replays the lines into a fresh EVM; the EVM is deterministic, so the state, the
accounts, the nonces and every log come back exactly. It is a write-ahead log for a chain of one
writer (the service that owns it), not a node: nothing else may send to it.

A process killed while writing leaves at most one line without its newline: it is dropped when
the file is opened (that transaction never returned, so nobody relied on it).

The chain keeps every log its transactions emitted, in order (:meth:`logs`): the event source a
read model is rebuilt from, as ``eth_getLogs`` is on a node.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.abi import Log
from peergrid.ledger.chain.base import TX_GAS_LIMIT, Mined
from peergrid.ledger.chain.embedded import EmbeddedChain

JOURNAL_FORMAT = 1


class PersistedEmbeddedChain(EmbeddedChain):
    """An :class:`EmbeddedChain` whose changes are journaled to ``path`` and replayed on open."""

    def __init__(self, path: Path | str, *, tx_gas_limit: int = TX_GAS_LIMIT) -> None:
        super().__init__(tx_gas_limit=tx_gas_limit)
        self.path = Path(path)
        self._logs: list[Log] = []
        self._file: IO[str] | None = None
        lines = _complete_lines(self.path)
        if not lines:
            lines = [{"kind": "genesis", "format": JOURNAL_FORMAT, "timestamp": self.timestamp()}]
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(lines[0]) + "\n", encoding="utf-8")
        self.replayed = 0
        for number, entry in enumerate(lines, start=1):
            self._apply(entry, number)
        self.replayed = len(lines) - 1
        self._file = self.path.open("a", encoding="utf-8")

    # --- the journal ---------------------------------------------------------------------------

    def _apply(self, entry: dict[str, Any], number: int) -> None:
        kind = entry.get("kind")
        where = f"{self.path}:{number}"
        if kind == "genesis":
            if entry.get("format") != JOURNAL_FORMAT:
                raise LedgerError("journal", f"{where}: unknown format {entry.get('format')!r}")
            context = self.state_context()
            context._timestamp = int(entry["timestamp"])
        elif kind == "account":
            super().new_account(str(entry["label"]))
        elif kind == "tx":
            to = entry["to"]
            try:
                mined = super()._execute(
                    entry["sender"], to, bytes.fromhex(entry["data"]), entry["call"]
                )
            except LedgerError as exc:
                raise LedgerError("journal", f"{where} does not replay: {exc}") from exc
            self._logs.extend(mined.logs)
        elif kind == "clock":
            super()._advance_clock(int(entry["seconds"]))
        else:
            raise LedgerError("journal", f"{where}: unknown entry {kind!r}")

    def _write(self, entry: dict[str, Any]) -> None:
        if self._file is None:  # replaying: the line is in the file already
            return
        self._file.write(json.dumps(entry, separators=(",", ":")) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def state_context(self) -> Any:
        """py-evm's execution context of the pending block (its clock)."""
        return self._state.execution_context

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    # --- what the embedded chain does, journaled -----------------------------------------------

    def new_account(self, label: str) -> str:
        address = super().new_account(label)
        self._write({"kind": "account", "label": label})
        return address

    def _execute(self, sender: str, to: str | None, data: bytes, call: str) -> Mined:
        if self._file is None:
            raise LedgerError(call, f"the chain journaled at {self.path} is closed")
        mined = super()._execute(sender, to, data, call)
        self._logs.extend(mined.logs)
        self._write({"kind": "tx", "sender": sender, "to": to, "data": data.hex(), "call": call})
        return mined

    def _advance_clock(self, seconds: int) -> None:
        super()._advance_clock(seconds)
        self._write({"kind": "clock", "seconds": seconds})

    # --- the event source ----------------------------------------------------------------------

    def logs(self, address: str | None = None) -> list[Log]:
        """Every log emitted so far (by ``address`` when given), in the order emitted."""
        if address is None:
            return list(self._logs)
        return [log for log in self._logs if log.address.lower() == address.lower()]


def _complete_lines(path: Path) -> list[dict[str, Any]]:
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
