"""The JSON-RPC chain backend: any EVM node (anvil, geth, Besu), with keys held here.

:class:`RpcChain` implements :class:`~peergrid.ledger.chain.base.Chain` with the same semantics
as the embedded chain, so the same calls end in the same state on both:

* **Accounts are local keys.** ``accounts=`` holds private keys that :meth:`RpcChain.new_account`
  hands out in order (for a consortium node: the members' keys; for anvil: its dev keys). When
  they are used up and a ``funder`` key is given, ``new_account`` makes a fresh random key and
  funds it with ``fund_wei`` from the funder (a plain value transfer; it is not a ledger call,
  so it is not in :attr:`~peergrid.ledger.chain.base.Chain.gas_log`).
  :meth:`RpcChain.add_account` adds a key without handing it out (e.g. the operator's key read
  from a key store).
* **Transactions are signed here** as EIP-1559 transactions, natively
  (:mod:`~peergrid.ledger.chain.signing`: RLP and coincurve), or as legacy ones by eth-account
  if the node's blocks have no base fee.
* **A reverting call leaves no trace.** :meth:`RpcChain.transact` first asks the node to estimate
  the gas (``eth_estimateGas``, capped at :attr:`RpcChain.tx_gas_limit`); a revert there raises
  :class:`~peergrid.core.errors.LedgerError` with ``call="Contract.function"`` and the revert
  reason decoded by :func:`~peergrid.ledger.chain.abi.revert_reason`, before anything is signed
  or sent: no nonce used, no gas paid, no gas record. The gas limit sent is the estimate plus a
  margin (gas *used* does not depend on the limit). A transaction that passes the estimate and
  still fails when mined (the state changed in between) raises too; that one did use its nonce.
* **Nonces are managed in Python**, one counter per sender, read from the node once
  (``pending`` count) and then advanced here, never left to the node (with interval mining,
  node-assigned nonces drop transactions), and not checked per transaction: "nonce too low" for
  a transaction the node has never seen means another client used the key, so the counter is
  re-read and the transaction re-signed. With ``verify_nonces`` (one more request per
  transaction) the counter is checked against the node's count first: lower on the node means
  it lost transactions this client sent (the journal is recovered first, see below), higher
  means another client used the key (its count is taken).
* **Every transaction waits for its receipt**; its ``gasUsed`` goes to the gas log.
* **A pipeline is checked in one request** (``simulate_flush``, the default): under
  :meth:`~peergrid.ledger.chain.base.Chain.pipeline` transactions queue, and the flush asks the
  node to run them all in order, each on the state the ones before it leave
  (``eth_simulateV1``, one request instead of one estimate each). If one would fail, nothing
  of the flush is sent and :class:`~peergrid.core.errors.LedgerError` names its call and
  reason, raised by the flush (and by its pending receipts when read): no nonce used, no gas
  paid, no gas record, as the managed anvil does. Otherwise each is signed with a gas limit of
  :data:`SIMULATED_GAS_FACTOR` times the gas it used plus :data:`SIMULATED_GAS_EXTRA` (what
  any transaction of this gas can need, see there), sent in order, and the receipts read in
  JSON-RPC batches. On anvil mining each transaction as it comes (automine) the flush is
  mined as one block (``block_per_flush``): anvil 1.7.1 computes every block's state root over
  all the storage it holds, so one block per transaction made a slot slower the more the node
  stored. A 55-household batch-market slot (114 transactions) on anvil: 7 requests and about
  0.11 s, against 576 requests and 1.1 s (3.5 s over 40 slots) with an estimate, a send and
  receipt polls per transaction (``benchmarks/ledger_batch_slot.py --anvil``,
  docs/decisions.md). A node that does not answer ``eth_simulateV1`` gets each transaction
  checked, sent and awaited in turn, and later pipelines do not queue.
* With ``defer_receipts`` instead, under a pipeline a transaction is checked and sent at once
  (so a revert still raises at once and leaves no trace) and its receipt is read later, with
  the others of the flush, in JSON-RPC batches; a check that fails while sent transactions
  are not mined yet (a node mining at intervals) waits for them and checks again.
* **Three requests per transaction outside a pipeline** (estimate, send, receipt), over one
  kept-alive connection with the standard library's HTTP client and json module
  (:class:`~peergrid.ledger.chain.jsonrpc.JsonRpcClient`): a local node answers in a fraction of
  a millisecond, so the client's own cost per request is what counts.

The journal: a node that restarts mid-run. Every signed transaction is kept, as its raw bytes,
in a :class:`~peergrid.ledger.chain.journal.Journal` (which also holds each sender's next nonce).
When the node stops answering, requests are retried with exponential backoff for up to
``reconnect_timeout`` seconds; once it answers, :meth:`RpcChain.recover` replays the journal:
what the node lacks is sent again as the same signed bytes, so nothing is applied twice (see
:mod:`peergrid.ledger.chain.journal`). A restart between two requests shows no connection error
(the HTTP client reconnects silently); it is seen by the same recovery when a receipt is slow to
come (every ``stall_check_s`` seconds: the node holds the next transaction back, its nonce being
ahead of the node's count), by a read of a known contract that answers nothing (its code is
gone), and, with ``verify_nonces``, by the nonce check before the next transaction.

Assumption: the keys are used by this client only while it runs (a single writer per key),
which is how the platform runs the operator, DSO and issuer roles.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.abi import checksum_address
from peergrid.ledger.chain.base import (
    TX_GAS_LIMIT,
    ZERO_ADDRESS,
    Chain,
    Contract,
    FlushError,
    Mined,
)
from peergrid.ledger.chain.compile import Artifact
from peergrid.ledger.chain.journal import (
    ALREADY_KNOWN,
    Journal,
    JournalEntry,
    NodeError,
    NodeUnreachable,
    receipt_within,
)
from peergrid.ledger.chain.jsonrpc import (
    JsonRpcClient,
    failure_reason,
    hex_bytes,
    mined_from_receipt,
    simulation_outcome,
)
from peergrid.ledger.chain.signing import FastSigner

logger = logging.getLogger(__name__)

DEFAULT_FUND_WEI = 10**18
"""What :meth:`RpcChain.new_account` gives a fresh account: 1 ether, enough for its gas."""

SIMULATED_GAS_FACTOR = 1.3
SIMULATED_GAS_EXTRA = 5_000
"""The gas limit of a transaction checked by simulation: ``used × 1.3 + 5 000``, capped at
``tx_gas_limit``. What a transaction needs can exceed what it uses: a refund (at most a fifth
of the gas before it, EIP-3529, so the gas before it is at most 1.25 times the gas used), the
64th that a call keeps back from its callee (EIP-150: (64/63)² for a callee's callee; the
contracts here call at most one level down) and the 2 300 that a storage write must see left
(EIP-2200): 1.25 × (64/63)² ≈ 1.29. Gas *used* does not depend on the limit."""

_VALUE_TRANSFER_GAS = 21_000
_UNDERPRICED = ("underpriced", "less than block base fee", "fee cap less than", "max fee per gas")


class RpcChain(Chain):
    """A chain reached over EVM JSON-RPC; see the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        accounts: Iterable[str] = (),
        funder: str | None = None,
        fund_wei: int = DEFAULT_FUND_WEI,
        tx_gas_limit: int = TX_GAS_LIMIT,
        gas_margin: float = 0.25,
        request_timeout: float = 30.0,
        reconnect_timeout: float = 60.0,
        receipt_timeout: float = 120.0,
        stall_check_s: float = 2.0,
        journal_limit: int = 4096,
        verify_nonces: bool = False,
        defer_receipts: bool = False,
        simulate_flush: bool = True,
        block_per_flush: bool = True,
    ) -> None:
        super().__init__()
        self.defer_receipts = defer_receipts
        self.block_per_flush = block_per_flush
        self.queues_transactions = defer_receipts or simulate_flush
        # Whether the node answers eth_simulateV1: None until a flush asks it.
        self._simulates: bool | None = None if simulate_flush else False
        self.url = url
        self.tx_gas_limit = tx_gas_limit
        self.gas_margin = gas_margin
        self.fund_wei = fund_wei
        self.reconnect_timeout = reconnect_timeout
        self.receipt_timeout = receipt_timeout
        self.stall_check_s = stall_check_s
        self.verify_nonces = verify_nonces
        self._client = JsonRpcClient(url, timeout=request_timeout)
        self._lock = threading.RLock()
        self._signers: dict[str, LocalAccount] = {}
        self._fast: dict[str, FastSigner] = {}
        self._labels: dict[str, str] = {}
        self._pool: list[str] = list(accounts)
        self._funder: LocalAccount | None = None
        self._journal = Journal(journal_limit)
        self._fees: tuple[float, dict[str, int]] | None = None
        self.reconnects = 0
        """How many times the node was lost and found again."""
        try:
            self.chain_id = int(self._post("eth_chainId", []), 16)
        except (NodeUnreachable, NodeError) as exc:
            self._client.close()
            raise LedgerError("rpc", f"no EVM JSON-RPC node answers at {url}: {exc}") from exc
        try:
            self.client_version = str(self._post("web3_clientVersion", []))
        except (NodeUnreachable, NodeError):
            self.client_version = "unknown"
        if funder is not None:
            self._funder = self._load_key(funder, "funder")

    # --- accounts ----------------------------------------------------------------------------

    @property
    def accounts(self) -> Mapping[str, str]:
        """Address -> label of every account this chain signs for (the funder excluded)."""
        return dict(self._labels)

    @property
    def funder(self) -> str | None:
        """The address that funds fresh accounts, if any."""
        return self._funder.address if self._funder is not None else None

    @property
    def is_anvil(self) -> bool:
        return self.client_version.lower().startswith("anvil")

    def _load_key(self, private_key: str, label: str) -> LocalAccount:
        try:
            account: LocalAccount = Account.from_key(private_key)
        except (ValueError, TypeError) as exc:
            raise LedgerError("rpc", f"the key for {label!r} is not a private key") from exc
        self._signers[account.address] = account
        return account

    def add_account(self, private_key: str, label: str) -> str:
        """Sign for ``private_key`` from now on (not handed out by ``new_account``)."""
        with self._lock:
            account = self._load_key(private_key, label)
            self._labels[account.address] = label
            return str(account.address)

    def private_key(self, address: str) -> str:
        """The hex private key this chain signs ``address``'s transactions with (for a key
        store: an operator that restarts needs the keys of the accounts it made)."""
        with self._lock:
            account = self._signers.get(checksum_address(address))
            if account is None:
                raise LedgerError("rpc", f"no key for {address}")
            return "0x" + bytes(account.key).hex()

    def new_account(self, label: str) -> str:
        """The next key of ``accounts=``, else a fresh key funded by the funder."""
        with self._lock:
            if self._pool:
                return self.add_account(self._pool.pop(0), label)
            if self._funder is None:
                raise LedgerError(
                    "new_account",
                    f"no unused key left for {label!r}: pass more keys in accounts= or a funder=",
                )
            fresh = self.add_account("0x" + os.urandom(32).hex(), label)
            self._fund(fresh)
            return fresh

    def _fund(self, address: str) -> None:
        assert self._funder is not None
        self._send_value(self._funder, address, self.fund_wei, f"fund {address}")

    def transfer_value(self, sender: str, to: str, value_wei: int) -> str:
        """Send ``value_wei`` of the chain's currency (ether) from ``sender``; the tx hash.

        A plain value transfer (21 000 gas), journaled like any transaction but not a ledger
        call, so not in the gas log.
        """
        call = f"transfer {value_wei} wei to {to}"
        with self._lock:
            account = self._signer(sender, call)
            try:
                target = checksum_address(to)
            except (ValueError, TypeError) as exc:
                raise LedgerError(call, f"bad address {to!r}") from exc
            return self._send_value(account, target, value_wei, call)

    def _send_value(self, account: LocalAccount, to: str, value_wei: int, call: str) -> str:
        if self.verify_nonces:
            self._sync_nonce(account.address)
        entry = self._sign(account, to, b"", _VALUE_TRANSFER_GAS, call, value_wei)
        entry = self._submit(entry)
        self._check_status(self._await_receipt(entry), entry, None, b"")
        return entry.tx_hash

    def nonce(self, address: str) -> int:
        """How many transactions ``address`` has had mined (``eth_getTransactionCount``)."""
        return int(self._rpc("eth_getTransactionCount", [address, "latest"]), 16)

    def balance_wei(self, address: str) -> int:
        return int(self._rpc("eth_getBalance", [address, "latest"]), 16)

    def block_number(self) -> int:
        """The height of the node's chain."""
        return int(self._rpc("eth_blockNumber", []), 16)

    def timestamp(self) -> int:
        """The timestamp of the node's latest block (the next block's is not earlier)."""
        block = self._rpc("eth_getBlockByNumber", ["latest", False])
        return int(block["timestamp"], 16)

    def _advance_clock(self, seconds: int) -> None:
        """``evm_increaseTime`` then ``evm_mine`` (anvil, hardhat): the next blocks are later."""
        try:
            self._rpc("evm_increaseTime", [seconds])
            self._rpc("evm_mine", [])
        except NodeError as exc:
            raise LedgerError(
                "advance_time", f"the node at {self.url} cannot move its clock: {exc.message}"
            ) from exc

    # --- contracts ---------------------------------------------------------------------------

    def at(self, artifact: Artifact, address: str) -> Contract:
        """The contract ``artifact`` deployed at ``address``; refuses an address without code."""
        contract = super().at(artifact, address)
        code = self._rpc("eth_getCode", [contract.address, "latest"])
        if len(hex_bytes(code)) == 0:
            raise LedgerError(f"{artifact.name}.at", f"no contract code at {contract.address}")
        return contract

    def _static_call(self, to: str, data: bytes, call: str, sender: str = ZERO_ADDRESS) -> bytes:
        """The output of a read-only call. A contract this chain deployed or attached that
        answers nothing has lost its code: the node restarted to an older or empty state between
        two requests (no request failed, so nothing noticed). The journal is replayed and the
        call asked again."""
        params = {
            "from": sender,
            "to": to,
            "data": "0x" + data.hex(),
            "gas": hex(self.tx_gas_limit),
        }
        try:
            output = hex_bytes(self._rpc("eth_call", [params, "latest"]))
            if not output and to in self._abis and self._journal.entries and self.recover():
                output = hex_bytes(self._rpc("eth_call", [params, "latest"]))
        except NodeError as exc:
            raise LedgerError(call, self._failure(exc)) from exc
        return output

    # --- sending -----------------------------------------------------------------------------

    def _fast_signer(self, account: LocalAccount) -> FastSigner:
        signer = self._fast.get(account.address)
        if signer is None:
            signer = self._fast[account.address] = FastSigner(bytes(account.key))
        return signer

    def _signer(self, sender: str, call: str) -> LocalAccount:
        try:
            address = checksum_address(sender)
        except (ValueError, TypeError) as exc:
            raise LedgerError(call, f"bad sender address {sender!r}") from exc
        account = self._signers.get(address)
        if account is None:
            raise LedgerError(
                call, f"no private key for sender {address}: add it with accounts= or add_account()"
            )
        return account

    def _execute(self, sender: str, to: str | None, data: bytes, call: str) -> Mined:
        """Estimate, sign, send, wait for the receipt of a successful transaction."""
        with self._lock:
            entry = self._send(sender, to, data, call)
            receipt = self._await_receipt(entry)
            self._check_status(receipt, entry, to, data)
        return mined_from_receipt(receipt, to is None)

    def _enqueue(self, sender: str, to: str, data: bytes, call: str) -> JournalEntry | None:
        """Under a pipeline with ``defer_receipts``: check and send now, read the receipt at
        the flush. Otherwise nothing until the flush."""
        if not self.defer_receipts:
            return None
        with self._lock:
            return self._send(sender, to, data, call)

    def _execute_many(
        self, batch: Sequence[tuple[str, str, bytes, str]], handles: Sequence[Any]
    ) -> list[Mined]:
        """A flush: the receipts of transactions :meth:`_enqueue` sent, read in batches; or
        the queued transactions checked in one simulation, sent, and their receipts read."""
        with self._lock:
            if self.defer_receipts:
                deferred = self._receipts_of(dict(enumerate(handles)), batch)
                return [deferred[at] for at in range(len(batch))]
            checked = self._simulate(batch) if self._simulates is not False else None
            if checked is None:
                return self._one_by_one(batch)
            for (_, _, _, call), (reason, _) in zip(batch, checked, strict=True):
                if reason is not None:
                    raise LedgerError(call, reason)  # nothing of the flush was sent
            limits = [
                min(self.tx_gas_limit, int(used * SIMULATED_GAS_FACTOR) + SIMULATED_GAS_EXTRA)
                for _, used in checked
            ]
            # Every sender's key first: a flush with one this client cannot sign sends nothing.
            accounts = [self._signer(sender, call) for sender, _, _, call in batch]
            sent: dict[int, JournalEntry] = {}
            if self.block_per_flush and len(batch) > 1 and self._automining():
                refused = self._send_as_one_block(batch, accounts, limits, sent)
            else:
                refused = self._send_in_turn(batch, accounts, limits, sent)
            if refused is not None:
                # Refused after the check: what was sent is applied (or failed on chain).
                try:
                    done = self._receipts_of(sent, batch)
                except FlushError as partial:
                    raise FlushError(partial.applied, refused) from refused
                raise FlushError(done, refused) from refused
            mined = self._receipts_of(sent, batch)
            return [mined[at] for at in range(len(batch))]

    def _send_in_turn(
        self,
        batch: Sequence[tuple[str, str, bytes, str]],
        accounts: Sequence[LocalAccount],
        limits: Sequence[int],
        sent: dict[int, JournalEntry],
    ) -> LedgerError | None:
        """Sign and send each in order (``sent`` gets them by position); the refusal that
        stopped it, if any."""
        for at, (account, (_, to, data, call), gas) in enumerate(
            zip(accounts, batch, limits, strict=True)
        ):
            if self.verify_nonces:
                self._sync_nonce(account.address)
            try:
                sent[at] = self._submit(self._sign(account, to, data, gas, call))
            except LedgerError as exc:
                return exc
        return None

    def _send_as_one_block(
        self,
        batch: Sequence[tuple[str, str, bytes, str]],
        accounts: Sequence[LocalAccount],
        limits: Sequence[int],
        sent: dict[int, JournalEntry],
    ) -> LedgerError | None:
        """On anvil mining each transaction as it comes (automine): the flush as one block.

        Mining is paused, the transactions are sent in one JSON-RPC batch, each with a tip one
        wei above the next one's (anvil orders a block by tip, and handles a batch's requests
        in no set order), mined with one ``evm_mine`` and mining restored. One block per
        transaction would cost anvil a state root over all its storage each (module
        docstring). The first refusal, if any (the others are still sent and mined)."""
        entries: list[JournalEntry] = []
        try:
            for at, (account, (_, to, data, call), gas) in enumerate(
                zip(accounts, batch, limits, strict=True)
            ):
                if self.verify_nonces:
                    self._sync_nonce(account.address)
                bonus = len(batch) - at
                entries.append(self._sign(account, to, data, gas, call, tip_bonus=bonus))
        except BaseException:
            for entry in reversed(entries):  # signed, never sent: their nonces are free again
                self._journal.drop(entry)
            raise
        refused: LedgerError | None = None
        self._rpc("evm_setAutomine", [False])
        try:
            answers = self._rpc_batch(
                [("eth_sendRawTransaction", ["0x" + e.raw.hex()]) for e in entries]
            )
            for at, (entry, answer) in enumerate(zip(entries, answers, strict=True)):
                entry.attempts += 1
                try:
                    # A refusal is looked at as a single send's is (held, or re-signed).
                    sent[at] = (
                        self._refused(entry, answer, 3) if isinstance(answer, NodeError) else entry
                    )
                except LedgerError as exc:
                    refused = refused or exc
        finally:
            self._rpc("evm_mine", [])
            self._rpc("evm_setAutomine", [True])
        return refused

    def _automining(self) -> bool:
        """Whether the node is anvil mining each transaction as it comes."""
        if not self.is_anvil:
            return False
        try:
            return bool(self._rpc("anvil_getAutomine", []))
        except NodeError:
            return False

    def _receipts_of(
        self, entries: Mapping[int, JournalEntry], batch: Sequence[tuple[str, str, bytes, str]]
    ) -> dict[int, Mined]:
        """The receipts of sent ``entries`` (by position in ``batch``), read in batches; a
        transaction that failed on chain raises (with the others that were mined,
        :class:`FlushError`)."""
        at_list = sorted(entries)
        receipts = self._await_receipts([entries[at] for at in at_list])
        applied: dict[int, Mined] = {}
        failure: LedgerError | None = None
        for at, receipt in zip(at_list, receipts, strict=True):
            _, to, data, _ = batch[at]
            try:
                self._check_status(receipt, entries[at], to, data)
            except LedgerError as exc:
                failure = failure or exc
                continue
            applied[at] = mined_from_receipt(receipt, False)
        if failure is not None:
            raise FlushError(applied, failure)
        return applied

    def _one_by_one(self, batch: Sequence[tuple[str, str, bytes, str]]) -> list[Mined]:
        """A flush on a node that cannot simulate it: each checked, sent and awaited in turn,
        as outside a pipeline; a failure stops it there."""
        applied: list[Mined] = []
        for sender, to, data, call in batch:
            try:
                applied.append(self._execute(sender, to, data, call))
            except LedgerError as exc:
                raise FlushError(dict(enumerate(applied)), exc) from exc
        return applied

    def _simulate(
        self, batch: Sequence[tuple[str, str, bytes, str]]
    ) -> list[tuple[str | None, int]] | None:
        """Each transaction of ``batch`` run in order on the latest state, each on what the
        ones before it leave (``eth_simulateV1``, one request): its failure reason (None if
        it succeeds) and the gas it used. None if the node cannot simulate: then, if it never
        could, later pipelines do not queue."""
        calls = [
            {"from": sender, "to": to, "data": "0x" + data.hex(), "gas": hex(self.tx_gas_limit)}
            for sender, to, data, _ in batch
        ]
        block = {
            # Room for every call's gas limit, which some nodes count against the block's.
            "blockOverrides": {"gasLimit": hex(self.tx_gas_limit * max(1, len(calls)))},
            "calls": calls,
        }
        try:
            answer = self._rpc("eth_simulateV1", [{"blockStateCalls": [block]}, "latest"])
            results = answer[0]["calls"]
            if len(results) != len(batch):
                raise ValueError(f"{len(results)} results for {len(batch)} calls")
        except (NodeError, LookupError, TypeError, ValueError) as exc:
            if self._simulates is None:
                logger.info("%s cannot simulate a flush (%s): one transaction at a time", self, exc)
                self._simulates = False
                self.queues_transactions = False
            return None
        self._simulates = True
        return [simulation_outcome(result) for result in results]

    def _send(self, sender: str, to: str | None, data: bytes, call: str) -> JournalEntry:
        """Check the call (its gas estimate), sign it and send it."""
        account = self._signer(sender, call)
        if self.verify_nonces:
            self._sync_nonce(account.address)
        try:
            estimate = self._estimate(account.address, to, data, call)
        except LedgerError:
            if self._queue:
                # Under a pipeline, transactions sent before may not be mined yet (a node
                # that mines at intervals): wait for them, then ask again.
                self.flush()
            elif not self._node_went_back(account.address):
                raise
            else:
                # A node that went back to an older state (nothing checks it per
                # transaction): replay the journal, then ask again.
                self.recover()
            estimate = self._estimate(account.address, to, data, call)
        gas = min(self.tx_gas_limit, estimate + int(estimate * self.gas_margin))
        return self._submit(self._sign(account, to, data, gas, call))

    def _node_went_back(self, sender: str) -> bool:
        """Whether the node lost what this client sent: its chain is lower than the highest
        block a journal receipt was seen in, or it counts fewer transactions of ``sender``."""
        entries = self._journal.entries
        highest = max((e.block_number for e in entries if e.block_number is not None), default=0)
        if highest and int(self._rpc("eth_blockNumber", []), 16) < highest:
            return True
        expected = self._journal.next_nonce(sender)
        if expected is None:
            return False
        return int(self._rpc("eth_getTransactionCount", [sender, "pending"]), 16) < expected

    def _estimate(self, sender: str, to: str | None, data: bytes, call: str) -> int:
        params: dict[str, Any] = {
            "from": sender,
            "data": "0x" + data.hex(),
            "gas": hex(self.tx_gas_limit),
        }
        if to is not None:
            params["to"] = to
        try:
            return int(self._rpc("eth_estimateGas", [params]), 16)
        except NodeError as exc:
            raise LedgerError(call, self._failure(exc)) from exc

    @staticmethod
    def _failure(error: NodeError) -> str:
        """A reason in the embedded chain's words: the decoded revert, OutOfGas, or rejected."""
        return failure_reason(error)

    def _fee_fields(self, *, refresh: bool = False) -> dict[str, int]:
        """EIP-1559 fee caps (twice the base fee plus the tip), or a legacy gas price."""
        now = time.monotonic()
        if not refresh and self._fees is not None and now - self._fees[0] < 2.0:
            return self._fees[1]
        block = self._rpc("eth_getBlockByNumber", ["latest", False])
        base = block.get("baseFeePerGas") if isinstance(block, Mapping) else None
        fields: dict[str, int]
        if base is None:
            fields = {"gasPrice": int(self._rpc("eth_gasPrice", []), 16)}
        else:
            try:
                tip = int(self._rpc("eth_maxPriorityFeePerGas", []), 16)
            except NodeError:
                tip = 10**9
            fields = {"maxFeePerGas": 2 * int(base, 16) + tip, "maxPriorityFeePerGas": tip}
        self._fees = (now, fields)
        return fields

    def _sign(
        self,
        account: LocalAccount,
        to: str | None,
        data: bytes,
        gas: int,
        call: str,
        value: int = 0,
        *,
        refresh_fees: bool = False,
        tip_bonus: int = 0,
    ) -> JournalEntry:
        """Sign with the next Python-managed nonce of ``account`` and journal it; ``tip_bonus``
        wei more tip (or gas price) than the node asks for."""
        sender = str(account.address)
        nonce = self._journal.next_nonce(sender)
        if nonce is None:
            nonce = int(self._rpc("eth_getTransactionCount", [sender, "pending"]), 16)
        tx: dict[str, Any] = {
            "chainId": self.chain_id,
            "nonce": nonce,
            "value": value,
            "data": data,
            "gas": gas,
            **self._fee_fields(refresh=refresh_fees),
        }
        for name in ("maxPriorityFeePerGas", "maxFeePerGas", "gasPrice"):
            if name in tx:
                tx[name] += tip_bonus
        if "maxFeePerGas" in tx:
            raw, digest = self._fast_signer(account).sign_dynamic_fee(
                chain_id=self.chain_id,
                nonce=nonce,
                max_priority_fee_per_gas=tx["maxPriorityFeePerGas"],
                max_fee_per_gas=tx["maxFeePerGas"],
                gas=gas,
                to=to,
                value=value,
                data=data,
            )
        else:  # a node without a base fee: legacy transactions, signed by eth-account
            if to is not None:
                tx["to"] = to
            signed = account.sign_transaction(tx)
            raw, digest = bytes(signed.raw_transaction), bytes(signed.hash)
        return self._journal.record(
            tx_hash="0x" + digest.hex(),
            sender=sender,
            nonce=nonce,
            raw=raw,
            call=call,
            to=to,
            data=data,
            gas=gas,
            value=value,
        )

    def _sync_nonce(self, sender: str) -> None:
        """Check the Python nonce of ``sender`` against the node before a transaction.

        Below ours: the node lost transactions we sent (it restarted at an older state), so the
        journal is replayed first. Above ours: another client used the key; we take its count.
        """
        expected = self._journal.next_nonce(sender)
        if expected is None:
            return  # first use: read from the node when signing
        on_node = int(self._rpc("eth_getTransactionCount", [sender, "pending"]), 16)
        if on_node < expected:
            logger.warning(
                "%s: the node counts %d transactions, this client sent %d; recovering",
                sender,
                on_node,
                expected,
            )
            self.recover()
            on_node = int(self._rpc("eth_getTransactionCount", [sender, "pending"]), 16)
            if on_node != expected:
                raise LedgerError(
                    "rpc recovery",
                    f"after recovery the node counts {on_node} transactions of {sender}, "
                    f"this client sent {expected}",
                )
        elif on_node > expected:
            logger.warning(
                "%s: %d transactions sent by another client; nonce %d -> %d",
                sender,
                on_node - expected,
                expected,
                on_node,
            )
            self._journal.set_next_nonce(sender, on_node)

    def _submit(self, entry: JournalEntry, *, resigns: int = 3) -> JournalEntry:
        """Send ``entry``; a refusal that is not a revert raises :class:`LedgerError`.

        Returns the entry the node holds, which is a re-signed one after a nonce clash with
        another client or a fee below the base fee. Re-signing (a new transaction for the same
        call) is done only when the node refused the one and only request that carried the
        entry: then it certainly never applied it. Once a request was lost on the way, only the
        same signed bytes are ever sent again.
        """
        while True:
            entry.attempts += 1
            try:
                self._post("eth_sendRawTransaction", ["0x" + entry.raw.hex()])
                return entry
            except NodeUnreachable as exc:
                self._reconnect("eth_sendRawTransaction", exc)  # recovery resends it if lost
                if entry.confirmed:
                    return entry
                continue
            except NodeError as exc:
                error = exc
            break
        return self._refused(entry, error, resigns)

    def _refused(self, entry: JournalEntry, error: NodeError, resigns: int) -> JournalEntry:
        """What a refusal of ``entry`` means (see :meth:`_submit`): the entry the node holds
        after all, a re-signed one, or :class:`LedgerError`."""
        message = error.message.lower()
        only_request = entry.attempts == 1
        if any(k in message for k in ALREADY_KNOWN):
            return entry
        if "nonce too low" in message:
            if not only_request and (entry.confirmed or receipt_within(self._post, entry, 5.0)):
                return entry  # applied by an earlier request whose answer was lost
            if only_request and resigns > 0:
                logger.warning(
                    "%s: nonce %d of %s is taken by another client; re-reading it",
                    entry.call,
                    entry.nonce,
                    entry.sender,
                )
                return self._resign(entry, resigns, drop_nonce=True)
            raise LedgerError(
                entry.call,
                f"nonce {entry.nonce} of {entry.sender} was used by another transaction; "
                f"{entry.tx_hash} was not applied",
            ) from error
        if any(k in message for k in _UNDERPRICED) and only_request and resigns > 0:
            return self._resign(entry, resigns, drop_nonce=False)
        if only_request:
            self._journal.drop(entry)  # refused outright: its nonce is free again
        raise LedgerError(entry.call, f"transaction rejected: {error.message}") from error

    def _resign(self, entry: JournalEntry, resigns: int, *, drop_nonce: bool) -> JournalEntry:
        self._journal.drop(entry)
        if drop_nonce:
            self._journal.forget_nonce(entry.sender)  # re-read from the node
        fresh = self._sign(
            self._signers[entry.sender],
            entry.to,
            entry.data,
            entry.gas,
            entry.call,
            entry.value,
            refresh_fees=True,
        )
        return self._submit(fresh, resigns=resigns - 1)

    def _receipt(self, entry: JournalEntry) -> dict[str, Any] | None:
        receipt = self._rpc("eth_getTransactionReceipt", [entry.tx_hash])
        if receipt:
            self._journal.confirm(entry, int(receipt["blockNumber"], 16))
            return dict(receipt)
        return None

    def _await_receipts(self, entries: list[JournalEntry]) -> list[dict[str, Any]]:
        """The receipts of ``entries``, asked for (in one JSON-RPC batch for several) until all
        are mined; a slow one triggers a journal recovery every ``stall_check_s`` seconds."""
        found: dict[str, dict[str, Any]] = {}
        start = last_check = time.monotonic()
        delay = 0.0005
        while True:
            waiting = [e for e in entries if e.tx_hash not in found]
            if len(waiting) == 1:
                receipt = self._receipt(waiting[0])
                if receipt is not None:
                    found[waiting[0].tx_hash] = receipt
            elif waiting:
                requests = [("eth_getTransactionReceipt", [e.tx_hash]) for e in waiting]
                for entry, answer in zip(waiting, self._rpc_batch(requests), strict=True):
                    if isinstance(answer, NodeError):
                        raise LedgerError(entry.call, f"reading the receipt failed: {answer}")
                    if answer:
                        self._journal.confirm(entry, int(answer["blockNumber"], 16))
                        found[entry.tx_hash] = dict(answer)
            if len(found) == len(entries):
                return [found[e.tx_hash] for e in entries]
            now = time.monotonic()
            if now - start > self.receipt_timeout:
                entry = next(e for e in entries if e.tx_hash not in found)
                raise LedgerError(
                    entry.call,
                    f"no receipt for {entry.tx_hash} within {self.receipt_timeout:g} s "
                    "(it stays in the journal; RpcChain.recover() resends it if it was lost)",
                )
            if now - last_check > self.stall_check_s:
                last_check = now
                self._recover_once()
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def _await_receipt(self, entry: JournalEntry) -> dict[str, Any]:
        return self._await_receipts([entry])[0]

    def _check_status(
        self, receipt: Mapping[str, Any], entry: JournalEntry, to: str | None, data: bytes
    ) -> None:
        if int(receipt.get("status", "0x1"), 16) == 1:
            return
        reason = "reverted on chain"
        block = int(receipt["blockNumber"], 16)
        if to is not None and block > 0:
            params = {"from": entry.sender, "to": to, "data": "0x" + data.hex()}
            try:
                self._rpc("eth_call", [params, hex(block - 1)])
            except NodeError as exc:
                reason = self._failure(exc)
        raise LedgerError(
            entry.call,
            f"{reason} (mined in block {block} after a successful gas estimate: "
            f"its nonce is used and its gas {int(receipt['gasUsed'], 16)} paid)",
        )

    # --- the node and the journal ------------------------------------------------------------

    def _post(self, method: str, params: Sequence[Any]) -> Any:
        """One request, no retry."""
        return self._client.call(method, params)

    def _rpc(self, method: str, params: Sequence[Any]) -> Any:
        """One request; while the node is unreachable, wait for it and recover the journal."""
        while True:
            try:
                return self._post(method, params)
            except NodeUnreachable as exc:
                self._reconnect(method, exc)

    def _rpc_batch(self, requests: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Requests in one batch (results or :class:`NodeError`); waits out an outage as
        :meth:`_rpc` does."""
        while True:
            try:
                return self._client.batch(requests)
            except NodeUnreachable as exc:
                self._reconnect(requests[0][0] if requests else "batch", exc)

    def _reconnect(self, method: str, error: NodeUnreachable) -> None:
        """Wait (exponential backoff) until the node answers, then :meth:`recover`."""
        logger.warning("%s: node at %s unreachable (%s); retrying", method, self.url, error)
        with self._lock:
            self._await_node_and_recover()

    def _await_node_and_recover(self) -> None:
        deadline = time.monotonic() + self.reconnect_timeout
        delay = 0.05
        while True:
            try:
                chain_id = int(self._post("eth_chainId", []), 16)
                if chain_id != self.chain_id:
                    raise LedgerError(
                        "rpc",
                        f"the node at {self.url} now has chain id {chain_id}, not {self.chain_id}",
                    )
                self._recover_once()
                self.reconnects += 1
                logger.warning("node at %s answers again; journal recovered", self.url)
                return
            except NodeUnreachable as exc:
                if time.monotonic() + delay > deadline:
                    pending = self._journal.pending
                    raise LedgerError(
                        "rpc",
                        f"node at {self.url} unreachable for {self.reconnect_timeout:g} s "
                        f"({exc}); {pending} transaction(s) pending in the journal",
                    ) from exc
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def recover(self) -> int:
        """Compare the journal with the node and resend what it lacks (see the module doc).

        Returns how many transactions were sent again. Raises :class:`LedgerError` if the node
        lost transactions the journal no longer holds, or a journal nonce was used by another
        transaction.
        """
        with self._lock:
            while True:
                try:
                    return self._recover_once()
                except NodeUnreachable as exc:
                    self._reconnect("recover", exc)

    def _recover_once(self) -> int:
        """One pass of :meth:`recover`; raises :class:`NodeUnreachable` if the node drops again."""
        return self._journal.replay(self._post, self.receipt_timeout)

    @property
    def journal(self) -> tuple[JournalEntry, ...]:
        """The journal, oldest first (confirmed entries beyond ``journal_limit`` are dropped)."""
        return self._journal.entries

    @property
    def journal_limit(self) -> int:
        """How many confirmed transactions the journal keeps."""
        return self._journal.limit

    @journal_limit.setter
    def journal_limit(self, limit: int) -> None:
        self._journal.limit = limit

    def close(self) -> None:
        """Close the HTTP connection."""
        self._client.close()

    def __repr__(self) -> str:
        return f"RpcChain({self.url!r}, chain_id={self.chain_id}, {self.client_version})"
