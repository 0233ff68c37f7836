"""Chain infrastructure: the backends, the ABI, compilation, gas and a local anvil node."""

from peergrid.ledger.chain.base import (
    BACKENDS,
    TX_GAS_LIMIT,
    Chain,
    Contract,
    EmbeddedChain,
    Receipt,
    open_chain,
)
from peergrid.ledger.chain.compile import Artifact, compile_contract
from peergrid.ledger.chain.gas import GasLog, GasRecord, GasSummary

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
