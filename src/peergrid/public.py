"""The Python API: what a researcher calls from a notebook, and what the command line calls.

The names here are handed on by the package itself (``peergrid.clear``, ``peergrid.feeders``,
``peergrid.run``, ``peergrid.Scenario``; ``peergrid.mechanisms()`` is the mechanisms package,
callable), so a notebook needs one import::

    import peergrid

    scenario = peergrid.Scenario.load("examples/demo.toml")
    result = peergrid.run(scenario.replace(time={"days": 2}))
    result.households[["id", "bill", "bill_without_market"]]

The command line is a thin layer on these functions: it reads files and options, calls them
and prints what they return.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from peergrid.core.errors import PeergridError
from peergrid.core.orders import Order, orders_from_dicts
from peergrid.core.trades import Clearing
from peergrid.grid.feeder_types import FeederInfo


def clear(
    orders: Sequence[Order] | Sequence[Mapping[str, Any]],
    mechanism: str = "dpda",
    *,
    feeder: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> Clearing:
    """Clear one order book with a mechanism of ``peergrid.mechanisms()``.

    ``orders`` are :class:`~peergrid.core.orders.Order` objects or their JSON form
    (``{"id": "b1", "side": "buy", "price": 0.25, "quantity_kwh": 2.0}``; optional ``agent``,
    ``bus``, ``max_distance_m``, ``submitted_at``). A mechanism that prices grid distance
    (``dpda+score``, ``mcafee+score``) needs the ``feeder`` whose buses the orders name;
    ``params`` are the mechanism's parameters (names, units, defaults: ``peergrid.mechanisms()``)::

        clearing = peergrid.clear(
            [
                {"id": "b1", "side": "buy", "price": 0.30, "quantity_kwh": 2},
                {"id": "s1", "side": "sell", "price": 0.10, "quantity_kwh": 3},
            ],
            mechanism="mcafee",
        )
        clearing.price, clearing.trades

    A bad order, an unknown mechanism or feeder, or a bad parameter raises a
    :class:`~peergrid.core.errors.PeergridError` naming it, before anything is cleared.
    """
    from peergrid.mechanisms.registry import mechanism_spec

    spec = mechanism_spec(mechanism)
    book = _orders(orders)
    spec.check_params(dict(params or {}))
    if feeder is not None:
        from peergrid.grid.feeders import check_feeder_name

        check_feeder_name(feeder)
    distances = None
    if spec.needs_distances:
        if feeder is None:
            raise PeergridError(f"mechanism {mechanism!r} needs a feeder: give feeder=<name>")
        from peergrid.grid.distance import distance_matrix
        from peergrid.grid.feeders import load_feeder

        distances = distance_matrix(load_feeder(feeder))
    return spec.clear(book, dict(params or {}), distances)


def _orders(orders: Sequence[Order] | Sequence[Mapping[str, Any]]) -> list[Order]:
    if all(isinstance(o, Order) for o in orders):
        return [o for o in orders if isinstance(o, Order)]
    if any(isinstance(o, Order) for o in orders):
        raise PeergridError("orders: give Order objects or their JSON form, not both")
    return orders_from_dicts(o for o in orders if not isinstance(o, Order))


def feeders() -> list[FeederInfo]:
    """Every feeder of the catalogue, each with its name and a one-line description.

    SimBench's LV grids are one entry, ``simbench:<code>``::

        [f.name for f in peergrid.feeders()]
    """
    from peergrid.grid.feeders import list_feeders

    return list_feeders()
