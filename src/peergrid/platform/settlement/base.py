"""What every way of settling a market on the ledger offers the platform, and the registry.

A settlement adapter is where a market enters the ledger: how its orders and trades reach the
contract, which trades the contract will refuse (so that the trading cycle voids them first),
and how a slot settles. Adapters take the :class:`~peergrid.ledger.Chain` they run on, so the
same run settles on the embedded EVM or on any JSON-RPC node. They are found by the name a
scenario gives as ``ledger.market`` (:data:`peergrid.platform.settlement.SETTLEMENTS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from peergrid.core.orders import Order
from peergrid.core.trades import Trade

if TYPE_CHECKING:
    from peergrid.grid.distance import DistanceMatrix
    from peergrid.ledger import GasLog, Receipt


@dataclass(frozen=True)
class MarketSetup:
    """What a settlement needs to open its market: who trades, where, and at which rates.

    ``agents`` are the members' stable ids (one account each); ``buses`` their buses in the
    same order, with ``distances`` the path lengths between them in metres, for a market that
    charges by distance (``distance_charge_per_m`` > 0).
    """

    agents: Sequence[str]
    deposit_per_member: float  # currency
    fee_per_kwh: float = 0.0  # the DSO's network fee on P2P energy
    penalty_per_kwh: float = 0.0  # on energy contracted but not delivered (eqs. 4.8/4.9)
    distance_charge_per_m: float = 0.0  # C_d, per matched pair
    buses: Sequence[int] | None = None
    distances: DistanceMatrix | None = None
    # Seeds the commitments' salts so that a simulation's gas figures repeat exactly; a live
    # market leaves it None (random salts, as secrecy needs).
    salt_seed: int | None = None


class Settlement(Protocol):
    """What the platform needs of a way of settling."""

    address_of: dict[str, str]
    deposits_micro: int  # everything deposited: members (and, for the batch market, the DSO)
    dropped_trades: int
    refused_fills: int
    unpaid_micro: int  # charges and penalties owed on chain that members could not pay

    @property
    def gas_log(self) -> GasLog: ...

    def refused(self, orders: Sequence[Order], trades: Sequence[Trade]) -> list[Trade]:
        """The trades this ledger would not settle, so that the cycle voids them first."""
        ...

    def settle(
        self,
        slot: int,
        orders: Sequence[Order],
        trades: Sequence[Trade],
        metered_kwh: Mapping[str, float] | None = None,
    ) -> tuple[Receipt, ...]: ...

    def money_conserved(self) -> bool:
        """Balances add up to the deposits and the contract's tokens cover them."""
        ...

    def surplus_micro(self) -> int:
        """Tokens the contract holds beyond every balance: sent to it without a deposit."""
        ...

    def balances_micro(self) -> dict[str, int]: ...

    def dso_balance(self) -> int: ...

    def member_deposit_micro(self) -> int: ...
