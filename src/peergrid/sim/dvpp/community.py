"""The DVPP community simulated second by second, off chain (S4; 002_dvpp.md §1.5, §2, §4.1).

n PV-battery households behind one (virtual) grid connection point (VGC), line losses
neglected (L101). Every coordination interval ``Δt_c`` each household reports its state of
charge and its residual load ``P_res,i = L_i − G_i`` of that second; the community's target is
``P_ESS = Σ P_res,i`` (Eq. 2), plus the contracted flexibility ``P_flex`` (Eq. 5); the
set-points come from the sorting heuristic (:func:`peergrid.mechanisms.dvpp.setpoints_mw_units`,
the function the contract's instruction computes) and are held constant for the interval
(L218) while the batteries and the houses run at 1 s. Information is exchanged instantly, as in
the paper's Table 1 simulation (L252).

Cases: an interval of ``k`` seconds; ``"perfect"`` recomputes the set-points every second;
``"none"`` lets every battery follow its own house's residual load alone, every second (the
paper's baseline, L254; the authors' fallback when a node is off the chain).

All cases run in one pass: the batteries of every case are one :class:`BatteryBank` of shape
(cases, households) stepped once per second, so NumPy's per-call cost is paid once for all.

Metrics (L248–250; exactly as :func:`case_metrics` computes them):

- **SSR**, the share of the households' demand supplied concurrently by PV or batteries:
  ``1 − E_import / E_demand``, with the import counted at the VGC (every second, the positive
  part of the community's net draw); for ``"none"`` there is no community, so at each house's
  meter (the positive parts summed house by house).
- **SCR**, the share of the PV energy consumed concurrently by households or batteries:
  ``1 − E_export / E_PV``, the export counted likewise.
- **η**, the batteries' discharged over charged energy, both on the AC side (the idle draw from
  the grid of an empty battery counts as charged).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from peergrid.assets.dvpp_battery import JOULES_PER_KWH, BatteryBank, DvppBatteryParams
from peergrid.core.errors import ScenarioError
from peergrid.mechanisms.dvpp import (
    MILLIWATTS_PER_W,
    RULES,
    SOC_UNITS,
    Rule,
    setpoints_mw_units,
)

FloatArray = npt.NDArray[np.float64]
Progress = Callable[[str, int, int], None]

NONE = "none"
PERFECT = "perfect"


@dataclass(frozen=True)
class Case:
    """A coordination case: ``interval_s`` seconds between set-points, ``None`` for none."""

    key: str
    interval_s: int | None

    def __post_init__(self) -> None:
        if self.interval_s is not None and self.interval_s < 1:
            raise ScenarioError(f"case {self.key!r}: interval_s must be ≥ 1 s")


TABLE1_CASES: tuple[Case, ...] = (
    Case(PERFECT, 1),
    Case("15s", 15),
    Case("30s", 30),
    Case("1min", 60),
    Case("5min", 300),
    Case("15min", 900),
    Case("1h", 3600),
    Case(NONE, None),
)


@dataclass(frozen=True)
class FlexibilitySettings:
    """The authors' pseudo-random contracting agent (digest §1.4 [REPO]), in our signs.

    After a pause of 60 s plus 1–14 400 s (uniform), a contract of 4–8 quarter hours,
    a sign drawn ±1 and a magnitude of 4–8 × ``unit_w`` is offered; it starts at the next
    interval if the flexibility is available (the contract's check with a 10 % border) and ends
    at its end or at the first interval where the 5 % border check fails. ``P_flex > 0``:
    the community delivers (its batteries discharge more). The authors' unit was 10 kW for a
    handful of 6 kW batteries; ours defaults to 1 kW so 20 batteries of 4 kW can follow.
    """

    seed: int = 7
    unit_w: float = 1000.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.unit_w) and self.unit_w > 0):
            raise ScenarioError(f"flexibility.unit_w: expected a positive power, got {self.unit_w}")


def flexibility_available(soc: FloatArray, p_flex_w: float, border: float) -> bool:
    """The contract's availability check (digest §2.5 [REPO]), ``soc`` in 0–1: delivering
    needs an average above ``border`` and a minimum above ``border/2``; absorbing the same
    below ``1 − border`` and ``1 − border/2``."""
    if p_flex_w > 0:
        return float(soc.mean()) >= border and float(soc.min()) >= border / 2
    return float(soc.mean()) <= 1 - border and float(soc.max()) <= 1 - border / 2


class _FlexAgent:
    """One case's contracting agent: the same draws in every case (same seed)."""

    def __init__(self, settings: FlexibilitySettings) -> None:
        self._rng = np.random.default_rng(settings.seed)
        self._unit = settings.unit_w
        self._next_offer = 60 + int(self._rng.integers(1, 14_401))
        self.p_flex_w = 0.0
        self._end = 0

    def update(self, t: int, soc: FloatArray) -> float:
        """At an interval starting at second ``t``: the flexibility contracted for it."""
        if self.p_flex_w != 0.0 and (
            t >= self._end or not flexibility_available(soc, self.p_flex_w, 0.05)
        ):
            self.p_flex_w = 0.0
            self._next_offer = t + 60 + int(self._rng.integers(1, 14_401))
        if self.p_flex_w == 0.0 and t >= self._next_offer:
            duration = int(self._rng.integers(4, 9)) * 900
            sign = 1.0 if self._rng.integers(0, 2) else -1.0
            offer = sign * int(self._rng.integers(4, 9)) * self._unit
            if flexibility_available(soc, offer, 0.10):
                self.p_flex_w = offer
                self._end = t + duration
            else:
                self._next_offer = t + 60 + int(self._rng.integers(1, 14_401))
        return self.p_flex_w


@dataclass(frozen=True)
class CommunitySettings:
    """The batteries, their start, the heuristic's rule, flexibility, warm-up and slots."""

    battery: DvppBatteryParams = field(default_factory=DvppBatteryParams)
    soc_start: float = 0.5
    rule: Rule = "paper"
    flexibility: FlexibilitySettings | None = None
    warmup_s: int = 0
    slot_s: int = 900

    def __post_init__(self) -> None:
        if not (math.isfinite(self.soc_start) and 0 <= self.soc_start <= 1):
            raise ScenarioError(f"soc_start: expected 0..1, got {self.soc_start}")
        if self.rule not in RULES:
            raise ScenarioError(f"rule: expected paper or code, got {self.rule!r}")
        if self.warmup_s < 0:
            raise ScenarioError(f"warmup_s: expected ≥ 0 s, got {self.warmup_s}")
        if self.slot_s < 1:
            raise ScenarioError(f"slot_s: expected ≥ 1 s, got {self.slot_s}")


@dataclass(frozen=True)
class CaseMetrics:
    """One case's energies (kWh, the community's totals) and Table 1's shares."""

    key: str
    demand_kwh: float
    pv_kwh: float
    import_kwh: float
    export_kwh: float
    charged_kwh: float
    discharged_kwh: float
    stored_change_kwh: float
    vgc_import_kwh: float
    vgc_export_kwh: float
    vgc_deviation_w: float  # mean |P_VGC − (−P_flex)| over the seconds, W

    @property
    def self_sufficiency(self) -> float:
        return max(0.0, 1.0 - self.import_kwh / self.demand_kwh) if self.demand_kwh else 0.0

    @property
    def self_consumption(self) -> float:
        return max(0.0, 1.0 - self.export_kwh / self.pv_kwh) if self.pv_kwh else 0.0

    @property
    def efficiency(self) -> float:
        return self.discharged_kwh / self.charged_kwh if self.charged_kwh else 0.0


@dataclass
class CommunityRun:
    """Every case's per-second VGC and battery totals (W, shape (seconds, cases)), the
    targets, the households' net draw per slot (kWh, shape (slots, cases, households)), and
    the metrics."""

    cases: tuple[Case, ...]
    p_vgc_w: FloatArray
    p_ess_w: FloatArray
    p_flex_w: FloatArray
    target_w: FloatArray
    slot_draw_kwh: FloatArray
    slot_s: int
    metrics: dict[str, CaseMetrics]


def simulate(
    load_w: FloatArray,
    pv_w: FloatArray,
    cases: Sequence[Case] = TABLE1_CASES,
    settings: CommunitySettings | None = None,
    progress: Progress | None = None,
) -> CommunityRun:
    """Run every case over the profiles (W per second, shape (seconds, households)).

    With ``settings.warmup_s`` the last ``warmup_s`` seconds of the profiles run first (not
    counted), so the batteries start the counted period in a state the profiles themselves
    lead to.
    """
    settings = settings or CommunitySettings()
    load = np.asarray(load_w, dtype=float)
    pv = np.asarray(pv_w, dtype=float)
    _check_profiles(load, pv, settings)
    cases = tuple(cases)
    if not cases:
        raise ScenarioError("cases: at least one coordination case is needed")
    keys = [c.key for c in cases]
    if len(set(keys)) != len(keys):
        raise ScenarioError(f"cases: a key is listed twice in {keys}")
    seconds, houses = load.shape
    residual = load - pv
    residual_sum = residual.sum(axis=1)
    n_cases = len(cases)
    bank = BatteryBank(settings.battery, (n_cases, houses), settings.soc_start)
    p_opt_dis = [round(settings.battery.p_opt_discharge_w * MILLIWATTS_PER_W)] * houses
    p_opt_ch = [round(settings.battery.p_opt_charge_w * MILLIWATTS_PER_W)] * houses
    coordinated = [s for s, c in enumerate(cases) if c.interval_s is not None]
    alone = [s for s, c in enumerate(cases) if c.interval_s is None]
    agents = {
        s: _FlexAgent(settings.flexibility) for s in coordinated if settings.flexibility is not None
    }
    command = np.zeros((n_cases, houses))
    flex = np.zeros(n_cases)
    target = np.zeros(n_cases)
    p_vgc = np.empty((seconds, n_cases))
    p_ess = np.empty((seconds, n_cases))
    p_flex = np.zeros((seconds, n_cases))
    targets = np.empty((seconds, n_cases))
    discharged = np.zeros((seconds, n_cases))
    house_import = np.zeros((seconds, n_cases))
    n_slots = -(-seconds // settings.slot_s)
    slot_draw = np.zeros((n_slots, n_cases, houses))
    e_max = bank.e_max_j
    total = settings.warmup_s + seconds
    report_every = max(1, total // 200)
    energy_start = np.zeros(n_cases)
    for step in range(total):
        t = (step - settings.warmup_s) % seconds
        if step == settings.warmup_s:
            energy_start = bank.energy_j.sum(axis=1)
        res = residual[t]
        for s in coordinated:
            interval = cases[s].interval_s
            assert interval is not None
            if step % interval:
                continue
            if s in agents:
                flex[s] = agents[s].update(step, bank.soc[s])
            target[s] = residual_sum[t] + flex[s]
            soc_units = np.rint(bank.energy_j[s] * (SOC_UNITS / e_max)).astype(np.int64).tolist()
            values = setpoints_mw_units(
                soc_units, p_opt_dis, p_opt_ch, round(target[s] * MILLIWATTS_PER_W), settings.rule
            )
            command[s] = values
            command[s] /= MILLIWATTS_PER_W
        for s in alone:
            command[s] = res
            target[s] = residual_sum[t]
        p_ac = bank.step(command)
        if step >= settings.warmup_s:
            draw = res - p_ac  # each house's meter, W drawn (consumer sign)
            p_vgc[t] = draw.sum(axis=1)
            p_ess[t] = p_ac.sum(axis=1)
            discharged[t] = np.maximum(p_ac, 0.0).sum(axis=1)
            house_import[t] = np.maximum(draw, 0.0).sum(axis=1)
            p_flex[t] = flex
            targets[t] = target
            slot_draw[t // settings.slot_s] += draw
        if progress is not None and (step % report_every == 0 or step == total - 1):
            progress("seconds simulated", step + 1, total)
    slot_draw /= JOULES_PER_KWH
    energy_end = bank.energy_j.sum(axis=1)
    metrics = {
        case.key: case_metrics(
            case,
            load=load,
            pv=pv,
            p_vgc=p_vgc[:, s],
            p_ess=p_ess[:, s],
            discharged=discharged[:, s],
            house_import=house_import[:, s],
            p_flex=p_flex[:, s],
            stored_change_j=float(energy_end[s] - energy_start[s]),
        )
        for s, case in enumerate(cases)
    }
    return CommunityRun(
        cases=cases,
        p_vgc_w=p_vgc,
        p_ess_w=p_ess,
        p_flex_w=p_flex,
        target_w=targets,
        slot_draw_kwh=slot_draw,
        slot_s=settings.slot_s,
        metrics=metrics,
    )


def case_metrics(
    case: Case,
    *,
    load: FloatArray,
    pv: FloatArray,
    p_vgc: FloatArray,
    p_ess: FloatArray,
    discharged: FloatArray,
    house_import: FloatArray,
    p_flex: FloatArray,
    stored_change_j: float,
) -> CaseMetrics:
    """The metrics of the module docstring from one case's per-second totals (W, 1 s)."""
    kwh = 1.0 / JOULES_PER_KWH
    demand = float(load.sum()) * kwh
    pv_energy = float(pv.sum()) * kwh
    vgc_import = float(np.maximum(p_vgc, 0.0).sum()) * kwh
    vgc_export = float(np.maximum(-p_vgc, 0.0).sum()) * kwh
    discharged_kwh = float(discharged.sum()) * kwh
    charged_kwh = discharged_kwh - float(p_ess.sum()) * kwh  # Σ p_ac = discharged − charged
    if case.interval_s is None:
        imported = float(house_import.sum()) * kwh
        # Σ draw = import − export, house by house: export follows from the import.
        exported = imported - float(p_vgc.sum()) * kwh
    else:
        imported, exported = vgc_import, vgc_export
    return CaseMetrics(
        key=case.key,
        demand_kwh=demand,
        pv_kwh=pv_energy,
        import_kwh=imported,
        export_kwh=exported,
        charged_kwh=charged_kwh,
        discharged_kwh=discharged_kwh,
        stored_change_kwh=stored_change_j * kwh,
        vgc_import_kwh=vgc_import,
        vgc_export_kwh=vgc_export,
        vgc_deviation_w=float(np.abs(p_vgc + p_flex).mean()),
    )


def _check_profiles(load: FloatArray, pv: FloatArray, settings: CommunitySettings) -> None:
    if load.ndim != 2 or load.shape[1] < 1 or load.shape[0] < 1:
        raise ScenarioError(f"load_w: expected shape (seconds, households), got {load.shape}")
    if pv.shape != load.shape:
        raise ScenarioError(f"pv_w: shape {pv.shape} differs from load_w's {load.shape}")
    for name, values in (("load_w", load), ("pv_w", pv)):
        if not np.isfinite(values).all():
            raise ScenarioError(f"{name}: NaN or infinite values")
        if (values < 0).any():
            raise ScenarioError(f"{name}: negative values (power drawn or produced, W)")
    if settings.warmup_s > load.shape[0]:
        raise ScenarioError(
            f"warmup_s: {settings.warmup_s} s is longer than the profiles ({load.shape[0]} s)"
        )
