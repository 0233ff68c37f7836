"""Units and their conversion to the integers kept on chain.

At every Python boundary: energy in kWh, power in kW, prices in currency per kWh, money in
currency. On chain, integers: energy in Wh and money in micro-currency (1e-6).

Rounding (documented once, here):

* energy kWh -> Wh rounds half to even to the nearest Wh (``round``);
* prices currency/kWh -> micro-currency/kWh round half to even to the nearest micro-unit;
* a payment on chain is ``energy_wh * price_micro_per_kwh // 1000`` (floor). The same integer is
  debited from the buyer and credited to the seller, so rounding never creates or destroys
  money: buyers' payments = sellers' receipts + fees, exactly.
"""

from __future__ import annotations

import math

WH_PER_KWH = 1000
MICRO_PER_UNIT = 1_000_000


def kwh_to_wh(energy_kwh: float) -> int:
    """Energy in kWh to integer Wh (nearest, half to even)."""
    _require_finite(energy_kwh, "energy_kwh")
    return round(energy_kwh * WH_PER_KWH)


def wh_to_kwh(energy_wh: int) -> float:
    return energy_wh / WH_PER_KWH


def to_micro(amount: float) -> int:
    """Money (or a price per kWh) in currency to integer micro-currency (nearest, half to even)."""
    _require_finite(amount, "amount")
    return round(amount * MICRO_PER_UNIT)


def from_micro(amount_micro: int) -> float:
    return amount_micro / MICRO_PER_UNIT


def payment_micro(energy_wh: int, price_micro_per_kwh: int) -> int:
    """The integer payment for ``energy_wh`` at ``price_micro_per_kwh``; the contract's formula."""
    return energy_wh * price_micro_per_kwh // WH_PER_KWH


def kw_to_kwh(power_kw: float, slot_minutes: float) -> float:
    """Energy of a constant power over one slot."""
    return power_kw * slot_minutes / 60.0


def _require_finite(value: float, name: str) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
