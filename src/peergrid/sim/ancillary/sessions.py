"""A run's hourly ancillary-service sessions (004_vdma.md §1.3, §3.2): AS+ and AS− pools from
the devices' flexibility, cleared by a VDMA market and checked by an AC power flow.

Every hour of the run, one session per pool of ``ancillary.pools`` (AS+ ``"up"``, AS− ``"down"``):

1. Shouts (§3.2, :mod:`.shouts`): each device of the feeder's devices' data (cigre-mv-vdma:
   Table 1) shouts with probability ``probability``, an energy ``E ~ N(P*·Δt, (s·P*)²)`` kWh at
   a price ``p ~ N(price mean, price std²)``; generators offer and loads ask (or the other way
   round, ``roles``). ``P*`` is the device's expected power in the hour: Table 1's P, constant
   over the day, since the feeder has no daily profile of its devices (the paper's study is of
   single sessions at the base case). Each pool is drawn from a random stream of its own (the
   scenario's seed, :data:`SESSION_STREAM`, the pool), so enabling the sessions changes none of
   the energy market's draws and one pool's sessions do not depend on the other's.
2. Clearing: the pool's shouts are one order set, cleared once by the market off chain
   (``peergrid.clear(orders, mechanism, feeder, params={"pool": pool})``), or on the order-book
   contract (CDA, NCDA) through :class:`~peergrid.platform.service_market.ServiceMarket`: one
   book for the run, the devices its members, each hour one contract session with every pool,
   the shouts in the chain's units (Wh, micro-units per kWh), the trades back in the off-chain
   form, with the gas of each pool (the session's opening, closure and expiries on its first)
   and its cost by Eq. 1.
3. Check: the base case (the devices at their Table 1 power, plus the households' metered net
   power in that hour when the energy market runs beside) plus the matches as nodal power
   (:func:`peergrid.grid.service.service_draws_kw`, the rule OCDA and the reproduction use), by
   an AC power flow against the scenario's ``[grid]`` limits (skipped with
   ``grid.power_flow = false``).

Each session adds one row to the ``sessions`` table and one row per match to ``session_trades``,
streamed like the run's other tables.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from peergrid.core.errors import ScenarioError
from peergrid.core.orders import Order, Side
from peergrid.core.trades import Clearing
from peergrid.core.units import kwh_to_wh, to_micro
from peergrid.grid.feeder_types import Feeder, GridLimits
from peergrid.grid.service import POOLS
from peergrid.ledger import Chain
from peergrid.ledger.chain.gas import cost_eur
from peergrid.ledger.markets.orderbook import MAX_FILLS
from peergrid.mechanisms.ancillary import (
    Cancellation,
    FeederPaths,
    Fill,
    SessionParameters,
    service_clearing,
)
from peergrid.mechanisms.registry import clear
from peergrid.platform.service_market import ServiceMarket
from peergrid.sim.ancillary.network import NetworkCheck, NetworkIndices, outcome_of
from peergrid.sim.ancillary.shouts import (
    SESSION_HOURS,
    Device,
    ShoutParameters,
    ShoutRoles,
    draw_session,
    feeder_devices,
)
from peergrid.sim.scenario import Scenario
from peergrid.sim.tables import TableSpool

SESSION_STREAM = 4
"""The sessions' random streams: ``default_rng((seed, SESSION_STREAM, k))`` for pool ``k`` of
:data:`~peergrid.grid.service.POOLS` (0: up, 1: down), apart from the energy market's."""


