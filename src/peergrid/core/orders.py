"""Orders: what a prosumer offers to sell or bids to buy in one slot.

Sign convention (written once, here): an order's ``quantity_kwh`` is always positive; the side
says the direction. A seller's ``price`` is the minimum it accepts, a buyer's the maximum it
pays, both in currency per kWh.

Bounds (every order, however it is made): a quantity above 0 and at most
:data:`MAX_QUANTITY_KWH`, a price from 0 to :data:`MAX_PRICE_PER_KWH`, both finite: the largest
the market contracts take (2**48 - 1 Wh and 2**48 - 1 micro-units per kWh), rounded down to
whole kWh and whole currency units, so that every order peergrid accepts can be settled on the
ledger and no sum or mean of them overflows. A slot is at most :data:`MAX_SLOT` (the batch
market's), a trading radius at most :data:`MAX_DISTANCE_M`, an id, agent or bus at most
:data:`MAX_LABEL_CHARS` characters, and an order file holds at most :data:`MAX_ORDERS` orders.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from peergrid.core.errors import OrderError
from peergrid.core.inputs import parse_json, read_bytes, source_name

# The ledger's integer ranges, written again here because core imports nothing of peergrid:
# ledger/markets/base.py MAX_QUANTITY_WH and ledger/markets/batch_market.py
# MAX_RATE_MICRO_PER_KWH and MAX_SLOT (a test checks they agree).
LEDGER_MAX_QUANTITY_WH = 2**48 - 1
LEDGER_MAX_PRICE_MICRO_PER_KWH = 2**48 - 1

MAX_QUANTITY_KWH = float(LEDGER_MAX_QUANTITY_WH // 1000)
"""Largest order quantity, kWh (281 474 976 710 kWh: 2**48 - 1 Wh rounded down)."""

MAX_PRICE_PER_KWH = float(LEDGER_MAX_PRICE_MICRO_PER_KWH // 1_000_000)
"""Largest order price, currency per kWh (281 474 976: 2**48 - 1 micro-units rounded down)."""

MAX_SLOT = 2**32 - 2
"""Largest slot number (the batch market's)."""

MAX_SUBMITTED_AT = 2**63 - 1
"""Largest ``submitted_at`` (a 64-bit signed integer)."""

MAX_DISTANCE_M = 1_000_000.0
"""Largest trading radius, metres (1 000 km: beyond any feeder, the same as no limit)."""

MAX_LABEL_CHARS = 128
"""Longest order id, agent or bus name, characters."""

MAX_ORDERS = 100_000
"""Most orders in one order file."""


class Side(StrEnum):
    """The side of an order: a bid to buy or an offer to sell::

    peergrid.Side("buy") is peergrid.Side.BUY
    """

    BUY = "buy"
    SELL = "sell"


@dataclass(frozen=True, slots=True)
class Order:
    """One order of a book: ``quantity_kwh`` at a limit ``price`` (currency per kWh).

    ``agent`` is who places it, ``slot`` the delivery slot, ``bus`` where the agent connects
    (for distance-aware mechanisms), ``max_distance_m`` the farthest partner it accepts::

        bid = peergrid.Order("b1", "house-1", peergrid.Side.BUY, quantity_kwh=2.0, price=0.25)
        peergrid.clear([bid, offer], mechanism="mcafee")
    """

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
    if not _is_number(quantity_kwh) or not _finite(quantity_kwh) or quantity_kwh <= 0:
        raise OrderError(
            f"must be a positive finite number, got {_shown(quantity_kwh)}",
            order_id=order_id,
            field="quantity_kwh",
        )
    if quantity_kwh > MAX_QUANTITY_KWH:
        raise OrderError(
            f"must be at most {MAX_QUANTITY_KWH:.0f} kWh (the ledger's 2**48 - 1 Wh), "
            f"got {_shown(quantity_kwh)}",
            order_id=order_id,
            field="quantity_kwh",
        )
    if not _is_number(price) or not _finite(price) or price < 0:
        raise OrderError(
            f"must be a non-negative finite number, got {_shown(price)}",
            order_id=order_id,
            field="price",
        )
    if price > MAX_PRICE_PER_KWH:
        raise OrderError(
            f"must be at most {MAX_PRICE_PER_KWH:.0f} currency/kWh (the ledger's 2**48 - 1 "
            f"micro-units), got {_shown(price)}",
            order_id=order_id,
            field="price",
        )
    if max_distance_m is not None and (
        not _is_number(max_distance_m)
        or not _finite(max_distance_m)
        or not 0 <= max_distance_m <= MAX_DISTANCE_M
    ):
        raise OrderError(
            f"must be a finite number of metres from 0 to {MAX_DISTANCE_M:.0f}, "
            f"got {_shown(max_distance_m)}",
            order_id=order_id,
            field="max_distance_m",
        )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _finite(value: float) -> bool:
    """Finite, and (an integer) within the float range."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:36] + "…"


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
            f"order #{position + 1}: 'id' must be a non-empty string or integer, "
            f"got {_shown(order_id)}",
            field="id",
        )
    order_id = str(order_id)
    if len(order_id) > MAX_LABEL_CHARS:
        raise OrderError(
            f"order #{position + 1}: 'id' must be at most {MAX_LABEL_CHARS} characters, "
            f"got {len(order_id)}",
            field="id",
        )
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
    for name, value, largest in (
        ("slot", slot, MAX_SLOT),
        ("submitted_at", submitted_at, MAX_SUBMITTED_AT),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= largest:
            raise OrderError(
                f"must be an integer from 0 to {largest}, got {_shown(value)}",
                order_id=order_id,
                field=name,
            )
    bus = _label(raw.get("bus"), order_id, "bus")
    agent = _label(raw.get("agent", order_id), order_id, "agent")
    return Order(
        id=order_id,
        agent=str(agent),
        side=side,
        quantity_kwh=float(quantity),
        price=float(price),
        slot=slot,
        bus=bus,
        max_distance_m=None if max_distance is None else float(max_distance),
        submitted_at=submitted_at,
    )


def _label(value: object, order_id: str, field: str) -> str | None:
    """An agent or bus: a string or integer of at most :data:`MAX_LABEL_CHARS` characters."""
    if value is None:
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise OrderError(
            f"must be a string or an integer, got {_shown(value)}", order_id=order_id, field=field
        )
    text = str(value)
    if len(text) > MAX_LABEL_CHARS:
        raise OrderError(
            f"must be at most {MAX_LABEL_CHARS} characters, got {len(text)}",
            order_id=order_id,
            field=field,
        )
    return text


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


def parse_order_book(
    text: str | bytes, source: str | None = None
) -> tuple[list[Order], dict[str, Any]]:
    """Parse the JSON order-set format: ``{"orders": [...], "params": {...}}``.

    An optional top-level ``"pool"`` (the ancillary-service markets' ``"up"`` or ``"down"``) is
    returned as the parameter ``pool``, a top-level ``"evs"`` (the charging stations of the EV
    quota auction) as the parameter ``evs``.

    The text goes through the one input loader (:mod:`peergrid.core.inputs`); every error is an
    :class:`OrderError` whose message starts with ``source`` (the file's name) when given.
    """
    try:
        return _order_book(parse_json(text, source or "the order book", error=OrderError))
    except OrderError as exc:
        if source is None or str(exc).startswith(f"{source}: "):
            raise
        named = OrderError(f"{source}: {exc}")
        named.order_id, named.field = exc.order_id, exc.field
        raise named from None


def read_order_book(path: str | Path) -> tuple[list[Order], dict[str, Any]]:
    """Read and parse the order file at ``path`` (``-``: standard input)."""
    data = read_bytes(path, what="order file", error=OrderError)
    return parse_order_book(data, source_name(path))


def _order_book(document: Any) -> tuple[list[Order], dict[str, Any]]:
    if not isinstance(document, dict):
        raise OrderError("the order file must be a JSON object with an 'orders' list")
    unknown = sorted(set(document) - {"orders", "params", "pool", "evs"})
    if unknown:
        raise OrderError(
            f"unknown field {unknown[0]!r} (an order file has 'orders', 'params', 'pool' and "
            "'evs')",
            field=unknown[0],
        )
    raw_orders = document.get("orders")
    if not isinstance(raw_orders, list):
        raise OrderError("the order file must have an 'orders' list", field="orders")
    if len(raw_orders) > MAX_ORDERS:
        raise OrderError(
            f"holds {len(raw_orders)} orders; an order file holds at most {MAX_ORDERS}",
            field="orders",
        )
    params = document.get("params", {})
    if not isinstance(params, dict):
        raise OrderError("'params' must be an object", field="params")
    if "pool" in document:
        # An ancillary-service file names its pool at the top (one file, one pool); it is the
        # mechanism's parameter ``pool``, so a mechanism without pools refuses it as such.
        if "pool" in params and params["pool"] != document["pool"]:
            raise OrderError(
                f"names pool {document['pool']!r} but params name {params['pool']!r}",
                field="pool",
            )
        params = {**params, "pool": document["pool"]}
    for name in ("evs",):
        # The EV quota auction's stations stand beside the orders; like the pool they reach the
        # mechanism as a parameter, so a mechanism that has none refuses them as such.
        if name in document:
            if name in params:
                raise OrderError(f"{name!r} given both at the top and in 'params'", field=name)
            params = {**params, name: document[name]}
    return orders_from_dicts(raw_orders), params


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
