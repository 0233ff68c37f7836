"""One day of EV charging under quota trading (001b_book.md §9.2): 48 half-hour periods from
noon to noon, each period's quotas allocated and traded during the period before.

For every period ``t + 1``, during period ``t``:

1. **Capacity margin** (step 1). The DSO's forecast of the conventional load of ``t + 1`` is the
   feeder's households (their load profiles and PV, no EV charging) in the grid layer's AC
   base-case power flow: the power ``P + jQ`` the transformer draws from upstream (its losses
   included). With the transformer's rating ``S`` (``sn_mva · parallel · df``) times
   ``grid.max_trafo_loading_pct`` and EVs charging at unity power factor (they add active power
   only), the room is ``sqrt(S² − Q²) − P``; the DSO holds back ``margin_reserve_pct`` of ``S``
   for the losses and voltage drop the EVs' power adds (the transformer's loading is
   current-based, so a lower voltage at its terminals raises it). The margin is that, at least 0,
   floored to the mechanism's micro-kW. The forecast is the day's profile itself (no error).
2. **Demands** (step 2): each EV plugged in for ``t + 1`` asks ``min(rating, still needed /
   0.5 h)`` kW (:mod:`peergrid.sim.ev_quota.bidding`); an EV is its own station.
3. **Pre-allocation and auction** (steps 3–5): :func:`~peergrid.mechanisms.ev_quota.clear_ev_quota`
   with the period's tariff; when the demands exceed the margin the EVs' orders (our rule, in
   ``bidding``) are cleared by Algorithm 1, each pair at its own mid-point.
4. **Charging** (step 6): every EV draws its final quota over ``t + 1`` (never more than it still
   needs) and pays the tariff of ``t + 1`` on the metered energy (quota × 0.5 h): the chapter's
   payment on "actual energy consumption" (L2604), not Table 4's one-hour fee on the quota.

Then an AC power flow of every period with the EVs' charging added (transformer loading, bus
voltages, line loadings) and, with ``baseline``, the same day without quotas: every EV draws its
rating from its first period until it has what it needs (the same window, so that only the
coordination differs).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from peergrid.assets.household import Household, household_energy
from peergrid.assets.profiles import load_profile_library
from peergrid.core.errors import ScenarioError
from peergrid.grid.feeders import Feeder, GridLimits, load_feeder
from peergrid.grid.powerflow import PowerFlowCheck, SlotCheck, Violation
from peergrid.mechanisms.ev_quota import (
    QUOTA_UNITS_PER_KW,
    ChargingStation,
    QuotaParameters,
    clear_ev_quota,
    station_quotas_units,
)
from peergrid.sim.ev_quota.bidding import EvPosition, QuotaBidding, demand_kw, floor_units
from peergrid.sim.ev_quota.fleet import (
    FIRST_HOUR,
    PERIOD_HOURS,
    PERIODS,
    FleetEv,
    fleet,
    tariff_of_periods,
)
from peergrid.sim.population import place_households
from peergrid.sim.scenario import EV_QUOTA_PERIOD_MINUTES, Scenario

PeriodCallback = Callable[[int, int], None]
CURRENCY = "token"
"""Money of the EV quota day: the chapter's token, worth 0.01 CNY (L2545)."""


@dataclass
class EvQuotaDay:
    """The day's tables (``periods``, ``evs``, ``trades``, ``quotas``) and what the AC checks
    found."""

    periods: pd.DataFrame
    evs: pd.DataFrame
    trades: pd.DataFrame
    quotas: pd.DataFrame
    """One row per EV and period it asked for quota in: demand, initial and final quota,
    charged (kW), auction payment and charging fee (tokens)."""
    violations: list[Violation]
    baseline_violations: list[Violation]
    households: list[Household]
    rating_kva: float
    limit_pct: float


