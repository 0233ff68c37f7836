"""Scenario files: TOML validated by pydantic, one place that says what every field means.

Every field has a default that runs; the demo is the all-defaults scenario. A malformed file is
reported in one line naming the file, the field and the bad value (:class:`ScenarioError`), when
the file loads: the file goes through the one input loader (:mod:`peergrid.core.inputs`: UTF-8,
nesting, numbers within the float range), every number is finite and within the bounds its
field states (with its unit), and the feeder is looked up in the catalogue without being built.
The bounds keep every figure of a run finite and every amount within the ledger's integers.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from peergrid.assets.profiles import (
    HOUSEHOLD_LOAD_PROFILES,
    PROFILE_YEAR_END,
    PROFILE_YEAR_START,
    PV_PROFILES,
    STEP_MINUTES,
)
from peergrid.core.errors import PeergridError, ScenarioError
from peergrid.core.inputs import read_toml
from peergrid.core.orders import MAX_PRICE_PER_KWH, MAX_QUANTITY_KWH
from peergrid.grid.feeders import check_feeder_name
from peergrid.ledger.markets.batch_market import MAX_ORDERS_PER_SLOT
from peergrid.ledger.markets.batch_market import (
    MAX_PRICE_MICRO_PER_KWH as BATCH_MAX_PRICE_MICRO_PER_KWH,
)
from peergrid.ledger.markets.orderbook import MAX_FILLS
from peergrid.mechanisms.registry import MECHANISMS, check_params
from peergrid.platform.settlement import SETTLEMENTS
from peergrid.sim.ancillary.shouts import DEVICE_FEEDERS, feeder_devices
from peergrid.sim.services.section import ServicesSection

# Bounds, each with its unit (the fields below say which they bound).
MAX_HOUSEHOLDS = 1000
MAX_ANNUAL_CONSUMPTION_KWH = 1_000_000.0  # kWh per year and household (1 GWh)
MAX_PV_KWP = 1_000.0  # kWp per household (1 MWp)
MAX_TARIFF = MAX_PRICE_PER_KWH  # currency/kWh: the orders' largest price, the ledger's rate
MAX_DEPOSIT = 1e12  # currency per member
MAX_SEED = 2**63 - 1
V_MIN_RANGE = (0.5, 1.0)  # p.u.
V_MAX_RANGE = (1.0, 1.5)  # p.u.
MAX_LOADING_PCT = 1000.0  # %
MAX_NAME_CHARS = 64
NAME_PATTERN = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_NAME_CHARS - 1}}}")
"""A scenario's name: a plain file name (letters, digits, ``.``, ``_``, ``-``; no folder, no
markup), since it names the results folder."""


class _Section(BaseModel):
    # Every float finite: TOML's nan and inf are refused by field name.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class FeederSection(_Section):
    name: str = Field(
        "ieee-eu-lv",
        description="feeder from the catalogue (`peergrid grid list`), checked when the "
        "scenario loads",
    )

    @field_validator("name")
    @classmethod
    def _known(cls, value: str) -> str:
        try:
            check_feeder_name(value)
        except PeergridError as exc:
            raise ValueError(str(exc)) from None
        return value


class HouseholdsSection(_Section):
    count: int = Field(
        55, ge=1, le=MAX_HOUSEHOLDS, strict=True, description="number of households, 1..1000"
    )
    pv_share: float = Field(0.5, ge=0.0, le=1.0, description="share of households with PV, 0..1")
    annual_consumption_kwh: tuple[float, float] = Field(
        (2500.0, 5000.0),
        description="range of yearly consumption, kWh per household (uniform draw), "
        "0 <= low <= high <= 1 000 000 kWh",
    )
    pv_kwp: tuple[float, float] = Field(
        (4.0, 10.0),
        description="range of installed PV power, kWp per household (uniform draw), "
        "0 <= low <= high <= 1 000 kWp",
    )
    load_profiles: tuple[str, ...] = Field(
        ("H0-A", "H0-B", "H0-C", "H0-G", "H0-L"), description="simbench household profiles"
    )
    pv_profiles: tuple[str, ...] = Field(PV_PROFILES, description="simbench PV profiles")

    @field_validator("annual_consumption_kwh", "pv_kwp")
    @classmethod
    def _range(cls, value: tuple[float, float], info: ValidationInfo) -> tuple[float, float]:
        low, high = value
        if not (0 <= low <= high):
            raise ValueError(f"must be [low, high] with 0 <= low <= high, got {list(value)}")
        if info.field_name == "pv_kwp":
            largest, unit = MAX_PV_KWP, "kWp"
        else:
            largest, unit = MAX_ANNUAL_CONSUMPTION_KWH, "kWh a year"
        if high > largest:
            raise ValueError(f"must be at most {largest:,.0f} {unit}, got {list(value)}")
        return value

    @field_validator("load_profiles")
    @classmethod
    def _load_profiles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _known(value, HOUSEHOLD_LOAD_PROFILES)

    @field_validator("pv_profiles")
    @classmethod
    def _pv_profiles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _known(value, PV_PROFILES)


def _known(value: tuple[str, ...], known: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise ValueError("must name at least one profile")
    unknown = [v for v in value if v not in known]
    if unknown:
        raise ValueError(f"unknown profile {unknown[0]!r} (known: {', '.join(known)})")
    return value


class TimeSection(_Section):
    start: dt.date = Field(dt.date(2016, 6, 9), description="first day (simbench year 2016)")
    days: int = Field(1, ge=1, le=366, strict=True, description="number of days, 1..366")
    slot_minutes: int = Field(
        15, strict=True, description="slot length, minutes: a multiple of 15 dividing a day"
    )

    @field_validator("slot_minutes")
    @classmethod
    def _slot(cls, value: int) -> int:
        if value <= 0 or value % STEP_MINUTES or (24 * 60) % value:
            raise ValueError(f"must be a multiple of {STEP_MINUTES} that divides 1440, got {value}")
        return value

    @model_validator(mode="after")
    def _within_profile_year(self) -> TimeSection:
        first, last = PROFILE_YEAR_START.date(), PROFILE_YEAR_END
        end = self.start + dt.timedelta(days=self.days - 1)
        if self.start < first or end > last:
            raise ValueError(
                f"start/days: {self.start} plus {self.days} day(s) must lie within the profile "
                f"year {first}..{last}"
            )
        return self


class MarketSection(_Section):
    enabled: bool = Field(
        True,
        strict=True,
        description="run the households' energy market; false: the ancillary-service sessions "
        "or the EV quota day alone (needs ancillary.enabled or ev_quota.enabled)",
    )
    mechanism: str = Field(
        "dpda",
        description="clearing mechanism, one of "
        + ", ".join(name for name, spec in MECHANISMS.items() if spec.energy_market),
    )
    behaviour: Literal["cooperative", "non-cooperative"] = Field(
        "cooperative", description="spread of reserved prices (003_dpda.md §2.11)"
    )
    reference_price: float | None = Field(
        None,
        gt=0,
        description="centre of reserved prices, currency/kWh, between the feed-in and retail "
        "tariffs (default: their mid)",
    )
    min_order_kwh: float = Field(
        0.001,
        gt=0,
        le=MAX_QUANTITY_KWH,
        description="smaller net positions place no order, kWh (above 0, at most the orders' "
        "largest quantity)",
    )
    forecast_error: float = Field(
        0.1,
        ge=0,
        le=1,
        description="relative standard deviation of the load and PV forecasts orders are "
        "formed from (0: orders from the metered energy, no deviation)",
    )
    late_order_share: float = Field(
        0.02,
        ge=0,
        le=1,
        description="share of orders sent after the quotation window: they roll to the next "
        "cycle, where their agent replaces or withdraws them",
    )
    penalty_per_kwh: float = Field(
        0.05,
        ge=0,
        le=MAX_TARIFF,
        description="penalty on energy contracted but not delivered (eqs. 4.8/4.9), "
        "currency/kWh, 0..281 474 976",
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="the mechanism's own parameters, e.g. distance_charge_per_m for dpda+score "
        "(names, units and bounds: `peergrid mechanisms`)",
    )

    @field_validator("mechanism")
    @classmethod
    def _mechanism(cls, value: str) -> str:
        if value not in MECHANISMS:
            raise ValueError(
                f"unknown mechanism {value!r} (known: {', '.join(sorted(MECHANISMS))})"
            )
        spec = MECHANISMS[value]
        if not spec.energy_market:
            energy = sorted(name for name, spec in MECHANISMS.items() if spec.energy_market)
            what = (
                "an ancillary-service market (004_vdma.md)"
                if spec.service
                else "the EV charging quota auction (001b_book.md ch. 9)"
            )
            raise ValueError(
                f"{value!r} is {what}, not an energy market; it runs with "
                f"`peergrid clear --mechanism {value}` (energy markets: {', '.join(energy)})"
            )
        return value

    @field_validator("params")
    @classmethod
    def _params(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        mechanism = info.data.get("mechanism")
        if mechanism is None:  # refused already
            return value
        try:
            check_params(mechanism, value)
        except PeergridError as exc:
            raise ValueError(str(exc).removeprefix("field 'params': ")) from None
        return value


SERVICE_MECHANISMS = tuple(name for name, spec in MECHANISMS.items() if spec.service)
"""The ancillary-service markets of 004_vdma.md (cda, ncda, ocda)."""
OFF_CHAIN_SERVICE_MECHANISMS = ("ocda",)
"""OCDA orders its offers by an optimal power flow: off chain by the paper (L71, L85)."""
SESSION_SET_PARAMS = ("pool", "session_hours")
"""Parameters each hourly session sets itself: not the scenario's to give."""


