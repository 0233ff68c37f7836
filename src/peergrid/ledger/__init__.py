"""The ledger layer: Vyper contracts, their compilation, chain backends, typed clients and gas.

Imports only :mod:`peergrid.core` of the platform (never mechanisms, sim or grid): settlement
knows nothing of how trades were formed. Nothing happens on import; contracts compile on first
use (see :mod:`peergrid.ledger.compile`).

Contracts and their clients:

* ``SettlementToken`` + ``Community`` — :class:`CommunityLedger`: the demo's slot settlement of
  trades posted by the operator.
* ``Consortium`` (and the consortium embedded in each market) — :class:`ConsortiumClient`:
  roles, admission and removal by vote.
* the escrow of each market — :class:`Escrow`: deposits, locks, pull withdrawals.
* ``BatchMarket`` — :class:`BatchMarketLedger`: sealed-bid batch auction per slot, clearing
  verified on chain, settlement against meter readings (:mod:`peergrid.ledger.meters`).
* ``OrderBook`` — :class:`OrderBookLedger`: continuous double auction (CDA/NCDA) with sessions,
  two pools and gate closure.
"""

from peergrid.ledger.batch_market import (
    BatchMarketLedger,
    ClearingOutcome,
    Fill,
    Phase,
    RevealedOrder,
    SealedOrder,
    SlotInfo,
    commitment,
    fills_from_trades,
    sealed_order,
)
from peergrid.ledger.batch_market import order_set_hash as batch_order_set_hash
from peergrid.ledger.chain import BACKENDS, Chain, Contract, EmbeddedChain, Receipt, open_chain
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
from peergrid.ledger.consortium import (
    ConsortiumClient,
    Proposal,
    ProposalKind,
    ProposalState,
    Role,
    RoleGrant,
)
from peergrid.ledger.escrow import Escrow, FillPayment, fill_payment, lock_micro
from peergrid.ledger.gas import GasLog, GasRecord, GasSummary
from peergrid.ledger.market_base import DistanceRow, millimetres
from peergrid.ledger.meters import MeterClient, MeteredSettlement, Position, metered_settlement
from peergrid.ledger.orderbook import (
    BookOrder,
    BookState,
    BookTrade,
    CancelReason,
    OrderBookLedger,
    Placement,
    Pool,
)

__all__ = [
    "BACKENDS",
    "MAX_MEMBERS_PER_TX",
    "MAX_TRADES_PER_TX",
    "BatchMarketLedger",
    "BookOrder",
    "BookState",
    "BookTrade",
    "CancelReason",
    "Chain",
    "ClearingOutcome",
    "CommunityLedger",
    "ConsortiumClient",
    "Contract",
    "DistanceRow",
    "EmbeddedChain",
    "Escrow",
    "Fill",
    "FillPayment",
    "GasLog",
    "GasRecord",
    "GasSummary",
    "MeterClient",
    "MeteredSettlement",
    "OrderBookLedger",
    "Phase",
    "Placement",
    "Pool",
    "Position",
    "Proposal",
    "ProposalKind",
    "ProposalState",
    "Receipt",
    "RevealedOrder",
    "Role",
    "RoleGrant",
    "SealedOrder",
    "SettlementTrade",
    "SlotInfo",
    "SlotRecord",
    "SlotStatus",
    "batch_order_set_hash",
    "commitment",
    "fill_payment",
    "fills_from_trades",
    "lock_micro",
    "metered_settlement",
    "millimetres",
    "open_chain",
    "order_set_hash",
    "sealed_order",
    "settlement_trades",
    "split_settleable",
]