def transformer_rating_kva(feeder: Feeder) -> float:
    """The rating of the feeder's one in-service transformer, kVA (``sn_mva · parallel · df``,
    as its loading is computed). A feeder with none or several is refused: the chapter's margin
    is one transformer's."""
    trafo = feeder.net.trafo
    trafo = trafo[trafo["in_service"].astype(bool)]
    if len(trafo) != 1:
        raise ScenarioError(
            f"feeder.name: the EV quota day shares one transformer's capacity, and "
            f"{feeder.name!r} has {len(trafo)} in service (e.g. ieee-eu-lv, kerber-dorfnetz)"
        )
    row = trafo.iloc[0]
    return float(row["sn_mva"] * row["parallel"] * row["df"]) * 1000.0


def capacity_margins_kw(
    p_kw: np.ndarray, q_kvar: np.ndarray, rating_kva: float, limit_pct: float, reserve_pct: float
) -> np.ndarray:
    """The margin of each period: ``sqrt(S² − Q²) − P − reserve · S_rated``, at least 0, floored
    to micro-kW; 0 where the base case did not converge (NaN: nothing can be promised)."""
    limit = rating_kva * limit_pct / 100.0
    room = np.sqrt(np.maximum(limit**2 - q_kvar**2, 0.0)) - p_kw - rating_kva * reserve_pct / 100.0
    room = np.where(np.isfinite(room), np.maximum(room, 0.0), 0.0)
    return np.floor(room * QUOTA_UNITS_PER_KW) / QUOTA_UNITS_PER_KW


def run_ev_quota_day(scenario: Scenario, on_period: PeriodCallback | None = None) -> EvQuotaDay:
    """Run the scenario's EV quota day (``[ev_quota]``) from noon to noon."""
    section, grid = scenario.ev_quota, scenario.grid
    feeder = load_feeder(scenario.feeder.name)
    rating = transformer_rating_kva(feeder)
    rng = np.random.default_rng(scenario.seed)
    households = place_households(scenario.households, feeder, rng)
    evs = fleet(section, households, rng)
    library = load_profile_library()
    energy = household_energy(
        households,
        library,
        library.window(scenario.time.start, 2),
        EV_QUOTA_PERIOD_MINUTES,
    )
    day = slice(FIRST_HOUR * 2, FIRST_HOUR * 2 + PERIODS)
    house_kw = ((energy.load_kwh - energy.pv_kwh)[:, day] / PERIOD_HOURS).T  # periods x houses
    house_kvar = energy.q_kvar[:, day].T
    limits = GridLimits(
        grid.v_min_pu, grid.v_max_pu, grid.max_line_loading_pct, grid.max_trafo_loading_pct
    )
    buses = [h.bus for h in households] + [ev.vehicle.bus for ev in evs]
    check = PowerFlowCheck(feeder, buses, limits)
    zeros = np.zeros((PERIODS, len(evs)))
    q = np.hstack([house_kvar, zeros])
    base = check.run(np.hstack([house_kw, zeros]), q)
    margins = capacity_margins_kw(
        base.transformer_p_kw,
        base.transformer_q_kvar,
        rating,
        grid.max_trafo_loading_pct,
        section.margin_reserve_pct,
    )
    tariffs = tariff_of_periods(section.tariff_per_kwh)
    run = _QuotaRun(evs, tariffs, QuotaBidding.of(section, PERIOD_HOURS), rng)
    for period in range(PERIODS):
        run.period(period, float(margins[period]))
        if on_period is not None:
            on_period(period + 1, PERIODS)
    checks = check.check_many(np.hstack([house_kw, run.charging_kw]), q)
    baseline_kw = uncoordinated_kw(evs) if section.baseline else None
    baseline_checks = (
        check.check_many(np.hstack([house_kw, baseline_kw]), q) if baseline_kw is not None else None
    )
    base_loading = np.fmax.reduce(base.trafo_loading_pct, axis=1)
    periods = _period_table(
        scenario, run, margins, tariffs, base.transformer_p_kw, base_loading, checks,
        baseline_kw, baseline_checks,
    )  # fmt: skip
    return EvQuotaDay(
        periods=periods,
        evs=_ev_table(evs, run, baseline_kw),
        trades=pd.DataFrame(run.trade_rows, columns=TRADE_COLUMNS),
        quotas=pd.DataFrame(run.quota_rows, columns=QUOTA_COLUMNS),
        violations=[v for c in checks for v in c.violations],
        baseline_violations=(
            [v for c in baseline_checks for v in c.violations] if baseline_checks else []
        ),
        households=households,
        rating_kva=rating,
        limit_pct=grid.max_trafo_loading_pct,
    )


