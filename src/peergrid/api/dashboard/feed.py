"""What the dashboard shows, read from the live market and its read model.

:class:`DashboardFeed` builds one JSON snapshot (:meth:`DashboardFeed.snapshot`) of:

* the clock (minute, cycle, phase);
* the slots cleared on chain (price, energy, trades, the DSO's income) — the rows of
  ``GET /slots``, in the same integers;
* the slots matched and not settled yet: price and traded energy (what ``/dso/results``
  shows, without its per-trade detail);
* the depth of the newest matched book, pooled so that no level shows fewer than three
  orders (:mod:`.depth`), and only once its quotation window has closed: a sealed-bid market
  shows no depth while bids can still change;
* the map slot (the newest slot whose meters are in): its trades between buses, and each bus's
  voltage from an AC power flow of the households' metered net energy (reactive power not
  metered: taken as zero);
* the DSO's income from the slots cleared on chain (network fees and distance charges, the sum
  of the slots' ``dso_income_micro``);
* the escrow balances of the members and of the DSO, as ``GET /me/balance`` and
  ``GET /dso/balance`` give them (a deposit, trades, fees, charges and meter settlements).

:meth:`DashboardFeed.version` is a cheap fingerprint of all that but the clock: the live stream
(:mod:`.routes`) sends a new snapshot when it changes.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Hashable
from typing import Any

import numpy as np
from sqlalchemy import func, select

import peergrid.platform.service.readmodel as db
from peergrid.api.dashboard.depth import MIN_ORDERS_PER_LEVEL, PRICE_STEP_MICRO, book_depth
from peergrid.core.units import kwh_to_wh, to_micro
from peergrid.grid.feeders import Feeder
from peergrid.grid.plot import geodata_positions, tree_layout
from peergrid.grid.powerflow import PowerFlowCheck
from peergrid.platform.service.market import LiveMarket

SLOTS_SHOWN = 96
"""Cleared slots in the snapshot (a day of 15-minute slots)."""


def feeder_geometry(feeder: Feeder, member_buses: list[str]) -> dict[str, Any]:
    """Bus positions and line segments of ``feeder`` (its geodata, else a tree layout, as the
    report draws it), the source bus and the members' buses."""
    positions = geodata_positions(feeder)
    xy = positions if positions is not None else tree_layout(feeder)
    net = feeder.net
    lines = [
        [int(f), int(t)]
        for f, t, ok in zip(net.line.from_bus, net.line.to_bus, net.line.in_service, strict=True)
        if ok and int(f) in xy and int(t) in xy
    ]
    lines += [
        [int(h), int(lo)]
        for h, lo in zip(net.trafo.hv_bus, net.trafo.lv_bus, strict=True)
        if int(h) in xy and int(lo) in xy
    ]
    try:
        source: int | None = feeder.source_bus
    except Exception:  # a feeder without an external grid is drawn without its source
        source = None
    return {
        "name": feeder.name,
        "buses": {str(b): [round(x, 3), round(y, 3)] for b, (x, y) in xy.items()},
        "lines": lines,
        "source": source,
        "member_buses": sorted(set(member_buses), key=int),
        "geographic": positions is not None,
    }


