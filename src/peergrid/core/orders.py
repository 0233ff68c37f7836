"""Orders: what a prosumer offers to sell or bids to buy in one slot.

Sign convention (written once, here): an order's ``quantity_kwh`` is always positive; the side
says the direction. A seller's ``price`` is the minimum it accepts, a buyer's the maximum it
pays, both in currency per kWh.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from peergrid.core.errors import OrderError


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    agent: str
    side: Side
    quantity_kwh: float
    price: float
    slot: int = 0
    bus: str | None = None
    max_distance_m: float | None = None
    submitted_at: int = 0

    def __post_init__(self) -> None:
        _check_order_values(self.id, self.side, self.quantity_kwh, self.price, self.max_distance_m)
        # Integers are accepted and stored as floats so that arithmetic never mixes the two.
        object.__setattr__(self, "quantity_kwh", float(self.quantity_kwh))
        object.__setattr__(self, "price", float(self.price))


def _check_order_values(
    order_id: str, side: object, quantity_kwh: float, price: float, max_distance_m: float | None
) -> None:
    if not isinstance(side, Side):
        raise OrderError(
            f"unknown side {side!r} (expected 'buy' or 'sell')", order_id=order_id, field="side"
        )
    if not _is_number(quantity_kwh) or not math.isfinite(quantity_kwh) or quantity_kwh <= 0:
        raise OrderError(
            f"must be a positive finite number, got {quantity_kwh!r}",
            order_id=order_id,
            field="quantity_kwh",
        )
    if not _is_number(price) or not math.isfinite(price) or price < 0:
        raise OrderError(
            f"must be a non-negative finite number, got {price!r}", order_id=order_id, field="price"
        )
    if max_distance_m is not None and (
        not _is_number(max_distance_m) or not math.isfinite(max_distance_m) or max_distance_m < 0
    ):
        raise OrderError(
            f"must be a non-negative finite number, got {max_distance_m!r}",
            order_id=order_id,
            field="max_distance_m",
        )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_ORDER_FIELDS = {
    "id",
    "agent",
    "side",
    "quantity_kwh",
    "price",
    "slot",
    "bus",
    "max_distance_m",
    "submitted_at",
}


def order_from_dict(raw: Mapping[str, Any], position: int) -> Order:
    """Build one order from its JSON form, naming the order and field on any error."""
    if not isinstance(raw, Mapping):
        raise OrderError(f"order #{position + 1} must be an object, got {type(raw).__name__}")
    if "id" not in raw:
        raise OrderError(f"order #{position + 1} has no 'id'", field="id")
    order_id = raw["id"]
    if not isinstance(order_id, str | int) or isinstance(order_id, bool) or str(order_id) == "":
        raise OrderError(
            f"order #{position + 1}: 'id' must be a non-empty string or integer", field="id"
        )
    order_id = str(order_id)
    unknown = sorted(set(raw) - _ORDER_FIELDS)
    if unknown:
        raise OrderError(
            f"unknown field(s) {', '.join(unknown)}", order_id=order_id, field=unknown[0]
        )
    for required in ("side", "quantity_kwh", "price"):
        if required not in raw:
            raise OrderError("is missing", order_id=order_id, field=required)
    side_raw = raw["side"]
    try:
        side = Side(str(side_raw).lower()) if isinstance(side_raw, str) else None
    except ValueError:
        side = None
    if side is None:
        raise OrderError(
            f"unknown side {side_raw!r} (expected 'buy' or 'sell')", order_id=order_id, field="side"
        )
    quantity = raw["quantity_kwh"]
    price = raw["price"]
    max_distance = raw.get("max_distance_m")
    _check_order_values(order_id, side, quantity, price, max_distance)
    slot = raw.get("slot", 0)
    submitted_at = raw.get("submitted_at", position)
    for name, value in (("slot", slot), ("submitted_at", submitted_at)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise OrderError(
                f"must be a non-negative integer, got {value!r}", order_id=order_id, field=name
            )
    bus = raw.get("bus")
    agent = raw.get("agent", order_id)
    return Order(
        id=order_id,
        agent=str(agent),
        side=side,
        quantity_kwh=float(quantity),
        price=float(price),
        slot=slot,
        bus=None if bus is None else str(bus),
        max_distance_m=None if max_distance is None else float(max_distance),
        submitted_at=submitted_at,
    )


def orders_from_dicts(raw_orders: Iterable[Mapping[str, Any]]) -> list[Order]:
    """Validate an order set: every order well formed and every id unique.

    Orders without ``submitted_at`` take their position in the list, so equal prices keep the
    order of the file.
    """
    orders: list[Order] = []
    seen: set[str] = set()
    for position, raw in enumerate(raw_orders):
        order = order_from_dict(raw, position)
        if order.id in seen:
            raise OrderError("duplicate order id", order_id=order.id, field="id")
        seen.add(order.id)
        orders.append(order)
    return orders


def parse_order_book(text: str) -> tuple[list[Order], dict[str, Any]]:
    """Parse the JSON order-set format: ``{"orders": [...], "params": {...}}``."""
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise OrderError(
            f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc
    except ValueError as exc:
        raise OrderError(str(exc)) from exc
    if not isinstance(document, dict):
        raise OrderError("the order file must be a JSON object with an 'orders' list")
    raw_orders = document.get("orders")
    if not isinstance(raw_orders, list):
        raise OrderError("the order file must have an 'orders' list", field="orders")
    params = document.get("params", {})
    if not isinstance(params, dict):
        raise OrderError("'params' must be an object", field="params")
    return orders_from_dicts(raw_orders), params


def _reject_constant(name: str) -> float:
    # json accepts NaN and Infinity by default; an order price of NaN must be refused by name.
    return float(name.replace("Infinity", "inf"))


def split_sides(orders: Sequence[Order]) -> tuple[list[Order], list[Order]]:
    """Buyers and sellers, each in submission order (stable on ``submitted_at``)."""
    buyers = [o for o in orders if o.side is Side.BUY]
    sellers = [o for o in orders if o.side is Side.SELL]
    buyers.sort(key=_submitted_at)
    sellers.sort(key=_submitted_at)
    return buyers, sellers


def _submitted_at(order: Order) -> int:
    return order.submitted_at


def canonical_order_set(orders: Sequence[Order]) -> bytes:
    """A byte string that identifies an order set independently of its order in memory.

    Orders sorted by id, each with every field, as compact JSON with sorted keys; the ledger
    records its hash with the clearing so that anyone holding the orders can check it.
    """
    rows = [
        {
            "id": o.id,
            "agent": o.agent,
            "side": o.side.value,
            "quantity_kwh": o.quantity_kwh,
            "price": o.price,
            "slot": o.slot,
            "bus": o.bus,
            "max_distance_m": o.max_distance_m,
            "submitted_at": o.submitted_at,
        }
        for o in sorted(orders, key=lambda o: o.id)
    ]
    return json.dumps(rows, sort_keys=True, separators=(",", ":")).encode()
