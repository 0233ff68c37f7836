"""The inputs of an OPF case: the horizon of periods, the prices, the assets at their buses.

An :class:`OPFCase` ties a :class:`~peergrid.grid.opf.network.RadialNetwork` to ``T`` periods
of ``period_hours`` each (``T`` is the length of the price series), the import and feed-in
:class:`Prices` per period, the assets attached to buses of the network (fixed loads, PV,
batteries, EVs), the bounds of the :class:`GridConnection` at the root and the operating
limits. Every series and every asset is checked when the case is built, so that an error names
the asset and the field rather than surfacing as an infeasible solve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from peergrid.assets.battery import Battery
from peergrid.assets.ev import ElectricVehicle
from peergrid.assets.fields import as_series, check_positive
from peergrid.assets.load import FixedLoad
from peergrid.assets.pv import PVSystem
from peergrid.core.errors import GridError
from peergrid.grid.feeders import GridLimits
from peergrid.grid.opf.network import FloatArray, RadialNetwork


@dataclass(frozen=True, eq=False)
class Prices:
    """Prices per period (currency per kWh): import κ_t and feed-in κ^fi_t ≤ κ_t (seed L621)."""

    import_per_kwh: FloatArray
    feed_in_per_kwh: FloatArray

    def __post_init__(self) -> None:
        imp = as_series("prices", "import_per_kwh", self.import_per_kwh, nonneg=False)
        fin = as_series("prices", "feed_in_per_kwh", self.feed_in_per_kwh, nonneg=False)
        if imp.shape != fin.shape:
            raise GridError(
                f"prices: import_per_kwh has {len(imp)} periods, feed_in_per_kwh {len(fin)}"
            )
        if len(imp) == 0:
            raise GridError("prices: at least one period is needed")
        above = fin > imp
        if above.any():
            t = int(np.argmax(above))
            raise GridError(
                f"prices: field 'feed_in_per_kwh' ({fin[t]:g}) exceeds the import price "
                f"({imp[t]:g}) in period {t}; importing to export again would pay without limit"
            )
        object.__setattr__(self, "import_per_kwh", imp)
        object.__setattr__(self, "feed_in_per_kwh", fin)

    @classmethod
    def with_feed_in_share(cls, import_per_kwh: npt.ArrayLike, share: float = 0.5) -> Prices:
        """Feed-in paid at ``share`` of the import price (the report's 50 %, seed L621)."""
        if not (math.isfinite(share) and 0 <= share <= 1):
            raise GridError(f"prices: feed-in share must lie in [0, 1], got {share}")
        imp = np.asarray(import_per_kwh, dtype=float)
        return cls(imp, share * imp)

    def __len__(self) -> int:
        return len(self.import_per_kwh)


@dataclass(frozen=True)
class GridConnection:
    """Bounds (2)–(3) on the exchange with the external grid at the root; None: unbounded."""

    import_max_kw: float | None = None
    export_max_kw: float | None = None
    q_min_kvar: float | None = None
    q_max_kvar: float | None = None

    def __post_init__(self) -> None:
        for name in ("import_max_kw", "export_max_kw"):
            value = getattr(self, name)
            if value is not None:
                check_positive("grid connection", name, value, allow_zero=True)
        if (
            self.q_min_kvar is not None
            and self.q_max_kvar is not None
            and self.q_min_kvar > self.q_max_kvar
        ):
            raise GridError("grid connection: 'q_min_kvar' exceeds 'q_max_kvar'")


@dataclass(frozen=True, eq=False)
class OPFCase:
    """Everything the OPF needs: network, horizon, prices, assets and limits.

    The number of periods is the length of the price series; every other series must match
    it. Voltage limits bound the magnitude ``|V|`` of every bus except the root, whose voltage
    is the network's ``v_root_pu``; loading limits scale each branch's rating.
    """

    network: RadialNetwork
    period_hours: float
    prices: Prices
    loads: tuple[FixedLoad, ...] = ()
    pv: tuple[PVSystem, ...] = ()
    batteries: tuple[Battery, ...] = ()
    evs: tuple[ElectricVehicle, ...] = ()
    grid: GridConnection = field(default_factory=GridConnection)
    limits: GridLimits = field(default_factory=GridLimits)

    def __post_init__(self) -> None:
        for name in ("loads", "pv", "batteries", "evs"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        check_positive("case", "period_hours", self.period_hours)
        if self.network.n_branches == 0:
            raise GridError("case: the network has no branch below its root")
        lim = self.limits
        if not (0 < lim.v_min_pu <= lim.v_max_pu):
            raise GridError(f"case: voltage limits {lim.v_min_pu}..{lim.v_max_pu} are not valid")
        if not (
            0 < lim.max_line_loading_pct < math.inf and 0 < lim.max_trafo_loading_pct < math.inf
        ):
            raise GridError("case: loading limits must be positive and finite")
        T = self.periods
        names: set[str] = set()
        assets: list[FixedLoad | PVSystem | Battery | ElectricVehicle] = [
            *self.loads,
            *self.pv,
            *self.batteries,
            *self.evs,
        ]
        for asset in assets:
            kind = type(asset).__name__
            if asset.name in names:
                raise GridError(f"case: asset name {asset.name!r} is used twice")
            names.add(asset.name)
            if not self.network.has_bus(asset.bus):
                raise GridError(
                    f"{kind} {asset.name!r}: field 'bus' = {asset.bus} is not a bus connected "
                    f"to the root {self.network.root_bus}"
                )
        for load in self.loads:
            if len(load.p_kw) != T:
                raise GridError(f"load {load.name!r}: 'p_kw' has {len(load.p_kw)} periods, not {T}")
        for pv in self.pv:
            if len(pv.available_kw) != T:
                raise GridError(
                    f"pv {pv.name!r}: 'available_kw' has {len(pv.available_kw)} periods, not {T}"
                )
        dt = self.period_hours
        for b in self.batteries:
            lowest, highest = b.reachable_energy_kwh(dt * T)
            if b.e_end > highest + 1e-9 or b.e_end < lowest - 1e-9:
                raise GridError(
                    f"battery {b.name!r}: field 'e_final_kwh' = {b.e_end} cannot be reached from "
                    f"{b.e_start} kWh in {T} periods of {dt} h"
                )
        for ev in self.evs:
            hours = ev.window_hours(T, dt)
            least, most = ev.deliverable_kwh(hours)
            if ev.energy_kwh > most + 1e-9:
                raise GridError(
                    f"ev {ev.name!r}: field 'energy_kwh' = {ev.energy_kwh} exceeds the {most:.4g} "
                    f"kWh that {ev.p_max_kw} kW can deliver in its {hours:g} h window"
                )
            if ev.energy_kwh < least - 1e-9:
                raise GridError(
                    f"ev {ev.name!r}: field 'energy_kwh' = {ev.energy_kwh} is below the "
                    f"{least:.4g} kWh its minimum power {ev.p_min_kw} kW delivers in its window"
                )

    @property
    def periods(self) -> int:
        """``T``, the number of periods: the length of the price series."""
        return len(self.prices)
