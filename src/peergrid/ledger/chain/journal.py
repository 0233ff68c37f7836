"""The JSON-RPC backend's journal: signed transactions, the next nonce per sender, and replay.

Every transaction :class:`~peergrid.ledger.chain.rpc.RpcChain` signs is kept here, as its raw
bytes (a :class:`JournalEntry`: sender, nonce, hash; at least the last ``limit`` confirmed ones,
at most twice that, and every pending one), and the journal holds each sender's next nonce:
nonces are managed in Python, one counter per sender, never left to the node.

Replay (:meth:`Journal.replay`) is what makes a node that restarts mid-run harmless: for each
sender the node's nonce says which journal entries were applied (their receipts are fetched),
and every entry at or above it is sent again *as the same signed bytes*, in the original order,
waiting for each receipt. Resending the same raw transaction (same nonce, same hash) is what
makes a double application impossible: a nonce is applied once, and a second copy is refused
("nonce too low" / "already known"). This covers a transaction lost from the node's pool, a
response lost after the node applied it, and a node that came back at an older state (anvil
restarted from a state file, see :mod:`peergrid.ledger.chain.anvil`). If the node lost more than
the journal holds (a sender's nonce below its oldest journal entry), or someone else used one of
the journal's nonces, replay raises rather than guess.

The journal speaks to the node only through the ``post`` function it is given (one JSON-RPC
request, no retry), which raises :class:`NodeUnreachable` or :class:`NodeError`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from peergrid.core.errors import LedgerError

logger = logging.getLogger(__name__)

ALREADY_KNOWN = ("already known", "already imported", "known transaction", "already exists")
"""How nodes say that they hold a transaction already (lower case)."""

Post = Callable[[str, Sequence[Any]], Any]
"""One JSON-RPC request to the node, no retry: ``post(method, params) -> result``."""


class NodeUnreachable(Exception):
    """The node did not answer (connection refused or reset, timeout, garbage)."""


class NodeError(Exception):
    """The node answered with a JSON-RPC error."""

    def __init__(self, code: int, message: str, data: Any):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.data = data


@dataclass
class JournalEntry:
    """One signed transaction: enough to tell whether the node applied it, and to resend it."""

    seq: int
    tx_hash: str
    sender: str
    nonce: int
    raw: bytes
    call: str
    to: str | None = None
    data: bytes = b""
    gas: int = 0
    value: int = 0
    attempts: int = 0
    """How many times it was sent (resends in recovery included)."""
    block_number: int | None = None
    """The block of its receipt, once seen; ``None`` while pending."""
    resent: int = 0
    """How many times recovery sent it again."""

    @property
    def confirmed(self) -> bool:
        return self.block_number is not None


class Journal:
    """The signed transactions of one client, oldest first, and each sender's next nonce."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        """How many confirmed entries are kept (pending ones are always kept)."""
        self._entries: list[JournalEntry] = []
        self._nonces: dict[str, int] = {}
        self._seq = 0

    @property
    def entries(self) -> tuple[JournalEntry, ...]:
        return tuple(self._entries)

    @property
    def pending(self) -> int:
        """How many entries have no receipt yet."""
        return sum(1 for e in self._entries if not e.confirmed)

    # --- nonces --------------------------------------------------------------------------------

    def next_nonce(self, sender: str) -> int | None:
        """The nonce ``sender``'s next transaction takes; ``None`` until read from the node."""
        return self._nonces.get(sender)

    def set_next_nonce(self, sender: str, nonce: int) -> None:
        self._nonces[sender] = nonce

    def forget_nonce(self, sender: str) -> None:
        """Read ``sender``'s nonce from the node again before its next transaction."""
        self._nonces.pop(sender, None)

    # --- entries -------------------------------------------------------------------------------

    def record(
        self,
        *,
        tx_hash: str,
        sender: str,
        nonce: int,
        raw: bytes,
        call: str,
        to: str | None,
        data: bytes,
        gas: int,
        value: int,
    ) -> JournalEntry:
        """Journal a transaction just signed with ``nonce``; the sender's next nonce follows."""
        self._seq += 1
        entry = JournalEntry(
            seq=self._seq,
            tx_hash=tx_hash,
            sender=sender,
            nonce=nonce,
            raw=raw,
            call=call,
            to=to,
            data=data,
            gas=gas,
            value=value,
        )
        self._entries.append(entry)
        self._nonces[sender] = nonce + 1
        return entry

    def drop(self, entry: JournalEntry) -> None:
        """Forget an entry the node refused; its nonce is free again."""
        self._entries.remove(entry)
        if self._nonces.get(entry.sender) == entry.nonce + 1:
            self._nonces[entry.sender] = entry.nonce

    def confirm(self, entry: JournalEntry, block_number: int) -> None:
        """``entry``'s receipt was seen in ``block_number``; old confirmed entries go."""
        entry.block_number = block_number
        # Pruning reads the whole journal: done once it holds twice the limit, it costs O(1)
        # per transaction, and the journal keeps between ``limit`` and twice that.
        if len(self._entries) > 2 * self.limit:
            self.prune()

    def prune(self) -> None:
        """Keep only the last ``limit`` confirmed entries (and every pending one)."""
        confirmed = [e for e in self._entries if e.confirmed]
        excess = len(confirmed) - self.limit
        if excess > 0:
            dropped = {id(e) for e in confirmed[:excess]}
            self._entries = [e for e in self._entries if id(e) not in dropped]

    # --- replay --------------------------------------------------------------------------------

    def replay(self, post: Post, receipt_timeout: float) -> int:
        """Compare the journal with the node and resend what it lacks (see the module doc).

        Returns how many transactions were sent again. Raises :class:`LedgerError` if the node
        lost transactions the journal no longer holds, or a journal nonce was used by another
        transaction; :class:`NodeUnreachable` if the node drops again.
        """
        if not self._entries:
            return 0
        latest: dict[str, int] = {}
        for entry in self._entries:
            if entry.sender not in latest:
                latest[entry.sender] = int(
                    post("eth_getTransactionCount", [entry.sender, "latest"]), 16
                )
        missing: list[JournalEntry] = []
        for entry in self._entries:
            if entry.nonce < latest[entry.sender]:
                if not entry.confirmed and not receipt_within(post, entry, 5.0):
                    raise LedgerError(
                        entry.call,
                        f"nonce {entry.nonce} of {entry.sender} was used by another "
                        f"transaction; {entry.tx_hash} was not applied",
                    )
            else:
                missing.append(entry)
        for sender, count in latest.items():
            nonces = sorted(e.nonce for e in missing if e.sender == sender)
            if nonces and nonces[0] != count:
                raise LedgerError(
                    "rpc recovery",
                    f"the node is missing transactions {count}..{nonces[0] - 1} of {sender}, "
                    "older than this client's journal: it lost state this client cannot restore",
                )
        resent = 0
        for entry in missing:
            was_confirmed = entry.confirmed
            entry.block_number = None
            entry.attempts += 1
            try:
                post("eth_sendRawTransaction", ["0x" + entry.raw.hex()])
                resent += 1
                entry.resent += 1
                logger.info(
                    "resent %s (%s nonce %d, %s)",
                    entry.tx_hash,
                    entry.sender,
                    entry.nonce,
                    "rolled back by the node" if was_confirmed else "not applied",
                )
            except NodeError as exc:
                message = exc.message.lower()
                # "nonce too low" here: applied between the nonce check and now
                if not any(k in message for k in ALREADY_KNOWN) and "nonce too low" not in message:
                    raise LedgerError(
                        entry.call, f"resending {entry.tx_hash} failed: {exc.message}"
                    ) from exc
            if not receipt_within(post, entry, receipt_timeout):
                raise LedgerError(entry.call, f"no receipt for the resent {entry.tx_hash}")
        if missing:
            logger.warning(
                "journal recovery: %d transaction(s) the node lacked, %d sent again",
                len(missing),
                resent,
            )
        return resent


def receipt_within(post: Post, entry: JournalEntry, timeout: float) -> bool:
    """Poll ``entry``'s receipt for up to ``timeout`` s (no recovery while polling).

    A node can count a sender's nonce a moment before it serves the receipt of the
    transaction that used it, so one empty answer proves nothing.
    """
    deadline = time.monotonic() + timeout
    delay = 0.0005
    while True:
        receipt = post("eth_getTransactionReceipt", [entry.tx_hash])
        if receipt:
            entry.block_number = int(receipt["blockNumber"], 16)
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
