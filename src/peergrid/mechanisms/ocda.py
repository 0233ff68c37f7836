"""OCDA: the VDMA's OPF-ordered continuous double auction, an off-chain baseline (004_vdma.md §2.3).

The session clear of CDA (:mod:`peergrid.mechanisms.cda`) with the choice of offers made by an
optimal power flow: asks are taken in price-descending, then time order; for each, the suitable
offers (those with something left, strictly cheaper than the ask, or at most as dear with
``strict=false``, and not of the ask's own agent) are dispatched by the transfer OPF of
:mod:`peergrid.grid.opf.transfer`, which minimises the cost of the network's losses under the
voltage band and the lines' and transformers' loading limits, after the session's earlier
matches and on the feeder's base case (``cigre-mv-vdma``: the paper's Table 1).

How the OPF's output becomes trades (the paper leaves it open, §2.3):

- the OPF dispatches kWh per *bus* (offers at one bus are one electrical point); a bus's
  dispatch is shared among its suitable offers cheapest first, then oldest;
- each offer with a share trades that share with the ask, at the mid-point of their prices;
  the trades of one ask are listed by the OPF's dispatch, largest first (then price, then time):
  the "sorting criterion based on the output of an OPF" of L71;
- what the OPF does not dispatch (limits binding, or not enough suitable offers) stays
  unsatisfied; the offers keep what they did not sell.

Parameters: those of CDA (``pool``, ``strict``, ``distance`` for the reported weighted distance),
plus ``loss_price_per_kwh`` and ``session_hours``; the limits are the feeder's
(:class:`~peergrid.grid.feeder_types.GridLimits`). A feeder without base-case loads or without
line ratings cannot run OCDA (one-line error).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from peergrid.core.errors import OrderError, PeergridError
from peergrid.core.orders import Order
from peergrid.core.trades import Clearing
from peergrid.mechanisms.ancillary import (
    FeederPaths,
    SessionParameters,
    check_orders,
    service_clearing,
)
from peergrid.mechanisms.cda import Fill, mid_price, session_order
from peergrid.mechanisms.welfare import check_number

if TYPE_CHECKING:
    from peergrid.grid.feeder_types import Feeder
    from peergrid.grid.opf.transfer import TransferOPF

OCDA_PARAMETERS = ("loss_price_per_kwh", "session_hours")
MAX_LOSS_PRICE_PER_KWH = 281_474_976.0  # the orders' largest price
MAX_SESSION_HOURS = 24.0


def ocda_parameters(params: Mapping[str, Any]) -> tuple[SessionParameters, float, float]:
    """The session's parameters, the loss price (currency/kWh) and the session's hours."""
    session = SessionParameters.from_params(params, "ocda", extra=OCDA_PARAMETERS)
    try:
        loss_price = check_number(
            "loss_price_per_kwh",
            params.get("loss_price_per_kwh", 0.35),
            1e-9,
            MAX_LOSS_PRICE_PER_KWH,
            "currency/kWh",
        )
        hours = check_number(
            "session_hours", params.get("session_hours", 1.0), 1e-6, MAX_SESSION_HOURS, "h"
        )
    except ValueError as exc:
        raise OrderError(str(exc), field="params") from None
    return session, loss_price, hours


def clear_ocda(
    orders: Sequence[Order], params: Mapping[str, Any], feeder: Feeder | None = None
) -> Clearing:
    """OCDA on one pool of one session of ``feeder``."""
    from peergrid.grid.service import ServiceDelivery

    session, loss_price, hours = ocda_parameters(params)
    if feeder is None:
        raise PeergridError("mechanism 'ocda' needs a feeder for its optimal power flow")
    paths = FeederPaths.of(feeder, session.distance)
    check_orders(orders, paths, "ocda", need_bus=True)
    opf = transfer_opf(feeder, loss_price, hours)
    offers, asks = session_order(orders)
    left = {o.id: o.quantity_kwh for o in orders}
    rank = {o.id: k for k, o in enumerate(sorted(offers, key=lambda o: (o.price, _time(o))))}
    fills: list[Fill] = []
    earlier: list[ServiceDelivery] = []
    solves = 0
    limited_kwh = 0.0
    for ask in asks:
        suitable = [
            o
            for o in offers
            if left[o.id] > 0
            and o.agent != ask.agent
            and (ask.price > o.price if session.strict else ask.price >= o.price)
        ]
        if not suitable:
            continue
        ask_bus = int(str(ask.bus))
        capacity: dict[int, float] = {}
        for offer in suitable:
            bus = int(str(offer.bus))
            capacity[bus] = capacity.get(bus, 0.0) + left[offer.id]
        need = left[ask.id]
        dispatch = opf.solve(session.pool, ask_bus, capacity, need, earlier)
        solves += 1
        limited_kwh += max(min(need, sum(capacity.values())) - dispatch.transferred_kwh, 0.0)
        shares: list[tuple[float, Order]] = []
        for bus, kwh in dispatch.dispatch_kwh.items():
            at_bus = sorted(
                (o for o in suitable if int(str(o.bus)) == bus), key=lambda o: rank[o.id]
            )
            for offer in at_bus:
                share = min(kwh, left[offer.id])
                if share > 0:
                    shares.append((share, offer))
                    kwh -= share
        shares.sort(key=lambda s: (-s[0], rank[s[1].id]))
        for share, offer in shares:
            quantity = min(share, left[ask.id])
            if quantity <= 0:
                break
            left[ask.id] -= quantity
            left[offer.id] -= quantity
            fills.append(
                Fill(
                    ask.id,
                    offer.id,
                    ask.agent,
                    offer.agent,
                    quantity,
                    mid_price(ask.price, offer.price),
                    ask.bus,
                    offer.bus,
                )
            )
            earlier.append(ServiceDelivery(ask_bus, int(str(offer.bus)), quantity))
    return service_clearing(
        "ocda",
        orders,
        fills,
        (),
        session,
        paths,
        {
            "opf_solves": solves,
            "limited_by_network_kwh": limited_kwh,
            "loss_price_per_kwh": loss_price,
        },
    )


def _time(order: Order) -> int:
    return order.submitted_at


_CACHE: OrderedDict[tuple[Any, ...], TransferOPF] = OrderedDict()
_CACHE_SIZE = 8


def transfer_opf(feeder: Feeder, loss_price: float, hours: float) -> TransferOPF:
    """The feeder's transfer OPF, built once per feeder state, loss price and session length
    (a session of a study re-solves the same problem with new numbers)."""
    from peergrid.grid.opf.transfer import TransferOPF

    key = (feeder.name, _net_fingerprint(feeder), feeder.limits, loss_price, hours)
    found = _CACHE.get(key)
    if found is None:
        found = _CACHE[key] = TransferOPF(
            feeder, loss_price_per_kwh=loss_price, session_hours=hours
        )
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return found


def _net_fingerprint(feeder: Feeder) -> str:
    """What the OPF reads of the net: loads, generators, branches, switches, the slack."""
    net = feeder.net
    digest = hashlib.sha256()
    for name in ("bus", "load", "sgen", "line", "trafo", "switch", "ext_grid", "shunt"):
        table = getattr(net, name, None)
        if table is not None:
            digest.update(name.encode())
            digest.update(table.to_json().encode())
    return digest.hexdigest()
