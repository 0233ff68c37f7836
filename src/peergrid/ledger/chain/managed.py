"""The managed anvil backend: a private anvil node this chain starts, owns and stops.

:class:`ManagedAnvilChain` is the fast ledger for simulations: anvil (revm, in Rust) executes,
with gas exactly as a receipt states it, about ten times faster than py-evm in process. It is
opened by ``open_chain("anvil")`` (and by ``open_chain("auto")`` where the binary is found, see
:func:`~peergrid.ledger.chain.anvil.find_anvil`). The node:

* listens on 127.0.0.1 on a free port, logs nothing (``--quiet``: it would write a line or two
  per transaction), runs with the Prague rules (as the embedded chain), and
  is stopped by :meth:`ManagedAnvilChain.close` (and, like every node
  :func:`~peergrid.ledger.chain.anvil.start_anvil` starts, at exit or when its starting thread
  dies): no process is left behind;
* mines only when asked (``--no-mining``): a flush of the pipeline is mined as one block
  (a few of :data:`BLOCK_SIZE` transactions if it deploys a contract);
* takes unsigned transactions from any sender (``--auto-impersonate``): no keys, no signing.
  Accounts are made as the embedded chain makes them (same addresses, funded with
  ``anvil_setBalance``), so calldata, and so gas, is the same on both;
* keeps only a few recent states and receipts in memory (``--prune-history``,
  ``--transaction-block-keeper``); no receipt is kept here;
* sheds its old blocks every :data:`SHED_EVERY_BLOCKS` blocks (:meth:`ManagedAnvilChain.
  shed_history`): anvil 1.7.1 keeps every block it mined, and clearing a block's transactions
  leaves about 1 kB per transaction allocated (measured: 121 kB a block of 112, linear; about
  1.9 GB over a year of the demo community). The node's state is dumped
  (``anvil_dumpState``), its history cut to the head block, the node reset (``anvil_reset``)
  and the state loaded back (``anvil_loadState``): the same accounts, storage, head number, hash
  and time, and the memory the blocks held is reused. Nothing of this package reads an old
  block; ``BLOCKHASH`` of a block before the last shed no longer answers its real hash;
* has no block gas limit (``--disable-block-gas-limit``: a block may hold a whole slot) and a
  base fee of zero that stays zero (the gas target of an unlimited block is never reached);
* has a clock that stands still, as the embedded chain's does: the genesis block is at the
  chain's start time (``--timestamp``) and every block is mined at the chain's time
  (``evm_mine`` with a timestamp; anvil takes a block at its parent's time), which only
  :meth:`~peergrid.ledger.chain.base.Chain.advance_time` moves. Left to itself, anvil would
  stamp each block with the wall clock: the same transactions replayed later
  (:mod:`peergrid.ledger.chain.persisted_anvil`) would see other times than the first run.
  Moving the clock mines nothing (as on the embedded chain, where it mines nothing either):
  the next flush's block is mined at the new time, and read-only calls see it at once through
  ``eth_call``'s block override (``{"time": …}``, its fourth parameter). A simulation that moves
  the clock every interval so mines one block an interval, not two: the DVPP's week went from
  0.0151 to 0.0120 s an interval (docs/decisions.md, "One block an interval on the managed
  anvil");
* has no code at EIP-2935's block-hash history contract (:data:`HISTORY_STORAGE_ADDRESS`).
  Under the Prague rules every block writes its parent's hash into that contract's ring of
  8 191 storage words, and anvil computes each block's state root over all the storage it
  holds: a new block cost 0.7 ms with 20 words written, 9.0 ms with 2 020 and 35 ms with
  6 020 (``benchmarks/anvil_block_cost.py --history``), so a long simulation paid up to the
  ring's whole size per block. Without the code the block's system call does nothing (EIP-2935:
  no code, no write) and a block costs about 1 ms however long the chain. No contract of this
  package reads that contract; ``BLOCKHASH`` still answers from the node's own 256 blocks, and
  no transaction's gas changes (a system call is not charged to a block).

Sending: every transaction has the same gas limit
(:data:`~peergrid.ledger.chain.base.TX_GAS_LIMIT`, as on the embedded chain; gas *used* does not
depend on it, and no estimate is asked), nonces are counted here, and a flush is:

1. one ``eth_simulateV1`` of all its transactions in order, in the block they will be mined in
   (the chain's time), each on the state the ones before it leave: each one's gas and logs, or
   the first failure, which raises :class:`~peergrid.core.errors.LedgerError` with its call and
   reason before anything is sent (all or nothing, nonces included);
2. one JSON-RPC batch of ``eth_sendTransaction`` and one ``evm_mine``: one block;
3. one ``eth_getBlockByNumber`` (the header only): the block must hold the flush's transactions
   in order and have used the gas the simulation said, to the unit. Then each transaction's
   gas and logs are the simulation's, which ran the same calls on the same state in the same
   block; a test compares them with the block's receipts. A block that differs (never seen) is
   read from its receipts, which are the truth, with a warning.

Why not read the receipts: anvil's ``eth_getBlockReceipts`` costs O(n²) in a block's n
transactions (0.09 ms a receipt in blocks of 50, 0.8 ms in blocks of 500), and was as much node
time as mining in the demo day (16 ms against 10 ms a block of 64), while the simulation costs
about 0.06 ms a transaction whatever the block's size. A flush that deploys a contract is still
read from its receipts (they state the new address), mined in blocks of :data:`BLOCK_SIZE`.

anvil handles the requests of a batch concurrently, so they reach its pool in no set order;
each transaction of a block is therefore given a gas price one lower than the one before it,
and anvil, which orders a block by price, mines them exactly in the order queued (a sender's
later nonces come later in the queue, so they never wait on an earlier one). The gas price
changes no gas used and no contract state.

All or nothing after mining (a block read from its receipts with a failed transaction): its
reason is read from a trace of it, the flush's blocks are rolled back (``anvil_rollback``) and
:class:`~peergrid.core.errors.LedgerError` raised with the failing call: nothing of the flush
remains, nonces included. (``evm_snapshot`` would do the same, but each snapshot holds a copy of
the state until reverted: gigabytes over a year.)
"""

