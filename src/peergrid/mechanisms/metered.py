"""Settlement of agreed trades against metered energy (003_dpda.md §2.8, eqs. 4.8 and 4.9).

After delivery the smart meter reports what each participant really consumed or injected. The
agreed (reference) energy E_ref and the metered energy E_meter give a credit

    credit = |E_ref − E_meter| × penalty          (the same in both directions)

and the final figures

    bill_B   = p0 · E_meter + tariff_B + credit_B      (4.8)
    income_S = p0 · E_meter − tariff_S − credit_S      (4.9)

where the tariff is the participant's share of the DSO's distance charges (Σ C_d·d/2 over its
trades). The thesis leaves the penalty rate to the DSO; it is a parameter here (currency/kWh).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from peergrid.core.errors import PeergridError


@dataclass(frozen=True)
class MeteredSettlement:
    order_id: str
    side: str  # "buy" | "sell"
    agreed_kwh: float
    metered_kwh: float
    tariff: float
    credit: float
    amount: float  # the bill (buyer) or the income (seller), currency

    def to_dict(self) -> dict[str, float | str]:
        return {
            "order_id": self.order_id,
            "side": self.side,
            "agreed_kwh": self.agreed_kwh,
            "metered_kwh": self.metered_kwh,
            "tariff": self.tariff,
            "credit": self.credit,
            "bill" if self.side == "buy" else "income": self.amount,
        }


def settle_against_meters(
    price: float,
    quotes: Mapping[str, Mapping[str, float]],
    metered_kwh: Mapping[str, float],
    penalty_per_kwh: float,
) -> list[MeteredSettlement]:
    """Eqs. 4.8/4.9 for every quoted order; ``quotes`` as Score Matching returns them.

    A quote with a ``bill`` is a buyer's, one with an ``income`` a seller's. Every quoted order
    needs a meter reading.
    """
    if not math.isfinite(penalty_per_kwh) or penalty_per_kwh < 0:
        raise PeergridError(f"penalty_per_kwh must be a non-negative number, got {penalty_per_kwh}")
    results = []
    for order_id, quote in quotes.items():
        if order_id not in metered_kwh:
            raise PeergridError(f"order {order_id!r}: no meter reading")
        metered = metered_kwh[order_id]
        if not math.isfinite(metered) or metered < 0:
            raise PeergridError(f"order {order_id!r}: meter reading must be >= 0, got {metered}")
        agreed = quote["energy_kwh"]
        tariff = quote["charge"]
        credit = abs(agreed - metered) * penalty_per_kwh
        if "bill" in quote:
            side, amount = "buy", price * metered + tariff + credit
        else:
            side, amount = "sell", price * metered - tariff - credit
        results.append(MeteredSettlement(order_id, side, agreed, metered, tariff, credit, amount))
    return results
