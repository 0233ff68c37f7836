"""One figure of the thesis against peergrid's, and how the figures are printed.

A :class:`Row` is one printed quantity of a worked example: the thesis's value, peergrid's, and
whether they agree, with a note explaining every difference (an erratum of the thesis, or why
it cannot be reproduced).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    example: str
    quantity: str
    thesis: str
    ours: str
    agrees: bool
    note: str = ""


def fmt_num(value: float | None, digits: int = 3) -> str:
    """A number as the thesis prints it: at most ``digits`` decimals, trailing zeros dropped."""
    if value is None:
        return "-"
    return f"{value:.{digits}f}".rstrip("0").rstrip(".") if not math.isnan(value) else "nan"


def fmt_vector(values: Sequence[float], digits: int = 3) -> str:
    """A vector as the thesis prints it: ``{a, b, c}``."""
    return "{" + ", ".join(fmt_num(v, digits) for v in values) + "}"


def all_close(a: Sequence[float], b: Sequence[float], tol: float) -> bool:
    """Same length and every pair within ``tol``."""
    return len(a) == len(b) and all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))