def uncoordinated_kw(evs: list[FleetEv]) -> np.ndarray:
    """Charging without quotas (periods × EVs, kW): each EV draws its rating from its first
    period until it has what it needs (the last period only the rest)."""
    kw = np.zeros((PERIODS, len(evs)))
    for j, ev in enumerate(evs):
        car = ev.vehicle
        left = car.energy_kwh
        for period in range(car.arrival_period, min(car.departure_period, PERIODS)):
            if left <= 0:
                break
            draw = min(car.p_max_kw, left / PERIOD_HOURS)
            kw[period, j] = draw
            left -= draw * PERIOD_HOURS
    return kw


TRADE_COLUMNS = ("period", "time", "buyer", "seller", "quantity_kw", "price", "value")
QUOTA_COLUMNS = (
    "period",
    "time",
    "ev",
    "demand_kw",
    "initial_kw",
    "final_kw",
    "charged_kw",
    "auction_payment",
    "charging_fee",
)


class _QuotaRun:
    """The periods one after the other: each EV's remaining need, its charging, its money."""

    def __init__(
        self,
        evs: list[FleetEv],
        tariffs: np.ndarray,
        bidding: QuotaBidding,
        rng: np.random.Generator,
    ) -> None:
        self.evs, self.tariffs, self.bidding, self.rng = evs, tariffs, bidding, rng
        self.remaining = [ev.vehicle.energy_kwh for ev in evs]
        self.available = np.array([ev.vehicle.availability(PERIODS) for ev in evs]).reshape(
            len(evs), PERIODS
        )
        self.charging_kw = np.zeros((PERIODS, len(evs)))
        n = len(evs)
        self.paid = np.zeros(n)  # auction payments (negative: income), tokens
        self.fees = np.zeros(n)  # charging fees, tokens
        self.bought = np.zeros(n)  # quota bought and sold over the day, kW
        self.sold = np.zeros(n)
        self.rows: list[dict[str, object]] = []
        self.trade_rows: list[dict[str, object]] = []
        self.quota_rows: list[dict[str, object]] = []

    def period(self, period: int, margin: float) -> None:
        """Steps 2–6 for ``period`` (cleared during the one before)."""
        tariff = float(self.tariffs[period])
        demands = [
            demand_kw(
                self.remaining[j], ev.vehicle.p_max_kw, self.available[j, period], PERIOD_HOURS
            )
            for j, ev in enumerate(self.evs)
        ]
        asking = [j for j, d in enumerate(demands) if d > 0]
        row: dict[str, object] = {
            "evs_plugged": int(self.available[:, period].sum()),
            "evs_asking": len(asking),
            "total_demand_kw": float(sum(demands)),
            "beta": 1.0,
            "auction_held": False,
            "bids": 0,
            "offers": 0,
            "trades": 0,
            "traded_kw": 0.0,
            "price_min": None,
            "price_mean": None,
            "price_max": None,
            "auction_paid": 0.0,
            "auction_balance": 0.0,
        }
        if asking:
            self._clear(period, margin, tariff, asking, demands, row)
        for j in asking:
            self.remaining[j] = max(
                0.0, self.remaining[j] - self.charging_kw[period, j] * PERIOD_HOURS
            )
        self.rows.append(row)

    def _clear(
        self,
        period: int,
        margin: float,
        tariff: float,
        asking: list[int],
        demands: list[float],
        row: dict[str, object],
    ) -> None:
        evs = self.evs
        stations = [ChargingStation(evs[j].id, demands[j], evs[j].vehicle.p_max_kw) for j in asking]
        units, margin_units, initial = station_quotas_units(stations, margin)
        orders = []
        if sum(units) > margin_units:
            for k, j in enumerate(asking):
                position = EvPosition(
                    id=evs[j].id,
                    remaining_kwh=self.remaining[j],
                    demand_kw=demands[j],
                    initial_kw=initial[evs[j].id] / QUOTA_UNITS_PER_KW,
                    charger_kw=evs[j].vehicle.p_max_kw,
                    later_periods=int(self.available[j, period + 1 :].sum()),
                    later_min_tariff=_later_min(self.tariffs, self.available[j], period, tariff),
                )
                order = self.bidding.order(period, position, tariff, self.rng, k)
                if order is not None:
                    orders.append(order)
        clearing = clear_ev_quota(
            orders, stations, QuotaParameters(margin, tariff, "mid-point", "final")
        )
        index = {evs[j].id: j for j in asking}
        for name, quota in clearing.stations.items():
            j = index[name]
            draw = min(quota.final_kw, floor_units(self.remaining[j] / PERIOD_HOURS))
            fee = tariff * draw * PERIOD_HOURS
            self.charging_kw[period, j] = draw
            self.fees[j] += fee
            self.paid[j] += quota.payment
            self.quota_rows.append(
                {
                    "period": period,
                    "time": None,  # filled from the period table
                    "ev": name,
                    "demand_kw": quota.demand_kw,
                    "initial_kw": quota.initial_kw,
                    "final_kw": quota.final_kw,
                    "charged_kw": draw,
                    "auction_payment": quota.payment,
                    "charging_fee": fee,
                }
            )
            moved = quota.final_kw - quota.initial_kw
            self.bought[j] += max(moved, 0.0)
            self.sold[j] += max(-moved, 0.0)
        trades = clearing.trades
        values = [_trade_value(t.price, t.quantity_kwh) for t in trades]
        for t, value in zip(trades, values, strict=True):
            self.trade_rows.append(
                {
                    "period": period,
                    "time": None,  # filled from the period table
                    "buyer": t.buyer,
                    "seller": t.seller,
                    "quantity_kw": t.quantity_kwh,
                    "price": t.price,
                    "value": value,
                }
            )
        traded = sum(t.quantity_kwh for t in trades)
        payments = [q.payment for q in clearing.stations.values()]
        row |= {
            "beta": clearing.beta,
            "auction_held": clearing.auction_held,
            "bids": sum(o.side.value == "buy" for o in orders),
            "offers": sum(o.side.value == "sell" for o in orders),
            "trades": len(trades),
            "traded_kw": traded,
            "price_min": min((t.price for t in trades), default=None),
            "price_mean": (
                sum(t.price * t.quantity_kwh for t in trades) / traded if traded > 0 else None
            ),
            "price_max": max((t.price for t in trades), default=None),
            "auction_paid": sum(p for p in payments if p > 0),
            # Buyers' payments less sellers' receipts, exact on the micro-token grid: 0.
            "auction_balance": sum(round(p * 1e6) for p in payments) / 1e6,
        }


