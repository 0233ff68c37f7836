"""What a run adds up per household over its slots, and the households table it becomes."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from peergrid.assets.household import Household
from peergrid.sim.accounting import FloatArray, MeteredAccounts


@dataclass
class HouseholdTotals:
    """Running sums per household (in the order of the run's households): kWh and currency.

    Every field is a column of ``households.csv`` of the same name.
    """

    consumption_kwh: FloatArray
    pv_kwh: FloatArray
    contracted_bought_kwh: FloatArray
    contracted_sold_kwh: FloatArray
    bought_p2p_kwh: FloatArray
    sold_p2p_kwh: FloatArray
    penalties: FloatArray
    imported_kwh: FloatArray
    exported_kwh: FloatArray
    bill: FloatArray
    baseline_bill: FloatArray

    @classmethod
    def zeros(cls, households: int) -> HouseholdTotals:
        return cls(**{f.name: np.zeros(households) for f in fields(cls)})

    def add(self, accounts: MeteredAccounts, load_kwh: FloatArray, pv_kwh: FloatArray) -> None:
        """Add one slot: its metered accounts and the households' load and PV energy."""
        self.consumption_kwh += load_kwh
        self.pv_kwh += pv_kwh
        for f in fields(self):
            if f.name not in ("consumption_kwh", "pv_kwh"):
                getattr(self, f.name).__iadd__(getattr(accounts, f.name))

    def frame(self, households: list[Household]) -> pd.DataFrame:
        """The households table: who they are, then every total, then the bill change."""
        frame = pd.DataFrame(
            {
                "household": [h.id for h in households],
                "bus": [h.bus for h in households],
                "load_profile": [h.load_profile for h in households],
                "annual_consumption_kwh": [h.annual_consumption_kwh for h in households],
                "pv_kwp": [h.pv_kwp for h in households],
            }
            | {f.name: getattr(self, f.name) for f in fields(self)}
        )
        frame["bill_change"] = frame["bill"] - frame["baseline_bill"]
        return frame
