"""Trades and the result of a clearing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Trade:
    """Energy moving from a seller to a buyer at ``price`` (currency per kWh).

    ``grid_fee`` is the DSO's whole charge for the pair in currency; how it is split between the
    two sides is the settlement's business::

        for trade in peergrid.clear(orders).trades:
            print(trade.buyer, trade.seller, trade.quantity_kwh, trade.price)
    """

    buyer: str
    seller: str
    quantity_kwh: float
    price: float
    slot: int = 0
    grid_fee: float = 0.0
    buy_order: str = ""
    sell_order: str = ""
    # Where the mechanism knows the feeder path between the two orders' buses (the
    # ancillary-service markets): its length in metres and its number of lines and transformers.
    path_m: float | None = None
    hops: int | None = None

    @property
    def value(self) -> float:
        """What the buyer pays the seller, currency (the grid fee apart)::

        sum(trade.value for trade in clearing.trades)
        """
        return self.quantity_kwh * self.price

    def to_dict(self) -> dict[str, Any]:
        """The trade as JSON (as ``peergrid clear`` prints it)::

        pd.DataFrame([trade.to_dict() for trade in clearing.trades])
        """
        out: dict[str, Any] = {
            "buyer": self.buyer,
            "seller": self.seller,
            "buy_order": self.buy_order,
            "sell_order": self.sell_order,
            "quantity_kwh": self.quantity_kwh,
            "price": self.price,
            "grid_fee": self.grid_fee,
            "slot": self.slot,
        }
        # Only mechanisms that measure paths carry them: the others' output stays as it was.
        if self.path_m is not None:
            out["path_m"] = self.path_m
        if self.hops is not None:
            out["hops"] = self.hops
        return out


@dataclass(frozen=True)
class Clearing:
    """What a periodic mechanism returns.

    ``allocations`` maps every order id to its cleared kWh (0 for losers); ``info`` carries the
    mechanism's own diagnostics (case, intersection, oversupply, ...), JSON-serialisable::

        clearing = peergrid.clear(orders, mechanism="dpda")
        clearing.price, clearing.allocations["b1"], clearing.info["case"]
        clearing.to_dict()  # what `peergrid clear` prints
    """

    trades: tuple[Trade, ...]
    price: float | None
    allocations: Mapping[str, float]
    info: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The clearing as JSON, exactly what ``peergrid clear`` prints::

        json.dumps(peergrid.clear(orders, mechanism="mcafee").to_dict())
        """
        return {
            "price": self.price,
            "trades": [t.to_dict() for t in self.trades],
            "allocations": dict(self.allocations),
            "info": dict(self.info),
        }