from __future__ import annotations

import gzip
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.abi import Log, checksum_address, revert_reason
from peergrid.ledger.chain.anvil import AnvilProcess, find_anvil, free_port, start_anvil
from peergrid.ledger.chain.base import TX_GAS_LIMIT, ZERO_ADDRESS, Chain, Mined
from peergrid.ledger.chain.embedded import derived_address
from peergrid.ledger.chain.journal import NodeError
from peergrid.ledger.chain.jsonrpc import (
    JsonRpcClient,
    failure_reason,
    hex_bytes,
    mined_from_receipt,
    node_logs,
    simulation_outcome,
)

logger = logging.getLogger(__name__)

MANAGED_HARDFORK = "prague"
"""The rules the node runs: the embedded chain's."""

HISTORY_STORAGE_ADDRESS = "0x0000F90827F1C53a10cb7A02335B175320002935"
"""EIP-2935's block-hash history contract, whose code a managed node removes (module doc)."""

ACCOUNT_BALANCE_WEI = 10**24
"""What each account is given for gas (the embedded chain's amount)."""

KEEP_STATES = 16
"""States, and blocks with their transactions' receipts and traces, that the node keeps in
memory (``--prune-history``, ``--transaction-block-keeper``): a flush's blocks, all within
reach of a rollback and of reading their receipts."""

SHED_EVERY_BLOCKS = 1024
"""Blocks between two sheds of the node's history (module doc): about 125 MB of a slot's
blocks, each shed about 0.25 s."""

