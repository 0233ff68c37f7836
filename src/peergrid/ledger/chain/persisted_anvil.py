"""The managed anvil kept on disk: a private anvil node, with every state change in a journal.

:class:`PersistedAnvilChain` is the service's fast chain (``peergrid serve --chain anvil``): the
market's transactions run on a :class:`~peergrid.ledger.chain.managed.ManagedAnvilChain` (revm,
in Rust, about ten times faster than py-evm in process), and what it sends is journaled to a
file in the format of the embedded chain's
(:class:`~peergrid.ledger.chain.persisted.JournaledChain`, the same code): the genesis time,
each account, each transaction of a flush once the flush is mined (one write and one sync per
flush) and each move of the clock.

The node keeps its chain in memory and no state file: a service killed with SIGKILL takes its
node with it (the kernel stops a node whose starting thread died, see
:mod:`peergrid.ledger.chain.anvil`). On restart a fresh node is started at the journal's
genesis time and the journal replayed into it, the transactions sent in batches as a flush
sends them. A flush the node mined but the journal did not get (the process died between the
two) is lost with the node, and no caller saw its receipt: nothing is doubled.

Replay gives the same state as the first run because nothing in it depends on when it runs:
accounts have derived addresses (as on the embedded chain), the node's clock stands still
between the moves the journal records (blocks are mined at the chain's time, not the wall
clock's), and the node runs with the embedded chain's chain id, so a contract or a signature
that reads it sees the same value on both. So either chain replays the other's journal: a run
directory started on the embedded chain can be served on anvil, and back.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.base import TX_GAS_LIMIT, Mined
from peergrid.ledger.chain.embedded import EMBEDDED_CHAIN_ID
from peergrid.ledger.chain.managed import BLOCK_SIZE, KEEP_STATES, ManagedAnvilChain
from peergrid.ledger.chain.persisted import (
    JournaledChain,
    Transaction,
    journal_genesis_time,
    read_journal,
)

REPLAY_BATCH = BLOCK_SIZE * (KEEP_STATES - 1)
"""Journaled transactions sent to the node in one flush on replay: as many blocks as a flush
may mine."""


class PersistedAnvilChain(JournaledChain, ManagedAnvilChain):
    """A :class:`ManagedAnvilChain` whose changes are journaled to ``path`` and replayed into a
    fresh node on open (module doc). ``log_path``: the node's log (default: beside the
    journal, so that a process killed leaves no temporary folder)."""

    def __init__(
        self,
        path: Path | str,
        *,
        binary: Path | None = None,
        tx_gas_limit: int = TX_GAS_LIMIT,
        startup_timeout: float = 30.0,
        log_path: Path | None = None,
    ) -> None:
        path = Path(path)
        entries = read_journal(path)
        ManagedAnvilChain.__init__(
            self,
            binary=binary,
            tx_gas_limit=tx_gas_limit,
            startup_timeout=startup_timeout,
            timestamp=journal_genesis_time(entries),
            chain_id=EMBEDDED_CHAIN_ID,
            log_path=log_path or path.with_name("anvil.log"),
        )
        try:
            self._open_journal(path, entries)
        except BaseException:
            ManagedAnvilChain.close(self)
            raise

    def _set_genesis_time(self, timestamp: int) -> None:
        # The node was started at the journal's genesis time (``--timestamp``).
        if timestamp != self._time:
            raise LedgerError(
                "journal", f"the node started at {self._time}, the journal at {timestamp}"
            )

    def _replay_transactions(self, batch: Sequence[Transaction]) -> None:
        for first in range(0, len(batch), REPLAY_BATCH):
            self._execute_many(batch[first : first + REPLAY_BATCH])

    def _execute_many(
        self, batch: Sequence[Transaction], handles: Sequence[object] = ()
    ) -> list[Mined]:
        self._check_open(batch[0][3] if batch else "flush")
        mined = super()._execute_many(batch, handles)
        self._journal_transactions(batch, mined)
        return mined

    def __repr__(self) -> str:
        return f"PersistedAnvilChain({self.path}, {self.node!r})"
