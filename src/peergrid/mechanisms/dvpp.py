"""The DVPP's battery coordination (S4; 002_dvpp.md §2.1–2.2): one interval's set-points.

The community's batteries together cover the residual load ``P_ESS = Σ (L_i − G_i)`` (Eq. 2),
shifted by contracted flexibility, ``P_ESS = P_res + P_flex`` (Eq. 5); positive ``P_ESS`` is
discharge (the producer counting arrow). To keep the converters out of their inefficient part
load, only some batteries run (Eqs. 3–4):

1. order the batteries by state of charge — discharging, the highest first; charging, the
   lowest first (so the states of charge stay together); equal states keep the order given
   (the registration order);
2. ``z`` is the first index whose cumulated optimal operating points reach ``|P_ESS|`` (Eq. 3);
3. the **paper's rule** keeps the first ``z`` or ``z − 1`` batteries, whichever cumulated
   ``P_opt`` is closer to ``|P_ESS|``; the **published code's rule** (``rule="code"``) always
   keeps ``z`` (its test ``S_{z−1}/2 < |P|`` is always true, digest §2.2);
4. each active battery runs at ``P_opt,i · P_ESS / Σ_active P_opt`` (Eq. 4), the rest stand by.

**Decided where the paper is silent** (also in ``docs/decisions.md``; digest A.1–A.10):
a tie in "closer" keeps ``z`` (the batteries then run at or below ``P_opt``); when ``z − 1`` would
be 0 (A.9: a target below the first battery's ``P_opt``, closer to nothing) one battery stays
active, so that Eq. 2 holds; when all the ``P_opt`` together fall short of ``|P_ESS|`` every
battery is active, above its ``P_opt`` (A.4; the device limits clip downstream, where the battery
model is); a target of 0 puts every battery on standby; charging uses each battery's
``p_opt_charge_w`` when given, else its ``p_opt_w``.

**Exact arithmetic.** As the contract computes it: powers in integer milliwatts, the state of
charge in milli-percent (1e-5), Eq. 4 truncated toward zero (``P_opt · |P| // ΣP_opt``, then the
sign). The set-points therefore sum to ``P_ESS`` within a few milliwatts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from peergrid.core.errors import PeergridError

MILLIWATTS_PER_W = 1000
SOC_UNITS = 100_000
"""State of charge resolution: milli-percent (the contract's uint24)."""

MAX_POWER_W = 2.0**31 / MILLIWATTS_PER_W
"""Largest power, W: the contract's int32 milliwatts (about 2.1 MW)."""

Rule = Literal["paper", "code"]
RULES: tuple[Rule, ...] = ("paper", "code")


class DvppInputError(PeergridError, ValueError):
    """A DVPP input (a battery's state, a target) is malformed: names the battery and field."""


@dataclass(frozen=True, slots=True)
class BatteryState:
    """What a household reports of its battery for one interval: ``soc`` in 0–1, the optimal
    operating point ``p_opt_w`` (W, discharging; ``p_opt_charge_w`` charging, if it differs)::

        BatteryState("b1", soc=0.8, p_opt_w=3000)
    """

    id: str
    soc: float
    p_opt_w: float
    p_opt_charge_w: float | None = None

    def __post_init__(self) -> None:
        if not _finite(self.soc) or not 0.0 <= self.soc <= 1.0:
            raise DvppInputError(
                f"battery {self.id!r}: 'soc' must be a state of charge from 0 to 1, "
                f"got {self.soc!r}"
            )
        for name in ("p_opt_w", "p_opt_charge_w"):
            value = getattr(self, name)
            if value is None:
                continue
            if not _finite(value) or not 0 < value <= MAX_POWER_W:
                raise DvppInputError(
                    f"battery {self.id!r}: {name!r} must be a power above 0 and at most "
                    f"{MAX_POWER_W:.0f} W, got {value!r}"
                )
            if round(value * MILLIWATTS_PER_W) == 0:
                raise DvppInputError(f"battery {self.id!r}: {name!r} is below 1 mW")

    def p_opt_mw(self, charging: bool) -> int:
        """The optimal operating point for the direction, integer milliwatts."""
        value = (
            self.p_opt_charge_w if charging and self.p_opt_charge_w is not None else self.p_opt_w
        )
        return round(value * MILLIWATTS_PER_W)

    @property
    def soc_units(self) -> int:
        return round(self.soc * SOC_UNITS)


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def residual_target_w(residual_loads_w: Sequence[float], flexibility_w: float = 0.0) -> float:
    """``P_ESS`` of Eqs. 2 and 5: the community's residual load (consumer arrows, ``L − G``)
    plus the contracted flexibility (producer arrows); positive: the batteries discharge."""
    return math.fsum(residual_loads_w) + flexibility_w


def active_count(p_opt_mw: Sequence[int], target_mw: int, rule: Rule) -> int:
    """How many batteries, in merit order, run for ``|target|`` (``l(t)`` of Eq. 4)."""
    magnitude = abs(target_mw)
    if magnitude == 0:
        return 0
    cumulated = 0
    for z, p_opt in enumerate(p_opt_mw, start=1):
        below = cumulated
        cumulated += p_opt
        if cumulated >= magnitude:
            if rule == "code" or z == 1:
                return z
            # Paper: z or z − 1, whichever cumulated P_opt is closer; a tie keeps z.
            return z - 1 if magnitude - below < cumulated - magnitude else z
    return len(p_opt_mw)


def setpoints_mw(
    batteries: Sequence[BatteryState], target_mw: int, rule: Rule = "paper"
) -> list[int]:
    """Eq. 4 on integers: every battery's set-point in milliwatts, in the order given."""
    if rule not in RULES:
        raise DvppInputError(f"unknown rule {rule!r} (expected {' or '.join(RULES)})")
    return setpoints_mw_units(
        [b.soc_units for b in batteries],
        [b.p_opt_mw(False) for b in batteries],
        [b.p_opt_mw(True) for b in batteries],
        target_mw,
        rule,
    )


def setpoints_mw_units(
    soc_units: Sequence[int],
    p_opt_discharge_mw: Sequence[int],
    p_opt_charge_mw: Sequence[int],
    target_mw: int,
    rule: Rule = "paper",
) -> list[int]:
    """:func:`setpoints_mw` on the contract's integers, unchecked: states of charge in
    milli-percent and optimal points in milliwatts, one entry per battery. A simulation calls
    this every second, so it builds no :class:`BatteryState`."""
    charging = target_mw < 0
    # Merit order: discharging, highest state of charge first; charging, lowest first; the
    # sort is stable, so equal states keep the order given (registration).
    order = sorted(
        range(len(soc_units)),
        key=soc_units.__getitem__ if charging else lambda i: -soc_units[i],
    )
    optima = p_opt_charge_mw if charging else p_opt_discharge_mw
    p_opt = [optima[i] for i in order]
    active = active_count(p_opt, target_mw, rule)
    out = [0] * len(soc_units)
    if active == 0:
        return out
    total = sum(p_opt[:active])
    magnitude = abs(target_mw)
    sign = -1 if charging else 1
    for rank in range(active):
        out[order[rank]] = sign * (p_opt[rank] * magnitude // total)
    return out


def setpoints(
    batteries: Sequence[BatteryState], target_w: float, rule: Rule = "paper"
) -> dict[str, float]:
    """One interval's set-points, W by battery id (positive: discharge)::

    setpoints([BatteryState("b1", 0.8, 3000), BatteryState("b2", 0.6, 3000)], 4000)
    # {"b1": 2000.0, "b2": 2000.0}
    """
    if not _finite(target_w) or abs(target_w) > MAX_POWER_W * max(1, len(batteries)):
        raise DvppInputError(f"'target_w' must be a finite power in W, got {target_w!r}")
    seen: set[str] = set()
    for battery in batteries:
        if battery.id in seen:
            raise DvppInputError(f"battery {battery.id!r} is listed twice")
        seen.add(battery.id)
    values = setpoints_mw(batteries, round(target_w * MILLIWATTS_PER_W), rule)
    return {b.id: v / MILLIWATTS_PER_W for b, v in zip(batteries, values, strict=True)}


def read_setpoint_request(document: Any, source: str) -> tuple[float, list[BatteryState]]:
    """``{"target_w": …, "batteries": [{"id", "soc", "p_opt_w"[, "p_opt_charge_w"]}, …]}``
    checked field by field; every error names ``source`` and the battery."""

    def fail(message: str) -> DvppInputError:
        return DvppInputError(f"{source}: {message}")

    if not isinstance(document, Mapping):
        raise fail("must be a JSON object with 'target_w' and 'batteries'")
    unknown = sorted(set(document) - {"target_w", "batteries"})
    if unknown:
        raise fail(f"unknown field {unknown[0]!r} (expected 'target_w' and 'batteries')")
    if "target_w" not in document:
        raise fail("has no 'target_w' (the batteries' total power, W; positive: discharge)")
    target = document["target_w"]
    if not _finite(target):
        raise fail(f"'target_w' must be a finite number of W, got {target!r}")
    raw = document.get("batteries")
    if not isinstance(raw, list) or not raw:
        raise fail("'batteries' must be a non-empty list of {id, soc, p_opt_w}")
    batteries = []
    for position, item in enumerate(raw):
        where = f"batteries[{position}]"
        if not isinstance(item, Mapping):
            raise fail(f"{where} must be an object")
        extra = sorted(set(item) - {"id", "soc", "p_opt_w", "p_opt_charge_w"})
        if extra:
            raise fail(f"{where}: unknown field {extra[0]!r}")
        for required in ("id", "soc", "p_opt_w"):
            if required not in item:
                raise fail(f"{where} has no {required!r}")
        battery_id = item["id"]
        if (
            not isinstance(battery_id, str | int)
            or isinstance(battery_id, bool)
            or battery_id == ""
        ):
            raise fail(f"{where}: 'id' must be a non-empty string or integer")
        try:
            batteries.append(
                BatteryState(
                    str(battery_id), item["soc"], item["p_opt_w"], item.get("p_opt_charge_w")
                )
            )
        except DvppInputError as exc:
            raise fail(f"{where}: {exc}") from None
    try:
        float_target = float(target)
        setpoints(batteries, float_target)  # the duplicate and range checks
    except DvppInputError as exc:
        raise fail(str(exc)) from None
    return float_target, batteries
