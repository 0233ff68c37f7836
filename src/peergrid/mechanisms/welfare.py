"""Welfare of winning sellers and buyers (003_dpda.md §2.5, eqs. 2.8 and 2.9).

Seller cost ``C(E) = a·E² + b·E + c`` and welfare ``W_S = p0·E' − C(E')`` on the seller's reduced
quantity E'. Buyer utility (Samadi's quadratic form) ``U(E) = ω·E − α·E²`` below the saturation
point ``E = ω / (2α)`` and constant above it, and welfare ``W_B = U(E) − p0·E``.

The thesis never states its parameters; a = 0.005, b = 6, c = 1, ω = 14, α = 0.07 reproduce all
seven welfare values of its Appendix B to 3 decimals (the digest's [DERIVED] values) and are the
defaults. It prints the saturated utility as ω²/(2α), which makes U jump at the saturation point;
the continuous value is ω²/(4α). ``saturation="continuous"`` (default) uses the latter,
``saturation="thesis"`` the printed one; they differ only for buyers above ω/(2α) kWh.

Bounds: a, b, c and ω are finite numbers from −:data:`MAX_COEFFICIENT` to
:data:`MAX_COEFFICIENT` (in their units), α from :data:`MIN_ALPHA` to :data:`MAX_COEFFICIENT`:
with the orders' bounds (``peergrid.core.orders``) every welfare and score stays finite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

MAX_COEFFICIENT = 281_474_976.0
"""Largest magnitude of a, b, c, ω and α (the orders' largest price, currency per kWh)."""

MIN_ALPHA = 1e-9
"""Smallest α, currency per kWh² (a smaller one puts saturation beyond any order)."""

_UNITS = {
    "a": "currency/kWh²",
    "b": "currency/kWh",
    "c": "currency",
    "omega": "currency/kWh",
    "alpha": "currency/kWh²",
}


def check_number(name: str, value: object, low: float, high: float, unit: str) -> float:
    """``value`` as a float if it is a finite number from ``low`` to ``high``; else a
    ValueError naming the parameter, its unit and bounds and the value."""
    ok = False
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            ok = math.isfinite(value) and low <= value <= high
        except OverflowError:  # an integer beyond the float range
            ok = False
    if not ok:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:36] + "…"
        raise ValueError(
            f"parameter {name!r} must be a finite number of {unit} from {_bound(low)} to "
            f"{_bound(high)}, got {shown}"
        )
    return float(value)  # type: ignore[arg-type]  # a number: checked above


def _bound(value: float) -> str:
    return str(int(value)) if value == int(value) and abs(value) < 1e15 else f"{value:g}"


@dataclass(frozen=True)
class WelfareParameters:
    a: float = 0.005  # seller cost, currency per kWh²
    b: float = 6.0  # seller cost, currency per kWh
    c: float = 1.0  # seller cost, currency
    omega: float = 14.0  # buyer utility, currency per kWh
    alpha: float = 0.07  # buyer utility, currency per kWh²
    saturation: Literal["continuous", "thesis"] = "continuous"

    def __post_init__(self) -> None:
        for name, unit in _UNITS.items():
            low = MIN_ALPHA if name == "alpha" else -MAX_COEFFICIENT
            value = check_number(name, getattr(self, name), low, MAX_COEFFICIENT, unit)
            object.__setattr__(self, name, value)
        if self.saturation not in ("continuous", "thesis"):
            raise ValueError(
                f"parameter 'saturation' must be 'continuous' or 'thesis', got {self.saturation!r}"
            )


def seller_welfare(price: float, energy_kwh: FloatArray, p: WelfareParameters) -> FloatArray:
    """Eq. 2.8 on the sellers' reduced quantities E'."""
    e = np.asarray(energy_kwh, dtype=float)
    result: FloatArray = price * e - (p.a * e**2 + p.b * e + p.c)
    return result


def buyer_utility(energy_kwh: FloatArray, p: WelfareParameters) -> FloatArray:
    e = np.asarray(energy_kwh, dtype=float)
    saturation_kwh = p.omega / (2.0 * p.alpha)
    cap = p.omega**2 / (4.0 * p.alpha if p.saturation == "continuous" else 2.0 * p.alpha)
    result: FloatArray = np.where(e < saturation_kwh, p.omega * e - p.alpha * e**2, cap)
    return result


def buyer_welfare(price: float, energy_kwh: FloatArray, p: WelfareParameters) -> FloatArray:
    """Eq. 2.9."""
    e = np.asarray(energy_kwh, dtype=float)
    result: FloatArray = buyer_utility(e, p) - price * e
    return result
