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

:class:`EmbeddedChain` runs py-evm (the EVM under titanoboa) in process, with the Prague rules;
there is no process to start. Every transaction is a real EIP-1559 transaction through py-evm's
transaction executor (a ``SpoofTransaction``: the sender is given, not recovered from a
signature, which saves the signing):

* gas is what a receipt states: 21 000 plus calldata (and the EIP-7623 floor) plus execution,
  less the refund capped at a fifth (EIP-3529), from ``PragueVM.finalize_gas_used``;
* each transaction starts fresh: ``state.lock_changes()`` before it resets the warm/cold access
  sets (EIP-2929) and fixes the "original" storage values that SSTORE pricing (EIP-2200) compares
  against. titanoboa's contract calls skip both and so under-report gas; this backend does not
  use them (see ``tests/ledger/test_gas.py`` for the cross-check);
* the gas limit of one transaction is 2**24 = 16 777 216 (the EIP-7825 cap, Osaka onwards),
  so a transaction that would not fit on a real chain does not fit here either.

The embedded chain builds its own py-evm chain rather than a ``boa.Env``: every ``boa.Env()``
wraps py-evm's shared opcode table in one more tracing layer and keeps the environment alive, so
a process that makes many chains (a test suite, a sweep) would slow down and grow.

The JSON-RPC backend, :class:`peergrid.ledger.chain.rpc.RpcChain` (web3.py against anvil or a
consortium node), sits behind the same interface: ``new_account`` hands out a local key (funded
from a funder account if fresh), ``transact`` estimates the gas first (a revert raises before
anything is sent), signs, manages the nonce in Python and reads gas from the receipt, ``call`` is
``eth_call``. :func:`open_chain` opens either by name; the RPC backend is imported only when
asked for, so the embedded chain does not need web3.py.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final

from eth import constants
from eth.abc import ComputationAPI
from eth.chains.base import Chain as PyEvmChain
from eth.db.atomic import AtomicDB
from eth.exceptions import Revert
from eth.tools.builder.chain.builders import build, chain_id, fork_at
from eth.vm.forks import FrontierVM, PragueVM
from eth.vm.message import Message
from eth.vm.spoof import SpoofTransaction
from eth.vm.transaction_context import BaseTransactionContext
from eth_utils import ValidationError, keccak, to_canonical_address, to_checksum_address

from peergrid.core.errors import LedgerError
from peergrid.ledger.chain.abi import ContractAbi, Event, Log, revert_reason
from peergrid.ledger.chain.compile import Artifact
from peergrid.ledger.chain.gas import GasLog, GasRecord

if TYPE_CHECKING:
    from peergrid.ledger.chain.rpc import RpcChain

TX_GAS_LIMIT = 2**24
"""Most gas one transaction may use (EIP-7825's cap)."""

EMBEDDED_CHAIN_ID = 1337

BACKENDS: Final = ("embedded", "rpc")
"""The names :func:`open_chain` takes."""


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
        return [e for e in self.events if e.name == name]


class Chain(ABC):
    """The interface of a ledger backend (see the module docstring)."""

    chain_id: int
    """The EIP-155 chain id transactions are signed for."""

    def __init__(self) -> None:
        self.gas_log = GasLog()
        self._abis: dict[str, ContractAbi] = {}

    @abstractmethod
    def new_account(self, label: str) -> str:
        """A new externally owned account, funded for gas; its checksum address."""

    @abstractmethod
    def deploy(self, sender: str, artifact: Artifact, *args: Any) -> Contract:
        """Deploy ``artifact`` from ``sender`` with constructor ``args``."""

    @abstractmethod
    def transact(
        self, sender: str, contract: Contract, fn_name: str, *args: Any, slot: int | None = None
    ) -> Receipt:
        """Send a transaction calling ``fn_name(*args)``; ``slot`` tags its gas record."""

    @abstractmethod
    def call(self, contract: Contract, fn_name: str, *args: Any) -> Any:
        """Read-only call of ``fn_name(*args)``: its decoded return value."""

    @abstractmethod
    def nonce(self, address: str) -> int:
        """How many transactions ``address`` has sent (its next nonce)."""

    def at(self, artifact: Artifact, address: str) -> Contract:
        """The contract ``artifact`` already deployed at ``address`` (e.g. read from a file).

        Its events are decoded in receipts from then on, as for a contract deployed here.
        """
        try:
            checksum = to_checksum_address(address)
        except ValueError as exc:
            raise LedgerError(f"{artifact.name}.at", f"bad address {address!r}") from exc
        contract = Contract(artifact.name, checksum, ContractAbi(artifact.name, artifact.abi))
        self._register(contract)
        return contract

    def _register(self, contract: Contract) -> None:
        self._abis[contract.address] = contract.abi


