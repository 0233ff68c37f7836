"""The ledger layer: Vyper contracts, their compilation, chain backends, typed clients and gas.

Imports only :mod:`peergrid.core` of the platform (never mechanisms, sim or grid): settlement
knows nothing of how trades were formed. Nothing happens on import; contracts compile on first
use (see :mod:`peergrid.ledger.chain.compile`).

Two parts, and the contract sources:

* :mod:`peergrid.ledger.chain` — chain infrastructure: the :class:`Chain` interface with its
  pipeline (``chain.pipeline()``: a slot's transactions flushed together) and its backends
  (:class:`EmbeddedChain` in process; ``ManagedAnvilChain``, a private anvil node, in
  :mod:`peergrid.ledger.chain.managed`; ``RpcChain`` over JSON-RPC in
  :mod:`peergrid.ledger.chain.rpc`), :func:`open_chain` (``"auto"``: the managed anvil where
  anvil is installed, else the embedded chain), the ABI, compilation, gas accounting and a local
  anvil node.
* :mod:`peergrid.ledger.markets` — one typed client per contract:

  * ``SettlementToken`` + ``Community`` — :class:`CommunityLedger`: the demo's slot settlement
    of trades posted by the operator.
  * ``Consortium`` (and the consortium embedded in each market) — :class:`ConsortiumClient`:
    roles, admission and removal by vote.
  * the escrow of each market — :class:`Escrow`: deposits, locks, pull withdrawals.
  * ``BatchMarket`` — :class:`BatchMarketLedger`: sealed-bid batch auction per slot, clearing
    verified on chain, settlement against meter readings
    (:mod:`peergrid.ledger.markets.meters`).
  * ``OrderBook`` — :class:`OrderBookLedger`: continuous double auction (CDA/NCDA) with
    sessions, two pools and gate closure.

* ``ledger/contracts/*.vy`` — the Vyper sources.

What each contract refuses, in Python: :func:`batch_refused_trades` and
:func:`community_refused_trades` (the trades a market would not settle), with the batch
market's price rule :func:`within_price_limits` (and :func:`fill_within_limits` for a fill).
"""

from peergrid.ledger.chain import BACKENDS, Chain, Contract, EmbeddedChain, Receipt, open_chain
from peergrid.ledger.chain.gas import GasLog, GasRecord, GasSummary
from peergrid.ledger.markets import (
    MAX_MEMBERS_PER_TX,
    MAX_ORDERS_PER_SLOT,
    MAX_TRADES_PER_TX,
    BatchMarketLedger,
    BookOrder,
    BookState,
    BookTrade,
    CancelReason,
    ClearingOutcome,
    CommunityLedger,
    ConsortiumClient,
    DistanceRow,
    Escrow,
    Fill,
    FillPayment,
    MeterClient,
    MeteredSettlement,
    OrderBookLedger,
    OrderState,
    Phase,
    Placement,
    Pool,
    Position,
    Proposal,
    ProposalKind,
    ProposalState,
    RevealedOrder,
    Role,
    RoleGrant,
    SealedOrder,
    SettlementTrade,
    SlotInfo,
    SlotRecord,
    SlotStatus,
    batch_refused_trades,
    commitment,
    community_refused_trades,
    fill_payment,
    fill_within_limits,
    fills_from_trades,
    lock_micro,
    metered_settlement,
    millimetres,
    order_set_hash,
    sealed_order,
    settled_wh,
    settlement_trades,
    slot_transactions,
    split_settleable,
    within_price_limits,
)

__all__ = [
    "BACKENDS",
    "MAX_MEMBERS_PER_TX",
    "MAX_ORDERS_PER_SLOT",
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
    "OrderState",
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
    "batch_refused_trades",
    "commitment",
    "community_refused_trades",
    "fill_payment",
    "fill_within_limits",
    "fills_from_trades",
    "lock_micro",
    "metered_settlement",
    "millimetres",
    "open_chain",
    "order_set_hash",
    "sealed_order",
    "settled_wh",
    "settlement_trades",
    "slot_transactions",
    "split_settleable",
    "within_price_limits",
]
