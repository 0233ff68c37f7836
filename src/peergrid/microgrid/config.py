"""The one labelled configuration of S8 (001b_book.md chapter 10): every number the chapter does
not give, with its unit and why it has the value it has, and the island's entities.

Chapter 10 is prose: it names the agents and the auction's rules (§10.4) but gives no step,
price, waiting time, price reduction, bid increment, threshold or size. :class:`MicrogridParameters`
holds all of ours; an agent scenario (``examples/microgrid.toml``) is TOML with a ``[microgrid]``
section of these (each has its default) and one ``[[entities]]`` table per entity.
:func:`load_microgrid_scenario` refuses a bad value with one line naming the field
(``entities.2.battery_initial_kwh: ...``).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from peergrid.core.errors import ScenarioError
from peergrid.core.inputs import first_validation_error, read_toml, source_name


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class MicrogridParameters(_Section):
    """Time, auction, operator and anomaly settings (ours; the chapter gives none)."""

    minutes: int = Field(1440, ge=1, le=7 * 1440)
    """Length of the simulated run (one-minute steps): a day."""
    log_interval_min: int = Field(5, ge=1)
    """The device drivers' sample time on the ledger: EPA, ECA and BSA meter every minute and
    write one log (every entity in one transaction) per interval. Five minutes keeps a day of 50
    entities within the minute the benchmark allows (a 50-entity log costs about 30 ms on the
    embedded EVM); 1 writes every step."""
    round_min: int = Field(15, ge=1)
    """An auction round: sale agents close due lots and offer, buyer agents bid, every 15 min
    (the platform's trading slot)."""
    lot_duration_min: int = Field(10, ge=1)
    """A lot's waiting time for bids (the SA's "maximum waiting time"); shorter than a round,
    so a lot offered in one round is decided at the next."""
    horizon_min: int = Field(60, ge=1)
    """How far ahead sale and buyer agents ask the forecast agent: the next hour."""
    operator_price: float = Field(0.30, gt=0)
    """The operator's permanent offer (tokens per kWh): above a lot's starting price, so peers
    trade first."""
    initial_price_ratio: float = Field(0.8, gt=0, le=1)
    """A new lot's starting price as a share of the operator's price."""
    reoffer_ratio: float = Field(0.9, gt=0, lt=1)
    """A lot with no bid at its deadline is offered again at this share of its price ..."""
    floor_price_ratio: float = Field(0.4, gt=0, le=1)
    """... down to this share of the operator's price; below it the seller withdraws the lot."""
    bid_increment: float = Field(0.005, gt=0)
    """The step (tokens per kWh) by which a buyer outbids the highest bid."""
    min_lot_kwh: float = Field(0.2, gt=0)
    """The smallest lot a sale agent publishes."""
    max_lot_kwh: float = Field(5.0, gt=0)
    """The largest lot; a larger surplus is offered as several lots."""
    max_open_lots: int = Field(2, ge=1)
    """Lots one seller has on the market at once: a sale agent offers more only as its lots
    sell (an island with more surplus than demand would otherwise churn unsold lots)."""
    reserve_soc: float = Field(0.2, ge=0, lt=1)
    """The share of its battery a prosumer keeps for itself (never offered)."""
    operator_storage_kwh: float = Field(200.0, gt=0)
    """The operator's storage: the island's common buffer, which serves what it sells and
    balances the island minute by minute."""
    operator_initial_kwh: float = Field(100.0, ge=0)
    import_limit_kw: float = Field(100.0, ge=0)
    """The tie to the outside the energy injector (EIA) buys through."""
    import_low_soc: float = Field(0.3, ge=0, le=1)
    """The EIA imports when the operator's storage falls below this share ..."""
    import_high_soc: float = Field(0.6, ge=0, le=1)
    """... up to this share, or up to it whenever the market crawler predicts a price below the
    day's mean."""
    peak_ratio_percent: int = Field(300, ge=100)
    """A consumption log is a sudden peak above 300 % of the entity's previous log ..."""
    peak_margin_kwh: float = Field(0.05, ge=0)
    """... and at least 0.05 kWh above it (so that small loads do not raise peaks)."""
    imbalance_kwh: float = Field(0.5, ge=0)
    """A log interval is an imbalance when the island consumed this much more than it produced."""
    history_days: int = Field(3, ge=1, le=30)
    """Days of history the forecast agent's models learn from."""
    funds: float = Field(100.0, ge=0)
    """Tokens each entity deposits on the ledger to buy with."""
    seed: int = Field(1, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.lot_duration_min >= self.round_min:
            raise ValueError(
                f"lot_duration_min: {self.lot_duration_min} min must be shorter than "
                f"a round ({self.round_min} min)"
            )
        if self.operator_initial_kwh > self.operator_storage_kwh:
            raise ValueError(
                f"operator_initial_kwh: {self.operator_initial_kwh:g} kWh is above "
                f"the operator's storage ({self.operator_storage_kwh:g} kWh)"
            )
        if self.min_lot_kwh > self.max_lot_kwh:
            raise ValueError("min_lot_kwh: above max_lot_kwh")
        if self.import_low_soc > self.import_high_soc:
            raise ValueError("import_low_soc: above import_high_soc")
        return self


class Kind(StrEnum):
    CONSUMER = "consumer"
    """Consumes only (a buyer agent)."""
    PROSUMER = "prosumer"
    """A household with rooftop PV and, usually, a battery (buyer and sale agents)."""
    PV = "pv"
    WIND = "wind"
    DIESEL = "diesel"
    """Production stations (a sale agent, a battery audit agent for their battery)."""


class EntitySpec(_Section):
    """One entity of the island."""

    name: str = Field(min_length=1)
    kind: Kind
    load_kw: float = Field(0.0, ge=0)
    """Mean consumption (a household's is about 0.5 kW)."""
    generation_kw: float = Field(0.0, ge=0)
    """Rated power of its PV, wind turbine or diesel generator."""
    battery_kwh: float = Field(0.0, ge=0)
    """Battery capacity (0: none)."""
    battery_initial_kwh: float = Field(0.0, ge=0)
    battery_power_kw: float = Field(5.0, gt=0)
    maintenance_threshold_kwh: float = Field(0.0, ge=0)
    """The battery needs maintenance when its maximum capacity falls below this."""
    capacity_fade_per_day: float = Field(0.0, ge=0, lt=1)
    """The share of its maximum capacity the battery loses per day (an ageing cell)."""
    meter_error: float = Field(0.0, ge=-1, le=1)
    """The share by which its meter misreports what leaves its battery for a buyer (a faulty or
    tampered meter: the energy audit finds it)."""
    atypical_minutes: tuple[int, ...] = ()
    """Minutes at which its production sensor reads ten times its rating (a faulty station)."""

    @model_validator(mode="after")
    def _battery(self) -> Self:
        if self.battery_initial_kwh > self.battery_kwh:
            raise ValueError(
                f"battery_initial_kwh: {self.battery_initial_kwh:g} kWh is above the battery's "
                f"capacity ({self.battery_kwh:g} kWh)"
            )
        if self.kind is Kind.CONSUMER and self.generation_kw > 0:
            raise ValueError("generation_kw: a consumer produces nothing")
        if (
            self.kind in (Kind.PV, Kind.WIND, Kind.DIESEL, Kind.PROSUMER)
            and self.generation_kw == 0
        ):
            raise ValueError(f"generation_kw: a {self.kind.value} entity needs a rating above 0")
        return self


class MicrogridScenario(_Section):
    """The island: its parameters and entities."""

    microgrid: MicrogridParameters = MicrogridParameters()
    entities: tuple[EntitySpec, ...] = Field(min_length=2, max_length=256)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        seen: set[str] = set()
        for i, entity in enumerate(self.entities):
            if entity.name in seen:
                raise ValueError(f"entities.{i}.name: {entity.name!r} is used twice")
            seen.add(entity.name)
            late = [m for m in entity.atypical_minutes if not 0 <= m < self.microgrid.minutes]
            if late:
                raise ValueError(f"entities.{i}.atypical_minutes: {late[0]} is outside the run")
        return self


def microgrid_scenario_from_dict(data: dict[str, Any], source: str = "") -> MicrogridScenario:
    """Validate an agent scenario given as a mapping (a parsed TOML file)."""
    try:
        return MicrogridScenario.model_validate(data)
    except ValidationError as exc:
        prefix = f"{source}: " if source else ""
        raise ScenarioError(prefix + _one_line(exc)) from None


def load_microgrid_scenario(path: str | Path) -> MicrogridScenario:
    """Read and validate an agent scenario (TOML; ``-`` is standard input)."""
    data = read_toml(path, what="microgrid scenario", error=ScenarioError)
    return microgrid_scenario_from_dict(data, source_name(path))


def _one_line(exc: ValidationError) -> str:
    field, message = first_validation_error(exc)
    if not field:
        return message
    own_check = exc.errors()[0]["type"] == "value_error"
    if own_check and ":" in message and message.split(":")[0].isidentifier():
        # an entity's own check names its field: entities.2 + battery_initial_kwh
        name, rest = message.split(":", 1)
        return f"{field}.{name}:{rest}"
    return f"{field}: {message}"
