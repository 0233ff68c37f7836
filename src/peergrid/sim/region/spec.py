"""Region files: many LV feeders of one DSO, one market each, and the MV grid they hang from.

A region file (TOML) names a base scenario (the market every feeder runs: households' draws,
mechanism, tariffs, ledger, days) and the feeders:

- ``[feeders] grids``: feeder names from the catalogue (``simbench:1-LV-rural1--0-sw``,
  ``ieee-eu-lv``, ...), or ``simbench_type``: every SimBench LV grid of a type (``rural``:
  rural1, rural2 and rural3; or one grid, ``rural2``) in SimBench scenario ``scenario`` with
  switches (``-sw``); neither: the base scenario's feeder;
- ``copies``: each grid that many times, so N copies of one feeder are N feeders;
- every feeder has its own household seed, the base seed plus the feeder's index, so copies
  differ in their households (draws of consumption, PV, profiles and prices);
- ``households``: the number of households on each feeder, or ``"buses"``, one per load bus of
  the feeder (default: the base scenario's count).

``[mv] grid`` names a SimBench MV grid (``1-MV-rural--0-sw``) whose power flow checks the
feeders' aggregate import (:mod:`peergrid.sim.region.mv` says how). Everything is checked when
the file loads, each feeder's scenario as a scenario file is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from peergrid.core.errors import PeergridError, ScenarioError
from peergrid.core.inputs import first_validation_error, read_toml
from peergrid.sim.scenario import MAX_SEED, Scenario, load_scenario
from peergrid.sim.sweep.spec import checked_name, flatten_sections

MAX_FEEDERS = 5_000
SIMBENCH_TYPES = ("rural", "semiurb", "urban")


class RegionError(PeergridError, ValueError):
    """A region file is malformed: names the file, the key and what is wrong."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class FeedersSection(_Section):
    grids: tuple[str, ...] | None = Field(None, description="feeder names from the catalogue")
    simbench_type: str | None = Field(
        None, description="every SimBench LV grid of this type (rural, semiurb, urban, rural2…)"
    )
    scenario: Literal[0, 1, 2] = Field(0, description="the SimBench scenario of those grids")
    copies: int = Field(1, ge=1, le=MAX_FEEDERS, strict=True, description="copies of each grid")

    @field_validator("grids")
    @classmethod
    def _grids(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and not value:
            raise ValueError("name at least one feeder (or leave grids out)")
        return value


class MvSection(_Section):
    grid: str | None = Field(None, description="SimBench MV grid code, e.g. 1-MV-rural--0-sw")
    v_min_pu: float = Field(0.90, ge=0.5, le=1.0, description="lowest MV voltage, p.u.")
    v_max_pu: float = Field(1.10, ge=1.0, le=1.5, description="highest MV voltage, p.u.")
    max_line_loading_pct: float = Field(100.0, gt=0, le=1000, description="line limit, %")
    max_trafo_loading_pct: float = Field(100.0, gt=0, le=1000, description="trafo limit, %")


class RegionFile(_Section):
    name: str = Field("region", description="the region's name; names its results folder")
    base: str = Field(description="the base scenario file, relative to the region file")
    days: int | None = Field(None, ge=1, le=366, strict=True, description="days (default: base)")
    households: int | Literal["buses"] | None = Field(
        None, description="households per feeder, or 'buses' (one per load bus)"
    )
    fixed: dict[str, Any] = Field(
        default_factory=dict, description="changes every feeder makes to the base (dotted paths)"
    )
    feeders: FeedersSection = FeedersSection()
    mv: MvSection = MvSection()
    output: str = Field("results/regions/{name}", description="results folder; {name} filled")

    @field_validator("fixed", mode="before")
    @classmethod
    def _dotted(cls, value: Any) -> Any:
        # TOML reads ledger.enabled = false as nested tables: both spellings name one field.
        return flatten_sections(value) if isinstance(value, dict) else value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return checked_name(value)


@dataclass(frozen=True)
class RegionFeeder:
    """One feeder of the region: its id (index and grid), its grid and its scenario."""

    feeder_id: str
    grid: str
    scenario: Scenario


@dataclass(frozen=True)
class Region:
    path: Path
    spec: RegionFile
    base: Scenario
    feeders: tuple[RegionFeeder, ...]
    mv_net: Any = None
    """The MV grid (a pandapower net) when ``[mv] grid`` is given; the driver's alone."""
    mv_connections: tuple[Any, ...] = field(default=())
    """Where each feeder hangs from it (:class:`peergrid.sim.region.mv.MvConnection`)."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def output_directory(self) -> Path:
        return Path(self.spec.output.replace("{name}", self.spec.name))


def load_region(path: str | Path) -> Region:
    """Read a region file and build every feeder's scenario; :class:`RegionError` in one line
    naming the file and what is wrong. Feeders whose household count is ``buses`` are built to
    count their load buses."""
    path = Path(path)
    data = read_toml(path, what="region file", error=RegionError)
    try:
        spec = RegionFile.model_validate(data)
    except ValidationError as exc:
        raise RegionError(f"{path}: {_one_line(exc)}") from None
    try:
        return _build(path, spec)
    except (RegionError, ScenarioError, PeergridError) as exc:
        raise RegionError(f"{path}: {exc}") from None


def _build(path: Path, spec: RegionFile) -> Region:
    base_path = Path(spec.base) if Path(spec.base).is_absolute() else path.parent / spec.base
    if not base_path.is_file():
        raise RegionError(f"base: scenario file {str(base_path)!r} not found")
    try:
        base = load_scenario(base_path)
    except ScenarioError as exc:
        raise RegionError(f"base: {exc}") from None
    for key in spec.fixed:
        if key.split(".")[0] in ("name", "seed", "feeder", "output") or key == "households.count":
            raise RegionError(f"fixed: {key!r} is set by the region for every feeder")
    try:
        base = base.replace(**spec.fixed) if spec.fixed else base
    except ScenarioError as exc:
        raise RegionError(f"fixed: {exc}") from None
    grids = _grids(spec.feeders, base)
    count = len(grids) * spec.feeders.copies
    if count > MAX_FEEDERS:
        raise RegionError(f"feeders: {count} feeders, more than {MAX_FEEDERS}")
    feeders = []
    index = 0
    for grid in grids:
        for _ in range(spec.feeders.copies):
            changes: dict[str, Any] = {
                "feeder.name": grid,
                "seed": (base.seed + index) % (MAX_SEED + 1),
            }
            if spec.days is not None:
                changes["time.days"] = spec.days
            households = _households(spec.households, grid)
            if households is not None:
                changes["households.count"] = households
            try:
                scenario = base.replace(**changes)
            except ScenarioError as exc:
                raise RegionError(f"feeder {index} ({grid}): {exc}") from None
            feeders.append(RegionFeeder(f"{index:04d}-{_short(grid)}", grid, scenario))
            index += 1
    if spec.mv.grid is None:
        return Region(path=path, spec=spec, base=base, feeders=tuple(feeders))
    from peergrid.sim.region.mv import connect, load_mv_net

    # The MV grid is read and every feeder placed on it now: a region that does not fit its
    # MV grid is refused before any feeder runs.
    net = load_mv_net(spec.mv.grid)
    connections = connect(net, [(f.feeder_id, simbench_lv_type(f.grid)) for f in feeders])
    return Region(path, spec, base, tuple(feeders), net, tuple(connections))


def _grids(section: FeedersSection, base: Scenario) -> list[str]:
    from peergrid.grid.catalogue.simbench import SIMBENCH_PREFIX, simbench_lv_codes
    from peergrid.grid.feeders import check_feeder_name

    if section.grids is not None and section.simbench_type is not None:
        raise RegionError("feeders: give grids or simbench_type, not both")
    if section.simbench_type is not None:
        kind = section.simbench_type
        codes = [
            c
            for c in simbench_lv_codes()
            if _grid_type(c).rstrip("0123456789") == kind or _grid_type(c) == kind
            if c.endswith(f"--{section.scenario}-sw")
        ]
        if not codes:
            known = sorted({_grid_type(c) for c in simbench_lv_codes()})
            raise RegionError(
                f"feeders.simbench_type: no SimBench LV grid of type {kind!r} (types: "
                f"{', '.join(SIMBENCH_TYPES)}, or one grid: {', '.join(known)})"
            )
        return [SIMBENCH_PREFIX + c for c in codes]
    if section.grids is None:
        return [base.feeder.name]
    for k, name in enumerate(section.grids):
        try:
            check_feeder_name(name)
        except PeergridError as exc:
            raise RegionError(f"feeders.grids[{k}]: {exc}") from None
    return list(section.grids)


def _grid_type(code: str) -> str:
    return code.split("-")[2]


def simbench_lv_type(grid: str) -> str | None:
    """``simbench:1-LV-rural1--0-sw`` -> ``rural1``; None for a feeder that is no SimBench grid."""
    prefix = "simbench:"
    if not grid.startswith(prefix):
        return None
    return _grid_type(grid.removeprefix(prefix))


def _short(grid: str) -> str:
    return simbench_lv_type(grid) or grid


def _households(value: int | str | None, grid: str) -> int | None:
    if value is None or isinstance(value, int):
        return value
    from peergrid.grid.feeders import load_feeder

    return len(load_feeder(grid).household_buses)


def _one_line(exc: ValidationError) -> str:
    field, message = first_validation_error(exc, unknown="unknown key")
    return f"{field}: {message}" if field else message