class EmbeddedChain(Chain):
    """py-evm in process, Prague rules; see the module docstring for how gas is measured."""

    ACCOUNT_BALANCE_WEI = 10**24
    chain_id = EMBEDDED_CHAIN_ID

    def __init__(self, *, tx_gas_limit: int = TX_GAS_LIMIT) -> None:
        super().__init__()
        chain_class = build(
            PyEvmChain,
            fork_at(FrontierVM)(0),
            fork_at(PragueVM)(1),
            chain_id(EMBEDDED_CHAIN_ID),
        )
        genesis = {"difficulty": constants.GENESIS_DIFFICULTY, "gas_limit": 30_000_000}
        self._vm = chain_class.from_genesis(AtomicDB(), genesis).get_vm()
        self._state = self._vm.state
        self._builder = self._vm.get_transaction_builder()
        self._fee_per_gas = self._state.execution_context.base_fee_per_gas
        self.tx_gas_limit = tx_gas_limit
        self._accounts: dict[str, str] = {}

    @property
    def accounts(self) -> Mapping[str, str]:
        """Address -> label of every account made with :meth:`new_account`."""
        return dict(self._accounts)

    def new_account(self, label: str) -> str:
        seed = f"peergrid-embedded:{len(self._accounts)}:{label}".encode()
        address = to_checksum_address(keccak(seed)[-20:])
        self._state.set_balance(to_canonical_address(address), self.ACCOUNT_BALANCE_WEI)
        self._accounts[address] = label
        return address

    def nonce(self, address: str) -> int:
        return int(self._state.get_nonce(to_canonical_address(address)))

    def deploy(self, sender: str, artifact: Artifact, *args: Any) -> Contract:
        abi = ContractAbi(artifact.name, artifact.abi)
        data = artifact.bytecode + abi.encode_constructor(args)
        call = f"{artifact.name}.constructor"
        computation, gas, _ = self._send(sender, constants.CREATE_CONTRACT_ADDRESS, data, call)
        contract = Contract(
            name=artifact.name,
            address=to_checksum_address(computation.msg.storage_address),
            abi=abi,
        )
        self._register(contract)
        self.gas_log.add(GasRecord(artifact.name, "constructor", gas))
        return contract

    def transact(
        self, sender: str, contract: Contract, fn_name: str, *args: Any, slot: int | None = None
    ) -> Receipt:
        fn = contract.abi.function(fn_name, len(args))
        data = contract.abi.encode_call(fn, args)
        call = f"{contract.name}.{fn_name}"
        computation, gas, tx_hash = self._send(
            sender, to_canonical_address(contract.address), data, call
        )
        logs = tuple(
            Log(
                address=to_checksum_address(address),
                topics=tuple(t.to_bytes(32, "big") for t in topics),
                data=bytes(payload),
            )
            for address, topics, payload in computation.get_log_entries()
        )
        self.gas_log.add(GasRecord(contract.name, fn_name, gas, slot))
        return Receipt(
            tx_hash=tx_hash,
            sender=to_checksum_address(sender),
            contract=contract.name,
            function=fn_name,
            to=contract.address,
            gas_used=gas,
            logs=logs,
            slot=slot,
            decoders=self._abis,
        )

    def call(self, contract: Contract, fn_name: str, *args: Any) -> Any:
        fn = contract.abi.function(fn_name, len(args))
        data = contract.abi.encode_call(fn, args)
        target = to_canonical_address(contract.address)
        message = Message(
            to=target,
            sender=constants.ZERO_ADDRESS,
            value=0,
            data=data,
            code=self._state.get_code(target),
            gas=self.tx_gas_limit,
            is_static=True,
        )
        context = BaseTransactionContext(gas_price=0, origin=constants.ZERO_ADDRESS)
        snapshot = self._state.snapshot()
        try:
            computation = self._state.computation_class.apply_message(self._state, message, context)
        finally:
            self._state.revert(snapshot)
        if computation.is_error:
            raise LedgerError(f"{contract.name}.{fn_name}", self._failure(computation))
        return contract.abi.decode_output(fn, computation.output)

    def _send(
        self, sender: str, to: bytes, data: bytes, call: str
    ) -> tuple[ComputationAPI, int, str]:
        """Run one transaction; on failure undo it whole and raise :class:`LedgerError`."""
        try:
            origin = to_canonical_address(sender)
        except ValueError as exc:
            raise LedgerError(call, f"bad sender address {sender!r}") from exc
        nonce = self._state.get_nonce(origin)
        signed = self._builder.new_dynamic_fee_transaction(
            chain_id=EMBEDDED_CHAIN_ID,
            nonce=nonce,
            max_priority_fee_per_gas=0,
            max_fee_per_gas=self._fee_per_gas,
            gas=self.tx_gas_limit,
            to=to,
            value=0,
            data=data,
            access_list=(),
            # A placeholder signature: the spoof below supplies the sender instead.
            y_parity=0,
            r=1,
            s=1,
        )
        transaction = SpoofTransaction(signed, sender=origin)
        # A new transaction: fresh warm/cold sets and SSTORE original values.
        self._state.lock_changes()
        snapshot = self._state.snapshot()
        try:
            computation = self._state.apply_transaction(transaction)
        except ValidationError as exc:  # nonce, balance or gas limit: the tx is invalid
            self._state.revert(snapshot)
            raise LedgerError(call, f"transaction rejected: {exc}") from exc
        if computation.is_error:
            self._state.revert(snapshot)
            raise LedgerError(call, self._failure(computation))
        self._state.commit(snapshot)
        gas = self._vm.finalize_gas_used(transaction, computation)
        tx_hash = "0x" + keccak(origin + signed.hash).hex()
        return computation, gas, tx_hash

    @staticmethod
    def _failure(computation: ComputationAPI) -> str:
        error = computation.error
        output = computation.output
        if output or isinstance(error, Revert):
            return revert_reason(output)
        return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def open_chain(
    backend: str = "embedded",
    url: str | None = None,
    *,
    accounts: Sequence[str] | None = None,
    funder: str | None = None,
    **options: Any,
) -> Chain:
    """A chain by backend name: ``"embedded"`` (in process, the default) or ``"rpc"`` (``url``).

    For ``"rpc"``, ``accounts`` are the private keys :meth:`Chain.new_account` hands out and
    ``funder`` the key that funds fresh accounts (see
    :class:`~peergrid.ledger.chain.rpc.RpcChain`). When neither is given and the node is anvil,
    its public dev keys are used: dev account 0 funds, dev accounts 1–9 are handed out first (so
    a deployment's roles on a dev node have keys that later commands can use), fresh funded keys
    after them. ``options`` go to the backend's constructor (e.g. ``tx_gas_limit``,
    ``reconnect_timeout``).
    """
    if backend == "embedded":
        if url is not None or accounts is not None or funder is not None:
            raise LedgerError("open_chain", "the embedded chain takes no url, accounts or funder")
        return EmbeddedChain(**options)
    if backend == "rpc":
        if not url:
            raise LedgerError("open_chain", "the rpc backend needs the node's url")
        return _open_rpc(url, accounts, funder, options)
    raise LedgerError(
        "open_chain", f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}"
    )


def _open_rpc(
    url: str, accounts: Sequence[str] | None, funder: str | None, options: dict[str, Any]
) -> RpcChain:
    from peergrid.ledger.chain.rpc import RpcChain

    chain = RpcChain(url, accounts=accounts or (), funder=funder, **options)
    if accounts is None and funder is None and chain.is_anvil:
        from peergrid.ledger.chain.anvil import ANVIL_DEV_KEYS

        chain.close()
        chain = RpcChain(url, accounts=ANVIL_DEV_KEYS[1:], funder=ANVIL_DEV_KEYS[0], **options)
    return chain
