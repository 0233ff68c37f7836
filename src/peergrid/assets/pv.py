"""A PV system at a bus: its available output per period and its inverter's limits.

The availability is what the panels could deliver in each period (irradiance times installed
power); a schedule may curtail below it. The inverter may provide reactive power within
``q_max_kvar`` and, when its rating ``s_max_kva`` is given, within ``p² + q² ≤ s_max²``.
Powers are injected (generation convention), kW and kvar.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from peergrid.assets.fields import FloatArray, as_series, check_positive
from peergrid.core.errors import GridError


@dataclass(frozen=True, eq=False)
class PVSystem:
    """PV with availability ``available_kw`` per period; dispatch ``0 ≤ p ≤ available``.

    ``curtailable=False`` fixes the output to the availability (the report's uncontrollable
    PV, seed L413). Reactive power ``|q| ≤ q_max_kvar``, and ``p² + q² ≤ s_max_kva²`` when
    ``s_max_kva`` is given (the inverter rating).
    """

    name: str
    bus: int
    available_kw: FloatArray
    curtailable: bool = True
    q_max_kvar: float = 0.0
    s_max_kva: float | None = None

    def __post_init__(self) -> None:
        owner = f"pv {self.name!r}"
        object.__setattr__(
            self, "available_kw", as_series(owner, "available_kw", self.available_kw)
        )
        check_positive(owner, "q_max_kvar", self.q_max_kvar, allow_zero=True)
        if self.s_max_kva is not None:
            check_positive(owner, "s_max_kva", self.s_max_kva)
            if not self.curtailable and float(np.max(self.available_kw)) > self.s_max_kva:
                raise GridError(f"{owner}: fixed output exceeds 's_max_kva' {self.s_max_kva}")
