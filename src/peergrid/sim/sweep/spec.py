"""Sweep files: a base scenario and the axes to vary, expanded into runs with stable ids.

A sweep file (TOML) names a base scenario file, the changes every run shares (``[fixed]``) and
the axes to vary (``[axes]``, each a list of values), combined as a grid (every combination) or
a list (the k-th value of every axis together), each combination repeated for every seed of
``seeds``. An axis is a scenario field by its dotted path (``households.pv_share``) or one of
the short names of :data:`AXIS_ALIASES` (``pv_share``). Everything is checked when the file
loads: an unknown axis, an empty list, a base file that is not there and every run's scenario
(validated as a scenario file is), so a sweep that starts runs to its end or fails on a run's
work alone, never on a typo.

A run's id is a hash of its axis values (by their resolved paths, with the seed): the same run
has the same id in any sweep file and any order, which is what ``--resume`` relies on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from peergrid.core.errors import PeergridError, ScenarioError
from peergrid.core.inputs import first_validation_error, read_toml
from peergrid.sim.scenario import NAME_PATTERN, Scenario, load_scenario

AXIS_ALIASES: dict[str, str] = {
    "mechanism": "market.mechanism",
    "behaviour": "market.behaviour",
    "forecast_error": "market.forecast_error",
    "feeder": "feeder.name",
    "households": "households.count",
    "pv_share": "households.pv_share",
    "fee": "tariffs.network_fee_per_kwh",
    "retail_price": "tariffs.retail_per_kwh",
    "feed_in_price": "tariffs.feed_in_per_kwh",
    "start": "time.start",
    "days": "time.days",
    "seed": "seed",
    "ledger_market": "ledger.market",
}
"""Short axis names and the scenario field each stands for."""

NOT_AXES = frozenset({"name", "output"})
"""Scenario fields a sweep does not vary: the runs' names and folders are the sweep's."""

MAX_RUNS = 10_000
"""Most runs one sweep expands into (a grid of many long axes is more likely a typo)."""

RUN_ID_CHARS = 12


class SweepError(PeergridError, ValueError):
    """A sweep file is malformed: names the file, the key and what is wrong."""


class SweepFile(BaseModel):
    """The sweep file's fields, as written (axes by the names the file gives them)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str = Field("sweep", description="the sweep's name; names its default results folder")
    base: str = Field(description="the base scenario file, relative to the sweep file")
    mode: Literal["grid", "list"] = Field(
        "grid", description="grid: every combination of the axes; list: k-th values together"
    )
    seeds: tuple[int, ...] | None = Field(
        None, description="every combination runs once per seed (the scenario's seed)"
    )
    fixed: dict[str, Any] = Field(
        default_factory=dict, description="changes every run makes to the base (dotted paths)"
    )
    axes: dict[str, list[Any]] = Field(description="axis -> its values (at least one)")
    output: str = Field("results/sweeps/{name}", description="results folder; {name} filled")

    @model_validator(mode="before")
    @classmethod
    def _dotted(cls, data: Any) -> Any:
        # TOML reads an unquoted dotted key (households.pv_share = [...]) as nested tables:
        # both spellings name the same field.
        if isinstance(data, dict):
            data = dict(data)
            for key in ("axes", "fixed"):
                if isinstance(data.get(key), dict):
                    data[key] = flatten_sections(data[key])
        return data

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return checked_name(value)

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, value: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if value is not None:
            if not value:
                raise ValueError("must list at least one seed (or leave seeds out)")
            if len(set(value)) != len(value):
                raise ValueError(f"lists a seed twice: {list(value)}")
        return value

    @field_validator("axes")
    @classmethod
    def _axes(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        if not value:
            raise ValueError("name at least one axis to vary")
        for axis, values in value.items():
            if not values:
                raise ValueError(f"{axis!r}: an empty list (give at least one value)")
            keys = [json.dumps(_canonical(v), sort_keys=True) for v in values]
            if len(set(keys)) != len(keys):
                raise ValueError(f"{axis!r}: a value is listed twice: {values}")
        return value


@dataclass(frozen=True)
class SweepRun:
    """One run of a sweep: its id, its axis values (by resolved path) and its scenario."""

    run_id: str
    values: dict[str, Any]
    scenario: Scenario


@dataclass(frozen=True)
class Sweep:
    """A loaded sweep: the file's fields, the base scenario and the runs, in expansion order."""

    path: Path
    spec: SweepFile
    base: Scenario
    axes: tuple[str, ...]
    """The varied fields by resolved path, in the file's order (``seed`` last with seeds)."""
    runs: tuple[SweepRun, ...]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def output_directory(self) -> Path:
        return Path(self.spec.output.replace("{name}", self.spec.name))


def resolve_axis(axis: str) -> str:
    """The scenario field an axis names (its dotted path); :class:`SweepError` if none."""
    path = AXIS_ALIASES.get(axis, axis)
    section, dot, field = path.partition(".")
    known = Scenario.model_fields
    if path in NOT_AXES or section in NOT_AXES:
        raise SweepError(f"axes: {axis!r} is set by the sweep for every run, not an axis")
    if not dot:
        if section in known and not _is_section(section):
            return path
    elif section in known and _is_section(section):
        model = known[section].annotation
        if field in model.model_fields:  # type: ignore[union-attr]
            return path
    aliases = ", ".join(sorted(AXIS_ALIASES))
    raise SweepError(
        f"axes: unknown axis {axis!r} (a scenario field as section.field, e.g. "
        f"households.pv_share, or one of {aliases})"
    )


def _is_section(name: str) -> bool:
    annotation = Scenario.model_fields[name].annotation
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def run_id(values: dict[str, Any]) -> str:
    """A run's stable id: a hash of its axis values by resolved path (order does not matter)."""
    text = json.dumps({k: _canonical(v) for k, v in sorted(values.items())}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:RUN_ID_CHARS]


def checked_name(value: str) -> str:
    """A sweep's or a region's name, which names its output folder."""
    if not NAME_PATTERN.fullmatch(value):
        raise ValueError(
            f"must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or "
            f"digit, got {value!r}"
        )
    return value


def flatten_sections(table: dict[str, Any]) -> dict[str, Any]:
    """``{section: {field: value}}`` as ``{"section.field": value}`` (one level: a field's own
    value may be a table, such as ``market.params``)."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict) and key in Scenario.model_fields and _is_section(key):
            flat.update({f"{key}.{field}": item for field, item in value.items()})
        else:
            flat[key] = value
    return flat


def _canonical(value: Any) -> Any:
    # TOML dates are date objects; a float 0.5 and an integer 1 hash as JSON writes them.
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items())}
    return value


def load_sweep(path: str | Path) -> Sweep:
    """Read a sweep file and expand it into runs, every run's scenario validated.

    Raises :class:`SweepError` in one line naming the file and what is wrong.
    """
    path = Path(path)
    data = read_toml(path, what="sweep file", error=SweepError)
    try:
        spec = SweepFile.model_validate(data)
    except ValidationError as exc:
        raise SweepError(f"{path}: {_one_line(exc)}") from None
    try:
        return _expand(path, spec)
    except SweepError as exc:
        raise SweepError(f"{path}: {exc}") from None


def _expand(path: Path, spec: SweepFile) -> Sweep:
    base_path = (path.parent / spec.base) if not Path(spec.base).is_absolute() else Path(spec.base)
    if not base_path.is_file():
        raise SweepError(f"base: scenario file {str(base_path)!r} not found")
    try:
        base = load_scenario(base_path)
    except ScenarioError as exc:
        raise SweepError(f"base: {exc}") from None
    for key in spec.fixed:
        if resolve_axis(key) != key:
            # fixed changes are written as the scenario writes them: one path, no second name
            raise SweepError(f"fixed: write {key!r} as {resolve_axis(key)!r}")
    resolved = {axis: resolve_axis(axis) for axis in spec.axes}
    paths = list(resolved.values())
    twice = {p for p in paths if paths.count(p) > 1}
    if twice:
        raise SweepError(f"axes: {sorted(twice)[0]!r} is named twice (by two names)")
    clash = set(paths) & set(spec.fixed)
    if clash:
        raise SweepError(f"fixed: {sorted(clash)[0]!r} is an axis too")
    if spec.seeds is not None and "seed" in paths:
        raise SweepError("axes: seed is an axis and seeds is given; use one")
    combinations = _combinations(spec, resolved)
    if len(combinations) > MAX_RUNS:
        raise SweepError(f"expands into {len(combinations)} runs, more than {MAX_RUNS}")
    try:
        common = base.replace(**spec.fixed) if spec.fixed else base
    except ScenarioError as exc:
        raise SweepError(f"fixed: {exc}") from None
    runs: list[SweepRun] = []
    seen: dict[str, dict[str, Any]] = {}
    for values in combinations:
        rid = run_id(values)
        if rid in seen:
            raise SweepError(f"the run {_shown(values)} is listed twice")
        seen[rid] = values
        try:
            scenario = common.replace(**values)
        except ScenarioError as exc:
            raise SweepError(f"run {_shown(values)}: {exc}") from None
        runs.append(SweepRun(rid, values, scenario))
    axes = (*paths, "seed") if spec.seeds is not None else tuple(paths)
    return Sweep(path=path, spec=spec, base=base, axes=axes, runs=tuple(runs))


def _combinations(spec: SweepFile, resolved: dict[str, str]) -> list[dict[str, Any]]:
    names = list(spec.axes)
    lists = [spec.axes[name] for name in names]
    if spec.mode == "list":
        lengths = {name: len(values) for name, values in zip(names, lists, strict=True)}
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{k!r} has {v}" for k, v in lengths.items())
            raise SweepError(f"axes: in list mode every axis needs as many values ({shown})")
        rows = list(zip(*lists, strict=True))
    else:
        rows = list(itertools.product(*lists))
    combinations = [
        {resolved[name]: value for name, value in zip(names, row, strict=True)} for row in rows
    ]
    if spec.seeds is not None:
        combinations = [{**c, "seed": seed} for c in combinations for seed in spec.seeds]
    return combinations


def _shown(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_canonical(v)!r}" for k, v in values.items())


def _one_line(exc: ValidationError) -> str:
    known = "unknown key (known: name, base, mode, seeds, fixed, axes, output)"
    field, message = first_validation_error(exc, unknown=known)
    return f"{field}: {message}" if field else message