BLOCK_SIZE = 64
"""Transactions per block of a flush read from its receipts (one that deploys a contract; more
when it would need more than ``KEEP_STATES - 1`` blocks). anvil's ``eth_getBlockReceipts`` costs
O(n²) in a block's n transactions (measured: 0.09 ms a receipt in blocks of 50, 0.8 ms in blocks
of 500, 2.6 ms in blocks of 1 000), so such a flush mines a few small blocks, and reads their
receipts in one batch. A simulated flush is one block of any size."""


def _number(value: int | str) -> int:
    """A block number as anvil's dump writes it: an integer or a hex string."""
    return value if isinstance(value, int) else int(value, 16)


def managed_anvil_args(keep_states: int = KEEP_STATES) -> list[str]:
    """anvil's options for a managed node (see the module docstring)."""
    return [
        "--no-mining",
        "--auto-impersonate",
        "--disable-block-gas-limit",
        "--block-base-fee-per-gas",
        "0",
        "--prune-history",
        str(keep_states),
        "--transaction-block-keeper",
        str(keep_states),
        "--no-request-size-limit",  # a state loaded back (shed_history) may pass 2 MB
    ]


class ManagedAnvilChain(Chain):
    """A private anvil node, started here and stopped by :meth:`close`; see the module doc."""

    queues_transactions = True

    def __init__(
        self,
        *,
        binary: Path | None = None,
        tx_gas_limit: int = TX_GAS_LIMIT,
        keep_states: int = KEEP_STATES,
        shed_every_blocks: int | None = SHED_EVERY_BLOCKS,
        startup_timeout: float = 30.0,
        timestamp: int | None = None,
        chain_id: int | None = None,
        log_path: Path | None = None,
    ) -> None:
        """``timestamp``: the genesis block's time (default: now); ``chain_id``: anvil's
        unless given; ``log_path``: the node's (quiet) log, in a temporary folder unless
        given."""
        super().__init__()
        if keep_states < 2:
            raise ValueError(f"keep_states must be at least 2, got {keep_states}")
        if shed_every_blocks is not None and shed_every_blocks < 1:
            raise ValueError(f"shed_every_blocks must be at least 1, got {shed_every_blocks}")
        self.shed_every_blocks = shed_every_blocks
        self.tx_gas_limit = tx_gas_limit
        self.keep_states = keep_states
        self._time = int(time.time()) if timestamp is None else timestamp
        self.node: AnvilProcess = start_anvil(
            free_port(),
            quiet=True,  # it would log each transaction: hundreds of MB in a year
            binary=binary or find_anvil(),
            accounts=1,
            chain_id=chain_id,
            hardfork=MANAGED_HARDFORK,
            extra_args=[*managed_anvil_args(keep_states), "--timestamp", str(self._time)],
            startup_timeout=startup_timeout,
            log_path=log_path,
        )
        try:
            self._client = JsonRpcClient(self.node.url)
            self.chain_id = int(self._client.call("eth_chainId"), 16)
            # Before the first block: no history word is ever written (module docstring).
            self._client.call("anvil_setCode", [HISTORY_STORAGE_ADDRESS, "0x"])
        except BaseException:
            self.node.close()
            raise
        self._accounts: dict[str, str] = {}
        self._nonces: dict[str, int] = {}
        self._head = 0  # the latest block's number: only this chain mines or rolls back
        self._shed_at = 0  # the head when the history was last shed

    @property
    def url(self) -> str:
        return self.node.url

    @property
    def accounts(self) -> dict[str, str]:
        """Address -> label of every account made with :meth:`new_account`."""
        return dict(self._accounts)

    def close(self) -> None:
        """Stop the node (and delete its log folder); safe to call twice."""
        self._queue.clear()
        self._client.close()
        self.node.close()

    def __repr__(self) -> str:
        return f"ManagedAnvilChain({self.node!r})"

    # --- accounts and reads ----------------------------------------------------------------------

    def new_account(self, label: str) -> str:
        address = derived_address(len(self._accounts), label)
        self._client.call("anvil_setBalance", [address, hex(ACCOUNT_BALANCE_WEI)])
        self._accounts[address] = label
        self._nonces[address] = 0  # a new address: this node is private, nobody else sends
        return address

    def nonce(self, address: str) -> int:
        self.flush()
        return int(self._rpc("eth_getTransactionCount", address), 16)

    def timestamp(self) -> int:
        self.flush()
        return self._time

    def balance_wei(self, address: str) -> int:
        self.flush()
        return int(self._rpc("eth_getBalance", address), 16)

    def block_number(self) -> int:
        self.flush()
        return self._head

    def _rpc(self, method: str, address: str) -> Any:
        return self._client.call(method, [address, "latest"])

    def _advance_clock(self, seconds: int) -> None:
        # No block: the next one is mined at the new time, and reads see it by the block
        # override of `_call_params` (module docstring).
        self._time += seconds

    def _mine(self) -> None:
        """Mine what the node holds as one block, at the chain's time (module doc)."""
        self._client.call("evm_mine", [{"timestamp": self._time}])
        self._head += 1

    def _call_params(self, sender: str, to: str, data: bytes) -> list[Any]:
        """``eth_call``'s parameters: on the latest state, at the chain's time (no state
        override; the block's time overridden, as the clock may have moved since it was
        mined)."""
        call = {"from": sender, "to": to, "data": "0x" + data.hex(), "gas": hex(self.tx_gas_limit)}
        return [call, "latest", {}, {"time": hex(self._time)}]

    def _static_call(self, to: str, data: bytes, call: str, sender: str = ZERO_ADDRESS) -> bytes:
        try:
            return hex_bytes(self._client.call("eth_call", self._call_params(sender, to, data)))
        except NodeError as exc:
            raise LedgerError(call, failure_reason(exc)) from exc

    def _static_calls(self, to: str, data: bytes, call: str, senders: Sequence[str]) -> list[bytes]:
        if not senders:
            return []
        requests = [("eth_call", self._call_params(sender, to, data)) for sender in senders]
        outputs = []
        for answer in self._client.batch(requests):
            if isinstance(answer, NodeError):
                raise LedgerError(call, failure_reason(answer))
            outputs.append(hex_bytes(answer))
        return outputs

    # --- sending -------------------------------------------------------------------------------

    def _execute(self, sender: str, to: str | None, data: bytes, call: str) -> Mined:
        return self._execute_many([(sender, to, data, call)], [None])[0]

    def _execute_many(
        self, batch: Sequence[tuple[str, str | None, bytes, str]], handles: Sequence[Any] = ()
    ) -> list[Mined]:
        """Check ``batch`` in one simulation, send it in one request, mine it as one block
        (module doc). A batch that deploys a contract is mined in blocks of at most
        :data:`BLOCK_SIZE` and read back from its receipts, which state the new address."""
        senders: list[str] = []
        for sender, _, _, call in batch:
            try:
                senders.append(checksum_address(sender))
            except (ValueError, TypeError) as exc:
                raise LedgerError(call, f"bad sender address {sender!r}") from exc
        if self.shed_every_blocks and self._head - self._shed_at >= self.shed_every_blocks:
            self.shed_history()
        simulated = None if any(to is None for _, to, _, _ in batch) else self._simulate(batch)
        unknown = sorted({s for s in senders if s not in self._nonces})
        counts = self._client.batch([("eth_getTransactionCount", [s, "latest"]) for s in unknown])
        for address, count in zip(unknown, counts, strict=True):
            if isinstance(count, NodeError):
                raise LedgerError(batch[0][3], f"cannot read the nonce of {address}: {count}")
            self._nonces[address] = int(count, 16)
        before = {s: self._nonces[s] for s in set(senders)}
        requests = []
        size = len(batch)
        for i, (sender, (_, to, data, _)) in enumerate(zip(senders, batch, strict=True)):
            nonce = self._nonces[sender]
            self._nonces[sender] = nonce + 1
            tx = {
                "from": sender,
                "data": "0x" + data.hex(),
                "gas": hex(self.tx_gas_limit),
                "nonce": hex(nonce),
                "gasPrice": hex(size - i),  # mined in queue order (module docstring)
            }
            if to is not None:
                tx["to"] = to
            requests.append(("eth_sendTransaction", [tx]))
        # Blocks of at most `per_block` transactions, all of them within reach of a rollback;
        # a simulated flush is one block (its receipts are not read).
        per_block = size if simulated else max(BLOCK_SIZE, -(-size // (self.keep_states - 1)))
        blocks = 0
        try:
            hashes: list[Any] = []
            for first in range(0, size, per_block):
                sent = self._client.batch(requests[first : first + per_block])
                refused = next((i for i, h in enumerate(sent) if isinstance(h, NodeError)), None)
                if refused is not None:
                    # What the node took must not be mined with a later flush.
                    self._client.call("anvil_dropAllTransactions")
                    self._roll_back(blocks)
                    raise LedgerError(batch[first + refused][3], failure_reason(sent[refused]))
                hashes += sent
                self._mine()
                blocks += 1
            if simulated is not None and self._mined_as_simulated(simulated, hashes):
                return [
                    Mined(tx_hash=tx_hash, gas_used=gas, logs=logs, created=None)
                    for tx_hash, (gas, logs) in zip(hashes, simulated, strict=True)
                ]
            receipts = self._receipts(blocks, hashes, batch)
        except BaseException:
            self._nonces.update(before)
            raise
        return [
            mined_from_receipt(receipt, to is None)
            for receipt, (_, to, _, _) in zip(receipts, batch, strict=True)
        ]

    def _simulate(
        self, batch: Sequence[tuple[str, str | None, bytes, str]]
    ) -> list[tuple[int, tuple[Log, ...]]]:
        """Each transaction of ``batch`` run in order on the latest state, in the block it will
        be mined in (the chain's time), each on what the ones before it leave
        (``eth_simulateV1``): its gas and logs. The first that would fail raises
        :class:`LedgerError` with its call and reason; nothing is sent."""
        calls = [
            {"from": sender, "to": to, "data": "0x" + data.hex(), "gas": hex(self.tx_gas_limit)}
            for sender, to, data, _ in batch
        ]
        block = {
            "blockOverrides": {
                "time": hex(self._time),
                "gasLimit": hex(self.tx_gas_limit * max(1, len(calls))),
            },
            "calls": calls,
        }
        try:
            results = self._client.call("eth_simulateV1", [{"blockStateCalls": [block]}, "latest"])
            results = results[0]["calls"]
        except NodeError as exc:
            raise LedgerError(batch[0][3], f"the node cannot simulate the flush: {exc}") from exc
        if len(results) != len(batch):
            raise LedgerError(
                batch[0][3], f"the node simulated {len(results)} of {len(batch)} transactions"
            )
        outcomes = []
        for (_, _, _, call), result in zip(batch, results, strict=True):
            reason, gas = simulation_outcome(result)
            if reason is not None:
                raise LedgerError(call, reason)
            outcomes.append((gas, node_logs(result["logs"])))
        return outcomes

    def _mined_as_simulated(
        self, simulated: Sequence[tuple[int, tuple[Log, ...]]], hashes: Sequence[str]
    ) -> bool:
        """Whether the block just mined holds ``hashes`` in order and used the gas the
        simulation said. If not (never seen), the receipts are read instead."""
        header = self._client.call("eth_getBlockByNumber", [hex(self._head), False])
        gas = sum(gas for gas, _ in simulated)
        if header["transactions"] == list(hashes) and int(header["gasUsed"], 16) == gas:
            return True
        logger.warning(
            "block %d is not what its simulation said (%d of %d transactions, gas %s against "
            "%d): reading its receipts",
            self._head,
            len(header["transactions"]),
            len(hashes),
            int(header["gasUsed"], 16),
            gas,
        )
        return False

    def _receipts(
        self,
        blocks: int,
        hashes: Sequence[str],
        batch: Sequence[tuple[str, str | None, bytes, str]],
    ) -> list[dict[str, Any]]:
        """The receipts of the flush's last ``blocks`` blocks, checked: all of ``hashes`` in
        order, each successful. Otherwise the blocks are rolled back and :class:`LedgerError`
        names the failing call."""
        numbers = range(self._head - blocks + 1, self._head + 1)
        receipts: list[dict[str, Any]] = []
        for answer in self._client.batch([("eth_getBlockReceipts", [hex(n)]) for n in numbers]):
            if isinstance(answer, NodeError):
                self._roll_back(blocks)
                raise LedgerError(batch[0][3], f"cannot read the receipts: {answer}")
            receipts += answer or ()
        if [receipt.get("transactionHash") for receipt in receipts] != list(hashes):
            self._roll_back(blocks)
            raise LedgerError(
                batch[0][3],
                f"the node mined {len(receipts)} of {len(batch)} transactions, or not in order",
            )
        for index, receipt in enumerate(receipts):
            if receipt["status"] != "0x1":
                reason = self._trace_failure(receipt["transactionHash"])
                self._roll_back(blocks)
                raise LedgerError(batch[index][3], reason)
        return receipts

    def shed_history(self) -> bool:
        """Drop the node's blocks before the head, keeping its state (module doc); whether it
        did. A rollback cannot reach behind a shed; :meth:`_execute_many` sheds between
        flushes. A dump this cannot read is left alone (the node keeps its blocks, and the
        next shed is tried :data:`SHED_EVERY_BLOCKS` later); once the node is reset, its state
        must come back: from the cut dump, else the whole one, else :class:`LedgerError`."""
        self.flush()
        self._shed_at = self._head
        try:
            dump = self._client.call("anvil_dumpState")
            state = json.loads(gzip.decompress(hex_bytes(dump)))
            best = _number(state["best_block_number"])
            head = [b for b in state["blocks"] if _number(b["header"]["number"]) == best]
            if len(head) != 1:
                raise ValueError(f"no head block {best} among its blocks")
            before = self._client.call("eth_getBlockByNumber", ["latest", False])["hash"]
        except (NodeError, OSError, LookupError, TypeError, ValueError) as exc:
            logger.warning("%s keeps its blocks: its state dump is unreadable (%s)", self, exc)
            return False
        head[0]["transactions"] = []
        state.update(blocks=head, transactions=[], historical_states=None)
        cut = "0x" + gzip.compress(json.dumps(state).encode(), compresslevel=1).hex()
        self._client.call("anvil_reset", [])
        for blob in (cut, dump):
            try:
                self._client.call("anvil_loadState", [blob])
                after = self._client.call("eth_getBlockByNumber", ["latest", False])
            except NodeError as exc:
                logger.warning("%s: a state dump did not load back (%s)", self, exc)
                continue
            if after is not None and after.get("hash") == before:
                # As at the start (the reset brought back the genesis's system contracts).
                self._client.call("anvil_setCode", [HISTORY_STORAGE_ADDRESS, "0x"])
                return blob is cut
            self._client.call("anvil_reset", [])
        raise LedgerError("shed_history", f"the node lost its state at block {self._head}")

    def _roll_back(self, blocks: int) -> None:
        if blocks:
            self._client.call("anvil_rollback", [blocks])
            self._head -= blocks

    def _trace_failure(self, tx_hash: str) -> str:
        """Why a mined transaction failed, in the embedded chain's words."""
        try:
            trace = self._client.call("debug_traceTransaction", [tx_hash, {"tracer": "callTracer"}])
        except NodeError as exc:
            return f"reverted on chain ({exc.message})"
        output = trace.get("output") or "0x"
        error = str(trace.get("error") or "")
        if len(output) > 2 or "revert" in error.lower():
            return revert_reason(hex_bytes(output))
        return error or "reverted on chain"
