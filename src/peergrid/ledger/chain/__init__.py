"""Chain infrastructure: the backends, the ABI, compilation, gas and a local anvil node.

* :mod:`~peergrid.ledger.chain.base` — the :class:`Chain` interface, :class:`Contract`,
  :class:`Receipt`, the pipeline (``Chain.pipeline()``, ``PendingReceipt``); deploying,
  sending and reading are written once there.
* :mod:`~peergrid.ledger.chain.embedded` — :class:`EmbeddedChain`, py-evm in process.
* :mod:`~peergrid.ledger.chain.managed` — ``ManagedAnvilChain``, a private anvil node started
  and stopped with the chain, transactions unsigned from impersonated accounts, a pipeline's
  flush mined together (imported on demand).
* :mod:`~peergrid.ledger.chain.rpc` — ``RpcChain``, any EVM node over JSON-RPC (imported on
  demand: it needs eth-account), with its transaction journal in
  :mod:`~peergrid.ledger.chain.journal` and its signing in :mod:`~peergrid.ledger.chain.signing`.
* :mod:`~peergrid.ledger.chain.jsonrpc` — the JSON-RPC client both node backends use.
* :mod:`~peergrid.ledger.chain.open` — :func:`open_chain` by backend name.
* :mod:`~peergrid.ledger.chain.abi`, :mod:`~peergrid.ledger.chain.compile`,
  :mod:`~peergrid.ledger.chain.gas`, :mod:`~peergrid.ledger.chain.anvil`.
"""

from peergrid.ledger.chain.base import TX_GAS_LIMIT, Chain, Contract, Receipt
from peergrid.ledger.chain.compile import Artifact, compile_contract
from peergrid.ledger.chain.embedded import EmbeddedChain
from peergrid.ledger.chain.gas import GasLog, GasRecord, GasSummary
from peergrid.ledger.chain.open import BACKENDS, open_chain

__all__ = [
    "BACKENDS",
    "TX_GAS_LIMIT",
    "Artifact",
    "Chain",
    "Contract",
    "EmbeddedChain",
    "GasLog",
    "GasRecord",
    "GasSummary",
    "Receipt",
    "compile_contract",
    "open_chain",
]
