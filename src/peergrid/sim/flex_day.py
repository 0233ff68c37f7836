"""A day of the DSO's flexibility market on a SimBench LV feeder with PV, EVs and batteries.

The scenario (every figure a setting of :class:`FlexDaySettings`):

- **Households**: the feeder's loads at their buses with SimBench's 15-minute profiles of 2016
  (a load whose profile is not a household ``H0-*`` profile uses ``H0-A``), and its PV plants
  (``PV1``..``PV8`` profiles) as separate generators.
- **EVs**: the first ``ev_share`` of the households (in the feeder's order) own an EV that
  arrives between 17:00 and 18:00 (staggered by a quarter hour per household) and charges
  ``ev_kwh`` at ``ev_kw`` straight away (unmanaged charging: what overloads the transformer).
- **Batteries**: every ``battery_every``-th household has a home battery (``battery_kw``,
  ``battery_kwh``, at ``battery_soc`` in the evening), idle unless the DSO buys it.

The forecast is that schedule; the grid layer screens it (:mod:`peergrid.grid.congestion`), the
platform runs the market (:mod:`peergrid.platform.flexibility`) and the day is checked again
with what the assets delivered. Offers, each at its asset's price per kWh:

- a battery: discharge (down) or charge (up) up to its power within its stored energy or room;
- an EV: postpone its charging in the slot (down); the energy postponed is charged after
  midnight (``ev_energy_shifted_kwh``);
- a flexible load: shed ``shed_share`` of the household's load (down); it delivers only
  ``load_response`` of what it is awarded (comfort overrides): the shortfall is penalised.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from peergrid.assets.profiles import (
    PROFILE_YEAR_START,
    STEP_MINUTES,
    load_profile_library,
)
from peergrid.core.errors import ScenarioError
from peergrid.grid.congestion import Congestion, CongestionScreen, element_values
from peergrid.grid.feeders import check_feeder_name, load_feeder
from peergrid.ledger import EmbeddedChain
from peergrid.ledger.markets.asset_funding import AssetFundingLedger
from peergrid.ledger.markets.flex_market import FlexMarketLedger
from peergrid.mechanisms.flexibility import FlexAward, FlexOffer
from peergrid.platform.flexibility import MICRO, FlexDayResult, FlexLedgerRun, run_flex_day

FloatArray = npt.NDArray[np.float64]
SLOT_HOURS = STEP_MINUTES / 60
SLOTS = 96
COMMUNITY = "community"
DEFAULT_FEEDER = "simbench:1-LV-rural1--0-sw"


@dataclass(frozen=True)
class FlexDaySettings:
    """What a flexibility day is run with (see the module's docstring)."""

    feeder: str = DEFAULT_FEEDER
    day: int = 20  # day of SimBench's profile year 2016 (0: 1 January)
    ev_share: float = 1.0
    max_price: float = 0.30  # currency per kWh
    penalty_rate: float = 0.10  # currency per kWh not delivered
    ledger: bool = True
    ev_kw: float = 11.0
    ev_kwh: float = 30.0
    battery_every: int = 3
    battery_kw: float = 5.0
    battery_kwh: float = 10.0
    battery_soc: float = 0.9
    shed_share: float = 0.3
    load_response: float = 0.8
    price_battery: float = 0.12
    price_ev: float = 0.15
    price_load: float = 0.10
    community_battery_kw: float = 0.0  # 0: none; else financed by a crowdsale of the households
    community_battery_hours: float = 2.0  # energy / power
    price_community: float = 0.11
    community_cost_per_kwh: float = 300.0  # what the battery costs, financed by the shares
    share_price: float = 50.0

    def check(self) -> None:
        """Raise :class:`ScenarioError` naming the first bad setting."""
        check_feeder_name(self.feeder)
        last_day = (dt.date(2016, 12, 31) - PROFILE_YEAR_START.date()).days
        if not 0 <= self.day <= last_day:
            raise ScenarioError(f"day: expected 0..{last_day} (2016), got {self.day}")
        ratios = {
            "ev_share": self.ev_share,
            "battery_soc": self.battery_soc,
            "shed_share": self.shed_share,
            "load_response": self.load_response,
        }
        for name, value in ratios.items():
            if not (math.isfinite(value) and 0 <= value <= 1):
                raise ScenarioError(f"{name}: expected a value in 0..1, got {value}")
        amounts = {
            "max_price": self.max_price,
            "penalty_rate": self.penalty_rate,
            "ev_kw": self.ev_kw,
            "ev_kwh": self.ev_kwh,
            "battery_kw": self.battery_kw,
            "battery_kwh": self.battery_kwh,
            "price_battery": self.price_battery,
            "price_ev": self.price_ev,
            "price_load": self.price_load,
            "community_battery_kw": self.community_battery_kw,
            "community_battery_hours": self.community_battery_hours,
            "price_community": self.price_community,
            "community_cost_per_kwh": self.community_cost_per_kwh,
        }
        for name, value in amounts.items():
            if not (math.isfinite(value) and value >= 0):
                raise ScenarioError(f"{name}: expected a number >= 0, got {value}")
        if self.max_price > 1e6 or self.penalty_rate > 1e6:
            raise ScenarioError("max_price and penalty_rate: at most 1e6 per kWh")
        if not (math.isfinite(self.share_price) and self.share_price > 0):
            raise ScenarioError(f"share_price: expected a number > 0, got {self.share_price}")
        if self.community_battery_kw > 10_000:
            raise ScenarioError("community_battery_kw: at most 10 000 kW")
        if self.battery_every < 1:
            raise ScenarioError(f"battery_every: expected >= 1, got {self.battery_every}")


@dataclass
class Household:
    member: str
    bus: int
    load_kw: FloatArray  # (slots,)
    ev_kw: FloatArray  # (slots,) planned charging
    battery_kwh: float | None  # stored energy now; None: no battery
    battery_cap_kwh: float = 0.0
    battery_kw: float = 0.0
    battery_price: float = 0.0


@dataclass
class DayAssets:
    """The households' assets through the day: offers, deliveries and what they did."""

    settings: FlexDaySettings
    households: dict[str, Household]
    done_kw: dict[tuple[int, str], float] = field(default_factory=dict)  # + draws more
    shifted_kwh: float = 0.0

    def baseline_kw(self, slot: int, member: str) -> float:
        h = self.households[member]
        return float(h.load_kw[slot] + h.ev_kw[slot])

    def offers(self, slot: int) -> list[FlexOffer]:
        s, out = self.settings, []
        for h in self.households.values():
            if h.battery_kwh is not None and h.battery_kw > 0:
                down = min(h.battery_kw, h.battery_kwh / SLOT_HOURS)
                up = min(h.battery_kw, (h.battery_cap_kwh - h.battery_kwh) / SLOT_HOURS)
                for direction, kw in (("down", down), ("up", up)):
                    if kw > 1e-6:
                        out.append(
                            FlexOffer(
                                f"{h.member}/battery/{direction}",
                                h.member,
                                h.bus,
                                kw,
                                h.battery_price,
                                "battery",
                                direction,  # type: ignore[arg-type]
                            )
                        )
            if h.ev_kw[slot] > 1e-6:
                out.append(
                    FlexOffer(
                        f"{h.member}/ev", h.member, h.bus, float(h.ev_kw[slot]), s.price_ev, "ev"
                    )
                )
            shed = s.shed_share * float(h.load_kw[slot])
            if shed > 1e-6:
                out.append(
                    FlexOffer(
                        f"{h.member}/load", h.member, h.bus, shed, s.price_load, "flexible_load"
                    )
                )
        return out

    def deliver(self, slot: int, award: FlexAward) -> float:
        h = self.households[award.offer.member]
        kw = award.kw
        if award.offer.kind == "battery":
            assert h.battery_kwh is not None
            if award.offer.direction == "down":
                kw = min(kw, h.battery_kwh / SLOT_HOURS)
                h.battery_kwh -= kw * SLOT_HOURS
            else:
                kw = min(kw, (h.battery_cap_kwh - h.battery_kwh) / SLOT_HOURS)
                h.battery_kwh += kw * SLOT_HOURS
        elif award.offer.kind == "ev":
            kw = min(kw, float(h.ev_kw[slot]))
            self.shifted_kwh += kw * SLOT_HOURS
        else:
            kw *= self.settings.load_response
        sign = -1.0 if award.offer.direction == "down" else 1.0
        key = (slot, h.member)
        self.done_kw[key] = self.done_kw.get(key, 0.0) + sign * kw
        return kw


@dataclass(frozen=True)
class CommunityBattery:
    """The crowdfunded community battery: its sale, its flexibility revenue and dividends."""

    kw: float
    kwh: float
    shares: int
    holders: int
    raised: float
    revenue: float  # payments less penalties in the flexibility market
    dividends_paid: float  # claimed by the holders (on chain), or distributed (off chain)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kw": self.kw,
            "kwh": self.kwh,
            "shares": self.shares,
            "holders": self.holders,
            "raised": round(self.raised, 6),
            "revenue": round(self.revenue, 6),
            "dividends_paid": round(self.dividends_paid, 6),
        }