class DashboardFeed:
    """Snapshots of ``market`` for the dashboard; ``feeder`` (the market's) draws the map."""

    def __init__(self, market: LiveMarket, feeder: Feeder | None) -> None:
        self.market = market
        self.feeder = feeder
        self._lock = threading.Lock()
        self._voltages: dict[int, dict[str, float | None]] = {}
        self._check: PowerFlowCheck | None = None
        self._geometry: dict[str, Any] | None = None
        self._cached: tuple[Hashable, dict[str, Any]] | None = None

    # --- what changes --------------------------------------------------------------------

    def version(self) -> Hashable:
        """Changes whenever a snapshot (clock aside) would."""
        with self.market.engine.connect() as connection:
            settled = connection.execute(
                select(func.count(), func.max(db.slots.c.slot)).select_from(db.slots)
            ).one()
            balances = connection.execute(
                select(func.sum(db.balances.c.balance_micro), func.count()).select_from(db.balances)
            ).one()
        matched = tuple(v.slot for v in self.market.matched_views())
        return (tuple(settled), tuple(balances), matched, self._map_slot())

    def clock(self) -> dict[str, Any]:
        market = self.market
        minute = market.clock.minute()
        times = market.times
        return {
            "minute": round(minute, 3),
            "cycle": times.cycle_of(minute),
            "phase": times.phase_at(minute).value,
            "slot_minutes": times.slot_minutes,
        }

    def snapshot(self) -> dict[str, Any]:
        """The dashboard's state now (one snapshot per version, built once)."""
        with self._lock:
            version = self.version()
            if self._cached is not None and self._cached[0] == version:
                return self._cached[1] | {"clock": self.clock()}
            state = self._build()
            self._cached = (version, state)
            return state | {"clock": self.clock()}

    # --- the parts ----------------------------------------------------------------------

    def _build(self) -> dict[str, Any]:
        market = self.market
        with market.engine.connect() as connection:
            slots = connection.execute(
                select(db.slots).order_by(db.slots.c.slot.desc()).limit(SLOTS_SHOWN)
            ).all()
            balances = connection.execute(select(db.balances)).all()
            income = connection.execute(select(func.sum(db.slots.c.dso_income_micro))).scalar()
        members = {m.agent: m.bus for m in market.config.members}
        return {
            "mechanism": market.config.mechanism,
            "members": len(members),
            "slots": [row._asdict() for row in reversed(slots)],
            "dso_income_micro": int(income or 0),
            "matched": self._matched(),
            "depth": self._depth(),
            "map": self._map(),
            "balances": sorted(
                (
                    {
                        "account": row.account,
                        "bus": members.get(row.account),
                        "balance_micro": int(row.balance_micro),
                    }
                    for row in balances
                ),
                key=lambda b: (b["account"] != "dso", b["account"]),
            ),
        }

    def _matched(self) -> list[dict[str, Any]]:
        return [
            {
                "slot": v.slot,
                "price_micro_per_kwh": None if v.price is None else to_micro(v.price),
                "energy_wh": kwh_to_wh(v.traded_kwh),
                "trade_count": len(v.trades),
            }
            for v in self.market.matched_views()
        ]

    def _depth(self) -> dict[str, Any] | None:
        market = self.market
        with market.lock:
            views = market.matched_views()
            if not views:
                return None
            newest = views[-1]
            orders = [
                (o.side.value, to_micro(o.price), kwh_to_wh(o.quantity_kwh))
                for o in market.cycle.orders(newest.slot)
            ]
        depth = book_depth(orders)
        return {
            "slot": newest.slot,
            "price_micro_per_kwh": None if newest.price is None else to_micro(newest.price),
            "asks": [vars(level) for level in depth.asks],
            "bids": [vars(level) for level in depth.bids],
            "min_orders_per_level": MIN_ORDERS_PER_LEVEL,
            "price_step_micro": PRICE_STEP_MICRO,
        }

    def _map_slot(self) -> int | None:
        """The newest slot whose metering window has closed and that has readings."""
        market = self.market
        times = market.times
        now = market.clock.minute()
        # Readings of slot k close at (k + 1)·L + f: the newest such k is below this bound.
        last_closed = math.floor((now - times.feedback_end) / times.slot_minutes) - 1
        with market.engine.connect() as connection:
            slot = connection.execute(
                select(func.max(db.meter_posts.c.slot)).where(db.meter_posts.c.slot <= last_closed)
            ).scalar()
        return None if slot is None else int(slot)

    def _map(self) -> dict[str, Any] | None:
        slot = self._map_slot()
        if slot is None:
            return None
        bus_of = {m.agent: m.bus for m in self.market.config.members}
        with self.market.engine.connect() as connection:
            trades = connection.execute(
                select(db.trades).where(db.trades.c.slot == slot).order_by(db.trades.c.id)
            ).all()
            posts = connection.execute(
                select(db.meter_posts).where(db.meter_posts.c.slot == slot)
            ).all()
        net_wh = {row.agent: int(row.net_wh) for row in posts}
        return {
            "slot": slot,
            "trades": [
                {
                    "buyer": t.buyer,
                    "seller": t.seller,
                    "buyer_bus": bus_of[t.buyer],
                    "seller_bus": bus_of[t.seller],
                    "energy_wh": int(t.energy_wh),
                    "price_micro_per_kwh": int(t.price_micro_per_kwh),
                }
                for t in trades
            ],
            "voltage_pu": self._voltage(slot, net_wh),
        }

    def _voltage(self, slot: int, net_wh: dict[str, int]) -> dict[str, float | None] | None:
        """Each bus's voltage (p.u.) with the members' metered net energy of ``slot``."""
        if self.feeder is None:
            return None
        if slot not in self._voltages:
            members = self.market.config.members
            if self._check is None:
                self._check = PowerFlowCheck(self.feeder, [int(m.bus) for m in members])
            hours = self.market.times.slot_minutes / 60.0
            # Load convention: a household that exported (net > 0) draws negative power.
            p_kw = np.array([[-net_wh.get(m.agent, 0) / 1000.0 / hours for m in members]])
            result = self._check.run(p_kw)
            self._voltages = {
                slot: {
                    str(int(b)): (None if math.isnan(v) else round(float(v), 5))
                    for b, v in zip(result.bus_ids, result.vm_pu[0], strict=True)
                }
            }
        return self._voltages[slot]

    def geometry(self) -> dict[str, Any] | None:
        if self.feeder is None:
            return None
        if self._geometry is None:
            self._geometry = feeder_geometry(
                self.feeder, [m.bus for m in self.market.config.members]
            )
        return self._geometry
