"""Contract clients: one typed client per contract, and the rules each contract enforces.

* :mod:`~peergrid.ledger.markets.community` — :class:`CommunityLedger`: the settlement token and
  the Community contract (slot settlement of trades posted by the operator).
* :mod:`~peergrid.ledger.markets.consortium` — :class:`ConsortiumClient`: roles, admission and
  removal by vote.
* :mod:`~peergrid.ledger.markets.escrow` — :class:`Escrow`: deposits, locks, pull withdrawals.
* :mod:`~peergrid.ledger.markets.base` — :class:`MarketLedger`, what the market clients share
  (token, consortium, escrow, the DSO's feeder map).
* :mod:`~peergrid.ledger.markets.batch_market` — :class:`BatchMarketLedger`: the sealed-bid
  batch auction, its clearing verified on chain, and its price rule
  (:func:`within_price_limits`).
* :mod:`~peergrid.ledger.markets.meters` — :class:`MeterClient`: settlement against readings.
* :mod:`~peergrid.ledger.markets.orderbook` — :class:`OrderBookLedger`: continuous double auction.
* :mod:`~peergrid.ledger.markets.dvpp` — :class:`DvppLedger`: the DVPP of S4 (registration with
  a deposit, per-interval reports, the battery instruction, Eqs. 6–7, flexibility contracts).
* :mod:`~peergrid.ledger.markets.ev_quota` — :class:`EvQuotaLedger`: one period's EV charging
  quota market (pre-allocation, quota double auction, payment, withdrawal).
* :mod:`~peergrid.ledger.markets.deployment` — deploy a market (the batch market by default)
  and record where it is.

Two functions share the name ``refused_trades`` (one per contract); here they are
:func:`batch_refused_trades` and :func:`community_refused_trades`.
"""

from peergrid.ledger.markets.base import DistanceRow, MarketLedger, millimetres
from peergrid.ledger.markets.batch_market import (
    MAX_ORDERS_PER_SLOT,
    BatchMarketLedger,
    ClearingOutcome,
    Fill,
    OrderState,
    Phase,
    RevealedOrder,
    SealedOrder,
    SlotInfo,
    clear,
    commitment,
    fill_within_limits,
    fills_from_trades,
    sealed_order,
    settled_wh,
    slot_transactions,
    within_price_limits,
)
from peergrid.ledger.markets.batch_market import refused_trades as batch_refused_trades
from peergrid.ledger.markets.community import (
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
from peergrid.ledger.markets.community import refused_trades as community_refused_trades
from peergrid.ledger.markets.consortium import (
    ConsortiumClient,
    Proposal,
    ProposalKind,
    ProposalState,
    Role,
    RoleGrant,
)
from peergrid.ledger.markets.dvpp import DvppLedger
from peergrid.ledger.markets.escrow import Escrow, FillPayment, fill_payment, lock_micro
from peergrid.ledger.markets.ev_quota import EvQuotaLedger
from peergrid.ledger.markets.meters import (
    MeterClient,
    MeteredSettlement,
    Position,
    metered_settlement,
)
from peergrid.ledger.markets.orderbook import (
    BookOrder,
    BookState,
    BookTrade,
    CancelReason,
    OrderBookLedger,
    Placement,
    Pool,
)

__all__ = [
    "MAX_MEMBERS_PER_TX",
    "MAX_ORDERS_PER_SLOT",
    "MAX_TRADES_PER_TX",
    "BatchMarketLedger",
    "BookOrder",
    "BookState",
    "BookTrade",
    "CancelReason",
    "ClearingOutcome",
    "CommunityLedger",
    "ConsortiumClient",
    "DistanceRow",
    "DvppLedger",
    "Escrow",
    "EvQuotaLedger",
    "Fill",
    "FillPayment",
    "MarketLedger",
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
    "RevealedOrder",
    "Role",
    "RoleGrant",
    "SealedOrder",
    "SettlementTrade",
    "SlotInfo",
    "SlotRecord",
    "SlotStatus",
    "batch_refused_trades",
    "clear",
    "commitment",
    "community_refused_trades",
    "fill_payment",
    "fill_within_limits",
    "fills_from_trades",
    "lock_micro",
    "metered_settlement",
    "millimetres",
    "order_set_hash",
    "sealed_order",
    "settled_wh",
    "settlement_trades",
    "slot_transactions",
    "split_settleable",
    "within_price_limits",
]