def share_allocation(settings: FlexDaySettings, members: list[str]) -> dict[str, int]:
    """The shares each household buys: the battery's cost in shares, split evenly (the first
    households take one more when it does not divide)."""
    kwh = settings.community_battery_kw * settings.community_battery_hours
    shares = max(1, math.ceil(kwh * settings.community_cost_per_kwh / settings.share_price))
    base, extra = divmod(shares, len(members))
    out = {m: base + (1 if k < extra else 0) for k, m in enumerate(members)}
    return {m: n for m, n in out.items() if n > 0}


@dataclass
class FlexDay:
    """A run's inputs, the market's result and the AC check before and after."""

    settings: FlexDaySettings
    congestions: list[Congestion]
    market: FlexDayResult
    elements: dict[str, tuple[FloatArray, FloatArray]]  # element -> (before, after) per slot
    congested_slots_before: int
    congested_slots_after: int
    shifted_kwh: float
    wall_s: float
    ledger_s: float
    gas: list[dict[str, Any]]
    community: CommunityBattery | None = None

    def summary(self) -> dict[str, Any]:
        m = self.market
        worst = {
            element: {
                "before": round(float(np.nanmax(before)), 3),
                "after": round(float(np.nanmax(after)), 3),
            }
            for element, (before, after) in self.elements.items()
        }
        return {
            "feeder": self.settings.feeder,
            "day": (PROFILE_YEAR_START + dt.timedelta(days=self.settings.day)).date().isoformat(),
            "ledger": self.settings.ledger,
            "needs": len(m.needs),
            "congested_slots_before": self.congested_slots_before,
            "congested_slots_after": self.congested_slots_after,
            "flexibility_needed_kwh": round(m.needed_kwh, 3),
            "flexibility_bought_kwh": round(m.bought_kwh, 3),
            "flexibility_kwh": round(m.delivered_kwh, 3),
            "cost": round(m.cost, 6),
            "penalties": round(m.penalties, 6),
            "ev_energy_shifted_kwh": round(self.shifted_kwh, 3),
            "by_kind_kwh": _by_kind(m),
            "worst": worst,
            **({"community_battery": self.community.to_dict()} if self.community else {}),
            "dividends_paid": round(self.community.dividends_paid, 6) if self.community else 0.0,
            "wall_s": round(self.wall_s, 3),
            "ledger_s": round(self.ledger_s, 3),
        }

    def element_rows(self) -> list[dict[str, Any]]:
        """Every slot of the day, per congested element: its loading (%) or voltage (p.u.)
        before and after."""
        rows = []
        for element, (before, after) in self.elements.items():
            for slot in range(len(before)):
                rows.append(
                    {
                        "slot": slot,
                        "time": _clock(slot),
                        "element": element,
                        "before": round(float(before[slot]), 4),
                        "after": round(float(after[slot]), 4),
                    }
                )
        return rows

    def slot_rows(self) -> list[dict[str, Any]]:
        """One row per congested slot and element: before, after and what was bought."""
        bought: dict[int, float] = {}
        delivered: dict[int, float] = {}
        for s in self.market.settled:
            bought[s.need.slot] = bought.get(s.need.slot, 0.0) + s.award.kw
            delivered[s.need.slot] = delivered.get(s.need.slot, 0.0) + s.delivered_kw
        rows = []
        for c in self.congestions:
            before, after = self.elements[c.element]
            rows.append(
                {
                    "slot": c.slot,
                    "time": _clock(c.slot),
                    "element": c.element,
                    "kind": c.kind,
                    "limit": c.limit,
                    "before": round(float(before[c.slot]), 4),
                    "after": round(float(after[c.slot]), 4),
                    "need_kw": round(c.kw, 3),
                    "bought_kw": round(bought.get(c.slot, 0.0), 3),
                    "delivered_kw": round(delivered.get(c.slot, 0.0), 3),
                }
            )
        return rows


