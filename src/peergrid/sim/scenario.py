"""Scenario files: TOML validated by pydantic, one place that says what every field means.

Every field has a default that runs; the demo is the all-defaults scenario. A malformed file is
reported in one line naming the field and what is wrong (:class:`ScenarioError`).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from peergrid.assets.profiles import (
    HOUSEHOLD_LOAD_PROFILES,
    PROFILE_YEAR_END,
    PROFILE_YEAR_START,
    PV_PROFILES,
    STEP_MINUTES,
)
from peergrid.core.errors import PeergridError, ScenarioError
from peergrid.mechanisms.registry import MECHANISMS, check_params
from peergrid.platform.settlement import SETTLEMENTS


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeederSection(_Section):
    name: str = Field("ieee-eu-lv", description="feeder from the catalogue")


class HouseholdsSection(_Section):
    count: int = Field(55, ge=1, le=1000, description="number of households")
    pv_share: float = Field(0.5, ge=0.0, le=1.0, description="share of households with PV")
    annual_consumption_kwh: tuple[float, float] = Field(
        (2500.0, 5000.0), description="range of yearly consumption, kWh (uniform draw)"
    )
    pv_kwp: tuple[float, float] = Field(
        (4.0, 10.0), description="range of installed PV power, kWp (uniform draw)"
    )
    load_profiles: tuple[str, ...] = Field(
        ("H0-A", "H0-B", "H0-C", "H0-G", "H0-L"), description="simbench household profiles"
    )
    pv_profiles: tuple[str, ...] = Field(PV_PROFILES, description="simbench PV profiles")

    @field_validator("annual_consumption_kwh", "pv_kwp")
    @classmethod
    def _range(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not (0 <= low <= high):
            raise ValueError(f"must be [low, high] with 0 <= low <= high, got {list(value)}")
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
    days: int = Field(1, ge=1, le=366, description="number of days")
    slot_minutes: int = Field(15, description="slot length, a multiple of 15 min dividing a day")

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
    mechanism: str = Field(
        "dpda", description=f"clearing mechanism, one of {', '.join(MECHANISMS)}"
    )
    behaviour: Literal["cooperative", "non-cooperative"] = Field(
        "cooperative", description="spread of reserved prices (003_dpda.md §2.11)"
    )
    reference_price: float | None = Field(
        None, gt=0, description="centre of reserved prices, currency/kWh (default: tariff mid)"
    )
    min_order_kwh: float = Field(0.001, gt=0, description="smaller net positions place no order")
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
        0.05, ge=0, description="penalty on energy contracted but not delivered (eqs. 4.8/4.9)"
    )
    params: dict[str, float | str] = Field(
        default_factory=dict,
        description="the mechanism's own parameters, e.g. distance_charge_per_m for dpda+score",
    )

    @field_validator("mechanism")
    @classmethod
    def _mechanism(cls, value: str) -> str:
        if value not in MECHANISMS:
            raise ValueError(
                f"unknown mechanism {value!r} (known: {', '.join(sorted(MECHANISMS))})"
            )
        return value

    @model_validator(mode="after")
    def _params(self) -> MarketSection:
        try:
            check_params(self.mechanism, self.params)
        except PeergridError as exc:
            raise ValueError(str(exc)) from None
        return self


class TariffsSection(_Section):
    retail_per_kwh: float = Field(0.30, gt=0, description="supplier's import price")
    feed_in_per_kwh: float = Field(0.08, ge=0, description="supplier's export price")
    network_fee_per_kwh: float = Field(
        0.01, ge=0, description="DSO's fee on peer-to-peer energy, split by buyer and seller"
    )
    currency: str = Field("EUR", min_length=1, max_length=8)


class GridSection(_Section):
    power_flow: bool = Field(True, description="check every slot with an AC power flow")
    v_min_pu: float = Field(0.90, gt=0)
    v_max_pu: float = Field(1.10, gt=0)
    max_line_loading_pct: float = Field(100.0, gt=0)
    max_trafo_loading_pct: float = Field(100.0, gt=0)

    @model_validator(mode="after")
    def _band(self) -> GridSection:
        if self.v_min_pu >= self.v_max_pu:
            raise ValueError(f"v_min_pu ({self.v_min_pu}) must be below v_max_pu ({self.v_max_pu})")
        return self


class LedgerSection(_Section):
    enabled: bool = Field(True, description="settle trades on the ledger")
    market: str = Field(
        "batch",
        description="community: the operator posts each slot's trades; batch: sealed-bid "
        "commit and reveal, clearing verified on chain, meter readings",
    )
    deposit_per_member: float = Field(
        200.0, gt=0, description="settlement-token deposit of each member, currency"
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
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
        return value


class OutputSection(_Section):
    directory: str = Field("results/{name}", description="where results go; {name} is replaced")
    format: Literal["csv", "parquet"] = Field("csv", description="table format")


class Scenario(_Section):
    name: str = Field("demo", min_length=1)
    seed: int = Field(20160609, ge=0)
    feeder: FeederSection = FeederSection()
    households: HouseholdsSection = HouseholdsSection()
    time: TimeSection = TimeSection()
    market: MarketSection = MarketSection()
    tariffs: TariffsSection = TariffsSection()
    grid: GridSection = GridSection()
    ledger: LedgerSection = LedgerSection()
    output: OutputSection = OutputSection()

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

    @property
    def reference_price(self) -> float:
        if self.market.reference_price is not None:
            return self.market.reference_price
        return (self.tariffs.retail_per_kwh + self.tariffs.feed_in_per_kwh) / 2.0

    @property
    def output_directory(self) -> Path:
        return Path(self.output.directory.replace("{name}", self.name))

    def to_toml(self) -> str:
        return tomli_w.dumps(self.model_dump(mode="json", exclude_none=True))


def scenario_from_dict(data: dict[str, Any]) -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_one_line(exc)) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the scenario file ({exc.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    try:
        return scenario_from_dict(data)
    except ScenarioError as exc:
        raise ScenarioError(f"{path}: {exc}") from None


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
    detail = "" if quoted else f" (got {given!r})"
    if isinstance(given, dict):
        detail = ""
    where = f"{field}: " if field else ""
    more = len(exc.errors()) - 1
    suffix = f" [and {more} more error(s)]" if more else ""
    return f"{where}{message}{detail}{suffix}"
