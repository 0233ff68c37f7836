"""Order books and clearings as NumPy arrays: how the uniform-price mechanisms run.

A large book clears in milliseconds as long as it stays in arrays; what costs time is reading
``Order`` attributes and building ``Trade`` objects and dictionaries. So the DAM and the DPDA
take an :class:`OrderArrays` (one array per field, one row per order) and return a
:class:`ClearingArrays` (trades as indices into the book); ``Trade`` objects, the allocation
dictionary and the id lists of ``info`` are built by :meth:`ClearingArrays.to_clearing`, only
when asked. The object API (``clear_dpda(orders)``, the registry's ``clear``) is
``OrderArrays.from_orders`` → arrays → ``to_clearing``, and gives the clearings it gave when it
ran on objects (docs/decisions.md, Mechanisms: the array path).

Arrays handed to these types are theirs: they are not copied, and must not be changed after.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from peergrid.core.errors import OrderError
from peergrid.core.orders import MAX_PRICE_PER_KWH, MAX_QUANTITY_KWH, Order, Side
from peergrid.core.trades import Clearing, Trade

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
Int64Array = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ObjectArray = npt.NDArray[np.object_]


def _objects(values: Iterable[Any]) -> ObjectArray:
    """A 1-d object array holding ``values`` as they are (strings are not split or converted)."""
    items = values if isinstance(values, list) else list(values)
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


def _submission_keys(values: list[int]) -> Int64Array:
    """``submitted_at`` as int64; values beyond int64 are replaced by their rank, which sorts
    the same (only their order is ever used)."""
    try:
        return np.array(values, dtype=np.int64)
    except OverflowError:
        pass
    ranks = {value: rank for rank, value in enumerate(sorted(set(values)))}
    return np.array([ranks[v] for v in values], dtype=np.int64)


@dataclass(frozen=True, eq=False)
class OrderArrays:
    """One slot's orders, one array per field and one row per order (in the book's order).

    ``bus`` and ``max_distance_m`` are None when no order names one; otherwise ``bus`` holds
    None where an order names none, and ``max_distance_m`` NaN where an order has no limit.
    """

    ids: ObjectArray  # str
    agents: ObjectArray  # str
    is_buy: BoolArray  # True: Side.BUY, False: Side.SELL
    quantity_kwh: FloatArray
    price: FloatArray
    submitted_at: Int64Array
    slot: Int64Array
    bus: ObjectArray | None = None
    max_distance_m: FloatArray | None = None

    def __post_init__(self) -> None:
        coerce = {
            "ids": object,
            "agents": object,
            "is_buy": np.bool_,
            "quantity_kwh": np.float64,
            "price": np.float64,
            "submitted_at": np.int64,
            "slot": np.int64,
            "bus": object,
            "max_distance_m": np.float64,
        }
        n = len(self.ids)
        for name, dtype in coerce.items():
            column = getattr(self, name)
            if column is None:
                continue
            column = np.asarray(column, dtype=dtype)
            if column.ndim != 1 or len(column) != n:
                raise ValueError(f"{name} must be a 1-d array of {n} values, as many as ids")
            object.__setattr__(self, name, column)
        q, p, d = self.quantity_kwh, self.price, self.max_distance_m
        # NaN fails every comparison: these hold for finite values only (NaN distance: no limit)
        self._refuse((q > 0) & (q < np.inf), "quantity_kwh", "a positive finite")
        self._refuse((p >= 0) & (p < np.inf), "price", "a non-negative finite")
        # the bounds every Order has (core/orders.py), with its words
        self._above(q, MAX_QUANTITY_KWH, "quantity_kwh", "kWh (the ledger's 2**48 - 1 Wh)")
        self._above(
            p, MAX_PRICE_PER_KWH, "price", "currency/kWh (the ledger's 2**48 - 1 micro-units)"
        )
        if d is not None:
            self._refuse(~((d < 0) | (d == np.inf)), "max_distance_m", "a non-negative finite")

    def _above(self, values: np.ndarray, bound: float, field: str, unit: str) -> None:
        """Raise the error ``Order`` raises for the first value above ``bound``."""
        over = (values > bound).nonzero()[0]
        if len(over):
            k = int(over[0])
            raise OrderError(
                f"must be at most {bound:.0f} {unit}, got {values[k].item()!r}",
                order_id=str(self.ids[k]),
                field=field,
            )

    def _refuse(self, good: BoolArray, field: str, kind: str) -> None:
        """Raise the error ``Order`` raises, for the first order that is not ``good``."""
        if not good.all():
            k = int((~good).nonzero()[0][0])
            value = getattr(self, field)[k].item()
            raise OrderError(
                f"must be {kind} number, got {value!r}", order_id=str(self.ids[k]), field=field
            )

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_orders(cls, orders: Sequence[Order]) -> OrderArrays:
        """The orders' fields as arrays, rows in the orders' order."""
        buses = [o.bus for o in orders]
        limits = [o.max_distance_m for o in orders]
        n = len(orders)
        return cls(
            ids=_objects([o.id for o in orders]),
            agents=_objects([o.agent for o in orders]),
            is_buy=np.array([o.side is Side.BUY for o in orders], dtype=np.bool_),
            quantity_kwh=np.array([o.quantity_kwh for o in orders], dtype=np.float64),
            price=np.array([o.price for o in orders], dtype=np.float64),
            submitted_at=_submission_keys([o.submitted_at for o in orders]),
            slot=np.array([o.slot for o in orders], dtype=np.int64),
            bus=None if buses.count(None) == n else _objects(buses),
            # None becomes NaN in a float array
            max_distance_m=None if limits.count(None) == n else np.array(limits, dtype=np.float64),
        )

    @classmethod
    def from_columns(
        cls,
        *,
        ids: Iterable[str] | npt.ArrayLike,
        is_buy: npt.ArrayLike,
        quantity_kwh: npt.ArrayLike,
        price: npt.ArrayLike,
        agents: Iterable[str] | npt.ArrayLike | None = None,
        submitted_at: npt.ArrayLike | None = None,
        slot: int | npt.ArrayLike = 0,
        bus: Iterable[str | None] | npt.ArrayLike | None = None,
        max_distance_m: npt.ArrayLike | None = None,
    ) -> OrderArrays:
        """A book from columns. Ids and agents become strings; ``agents`` default to the ids,
        ``submitted_at`` to the row positions (as for an order file's orders without it),
        ``slot`` to 0."""
        ids_ = _objects([str(i) for i in np.asarray(ids, dtype=object).tolist()])
        n = len(ids_)
        agents_ = (
            ids_
            if agents is None
            else _objects([str(a) for a in np.asarray(agents, dtype=object).tolist()])
        )
        return cls(
            ids=ids_,
            agents=agents_,
            is_buy=np.asarray(is_buy),
            quantity_kwh=np.asarray(quantity_kwh),
            price=np.asarray(price),
            submitted_at=np.arange(n) if submitted_at is None else np.asarray(submitted_at),
            slot=np.broadcast_to(np.asarray(slot, dtype=np.int64), (n,)).copy(),
            bus=None if bus is None else _objects(list(bus)),  # type: ignore[arg-type]
            max_distance_m=None if max_distance_m is None else np.asarray(max_distance_m),
        )

    def to_orders(self) -> list[Order]:
        """The rows as ``Order`` objects (``submitted_at`` as stored: ranks where
        :meth:`from_orders` met values beyond int64)."""
        n = len(self)
        buses = [None] * n if self.bus is None else self.bus.tolist()
        limits: list[float | None] = (
            [None] * n
            if self.max_distance_m is None
            else [None if d != d else d for d in self.max_distance_m.tolist()]
        )
        return [
            Order(
                id=i,
                agent=a,
                side=Side.BUY if buy else Side.SELL,
                quantity_kwh=q,
                price=p,
                slot=s,
                bus=bus,
                max_distance_m=limit,
                submitted_at=t,
            )
            for i, a, buy, q, p, s, bus, limit, t in zip(
                self.ids.tolist(),
                self.agents.tolist(),
                self.is_buy.tolist(),
                self.quantity_kwh.tolist(),
                self.price.tolist(),
                self.slot.tolist(),
                buses,
                limits,
                self.submitted_at.tolist(),
                strict=True,
            )
        ]


@dataclass(frozen=True, eq=False)
class ClearingArrays:
    """A clearing of ``book`` in arrays; :meth:`to_clearing` gives the ``Clearing``.

    Trades are rows of ``buy``, ``sell`` (indices into the book), ``quantity_kwh``,
    ``trade_price`` and ``grid_fee`` (None: no fee). ``allocation`` holds every order's cleared
    kWh (0 for an order not among the ``winners``). ``winners`` are the orders the mechanism
    allocated, in the order it did; the allocation dictionary is every id at 0 overwritten by
    the winners in that order (so that an id given twice ends as the object path left it). In
    ``info``, an integer array lists orders by their index in the book; :meth:`info_json` turns
    it into their ids.
    """

    book: OrderArrays
    buy: IntArray
    sell: IntArray
    quantity_kwh: FloatArray
    trade_price: FloatArray
    price: float | None
    allocation: FloatArray
    winners: IntArray
    info: Mapping[str, Any]
    grid_fee: FloatArray | None = None

    def __len__(self) -> int:
        """The number of trades."""
        return len(self.buy)

    def trades(self) -> tuple[Trade, ...]:
        """The trades as ``Trade`` objects (the slot is the buy order's)."""
        ids, agents = self.book.ids, self.book.agents
        n = len(self.buy)
        fees = [0.0] * n if self.grid_fee is None else self.grid_fee.tolist()
        return tuple(
            map(
                Trade,
                agents[self.buy].tolist(),
                agents[self.sell].tolist(),
                self.quantity_kwh.tolist(),
                self.trade_price.tolist(),
                self.book.slot[self.buy].tolist(),
                fees,
                ids[self.buy].tolist(),
                ids[self.sell].tolist(),
            )
        )

    def allocations(self) -> dict[str, float]:
        """Every order id with its cleared kWh (0 for losers)."""
        ids = self.book.ids
        id_list = ids.tolist()
        allocations = dict(zip(id_list, self.allocation.tolist(), strict=True))
        if len(allocations) == len(id_list):  # every id once: nothing was overwritten
            return allocations
        allocations = dict.fromkeys(id_list, 0.0)
        allocations.update(
            zip(ids[self.winners].tolist(), self.allocation[self.winners].tolist(), strict=True)
        )
        return allocations

    def info_json(self) -> dict[str, Any]:
        """``info`` with order indices replaced by ids: ``Clearing.info``."""
        ids = self.book.ids
        return {
            key: ids[value].tolist() if _is_index_array(value) else value
            for key, value in self.info.items()
        }

    def to_clearing(self) -> Clearing:
        """The ``Clearing`` the object API returns: trades, price, allocations and info."""
        price = None if self.price is None else float(self.price)
        return Clearing(self.trades(), price, self.allocations(), self.info_json())


def _is_index_array(value: object) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind in "iu"


EMPTY_INDEX: IntArray = np.zeros(0, dtype=np.intp)
EMPTY_INDEX.flags.writeable = False