def _clock(slot: int) -> str:
    minutes = STEP_MINUTES * slot
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _by_kind(result: FlexDayResult) -> dict[str, float]:
    out: dict[str, float] = {}
    for s in result.settled:
        out[s.award.offer.kind] = out.get(s.award.offer.kind, 0.0) + s.delivered_kw * SLOT_HOURS
    return {k: round(v, 3) for k, v in sorted(out.items())}


def build_day(settings: FlexDaySettings) -> tuple[Any, list[int], FloatArray, DayAssets]:
    """The feeder, each column's bus, the forecast (slots × columns, kW drawn) and the assets.
    Columns: the households, then the PV plants."""
    feeder = load_feeder(settings.feeder)
    net = feeder.net
    library = load_profile_library()
    window = library.window(PROFILE_YEAR_START.date() + dt.timedelta(days=settings.day), 1)
    loads = net.load[net.load.in_service.astype(bool)]
    n_ev = round(settings.ev_share * len(loads))
    households: dict[str, Household] = {}
    for i, (index, row) in enumerate(loads.iterrows()):
        name = str(row["profile"]) if "profile" in loads.columns else "H0-A"
        profile = library.load_p.get(name, library.load_p["H0-A"])[window]
        load_kw = float(row.p_mw) * 1e3 * profile
        ev = np.zeros(SLOTS)
        if i < n_ev:
            start, left = 17 * 4 + i % 5, settings.ev_kwh
            for slot in range(start, SLOTS):
                if left <= 1e-9:
                    break
                kw = min(settings.ev_kw, left / SLOT_HOURS)
                ev[slot] = kw
                left -= kw * SLOT_HOURS
        has_battery = i % settings.battery_every == 0
        households[f"h{index}"] = Household(
            member=f"h{index}",
            bus=int(row.bus),
            load_kw=load_kw,
            ev_kw=ev,
            battery_kwh=settings.battery_soc * settings.battery_kwh if has_battery else None,
            battery_cap_kwh=settings.battery_kwh if has_battery else 0.0,
            battery_kw=settings.battery_kw,
            battery_price=settings.price_battery,
        )
    if settings.community_battery_kw > 0 and households:
        # the community battery sits at the first household's bus
        cap = settings.community_battery_kw * settings.community_battery_hours
        households[COMMUNITY] = Household(
            member=COMMUNITY,
            bus=next(iter(households.values())).bus,
            load_kw=np.zeros(SLOTS),
            ev_kw=np.zeros(SLOTS),
            battery_kwh=settings.battery_soc * cap,
            battery_cap_kwh=cap,
            battery_kw=settings.community_battery_kw,
            battery_price=settings.price_community,
        )
    sgens = net.sgen[net.sgen.in_service.astype(bool)]
    pv = [
        -float(r.p_mw)
        * 1e3
        * library.pv.get(
            str(r["profile"]) if "profile" in sgens.columns else "", library.pv["PV1"]
        )[window]
        for _, r in sgens.iterrows()
    ]
    buses = [h.bus for h in households.values()] + [int(b) for b in sgens.bus]
    columns = [h.load_kw + h.ev_kw for h in households.values()] + pv
    forecast = np.array(columns, dtype=float).T if columns else np.zeros((SLOTS, 0))
    return feeder, buses, forecast, DayAssets(settings, households)


