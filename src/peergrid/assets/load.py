"""A fixed load at a bus: the active and reactive power it draws in each period.

The load is uncontrollable (``p^l, q^l`` of Eqs. 8–9 in 000_bder.md): a schedule takes it as
given. Powers are in the load convention, kW and kvar drawn; a negative value is a net infeed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from peergrid.assets.fields import FloatArray, as_series
from peergrid.core.errors import GridError


@dataclass(frozen=True, eq=False)
class FixedLoad:
    """An uncontrollable load ``p^l, q^l`` at a bus (kW and kvar drawn, per period).

    ``q_kvar`` defaults to zero in every period; both series are stored as float arrays of the
    same number of periods.
    """

    name: str
    bus: int
    p_kw: FloatArray
    q_kvar: FloatArray | None = None  # None: zero

    def __post_init__(self) -> None:
        owner = f"load {self.name!r}"
        p = as_series(owner, "p_kw", self.p_kw, nonneg=False)
        q = (
            np.zeros_like(p)
            if self.q_kvar is None
            else as_series(owner, "q_kvar", self.q_kvar, nonneg=False)
        )
        if q.shape != p.shape:
            raise GridError(f"{owner}: 'q_kvar' has {len(q)} periods, 'p_kw' {len(p)}")
        object.__setattr__(self, "p_kw", p)
        object.__setattr__(self, "q_kvar", q)