class HourlySessions:
    """The sessions of a run, hour by hour, their rows appended to two spools."""

    def __init__(
        self,
        scenario: Scenario,
        feeder: Feeder,
        sessions: TableSpool,
        trades: TableSpool,
        chain: Chain | None = None,
    ) -> None:
        section = scenario.ancillary
        devices = feeder_devices(feeder.name)
        if devices is None:  # refused when the scenario loads; kept for direct callers
            raise ScenarioError(f"ancillary.enabled: feeder {feeder.name!r} has no devices' data")
        self.scenario, self.feeder, self.devices = scenario, feeder, devices
        self.sessions, self.trades = sessions, trades
        self.parameters = ShoutParameters(
            spread=section.spread,
            probability=section.probability,
            price_mean=section.price_mean_per_kwh,
            price_std=section.price_std_per_kwh,
            session_hours=SESSION_HOURS,
            roles=ShoutRoles(section.roles),
        )
        # One stream per pool: a pool's sessions do not depend on whether the other runs.
        self.rngs: dict[str, np.random.Generator] = {
            pool: np.random.default_rng((scenario.seed, SESSION_STREAM, POOLS.index(pool)))
            for pool in section.pools
        }
        grid = scenario.grid
        limits = GridLimits(
            grid.v_min_pu, grid.v_max_pu, grid.max_line_loading_pct, grid.max_trafo_loading_pct
        )
        self.check = (
            NetworkCheck(limits, feeder=feeder, devices=devices) if grid.power_flow else None
        )
        self.start = dt.datetime.combine(scenario.time.start, dt.time())
        # On chain: one order book for the run, every device a member on the feeder map.
        self.session_parameters = SessionParameters.from_params(
            {**section.params, "pool": section.pools[0]}, section.mechanism
        )
        self.market: ServiceMarket | None = None
        self.paths: FeederPaths | None = None
        self.max_fills = MAX_FILLS
        if scenario.ancillary_on_chain:
            if chain is None:
                raise ScenarioError("ancillary.on_chain: the sessions need a chain to clear on")
            self.paths = FeederPaths.of(feeder, self.session_parameters.distance)
            members = {d.label: str(d.bus) for d in devices}
            self.market = ServiceMarket.open(
                chain, self.paths.metric, members, strict=self.session_parameters.strict
            )
            if self.session_parameters.max_fills is not None:
                self.max_fills = self.session_parameters.max_fills

    def run_hour(self, hour: int, background_kw: Mapping[int, float] | None = None) -> None:
        """The sessions of ``hour`` (0: the run's first), one per pool; ``background_kw`` is
        the power drawn at each bus beside the devices' (the households', kW)."""
        section = self.scenario.ancillary
        when = (self.start + dt.timedelta(hours=hour)).isoformat(timespec="minutes")
        drawn: dict[str, tuple[list[Order], dict[str, Device]]] = {
            pool: self._shouts(pool, hour) for pool in section.pools
        }
        cleared: dict[str, tuple[Clearing, dict[str, Any] | None]]
        if self.market is None:
            cleared = {
                pool: (self._clear_off_chain(pool, orders), None)
                for pool, (orders, _) in drawn.items()
            }
        else:
            cleared = dict(self._clear_on_chain(hour, drawn))
        for pool, (orders, device_of) in drawn.items():
            clearing, chain = cleared[pool]
            indices = None
            if self.check is not None:
                outcome = outcome_of(clearing, device_of, pool, SESSION_HOURS)
                indices = self.check.check([outcome], pool, background_kw)[0]
            row = session_row(hour, when, pool, section.mechanism, orders, clearing, indices)
            if chain is not None:
                row |= chain
            self.sessions.append(row)
            price_of = {o.id: o.price for o in orders}
            for trade in clearing.trades:
                ask_id, offer_id = trade.buy_order or trade.buyer, trade.sell_order or trade.seller
                ask, offer = device_of[ask_id], device_of[offer_id]
                self.trades.append(
                    {
                        "hour": hour,
                        "time": when,
                        "pool": pool,
                        "buy_order": trade.buy_order,
                        "sell_order": trade.sell_order,
                        "buyer": trade.buyer,
                        "seller": trade.seller,
                        "ask_bus": ask.bus,
                        "offer_bus": offer.bus,
                        "quantity_kwh": trade.quantity_kwh,
                        "price": trade.price,
                        "ask_price": price_of[ask_id],
                        "offer_price": price_of[offer_id],
                        "path_m": trade.path_m,
                        "hops": trade.hops,
                    }
                )

    def _shouts(self, pool: str, hour: int) -> tuple[list[Order], dict[str, Device]]:
        """The pool's shouts of ``hour``, ids ``<pool>-h<hour>-<device>``. On chain, each as
        the contract holds it: whole Wh and micro-units per kWh (a shout below half a Wh is
        none)."""
        drawn = draw_session(self.rngs[pool], self.parameters, self.devices, run=hour)
        orders: list[Order] = []
        device_of: dict[str, Device] = {}
        for order in drawn.orders:
            device = drawn.devices[order.id]
            order_id = f"{pool}-h{hour}-{device.label.replace(' ', '-')}"
            shout = replace(order, id=order_id, slot=hour)
            if self.market is not None:
                wh = kwh_to_wh(shout.quantity_kwh)
                if wh == 0:
                    continue
                shout = replace(shout, quantity_kwh=wh / 1000, price=to_micro(shout.price) / 1e6)
            orders.append(shout)
            device_of[order_id] = device
        return orders, device_of

    def _clear_off_chain(self, pool: str, orders: list[Order]) -> Clearing:
        section = self.scenario.ancillary
        return clear(
            section.mechanism, orders, {**section.params, "pool": pool}, feeder=self.feeder
        )

    def _clear_on_chain(
        self, hour: int, drawn: Mapping[str, tuple[list[Order], dict[str, Device]]]
    ) -> dict[str, tuple[Clearing, dict[str, Any]]]:
        """Session ``hour`` on the order book: both pools in one session (opened, each pool's
        offers then asks placed, gate closed, the rest expired). The session's opening, closure
        and expiries are counted with its first pool's transactions and gas."""
        assert self.market is not None and self.paths is not None
        section = self.scenario.ancillary
        done = self.market.clear_session(
            hour,
            {pool: orders for pool, (orders, _) in drawn.items()},
            ncda=section.mechanism == "ncda",
            max_fills=self.max_fills,
        )
        closure = done.closure
        shared_gas = done.gas_open + closure.gas_close + closure.gas_expiry
        shared_transactions = 2 + len(closure.expired)
        cleared: dict[str, tuple[Clearing, dict[str, Any]]] = {}
        for k, (pool, (orders, device_of)) in enumerate(drawn.items()):
            record = done.pools[pool]
            fills = [
                Fill(
                    t.buy_order,
                    t.sell_order,
                    device_of[t.buy_order].label,
                    device_of[t.sell_order].label,
                    t.quantity_kwh,
                    t.price,
                    str(device_of[t.buy_order].bus),
                    str(device_of[t.sell_order].bus),
                )
                for t in record.trades
            ]
            cancellations = [
                Cancellation(c.order_id, c.remaining_kwh, c.reason) for c in record.cancellations
            ]
            parameters = replace(self.session_parameters, pool=pool)
            clearing = service_clearing(
                section.mechanism, orders, fills, cancellations, parameters, self.paths
            )
            gas = record.gas + (shared_gas if k == 0 else 0)
            chain = {
                "on_chain": True,
                "transactions": len(record.placements) + (shared_transactions if k == 0 else 0),
                "gas_used": gas,
                "cost_eur": cost_eur(gas),
            }
            cleared[pool] = (clearing, chain)
        return cleared