def run_flex_day_scenario(settings: FlexDaySettings) -> FlexDay:
    """Screen, post, offer, clear, settle, and check the day again."""
    settings.check()
    started = time.perf_counter()
    feeder, buses, forecast, assets = build_day(settings)
    screen = CongestionScreen(feeder, buses)
    before_result = screen.run(forecast)
    congestions = screen.screen(forecast, before_result)
    ledger_run: FlexLedgerRun | None = None
    chain: EmbeddedChain | None = None
    sale: AssetFundingLedger | None = None
    ledger_s = 0.0
    if settings.ledger:
        t = time.perf_counter()
        chain = EmbeddedChain()
        ledger_run = _open_ledger(chain, assets)
        sale = (
            _finance(chain, ledger_run, settings, assets)
            if COMMUNITY in assets.households
            else None
        )
        ledger_s += time.perf_counter() - t
    t = time.perf_counter()
    market = run_flex_day(
        congestions,
        assets,
        max_price=settings.max_price,
        penalty_rate=settings.penalty_rate,
        slot_hours=SLOT_HOURS,
        ledger=ledger_run,
    )
    community = None
    if COMMUNITY in assets.households:
        community = _dividends(settings, assets, market, ledger_run, sale)
    market_s = time.perf_counter() - t
    if settings.ledger:
        ledger_s += market_s  # the market's time is spent on chain but for the clearing sums
    after = forecast.copy()
    column = {m: k for k, m in enumerate(assets.households)}
    for (slot, member), kw in assets.done_kw.items():
        after[slot, column[member]] += kw
    after_result = screen.run(after)
    elements = {
        c.element: (
            element_values(before_result, c.element),
            element_values(after_result, c.element),
        )
        for c in congestions
    }
    checks_before = screen.check.check_many(forecast)
    checks_after = screen.check.check_many(after)
    gas = (
        [
            {"function": f"{g.contract}.{g.function}", "count": g.count, "mean": g.total // g.count}
            for g in chain.gas_log.summary()
        ]
        if chain is not None
        else []
    )
    return FlexDay(
        settings=settings,
        congestions=congestions,
        market=market,
        elements=elements,
        congested_slots_before=sum(1 for c in checks_before if not c.passed),
        congested_slots_after=sum(1 for c in checks_after if not c.passed),
        shifted_kwh=assets.shifted_kwh,
        wall_s=time.perf_counter() - started,
        ledger_s=ledger_s,
        gas=gas,
        community=community,
    )


COLLATERAL_MICRO = 100_000_000  # 100 currency units per member
ESCROW_MICRO = 10_000_000_000  # 10 000 currency units for the DSO


def _open_ledger(chain: EmbeddedChain, assets: DayAssets) -> FlexLedgerRun:
    dso, meter, issuer = (chain.new_account(n) for n in ("dso", "meter operator", "issuer"))
    ledger = FlexMarketLedger.deploy(
        chain, dso=dso, meter_operator=meter, issuer=issuer, supply_micro=10**18
    )
    accounts: dict[str, str] = {}
    for member, h in assets.households.items():
        address = chain.new_account(member)
        accounts[member] = address
        ledger.register(address, h.bus)
        ledger.fund(address, COLLATERAL_MICRO)
        ledger.deposit(address, COLLATERAL_MICRO)
    ledger.fund(dso, ESCROW_MICRO)
    ledger.deposit(dso, ESCROW_MICRO)
    return FlexLedgerRun(ledger, accounts)


SALE_SECONDS = 86_400


def _finance(
    chain: EmbeddedChain, run: FlexLedgerRun, settings: FlexDaySettings, assets: DayAssets
) -> AssetFundingLedger:
    """The households buy the community battery's shares; the sale closes and succeeds, and its
    operator (the battery's account) takes the money raised."""
    operator = run.accounts[COMMUNITY]
    members = [m for m in assets.households if m != COMMUNITY]
    allocation = share_allocation(settings, members)
    total = sum(allocation.values())
    price = round(settings.share_price * MICRO)
    sale = AssetFundingLedger.deploy(
        chain,
        run.ledger.token,
        operator=operator,
        share_price=price,
        target=total,
        cap=total,
        deadline=chain.timestamp() + SALE_SECONDS,
    )
    for member, shares in allocation.items():
        run.ledger.fund(run.accounts[member], shares * price)
        sale.buy(run.accounts[member], shares)
    chain.advance_time(SALE_SECONDS)
    sale.withdraw_raised()
    return sale


def _dividends(
    settings: FlexDaySettings,
    assets: DayAssets,
    market: FlexDayResult,
    run: FlexLedgerRun | None,
    sale: AssetFundingLedger | None,
) -> CommunityBattery:
    """The battery's revenue in the flexibility market, distributed to its share holders."""
    members = [m for m in assets.households if m != COMMUNITY]
    allocation = share_allocation(settings, members)
    shares = sum(allocation.values())
    battery = assets.households[COMMUNITY]
    revenue = sum(
        s.payment - s.penalty for s in market.settled if s.award.offer.member == COMMUNITY
    )
    paid = revenue
    if run is not None and sale is not None:
        ledger, operator = run.ledger, run.accounts[COMMUNITY]
        earned = ledger.balance_of(operator) - COLLATERAL_MICRO
        paid = 0.0
        if earned > 0:
            ledger.withdraw(operator, earned)
            sale.distribute(earned)
            for member in allocation:
                account = run.accounts[member]
                if sale.claimable(account) > 0:
                    before = sale.token_balance(account)
                    sale.claim(account)
                    paid += (sale.token_balance(account) - before) / MICRO
        revenue = earned / MICRO
    return CommunityBattery(
        kw=settings.community_battery_kw,
        kwh=battery.battery_cap_kwh,
        shares=shares,
        holders=len(allocation),
        raised=shares * settings.share_price,
        revenue=revenue,
        dividends_paid=paid,
    )