class AncillarySection(_Section):
    """Hourly ancillary-service sessions (004_vdma.md): each hour, one session per pool, the
    devices' random shouts (§3.2) cleared by a VDMA market and checked by an AC power flow."""

    enabled: bool = Field(
        False,
        strict=True,
        description="run a session per pool every hour; needs a feeder with devices' data "
        "(cigre-mv-vdma: Table 1 of 004_vdma.md)",
    )
    mechanism: str = Field(
        "ncda", description="ancillary-service market, one of " + ", ".join(SERVICE_MECHANISMS)
    )
    pools: tuple[Literal["up", "down"], ...] = Field(
        ("up", "down"),
        description="the pools each hour has a session of: up (AS+), down (AS−); each drawn "
        "and cleared apart",
    )
    spread: float = Field(
        0.05,
        ge=0,
        le=1,
        description="s of §3.2: a shout's energy has standard deviation s·P* (kWh, P* the "
        "device's expected power in kW), 0..1",
    )
    probability: float = Field(
        0.5, ge=0, le=1, description="probability that a device shouts in a session, 0..1"
    )
    price_mean_per_kwh: float = Field(
        0.35,
        gt=0,
        le=MAX_TARIFF,
        description="mean shout price, currency/kWh, above 0 (the paper's 0.35 €/kWh)",
    )
    price_std_per_kwh: float = Field(
        0.025,
        ge=0,
        le=MAX_TARIFF,
        description="standard deviation of the shout prices, currency/kWh (the paper's 0.025)",
    )
    roles: Literal["generators-offer", "loads-offer"] = Field(
        "generators-offer",
        description="generators-offer: generators offer and loads ask (the paper's simulation, "
        "L142); loads-offer: the other way round (its example of L67)",
    )
    on_chain: bool | None = Field(
        None,
        description="clear the sessions on the order-book contract (cda and ncda); none: as "
        "ledger.enabled says",
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="the market's own parameters, e.g. distance for ncda (names, units and "
        "bounds: `peergrid mechanisms`); pool and session_hours are set by each session",
    )

    @field_validator("mechanism")
    @classmethod
    def _mechanism(cls, value: str) -> str:
        if value not in SERVICE_MECHANISMS:
            raise ValueError(
                f"unknown ancillary-service market {value!r} (known: "
                f"{', '.join(SERVICE_MECHANISMS)})"
            )
        return value

    @field_validator("pools")
    @classmethod
    def _pools(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or len(set(value)) != len(value):
            raise ValueError(f"must name up, down or both, each once, got {list(value)}")
        return value

    @field_validator("params")
    @classmethod
    def _params(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        mechanism = info.data.get("mechanism")
        if mechanism is None:  # refused already
            return value
        fixed = [name for name in SESSION_SET_PARAMS if name in value]
        if fixed:
            raise ValueError(f"{fixed[0]!r} is set by each hourly session, not by the scenario")
        try:
            check_params(mechanism, value)
        except PeergridError as exc:
            raise ValueError(str(exc).removeprefix("field 'params': ")) from None
        return value


EV_QUOTA_PERIOD_MINUTES = 30
"""The chapter's period (001b_book.md §9.1): a day of 48 half-hour periods."""
TABLE_1_TARIFF = (32.0,) * 6 + (69.0,) * 2 + (112.0,) * 3 + (69.0,) * 7 + (112.0,) * 4 + (32.0,) * 2
"""Table 1 of 001b_book.md ch. 9 hour by hour, tokens/kWh (a token is 0.01 CNY): 22:00–6:00 32,
8:00–11:00 and 18:00–22:00 112, 6:00–8:00 and 11:00–18:00 69."""
MAX_EV_KW = 1_000.0  # kW per charger (1 MW)
MAX_EV_KWH = 10_000.0  # kWh needed by one EV in a day
MAX_QUOTA_PRICE = MAX_PRICE_PER_KWH  # tokens/kWh: the ev-quota contract's bound


class EvEntry(_Section):
    """One EV of an explicit list: at a household's bus, plugged in from ``arrival_h`` until
    ``departure_h`` (clock hours; the day runs from noon to noon, so 18.5 then 7.0 is an evening
    arrival and a departure the next morning)."""

    id: str = Field(description="the EV's name, 1 to 64 letters, digits, '.', '_' or '-'")
    household: int = Field(
        ge=1, le=MAX_HOUSEHOLDS, strict=True, description="the household (1..count) it charges at"
    )
    arrival_h: float = Field(ge=0, lt=24, description="arrival, clock hours 0..24")
    departure_h: float = Field(ge=0, lt=24, description="departure, clock hours 0..24")
    energy_kwh: float = Field(
        gt=0, le=MAX_EV_KWH, description="energy it needs from the grid by departure, kWh"
    )
    charger_kw: float | None = Field(
        None, gt=0, le=MAX_EV_KW, description="its charger's rating, kW (none: the section's)"
    )

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not NAME_PATTERN.fullmatch(value):
            raise ValueError(f"must be 1 to 64 letters, digits, '.', '_' or '-', got {value!r}")
        return value


class EvQuotaSection(_Section):
    """EV charging under quota trading over a day (001b_book.md ch. 9): 48 half-hour periods
    from noon to noon; during each the DSO broadcasts the transformer's capacity margin for the
    next, the EVs ask for quota, the margin is pre-allocated and, when short, the quotas are
    traded in the double auction; every EV then charges within its final quota."""

    enabled: bool = Field(
        False,
        strict=True,
        description="run the EV quota day (alone: needs market.enabled = false, ancillary and "
        "ledger off, time.days = 1)",
    )
    share: float = Field(
        0.6, ge=0, le=1, description="share of the households with an EV, 0..1 (drawn, seeded)"
    )
    count: int | None = Field(
        None,
        ge=0,
        le=MAX_HOUSEHOLDS,
        strict=True,
        description="number of EVs, at most one per household (none: from the share)",
    )
    charger_kw: float = Field(
        11.0, gt=0, le=MAX_EV_KW, description="each EV's charger rating, kW (a three-phase box)"
    )
    arrival_h: tuple[float, float] = Field(
        (18.0, 1.5),
        description="arrival clock time, mean and standard deviation, hours (normal draw, "
        "clipped to 12:30..23:59)",
    )
    departure_h: tuple[float, float] = Field(
        (7.5, 1.0),
        description="departure the next morning, mean and standard deviation, hours (normal "
        "draw, clipped to 04:00..12:00)",
    )
    short_stay_share: float = Field(
        0.25,
        ge=0,
        le=1,
        description="share of the drawn EVs that stay a few hours the same evening instead of "
        "overnight, 0..1",
    )
    short_stay_h: tuple[float, float] = Field(
        (3.0, 1.0),
        description="length of a short stay, mean and standard deviation, hours (normal draw, "
        "clipped to 1.5..6 h)",
    )
    energy_kwh: tuple[float, float] = Field(
        (14.0, 6.0),
        description="energy each EV needs from the grid by departure, mean and standard "
        "deviation, kWh (normal draw, clipped to 1..80 kWh)",
    )
    evs: tuple[EvEntry, ...] = Field(
        (),
        description="an explicit list of EVs ({id, household, arrival_h, departure_h, "
        "energy_kwh, charger_kw}); when given, share, count and the draws are not used",
    )
    tariff_per_kwh: tuple[float, ...] = Field(
        TABLE_1_TARIFF,
        description="the charging tariff for each clock hour 0..23, tokens/kWh (default: Table "
        "1 of the chapter; a token is 0.01 CNY)",
    )
    bid_price_per_kwh: tuple[float, float] = Field(
        (20.0, 30.0),
        description="a buyer's quota price from the least to the most urgent, tokens/kWh",
    )
    offer_price_per_kwh: float = Field(
        20.0,
        ge=0,
        le=MAX_QUOTA_PRICE,
        description="a seller's quota price when the later period it shifts to costs what this "
        "one does, tokens/kWh; scaled by the ratio of the two tariffs",
    )
    price_spread: float = Field(
        0.1, ge=0, le=1, description="relative standard deviation of the quota prices (seeded)"
    )
    margin_reserve_pct: float = Field(
        2.0,
        ge=0,
        lt=100,
        description="share of the transformer's rating the DSO holds back from the margin for "
        "the losses and voltage drop the EVs' power adds, %",
    )
    baseline: bool = Field(
        True,
        strict=True,
        description="also run the day without quotas (every EV charges at its rating from its "
        "first period until done) for comparison",
    )

    @field_validator("arrival_h", "departure_h", "short_stay_h", "energy_kwh", "bid_price_per_kwh")
    @classmethod
    def _pair(cls, value: tuple[float, float], info: ValidationInfo) -> tuple[float, float]:
        first, second = value
        if info.field_name == "bid_price_per_kwh":
            if not 0 <= first <= second <= MAX_QUOTA_PRICE:
                raise ValueError(
                    f"must be [least, most] urgent with 0 <= least <= most <= "
                    f"{MAX_QUOTA_PRICE:.0f}, got {list(value)}"
                )
            return value
        bounds = {
            "arrival_h": (12.0, 24.0, "clock hours"),
            "departure_h": (0.0, 12.0, "clock hours"),
            "short_stay_h": (1.0, 6.0, "hours"),
            "energy_kwh": (0.0, MAX_EV_KWH, "kWh"),
        }[info.field_name or ""]
        low, high, unit = bounds
        if not (low <= first <= high and 0 <= second <= high):
            raise ValueError(
                f"must be [mean, standard deviation] with the mean in {low:g}..{high:g} {unit} "
                f"and the deviation in 0..{high:g}, got {list(value)}"
            )
        return value

    @field_validator("tariff_per_kwh")
    @classmethod
    def _tariff(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if len(value) != 24 or not all(0 <= v <= MAX_QUOTA_PRICE for v in value):
            raise ValueError(
                f"must be 24 prices (one per clock hour), each 0..{MAX_QUOTA_PRICE:.0f} "
                f"tokens/kWh, got {len(value)}"
            )
        return value

    @field_validator("evs")
    @classmethod
    def _evs(cls, value: tuple[EvEntry, ...]) -> tuple[EvEntry, ...]:
        seen: set[str] = set()
        households: set[int] = set()
        for k, ev in enumerate(value):
            if ev.id in seen:
                raise ValueError(f"[{k}]: duplicate EV id {ev.id!r}")
            if ev.household in households:
                raise ValueError(f"[{k}]: household {ev.household} has an EV already")
            seen.add(ev.id)
            households.add(ev.household)
            if not ev_window_hours(ev.arrival_h, ev.departure_h)[2]:
                raise ValueError(
                    f"[{k}] {ev.id!r}: arrives at {ev.arrival_h:g} h and leaves at "
                    f"{ev.departure_h:g} h, leaving no whole period to charge in after the "
                    "clearing it first takes part in (the day runs noon to noon)"
                )
        return value


def ev_window_hours(arrival_h: float, departure_h: float) -> tuple[int, int, bool]:
    """The periods (from noon, 30 minutes each) an EV plugged in from ``arrival_h`` until
    ``departure_h`` (clock hours) charges in: ``[first, stop)`` and whether there is any.

    An EV takes part in a period's clearing only when it is plugged in as the clearing starts
    (the period before, §9.2 step 2), and charges only in periods that end by its departure."""
    since_noon = (arrival_h - 12.0) % 24.0
    leaves = (departure_h - 12.0) % 24.0 or 24.0
    period_h = EV_QUOTA_PERIOD_MINUTES / 60.0
    # Rounded to the microsecond first, so that 18:00 given as 18.000000000001 is on time.
    first = math.ceil(round(since_noon / period_h, 9)) + 1
    stop = math.floor(round(leaves / period_h, 9))
    return first, stop, first < stop and since_noon < leaves


class TariffsSection(_Section):
    retail_per_kwh: float = Field(
        0.30,
        gt=0,
        le=MAX_TARIFF,
        description="supplier's import price, currency/kWh, above 0 and at most 281 474 976 "
        "(the orders' largest price)",
    )
    feed_in_per_kwh: float = Field(
        0.08,
        ge=0,
        le=MAX_TARIFF,
        description="supplier's export price, currency/kWh, below the retail price",
    )
    network_fee_per_kwh: float = Field(
        0.01,
        ge=0,
        le=MAX_TARIFF,
        description="DSO's fee on peer-to-peer energy, split by buyer and seller, currency/kWh, "
        "0..281 474 976 (the ledger's largest rate)",
    )
    currency: str = Field(
        "EUR", description="currency name: 1 to 8 letters or currency signs, e.g. EUR, kr, €"
    )

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        letters = all(
            unicodedata.category(c)[0] == "L" or unicodedata.category(c) == "Sc" for c in value
        )
        if not (1 <= len(value) <= 8 and letters):
            raise ValueError(f"must be 1 to 8 letters or currency signs, got {value!r}")
        return value


class GridSection(_Section):
    power_flow: bool = Field(
        True, strict=True, description="check every slot with an AC power flow"
    )
    v_min_pu: float = Field(
        0.90, ge=V_MIN_RANGE[0], le=V_MIN_RANGE[1], description="lowest voltage, p.u., 0.5..1.0"
    )
    v_max_pu: float = Field(
        1.10, ge=V_MAX_RANGE[0], le=V_MAX_RANGE[1], description="highest voltage, p.u., 1.0..1.5"
    )
    max_line_loading_pct: float = Field(
        100.0, gt=0, le=MAX_LOADING_PCT, description="line loading limit, %, above 0, at most 1000"
    )
    max_trafo_loading_pct: float = Field(
        100.0,
        gt=0,
        le=MAX_LOADING_PCT,
        description="transformer loading limit, %, above 0, at most 1000",
    )

    @model_validator(mode="after")
    def _band(self) -> GridSection:
        if self.v_min_pu >= self.v_max_pu:
            raise ValueError(f"v_min_pu ({self.v_min_pu}) must be below v_max_pu ({self.v_max_pu})")
        return self


class LedgerSection(_Section):
    enabled: bool = Field(True, strict=True, description="settle trades on the ledger")
    market: str = Field(
        "batch",
        description="community: the operator posts each slot's trades; batch: sealed-bid "
        "commit and reveal, clearing verified on chain, meter readings",
    )
    deposit_per_member: float = Field(
        200.0,
        gt=0,
        le=MAX_DEPOSIT,
        description="settlement-token deposit of each member, currency, above 0 and at most 10^12",
    )
    chain: Literal["auto", "anvil", "embedded"] = Field(
        "auto",
        description="the EVM the run settles on when no rpc is given: anvil, a private node "
        "peergrid starts and stops (the fast path: transactions batched, one block per flush); "
        "embedded, py-evm in process (no binary needed, slower); auto, anvil when its binary is "
        "installed (npm ci), else embedded. Gas, money and trades are the same on each",
    )
    rpc: str | None = Field(
        None,
        description="JSON-RPC URL of an EVM node to settle on (e.g. http://127.0.0.1:8545 for "
        "`peergrid chain up`); none: the embedded EVM",
    )

    @field_validator("market")
    @classmethod
    def _market(cls, value: str) -> str:
        if value not in SETTLEMENTS:
            raise ValueError(f"unknown ledger market {value!r} (known: {', '.join(SETTLEMENTS)})")
        return value

    @field_validator("rpc")
    @classmethod
    def _rpc(cls, value: str | None) -> str | None:
        if value is None:
            return value
        message = f"must be an http:// or https:// URL with a host, got {value!r}"
        if any(c.isspace() or unicodedata.category(c) == "Cc" for c in value):
            raise ValueError(message)
        try:
            parts = urllib.parse.urlsplit(value)
            port = parts.port
        except ValueError:
            raise ValueError(message + " (its port must be 0..65535)") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(message)
        del port
        return value

    @model_validator(mode="after")
    def _one_chain(self) -> LedgerSection:
        # A node's URL names the chain; a second choice beside it would be silently ignored.
        if self.rpc is not None and self.chain != "auto":
            raise ValueError(
                f"give either rpc (a node to settle on) or chain = {self.chain!r}, not both"
            )
        return self


class OutputSection(_Section):
    directory: str = Field(
        "results/{name}",
        description="the results folder; {name} is replaced by the scenario's name",
    )
    format: Literal["csv", "parquet"] = Field("csv", description="table format")

    @field_validator("directory")
    @classmethod
    def _directory(cls, value: str) -> str:
        if not value or any(unicodedata.category(c) == "Cc" for c in value) or len(value) > 1024:
            raise ValueError(
                f"must be a folder path of 1 to 1024 characters, none a control character, "
                f"got {value!r}"
            )
        return value


class Scenario(_Section):
    """A scenario: the feeder, the households, the days, the market, the tariffs, the grid's
    limits, the ledger and the outputs. Every field has a default that runs (the demo)::

        scenario = peergrid.Scenario.load("examples/demo.toml")
        same = peergrid.Scenario()
        week = scenario.replace(time={"days": 7}, market={"mechanism": "mcafee"})
        print(week.to_toml())
    """

    name: str = Field(
        "demo",
        description="the scenario's name, which names its results folder: 1 to 64 letters, "
        "digits, '.', '_' or '-', starting with a letter or digit",
    )
    seed: int = Field(20160609, ge=0, le=MAX_SEED, strict=True, description="0..2**63 - 1")
    feeder: FeederSection = FeederSection()
    households: HouseholdsSection = HouseholdsSection()
    time: TimeSection = TimeSection()
    market: MarketSection = MarketSection()
    ancillary: AncillarySection = AncillarySection()
    ev_quota: EvQuotaSection = EvQuotaSection()
    services: ServicesSection | None = Field(
        None,
        description="the platform's services beside the energy market (certificates, OTC "
        "contracts, flexibility, a community battery); none: the market alone",
    )
    tariffs: TariffsSection = TariffsSection()
    grid: GridSection = GridSection()
    ledger: LedgerSection = LedgerSection()
    output: OutputSection = OutputSection()

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.fullmatch(value):
            raise ValueError(
                f"must be a file name of 1 to {MAX_NAME_CHARS} letters, digits, '.', '_' or '-', "
                f"starting with a letter or digit (it names the results folder), got "
                f"{_shown(value)}"
            )
        return value

    @model_validator(mode="after")
    def _batch_market_size(self) -> Scenario:
        ledger = self.ledger
        count = self.households.count
        if ledger.enabled and ledger.market == "batch" and count > MAX_ORDERS_PER_SLOT:
            raise ValueError(
                f"households.count: the batch market clears at most {MAX_ORDERS_PER_SLOT} "
                f"orders a slot, so at most {MAX_ORDERS_PER_SLOT} households settle on it, got "
                f'{count} (use ledger.market = "community" or ledger.enabled = false)'
            )
        if ledger.enabled and ledger.market == "batch":
            # The batch market packs prices and rates into 32-bit micro-units per kWh.
            limit = BATCH_MAX_PRICE_MICRO_PER_KWH / 1e6
            prices = {
                "tariffs.retail_per_kwh": self.tariffs.retail_per_kwh,
                "tariffs.network_fee_per_kwh": self.tariffs.network_fee_per_kwh,
                "market.penalty_per_kwh": self.market.penalty_per_kwh,
            }
            for name, value in prices.items():
                if value > limit:
                    raise ValueError(
                        f"{name}: the batch market takes prices up to {limit:.6f} currency/kWh, "
                        f'got {value} (use ledger.market = "community" or ledger.enabled = false)'
                    )
        return self

    @model_validator(mode="after")
    def _tariffs(self) -> Scenario:
        t = self.tariffs
        if t.feed_in_per_kwh >= t.retail_per_kwh:
            raise ValueError(
                f"tariffs.feed_in_per_kwh ({t.feed_in_per_kwh}) must be below "
                f"tariffs.retail_per_kwh ({t.retail_per_kwh})"
            )
        ref = self.market.reference_price
        if ref is not None and not (t.feed_in_per_kwh <= ref <= t.retail_per_kwh):
            raise ValueError(
                f"market.reference_price ({ref}) must lie between the feed-in and retail tariffs"
            )
        return self

    @model_validator(mode="after")
    def _ancillary(self) -> Scenario:
        anc, feeder = self.ancillary, self.feeder.name
        if not self.market.enabled and not anc.enabled and not self.ev_quota.enabled:
            raise ValueError(
                "market.enabled: with the energy market off, ancillary.enabled must be true "
                "(or ev_quota.enabled: there is nothing else to run)"
            )
        if anc.enabled and feeder_devices(feeder) is None:
            raise ValueError(
                f"ancillary.enabled: feeder {feeder!r} has no devices' data to draw shouts "
                f"from (feeders with it: {', '.join(DEVICE_FEEDERS)})"
            )
        minutes = self.time.slot_minutes
        if anc.enabled and self.market.enabled and 60 % minutes:
            raise ValueError(
                f"time.slot_minutes: hourly ancillary-service sessions beside the energy market "
                f"need slots that divide the hour (15, 30 or 60), got {minutes}"
            )
        if self.ancillary_on_chain:
            if anc.mechanism in OFF_CHAIN_SERVICE_MECHANISMS:
                raise ValueError(
                    f"ancillary.mechanism: {anc.mechanism!r} orders offers by an optimal power "
                    "flow and runs off chain only; set ancillary.on_chain = false (or "
                    "ledger.enabled = false)"
                )
            max_fills = anc.params.get("max_fills")
            if isinstance(max_fills, int) and max_fills > MAX_FILLS:
                raise ValueError(
                    f"ancillary.params: max_fills on chain is at most {MAX_FILLS} (the order "
                    f"book's bound), got {max_fills}; set ancillary.on_chain = false for more"
                )
        return self

    @model_validator(mode="after")
    def _ev_quota(self) -> Scenario:
        evq = self.ev_quota
        if not evq.enabled:
            return self
        # The EV quota day runs alone and off chain; what it would share with the others
        # (households' energy market, sessions, the contract) is not built in.
        alone = {
            "market.enabled": self.market.enabled,
            "ancillary.enabled": self.ancillary.enabled,
            "ledger.enabled": self.ledger.enabled,
        }
        for name, on in alone.items():
            if on:
                raise ValueError(
                    f"{name}: the EV quota day runs alone and off chain; set {name} = false "
                    "beside ev_quota.enabled"
                )
        if not self.grid.power_flow:
            raise ValueError(
                "grid.power_flow: the EV quota day takes its margins from the base-case power "
                "flow and checks every period with one; it cannot run without"
            )
        if self.time.days != 1:
            raise ValueError(
                f"time.days: the EV quota day runs one day (48 half-hour periods from noon), "
                f"got {self.time.days}"
            )
        if self.time.start + dt.timedelta(days=1) > PROFILE_YEAR_END:
            raise ValueError(
                f"time.start: the EV quota day runs from noon to noon the next day, which must "
                f"lie within the profile year (at latest {PROFILE_YEAR_END}), got "
                f"{self.time.start}"
            )
        count = self.households.count
        if evq.count is not None and evq.count > count:
            raise ValueError(
                f"ev_quota.count: at most one EV per household ({count}), got {evq.count}"
            )
        for k, ev in enumerate(evq.evs):
            if ev.household > count:
                raise ValueError(
                    f"ev_quota.evs.{k}.household: there are {count} households, got {ev.household}"
                )
        return self

    @model_validator(mode="after")
    def _services(self) -> Scenario:
        services = self.services
        if services is None:
            return self
        if not self.market.enabled or self.ancillary.enabled or self.ev_quota.enabled:
            raise ValueError(
                "services: run beside the energy market alone; set market.enabled = true, "
                "ancillary.enabled = false and ev_quota.enabled = false"
            )
        if self.time.slot_minutes != 15:
            raise ValueError(
                f"services: the flexibility market and the registries count 15-minute slots; "
                f"set time.slot_minutes = 15, got {self.time.slot_minutes}"
            )
        count = self.households.count
        slots = self.time.days * 24 * 60 // self.time.slot_minutes
        producers = services.certificates.producers if services.certificates else None
        for k, household in enumerate(producers or ()):
            if not 1 <= household <= count:
                raise ValueError(
                    f"services.certificates.producers.{k}: there are {count} households, "
                    f"got {household}"
                )
        battery = services.community_battery
        if battery is not None and battery.household > count:
            raise ValueError(
                f"services.community_battery.household: there are {count} households, "
                f"got {battery.household}"
            )
        for k, c in enumerate(services.otc):
            for role, household in (("seller", c.seller), ("buyer", c.buyer)):
                if household > count:
                    raise ValueError(
                        f"services.otc.{k}.{role}: there are {count} households, got {household}"
                    )
            last = c.last_slot if c.last_slot is not None else slots - 1
            if c.first_slot >= slots or last >= slots:
                raise ValueError(
                    f"services.otc.{k}: the run has slots 0..{slots - 1}, got "
                    f"{c.first_slot}..{last}"
                )
        return self

    @property
    def ancillary_on_chain(self) -> bool:
        """Whether the ancillary-service sessions are cleared on chain: ``ancillary.on_chain``,
        else as ``ledger.enabled`` says (False without sessions)::

            scenario.replace(ancillary={"on_chain": False}).ancillary_on_chain
        """
        anc = self.ancillary
        if not anc.enabled:
            return False
        return self.ledger.enabled if anc.on_chain is None else anc.on_chain

    @property
    def reference_price(self) -> float:
        """The market's reference price per kWh: ``[market] reference_price``, else the mid-point
        of the retail and feed-in tariffs::

            peergrid.Scenario().reference_price
        """
        if self.market.reference_price is not None:
            return self.market.reference_price
        return (self.tariffs.retail_per_kwh + self.tariffs.feed_in_per_kwh) / 2.0

    @property
    def output_directory(self) -> Path:
        """Where ``peergrid run`` writes this scenario's results (``{name}`` filled in)::

        peergrid.Scenario().replace(name="sunny").output_directory
        """
        return Path(self.output.directory.replace("{name}", self.name))

    def to_toml(self) -> str:
        """The scenario as a TOML file's text; :meth:`load` reads it back to an equal scenario::

        Path("variant.toml").write_text(scenario.replace(time={"days": 7}).to_toml())
        """
        return tomli_w.dumps(self.model_dump(mode="json", exclude_none=True))

    @classmethod
    def load(cls, path: str | Path) -> Scenario:
        """Read and validate a scenario file (``-``: standard input).

        A malformed file raises :class:`ScenarioError` in one line naming the file, the field
        and the value::

            scenario = peergrid.Scenario.load("examples/demo.toml")
        """
        return load_scenario(path)

    def replace(self, **changes: Any) -> Scenario:
        """A variant of this scenario, validated like a file.

        A section is changed by a mapping of its fields (the others keep their values), a
        top-level field by its value; a dotted key reaches one field of a section::

            week = scenario.replace(time={"days": 7}, seed=1)
            off_chain = scenario.replace(**{"ledger.enabled": False})

        An unknown field or a value out of its bounds raises :class:`ScenarioError`.
        """
        data = self.model_dump(mode="python")
        for key, value in changes.items():
            section, dot, field = key.partition(".")
            if dot:
                current = data.get(section)
                if not isinstance(current, dict):
                    raise ScenarioError(f"{key}: {section!r} is not a section of the scenario")
                current[field] = value
            elif isinstance(value, Mapping) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        return scenario_from_dict(data)


def scenario_from_dict(data: dict[str, Any]) -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_one_line(exc)) from None


def load_scenario(
    path: str | Path, *, changes: Mapping[str, Mapping[str, Any]] | None = None
) -> Scenario:
    """Read and validate a scenario file (``-``: standard input).

    ``changes`` replace fields of sections before the file is validated, as the command line's
    options do (``run --no-ledger``: ``{"ledger": {"enabled": False}}``).
    """
    data = read_toml(path, what="scenario file", error=ScenarioError)
    for section, fields in (changes or {}).items():
        current = data.get(section, {})
        if isinstance(current, dict):  # anything else is refused by the validation
            data[section] = {**current, **fields}
    try:
        return scenario_from_dict(data)
    except ScenarioError as exc:
        raise ScenarioError(f"{'<stdin>' if str(path) == '-' else path}: {exc}") from None


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:56] + "…"


def _one_line(exc: ValidationError) -> str:
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"])
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    message = message.removeprefix("Value error, ")
    given = error.get("input")
    # Our own validators already quote the value; pydantic's type errors do not.
    quoted = error["type"] in ("extra_forbidden", "missing", "value_error")
    detail = "" if quoted else f" (got {_shown(given)})"
    if isinstance(given, dict):
        detail = ""
    where = f"{field}: " if field else ""
    more = len(exc.errors()) - 1
    suffix = f" [and {more} more error(s)]" if more else ""
    return f"{where}{message}{detail}{suffix}"