def session_row(
    hour: int,
    when: str,
    pool: str,
    mechanism: str,
    orders: list[Order],
    clearing: Clearing,
    indices: NetworkIndices | None,
) -> dict[str, Any]:
    """One session's row of the ``sessions`` table (off chain: no gas, no €)."""
    asks = [o for o in orders if o.side is Side.BUY]
    offers = [o for o in orders if o.side is Side.SELL]
    info = clearing.info
    matched = math.fsum(t.quantity_kwh for t in clearing.trades)
    prices = [t.price for t in clearing.trades]
    value = math.fsum(t.quantity_kwh * t.price for t in clearing.trades)
    kinds = (
        sorted({v.split(" ", 1)[0] for v in indices.violations.split("; ")})
        if (indices is not None and indices.violations)
        else []
    )
    return {
        "hour": hour,
        "time": when,
        "pool": pool,
        "mechanism": mechanism,
        "asks": len(asks),
        "offers": len(offers),
        "asked_kwh": math.fsum(o.quantity_kwh for o in asks),
        "offered_kwh": math.fsum(o.quantity_kwh for o in offers),
        "matched_kwh": matched,
        "unsatisfied_kwh": math.fsum(info.get("unsatisfied_kwh", {}).values()),
        "unsold_kwh": math.fsum(info.get("unsold_kwh", {}).values()),
        "trades": len(clearing.trades),
        "price_mean": value / matched if matched > 0 else None,
        "price_min": min(prices) if prices else None,
        "price_max": max(prices) if prices else None,
        "weighted_distance": (
            info["weighted_distance"] / matched
            if matched > 0 and info.get("weighted_distance") is not None
            else None
        ),
        "checked": indices is not None,
        "feasible": indices.feasible if indices is not None else None,
        "violations": (
            len(indices.violations.split("; ")) if indices is not None and indices.violations else 0
        ),
        "violation_kinds": ", ".join(kinds),
        "v_min_pu": indices.v_min_pu if indices is not None else None,
        "v_max_pu": indices.v_max_pu if indices is not None else None,
        "max_line_loading_pct": indices.max_line_loading_pct if indices is not None else None,
        "losses_share": indices.losses_share if indices is not None else None,
        "on_chain": False,
        "transactions": 0,
        "gas_used": None,
        "cost_eur": None,
    }
