"""Chains: where contracts are deployed and transactions run, behind one interface.

:class:`Chain` is the interface every backend implements: make accounts, deploy a compiled
:class:`~peergrid.ledger.chain.compile.Artifact`, send a transaction (:meth:`Chain.transact`,
which returns a :class:`Receipt` and records its gas in :attr:`Chain.gas_log`) and read state
(:meth:`Chain.call`). Arguments and results are plain Python values (checksum address strings,
ints, bytes, tuples for structs); the ABI work is shared in :mod:`peergrid.ledger.chain.abi`, so
a backend only moves bytes. A call that reverts raises
:class:`~peergrid.core.errors.LedgerError` with ``call="Contract.function"`` and the contract's
revert reason, and leaves no trace: no state change, no nonce, no gas record. That is what a
JSON-RPC backend gives when it estimates gas before sending, so both backends end in the same
state after the same calls.

:meth:`Chain.deploy`, :meth:`Chain.transact` and :meth:`Chain.call` are written once, here:
they encode the call, hand bytes to the backend and turn what comes back into a
:class:`Contract`, a :class:`Receipt` with its gas record, or a decoded value. A backend
implements only the steps that differ: :meth:`Chain._execute` (run one transaction to its
receipt: a :class:`Mined`) and :meth:`Chain._static_call` (the output of a read-only call), with
:meth:`Chain.new_account` and :meth:`Chain.nonce`.

The clock: :meth:`Chain.timestamp` is the block time the next transaction sees (``block.timestamp``
in a contract), and :meth:`Chain.advance_time` moves it forward, for contracts with deadlines. The
embedded chain's clock stands still unless it is moved; a node's moves with its blocks, and a
development node (anvil) can be moved with ``evm_increaseTime``. A backend implements
:meth:`Chain._advance_clock`.

The pipeline: under ``with chain.pipeline():`` a backend that gains from it queues what
:meth:`Chain.transact` sends and returns a :class:`PendingReceipt` at once; the queue is flushed
when the ``with`` block ends, and before anything that reads the chain: :meth:`Chain.call`,
:meth:`Chain.deploy`, :meth:`Chain.nonce`, :meth:`Chain.timestamp`, :meth:`Chain.advance_time`,
or reading a pending receipt's ``tx_hash``, ``gas_used``, ``logs`` or ``events``. So code written
for immediate receipts runs unchanged under a pipeline, only with fewer round trips. Gas records
are added at the flush, in the order the transactions were queued. The managed anvil
(:class:`~peergrid.ledger.chain.managed.ManagedAnvilChain`) sends a flush as one batch mined as
one block; a failing transaction raises :class:`LedgerError` naming its call and undoes the whole
flush (nothing queued with it leaves a trace either), and its pending receipts raise the same
error when read. :class:`~peergrid.ledger.chain.rpc.RpcChain` checks a whole flush in one
request (``eth_simulateV1``: each transaction in order, on the state the ones before it leave)
and sends nothing of it if one would fail, then sends each and reads the receipts in batches;
with ``defer_receipts`` it checks and sends each transaction at once instead (a revert raises
at once, as without a pipeline). A flush that fails after some of its transactions were mined
(a node that refused one after the check) resolves their receipts and records their gas, and
fails the others (:class:`FlushError`). The embedded chain ignores the pipeline: its receipts
are final when :meth:`Chain.transact` returns.

The backends: :class:`~peergrid.ledger.chain.embedded.EmbeddedChain` (py-evm in process),
:class:`~peergrid.ledger.chain.rpc.RpcChain` (any node over EVM JSON-RPC) and
:class:`~peergrid.ledger.chain.managed.ManagedAnvilChain` (a private anvil it starts and stops);
:func:`~peergrid.ledger.chain.open.open_chain` opens each by name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Self

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.abi import ContractAbi, Event, Log, checksum_address
from peergrid.ledger.chain.compile import Artifact
from peergrid.ledger.chain.gas import GasLog, GasRecord

ZERO_ADDRESS = "0x" + "00" * 20
"""The ``msg.sender`` of a read-only call that names none."""

TX_GAS_LIMIT = 2**24
"""Most gas one transaction may use (EIP-7825's cap)."""


@dataclass(frozen=True)
class Contract:
    """A deployed contract: its name, address and ABI."""

    name: str
    address: str
    abi: ContractAbi = field(repr=False, compare=False)


@dataclass(frozen=True)
class Receipt:
    """What one mined transaction left: who sent what, the gas it used and its logs."""

    tx_hash: str
    sender: str
    contract: str
    function: str
    to: str
    gas_used: int
    logs: tuple[Log, ...]
    slot: int | None = None
    decoders: Mapping[str, ContractAbi] = field(default_factory=dict, repr=False, compare=False)

    @property
    def call(self) -> str:
        return f"{self.contract}.{self.function}"

    @cached_property
    def events(self) -> tuple[Event, ...]:
        """The logs decoded with the ABIs of the contracts the chain deployed."""
        decoded = []
        for log in self.logs:
            decoder = self.decoders.get(log.address)
            event = decoder.decode_log(log) if decoder is not None else None
            if event is not None:
                decoded.append(event)
        return tuple(decoded)

    def events_named(self, name: str) -> list[Event]:
        """The events called ``name``; only their logs are decoded (a clearing logs many)."""
        if "events" in self.__dict__:
            return [e for e in self.events if e.name == name]
        decoded = []
        for log in self.logs:
            decoder = self.decoders.get(log.address)
            if decoder is None or not log.topics or log.topics[0] != decoder.topic_of(name):
                continue
            event = decoder.decode_log(log)
            if event is not None:
                decoded.append(event)
        return decoded


_MINED_FIELDS = frozenset({"tx_hash", "gas_used", "logs"})


class PendingReceipt(Receipt):
    """The receipt of a transaction queued in a :meth:`Chain.pipeline`.

    Who sent what is known at once; reading ``tx_hash``, ``gas_used``, ``logs`` or ``events``
    flushes the chain's queue first. If that flush failed, reading them raises its
    :class:`LedgerError`.
    """

    def __init__(
        self,
        chain: Chain,
        sender: str,
        contract: str,
        function: str,
        to: str,
        slot: int | None,
        decoders: Mapping[str, ContractAbi],
    ) -> None:
        # A frozen dataclass: fields are set the way its own __init__ sets them.
        put = object.__setattr__
        put(self, "sender", sender)
        put(self, "contract", contract)
        put(self, "function", function)
        put(self, "to", to)
        put(self, "slot", slot)
        put(self, "decoders", decoders)
        put(self, "_chain", chain)
        put(self, "_error", None)

    def __getattr__(self, name: str) -> Any:
        # Called only for attributes not set yet: the mined fields before the flush.
        if name not in _MINED_FIELDS:
            raise AttributeError(name)
        chain: Chain | None = self.__dict__.get("_chain")
        if chain is not None:
            chain.flush()
        if name in self.__dict__:
            return self.__dict__[name]
        error: LedgerError | None = self.__dict__.get("_error")
        raise error if error is not None else LedgerError(self.call, "was never sent")

    @property
    def pending(self) -> bool:
        """Whether the transaction is still queued."""
        return "gas_used" not in self.__dict__ and self.__dict__.get("_error") is None

    def _resolve(self, mined: Mined) -> None:
        put = object.__setattr__
        put(self, "tx_hash", mined.tx_hash)
        put(self, "gas_used", mined.gas_used)
        put(self, "logs", mined.logs)
        put(self, "_chain", None)

    def _fail(self, error: LedgerError) -> None:
        object.__setattr__(self, "_error", error)
        object.__setattr__(self, "_chain", None)


@dataclass(frozen=True)
class Mined:
    """What a backend reports of one successful transaction, before :class:`Chain` types it."""

    tx_hash: str
    gas_used: int
    logs: tuple[Log, ...]
    created: str | None = None
    """The address of the contract a deployment created; ``None`` for a call."""


class FlushError(Exception):
    """A flush that failed after some of its transactions were applied.

    ``applied`` maps the position in the flush of each transaction that was mined successfully
    to what it gave; ``error`` is the failure, which the flush raises and gives to the pending
    receipts of every other transaction."""

    def __init__(self, applied: Mapping[int, Mined], error: LedgerError) -> None:
        super().__init__(str(error))
        self.applied = dict(applied)
        self.error = error


class Chain(ABC):
    """The interface of a ledger backend (see the module docstring)."""

    chain_id: int
    """The EIP-155 chain id transactions are signed for."""

    queues_transactions = False
    """Whether :meth:`transact` queues under :meth:`pipeline` (a backend that gains from it)."""

    def __init__(self) -> None:
        self.gas_log = GasLog()
        self._abis: dict[str, ContractAbi] = {}
        self._pipelines = 0
        self._queue: list[tuple[str, str, bytes, str, PendingReceipt, Any]] = []

    def close(self) -> None:
        """Release what the backend holds open (a node connection); the embedded EVM holds
        nothing. A chain is also a context manager that closes itself."""
        return None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- what every backend implements ------------------------------------------------------

    @abstractmethod
    def new_account(self, label: str) -> str:
        """A new externally owned account, funded for gas; its checksum address."""

    @abstractmethod
    def nonce(self, address: str) -> int:
        """How many transactions ``address`` has sent (its next nonce)."""

    @abstractmethod
    def _execute(self, sender: str, to: str | None, data: bytes, call: str) -> Mined:
        """Run one transaction from ``sender`` to ``to`` (``None``: create a contract).

        A transaction that fails (reverts, is invalid, runs out of gas) raises
        :class:`LedgerError` with ``call`` and leaves no trace where the backend allows it.
        """

    @abstractmethod
    def _static_call(self, to: str, data: bytes, call: str, sender: str = ZERO_ADDRESS) -> bytes:
        """The output of a read-only call of ``to`` as ``sender`` (its ``msg.sender``); a revert
        raises :class:`LedgerError`."""

    def _static_calls(self, to: str, data: bytes, call: str, senders: Sequence[str]) -> list[bytes]:
        """The outputs of one read-only call made by each of ``senders`` (a backend that can
        send them in one round trip overrides it); the first revert raises."""
        return [self._static_call(to, data, call, sender) for sender in senders]

    @abstractmethod
    def timestamp(self) -> int:
        """The block timestamp (seconds) the next transaction will see at the earliest."""

    def _advance_clock(self, seconds: int) -> None:
        """Move the backend's clock forward by ``seconds`` (a backend that can overrides it)."""
        raise LedgerError("advance_time", f"{type(self).__name__} cannot move its clock")

    def _enqueue(self, sender: str, to: str, data: bytes, call: str) -> Any:
        """A transaction is being queued: a backend may start on it now (check it, send it)
        and return a handle, given back to :meth:`_execute_many` at the flush. A failure here
        raises at once, and the transaction is not queued."""
        return None

    def _execute_many(
        self, batch: Sequence[tuple[str, str, bytes, str]], handles: Sequence[Any]
    ) -> list[Mined]:
        """Run (or finish) queued transactions ``(sender, to, data, call)`` in order.

        Only a backend that sets :attr:`queues_transactions` is ever asked; it overrides this.
        A failure after some were mined raises :class:`FlushError` with those.
        """
        return [self._execute(sender, to, data, call) for sender, to, data, call in batch]

    # --- the pipeline ------------------------------------------------------------------------

    @contextmanager
    def pipeline(self) -> Iterator[Self]:
        """Queue transactions until the block ends or the chain is read (module docstring).

        Pipelines nest; the outermost one flushes when it ends, also when the block raises
        (what was queued before the error is sent, as it would have been without a pipeline).
        """
        self._pipelines += 1
        try:
            yield self
        finally:
            self._pipelines -= 1
            if self._pipelines == 0:
                self.flush()

    @property
    def queued(self) -> int:
        """How many transactions wait in the pipeline's queue."""
        return len(self._queue)

    def flush(self) -> None:
        """Send what the pipeline queued and resolve its receipts (nothing queued: no-op)."""
        if not self._queue:
            return
        queue, self._queue = self._queue, []
        try:
            mined = self._execute_many(
                [(s, to, data, call) for s, to, data, call, _, _ in queue],
                [handle for *_, handle in queue],
            )
        except FlushError as partial:
            for at, (*_, receipt, _) in enumerate(queue):
                one = partial.applied.get(at)
                if one is None:
                    receipt._fail(partial.error)
                else:
                    self._record(receipt, one)
            raise partial.error from None
        except LedgerError as exc:
            for *_, receipt, _ in queue:
                receipt._fail(exc)
            raise
        for (_, _, _, _, receipt, _), one in zip(queue, mined, strict=True):
            self._record(receipt, one)

    def _record(self, receipt: PendingReceipt, mined: Mined) -> None:
        self.gas_log.add(
            GasRecord(receipt.contract, receipt.function, mined.gas_used, receipt.slot)
        )
        receipt._resolve(mined)

    # --- written once --------------------------------------------------------------------------

    def advance_time(self, seconds: int) -> int:
        """Move the chain's clock ``seconds`` forward; the new :meth:`timestamp`.

        For tests and simulations of deadlines: transactions sent afterwards see a block time at
        least ``seconds`` later than before. A backend that cannot move its clock (a production
        node) raises :class:`LedgerError`.
        """
        if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 0:
            raise ValueError(f"seconds must be a non-negative int, got {seconds!r}")
        self.flush()
        before = self.timestamp()
        self._advance_clock(seconds)
        after = self.timestamp()
        if after < before + seconds:
            raise LedgerError(
                "advance_time", f"the clock moved {after - before} s, not {seconds} s"
            )
        return after

    def deploy(self, sender: str, artifact: Artifact, *args: Any) -> Contract:
        """Deploy ``artifact`` from ``sender`` with constructor ``args``."""
        abi = ContractAbi(artifact.name, artifact.abi)
        data = artifact.bytecode + abi.encode_constructor(args)
        call = f"{artifact.name}.constructor"
        self.flush()  # the new address is needed at once
        mined = self._execute(sender, None, data, call)
        if not mined.created:
            raise LedgerError(call, "the receipt has no contract address")
        contract = Contract(artifact.name, checksum_address(mined.created), abi)
        self._register(contract)
        self.gas_log.add(GasRecord(artifact.name, "constructor", mined.gas_used))
        return contract

    def transact(
        self,
        sender: str,
        contract: Contract,
        fn_name: str,
        *args: Any,
        slot: int | None = None,
        tail: bytes = b"",
    ) -> Receipt:
        """Send a transaction calling ``fn_name(*args)``; ``slot`` tags its gas record.

        ``tail``: bytes appended to the ABI-encoded call, for a contract that reads packed data
        after its arguments (the batch market's owners and members).

        Under :meth:`pipeline` on a backend that queues, the transaction is queued and a
        :class:`PendingReceipt` returned.
        """
        fn = contract.abi.function(fn_name, len(args))
        data = contract.abi.encode_call(fn, args) + tail
        if self._pipelines and self.queues_transactions:
            call = f"{contract.name}.{fn_name}"
            try:
                checksum = checksum_address(sender)
            except (ValueError, TypeError) as exc:
                raise LedgerError(call, f"bad sender address {sender!r}") from exc
            handle = self._enqueue(checksum, contract.address, data, call)
            pending = PendingReceipt(
                self,
                checksum,
                contract.name,
                fn_name,
                contract.address,
                slot,
                self._abis,
            )
            self._queue.append((checksum, contract.address, data, call, pending, handle))
            return pending
        mined = self._execute(sender, contract.address, data, f"{contract.name}.{fn_name}")
        self.gas_log.add(GasRecord(contract.name, fn_name, mined.gas_used, slot))
        return Receipt(
            tx_hash=mined.tx_hash,
            sender=checksum_address(sender),
            contract=contract.name,
            function=fn_name,
            to=contract.address,
            gas_used=mined.gas_used,
            logs=mined.logs,
            slot=slot,
            decoders=self._abis,
        )

    def call(self, contract: Contract, fn_name: str, *args: Any, sender: str | None = None) -> Any:
        """Read-only call of ``fn_name(*args)``: its decoded return value. ``sender`` is the
        call's ``msg.sender`` (the zero address unless given): a view that answers only its
        caller reads it, and any caller can set it, as in ``eth_call``."""
        fn = contract.abi.function(fn_name, len(args))
        data = contract.abi.encode_call(fn, args)
        self.flush()
        call = f"{contract.name}.{fn_name}"
        if sender is None:
            output = self._static_call(contract.address, data, call)
        else:
            try:
                checksum = checksum_address(sender)
            except (ValueError, TypeError) as exc:
                raise LedgerError(call, f"bad sender address {sender!r}") from exc
            output = self._static_call(contract.address, data, call, checksum)
        return contract.abi.decode_output(fn, output)

    def call_as_each(
        self, contract: Contract, fn_name: str, senders: Sequence[str], *args: Any
    ) -> list[Any]:
        """The same read-only call ``fn_name(*args)`` made by each of ``senders`` (its
        ``msg.sender``), in their order: on a node, one round trip for all of them."""
        fn = contract.abi.function(fn_name, len(args))
        data = contract.abi.encode_call(fn, args)
        self.flush()
        call = f"{contract.name}.{fn_name}"
        checksums = []
        for sender in senders:
            try:
                checksums.append(checksum_address(sender))
            except (ValueError, TypeError) as exc:
                raise LedgerError(call, f"bad sender address {sender!r}") from exc
        outputs = self._static_calls(contract.address, data, call, checksums)
        return [contract.abi.decode_output(fn, output) for output in outputs]

    def at(self, artifact: Artifact, address: str) -> Contract:
        """The contract ``artifact`` already deployed at ``address`` (e.g. read from a file).

        Its events are decoded in receipts from then on, as for a contract deployed here.
        """
        try:
            checksum = checksum_address(address)
        except ValueError as exc:
            raise LedgerError(f"{artifact.name}.at", f"bad address {address!r}") from exc
        contract = Contract(artifact.name, checksum, ContractAbi(artifact.name, artifact.abi))
        self._register(contract)
        return contract

    def _register(self, contract: Contract) -> None:
        self._abis[contract.address] = contract.abi
