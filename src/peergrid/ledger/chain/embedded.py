"""The embedded chain backend: py-evm in process, with the Prague rules.

:class:`EmbeddedChain` runs py-evm (the EVM under titanoboa) in process; there is no process to
start. Every transaction is a real EIP-1559 transaction through py-evm's transaction executor
(a ``SpoofTransaction``: the sender is given, not recovered from a signature, which saves the
signing):

* gas is what a receipt states: 21 000 plus calldata (and the EIP-7623 floor) plus execution,
  less the refund capped at a fifth (EIP-3529), from ``PragueVM.finalize_gas_used``;
* each transaction starts fresh: ``state.lock_changes()`` before it resets the warm/cold access
  sets (EIP-2929) and fixes the "original" storage values that SSTORE pricing (EIP-2200) compares
  against. titanoboa's contract calls skip both and so under-report gas; this backend does not
  use them (see ``tests/ledger/test_gas.py`` for the cross-check);
* the block time (``block.timestamp``) is the wall-clock time when the chain was made and stands
  still, as does the block number: every transaction runs in the same pending block.
  :meth:`~peergrid.ledger.chain.base.Chain.advance_time` moves it forward;
* the gas limit of one transaction is 2**24 = 16 777 216 (the EIP-7825 cap, Osaka onwards),
  so a transaction that would not fit on a real chain does not fit here either.

The embedded chain builds its own py-evm chain rather than a ``boa.Env``: every ``boa.Env()``
wraps py-evm's shared opcode table in one more tracing layer and keeps the environment alive, so
a process that makes many chains (a test suite, a sweep) would slow down and grow.
"""

from __future__ import annotations

from collections.abc import Mapping

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
from peergrid.ledger.chain.abi import Log, revert_reason
from peergrid.ledger.chain.base import TX_GAS_LIMIT, ZERO_ADDRESS, Chain, Mined

EMBEDDED_CHAIN_ID = 1337


def derived_address(index: int, label: str) -> str:
    """The address of the ``index``-th account made, labelled ``label``: the same on every
    backend that makes its own accounts, so that calldata holding addresses, and so gas, is the
    same too."""
    return to_checksum_address(keccak(f"peergrid-embedded:{index}:{label}".encode())[-20:])


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
        address = derived_address(len(self._accounts), label)
        self._state.set_balance(to_canonical_address(address), self.ACCOUNT_BALANCE_WEI)
        self._accounts[address] = label
        return address

    def nonce(self, address: str) -> int:
        return int(self._state.get_nonce(to_canonical_address(address)))

    def timestamp(self) -> int:
        return int(self._state.execution_context.timestamp)

    def _advance_clock(self, seconds: int) -> None:
        # py-evm fixes the block's context when the VM is made and has no setter for it; every
        # TIMESTAMP opcode reads this field, so moving it moves the clock of what follows.
        context = self._state.execution_context
        context._timestamp = context.timestamp + seconds

    def _static_call(self, to: str, data: bytes, call: str, sender: str = ZERO_ADDRESS) -> bytes:
        target = to_canonical_address(to)
        origin = to_canonical_address(sender)
        message = Message(
            to=target,
            sender=origin,
            value=0,
            data=data,
            code=self._state.get_code(target),
            gas=self.tx_gas_limit,
            is_static=True,
        )
        context = BaseTransactionContext(gas_price=0, origin=origin)
        snapshot = self._state.snapshot()
        try:
            computation = self._state.computation_class.apply_message(self._state, message, context)
        finally:
            self._state.revert(snapshot)
        if computation.is_error:
            raise LedgerError(call, self._failure(computation))
        return bytes(computation.output)

    def _execute(self, sender: str, to: str | None, data: bytes, call: str) -> Mined:
        """Run one transaction; on failure undo it whole and raise :class:`LedgerError`."""
        target = constants.CREATE_CONTRACT_ADDRESS if to is None else to_canonical_address(to)
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
            to=target,
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
        return Mined(
            tx_hash="0x" + keccak(origin + signed.hash).hex(),
            gas_used=self._vm.finalize_gas_used(transaction, computation),
            logs=tuple(
                Log(
                    address=to_checksum_address(address),
                    topics=tuple(t.to_bytes(32, "big") for t in topics),
                    data=bytes(payload),
                )
                for address, topics, payload in computation.get_log_entries()
            ),
            created=(to_checksum_address(computation.msg.storage_address) if to is None else None),
        )

    @staticmethod
    def _failure(computation: ComputationAPI) -> str:
        error = computation.error
        output = computation.output
        if output or isinstance(error, Revert):
            return revert_reason(output)
        return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
