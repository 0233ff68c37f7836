"""Checks on the parameters of device models: every error names the device and the field.

The device models (and the OPF case built from them) check their fields when they are built,
so that a bad input names the asset and the field rather than surfacing later as a failed
dispatch. Errors are :class:`~peergrid.core.errors.GridError`: these are inputs of the grid's
schedules.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from peergrid.core.errors import GridError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def as_series(owner: str, name: str, value: npt.ArrayLike, *, nonneg: bool = True) -> FloatArray:
    """``value`` as a finite 1-D float series, one value per period (non-negative if asked)."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim != 1:
        raise GridError(f"{owner}: field {name!r} must be a 1-D series, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise GridError(f"{owner}: field {name!r} contains NaN or infinite values")
    if nonneg and (arr < 0).any():
        t = int(np.argmax(arr < 0))
        raise GridError(f"{owner}: field {name!r} is negative ({arr[t]:g}) in period {t}")
    return arr


def check_positive(owner: str, name: str, value: float, *, allow_zero: bool = False) -> None:
    """Refuse a ``value`` that is not finite and positive (or non-negative with ``allow_zero``)."""
    ok = math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = "non-negative" if allow_zero else "positive"
        raise GridError(f"{owner}: field {name!r} must be {bound}, got {value}")


def check_efficiency(owner: str, name: str, value: float) -> None:
    """Refuse an efficiency outside ``(0, 1]``."""
    if not (math.isfinite(value) and 0 < value <= 1):
        raise GridError(f"{owner}: field {name!r} must lie in (0, 1], got {value}")
