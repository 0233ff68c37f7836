"""The DR day's settings (``peergrid dr run``): a TOML file, every field with a default.

Which rules are the book's and which are ours: docs/decisions.md, "S7". The book (001b_book.md
chapter 8) gives the actors and state variables only; every number here is ours.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from peergrid.core.errors import ScenarioError
from peergrid.core.inputs import first_validation_error, read_toml, source_name
from peergrid.grid.feeders import check_feeder_name

MAX_PROSUMERS = 128
"""Most prosumers (the contract's participants per event)."""


class DrDaySettings(BaseModel):
    """A DR day on an LV feeder, with the baseline days before it."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    system: Literal["dr-events"] = Field(
        "dr-events",
        description='what the file is: "dr-events" makes `peergrid run` run it as a DR day',
    )
    feeder: str = Field("ieee-eu-lv", description="feeder of the catalogue (an LV feeder)")
    day: dt.date = Field(dt.date(2016, 1, 20), description="the DR day, in simbench's 2016")
    baseline_days: int = Field(5, ge=1, le=30, description="metered days before the DR day")
    prosumers: int = Field(40, ge=1, le=MAX_PROSUMERS, description="households, 1..128")
    pv_share: float = Field(0.3, ge=0, le=1, description="share of households with PV")
    seed: int = Field(1, ge=0, description="random seed of the placement and behaviour")
    interested_share: float = Field(
        0.6, ge=0, le=1, description="share of prosumers taking part in DR events"
    )
    compliance: tuple[float, float] = Field(
        (0.3, 1.0), description="range of the share of a command a participant follows"
    )
    request_share: float = Field(
        0.25, gt=0, le=1, description="the reduction the DSO commands, share of the baseline"
    )
    reward_rate: int = Field(300_000, ge=0, description="micro-currency per kWh of flexibility")
    penalty_rate: int = Field(100_000, ge=0, description="micro-currency per kWh of shortfall")
    tolerance_wh: int = Field(100, ge=0, description="shortfall tolerance, Wh per slot")
    threshold_share: float = Field(
        0.8,
        gt=0,
        le=2,
        description="event threshold: share of the baseline days' peak hourly feeder load",
    )
    duration: int = Field(3, ge=1, le=12, description="slots (hours) an event lasts")
    tampered_meters: int = Field(
        0,
        ge=0,
        le=MAX_PROSUMERS,
        description="meters of interested prosumers (a seeded draw) that post the commanded "
        "profile during events instead of the true consumption",
    )
    colluding_validators: int = Field(
        0, ge=0, description="stakeholder validators (the first ones) attesting to posted readings"
    )
    genesis_stake: tuple[int, ...] = Field(
        (400_000, 300_000, 300_000),
        description="genesis stakes of the stakeholder validators (TSO, retailer, DSO node)",
    )

    @field_validator("feeder")
    @classmethod
    def _feeder(cls, value: str) -> str:
        check_feeder_name(value)
        return value

    @field_validator("compliance")
    @classmethod
    def _range(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not 0 <= low <= high <= 1:
            raise ValueError(f"must be [low, high] with 0 <= low <= high <= 1, got {list(value)}")
        return value

    @field_validator("genesis_stake")
    @classmethod
    def _genesis(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(g <= 0 for g in value):
            raise ValueError("must be at least one positive stake")
        return value

    @field_validator("day")
    @classmethod
    def _day(cls, value: dt.date) -> dt.date:
        if not dt.date(2016, 1, 2) <= value <= dt.date(2016, 12, 31):
            raise ValueError(f"must lie in simbench's 2016 after its first day, got {value}")
        return value


def dr_settings(data: dict[str, Any], source: str = "DR scenario") -> DrDaySettings:
    """Validate ``data``; a bad field is one :class:`ScenarioError` line naming it."""
    try:
        settings = DrDaySettings.model_validate(data)
    except ValidationError as exc:
        field, message = first_validation_error(exc)
        raise ScenarioError(f"{source}: {field}: {message}") from None
    if settings.colluding_validators > len(settings.genesis_stake):
        raise ScenarioError(
            f"{source}: colluding_validators: {settings.colluding_validators} is more than the "
            f"{len(settings.genesis_stake)} stakeholder validators"
        )
    first = settings.day - dt.timedelta(days=settings.baseline_days)
    if first < dt.date(2016, 1, 1):
        raise ScenarioError(
            f"{source}: baseline_days: {settings.baseline_days} days before {settings.day} "
            "start before simbench's 2016"
        )
    return settings


def load_dr_settings(path: str | Path | None, **overrides: Any) -> DrDaySettings:
    """The settings of a TOML file (``-``: standard input; ``None``: the defaults), with the
    command line's ``overrides`` (those not ``None``) on top."""
    data: dict[str, Any] = {}
    name = "DR scenario"
    if path is not None:
        data = read_toml(path, what="DR scenario", error=ScenarioError)
        name = source_name(path)
    data.update({k: v for k, v in overrides.items() if v is not None})
    return dr_settings(data, name)