def _later_min(tariffs: np.ndarray, available: np.ndarray, period: int, now: float) -> float:
    """The cheapest tariff among the periods an EV stays plugged in after ``period`` (this
    period's when there is none)."""
    later = tariffs[period + 1 :][available[period + 1 :]]
    return float(later.min()) if len(later) else now


def _trade_value(price: float, quantity_kw: float) -> float:
    """A trade's value as the mechanism computes it: ``(bid + offer) · q // (2 · 10⁶)``
    micro-tokens, from the trade's mid-point price and quantity."""
    price_sum = round(price * 2 * 10**6)
    return price_sum * round(quantity_kw * QUOTA_UNITS_PER_KW) // (2 * 10**6) / 10**6


def _clock(start: dt.date, period: int) -> str:
    moment = dt.datetime.combine(start, dt.time(FIRST_HOUR)) + dt.timedelta(
        minutes=EV_QUOTA_PERIOD_MINUTES * period
    )
    return moment.isoformat(timespec="minutes")


def _period_table(
    scenario: Scenario,
    run: _QuotaRun,
    margins: np.ndarray,
    tariffs: np.ndarray,
    base_kw: np.ndarray,
    base_loading: np.ndarray,
    checks: list[SlotCheck],
    baseline_kw: np.ndarray | None,
    baseline_checks: list[SlotCheck] | None,
) -> pd.DataFrame:
    start = scenario.time.start
    limit = scenario.grid.max_trafo_loading_pct
    rows = []
    for period in range(PERIODS):
        c = checks[period]
        row: dict[str, object] = {
            "period": period,
            "time": _clock(start, period),
            "cleared_at": _clock(start, period - 1),
            "tariff_per_kwh": float(tariffs[period]),
            "base_load_kw": _finite(base_kw[period]),
            "base_trafo_loading_pct": _finite(base_loading[period]),
            "capacity_margin_kw": float(margins[period]),
            **run.rows[period],
            "charging_kw": float(run.charging_kw[period].sum()),
            "charging_fees": float(
                (run.charging_kw[period] * PERIOD_HOURS * tariffs[period]).sum()
            ),
            "trafo_loading_pct": _finite(c.max_trafo_loading_pct),
            "within_rating": bool(c.converged and c.max_trafo_loading_pct <= limit),
            "v_min_pu": _finite(c.v_min_pu),
            "v_max_pu": _finite(c.v_max_pu),
            "max_line_loading_pct": _finite(c.max_line_loading_pct),
            "violations": len(c.violations),
        }
        if baseline_kw is not None and baseline_checks is not None:
            b = baseline_checks[period]
            row |= {
                "baseline_charging_kw": float(baseline_kw[period].sum()),
                "baseline_trafo_loading_pct": _finite(b.max_trafo_loading_pct),
                "baseline_within_rating": bool(b.converged and b.max_trafo_loading_pct <= limit),
                "baseline_v_min_pu": _finite(b.v_min_pu),
                "baseline_violations": len(b.violations),
            }
        rows.append(row)
    frame = pd.DataFrame(rows)
    for column in ("price_min", "price_mean", "price_max"):
        frame[column] = frame[column].astype(float)
    times = dict(zip(frame["period"], frame["time"], strict=True))
    for record in (*run.trade_rows, *run.quota_rows):
        record["time"] = times[record["period"]]
    return frame


