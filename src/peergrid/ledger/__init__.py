"""The ledger layer: Vyper contracts, their compilation, chain backends, typed clients and gas.

Imports only :mod:`peergrid.core` of the platform (never mechanisms, sim or grid): settlement
knows nothing of how trades were formed. Nothing happens on import; contracts compile on first
use (see :mod:`peergrid.ledger.compile`).
"""

from peergrid.ledger.chain import Chain, Contract, EmbeddedChain, Receipt
from peergrid.ledger.community import (
    MAX_MEMBERS_PER_TX,
    MAX_TRADES_PER_TX,
    CommunityLedger,
    SettlementTrade,
    SlotRecord,
    SlotStatus,
    order_set_hash,
    settlement_trades,
    split_settleable,
)
from peergrid.ledger.gas import GasLog, GasRecord, GasSummary

__all__ = [
    "MAX_MEMBERS_PER_TX",
    "MAX_TRADES_PER_TX",
    "Chain",
    "CommunityLedger",
    "Contract",
    "EmbeddedChain",
    "GasLog",
    "GasRecord",
    "GasSummary",
    "Receipt",
    "SettlementTrade",
    "SlotRecord",
    "SlotStatus",
    "order_set_hash",
    "settlement_trades",
    "split_settleable",
]