def _ev_table(evs: list[FleetEv], run: _QuotaRun, baseline_kw: np.ndarray | None) -> pd.DataFrame:
    rows = []
    delivered = run.charging_kw.sum(axis=0) * PERIOD_HOURS
    for j, ev in enumerate(evs):
        car = ev.vehicle
        row: dict[str, object] = {
            "ev": ev.id,
            "household": ev.household,
            "bus": car.bus,
            "arrival": _hhmm(ev.arrival_h),
            "departure": _hhmm(ev.departure_h),
            "first_period": car.arrival_period,
            "stop_period": car.departure_period,
            "charger_kw": car.p_max_kw,
            "energy_needed_kwh": car.energy_kwh,
            "energy_delivered_kwh": float(delivered[j]),
            "satisfaction": float(min(1.0, delivered[j] / car.energy_kwh)),
            "quota_bought_kw": float(run.bought[j]),
            "quota_sold_kw": float(run.sold[j]),
            "auction_payment": float(run.paid[j]),
            "charging_fees": float(run.fees[j]),
        }
        if baseline_kw is not None:
            got = float(baseline_kw[:, j].sum() * PERIOD_HOURS)
            row |= {
                "baseline_delivered_kwh": got,
                "baseline_satisfaction": min(1.0, got / car.energy_kwh),
            }
        rows.append(row)
    return pd.DataFrame(rows)


def _hhmm(hours: float) -> str:
    minutes = round(hours * 60) % (24 * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
