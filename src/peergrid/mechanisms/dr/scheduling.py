"""The prosumers' private model and their demand response, Eq. (1) (001a_book.md §2.2).

A prosumer ``p`` values consuming ``d`` kWh in slot ``t`` at ``U(d) = β d − γ d² / 2``
(currency; G1: the book's undefined ω is ``U(d) − π d``, whose maximiser is Eq. 1), within its
comfort bounds ``d_min ≤ d ≤ d_max``, and has a PV forecast ``ρ`` (kWh). Eq. (1) is the
clipped maximiser ``clip((β − π) / γ, d_min, d_max)``. These parameters are private: the market
sees only bids.

Which price enters Eq. (1) (G6, ours): in stage 1 the prosumer's own bid price (the demand it
offers at the price it bids), in stage 2 the stage-1 market price plus the DR price (a kWh it
keeps consuming costs the market price and forgoes the DR price), never above the stage-1 bid:
a DR part is a reduction.

Arrays are ``(slots, prosumers)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from peergrid.mechanisms.dr.two_stage import DemandResponseError

FloatArray = npt.NDArray[np.float64]


def demand_response(
    beta: FloatArray,
    gamma: FloatArray,
    price: FloatArray,
    d_min: FloatArray,
    d_max: FloatArray,
) -> FloatArray:
    """Eq. (1): the demand maximising ``β d − γ d²/2 − π d`` within ``[d_min, d_max]``."""
    return np.clip((beta - price) / gamma, d_min, d_max)


@dataclass(frozen=True)
class Prosumers:
    """Private parameters of every prosumer, ``(slots, prosumers)`` arrays: ``beta``
    (currency/kWh), ``gamma`` (currency/kWh²), ``d_min_kwh``, ``d_max_kwh``, ``pv_kwh`` (the
    PV forecast offered, ρ)."""

    beta: FloatArray
    gamma: FloatArray
    d_min_kwh: FloatArray
    d_max_kwh: FloatArray
    pv_kwh: FloatArray

    def __post_init__(self) -> None:
        shape = np.shape(self.beta)
        for name in ("beta", "gamma", "d_min_kwh", "d_max_kwh", "pv_kwh"):
            value = np.asarray(getattr(self, name), dtype=float)
            if value.ndim != 2 or value.shape != shape:
                raise DemandResponseError(
                    f"prosumers: field {name!r} has shape {value.shape}, expected {shape} "
                    "(slots, prosumers)"
                )
            if not np.isfinite(value).all():
                raise DemandResponseError(f"prosumers: field {name!r} is not finite")
            object.__setattr__(self, name, value)
        for name, bad in (
            ("gamma", self.gamma <= 0),
            ("d_min_kwh", self.d_min_kwh < 0),
            ("d_max_kwh", self.d_max_kwh < self.d_min_kwh),
            ("pv_kwh", self.pv_kwh < 0),
        ):
            if bad.any():
                t, p = np.argwhere(bad)[0]
                rule = {
                    "gamma": "must be > 0",
                    "d_min_kwh": "must be >= 0",
                    "d_max_kwh": "must be >= d_min_kwh",
                    "pv_kwh": "must be >= 0",
                }[name]
                raise DemandResponseError(
                    f"prosumer {p}, slot {t}: field {name!r} {rule}, got "
                    f"{getattr(self, name)[t, p]:g}"
                )

    @property
    def shape(self) -> tuple[int, int]:
        slots, prosumers = self.beta.shape
        return slots, prosumers

    def demand(self, price: FloatArray) -> FloatArray:
        """Eq. (1) at ``price`` (currency/kWh, broadcast to ``(slots, prosumers)``)."""
        return demand_response(self.beta, self.gamma, price, self.d_min_kwh, self.d_max_kwh)

    def utility(self, demand_kwh: FloatArray) -> FloatArray:
        """``U(d) = β d − γ d²/2`` (currency)."""
        return self.beta * demand_kwh - 0.5 * self.gamma * demand_kwh**2

    def reschedule(
        self, bid_demand_kwh: FloatArray, price: FloatArray, dr_price: FloatArray
    ) -> FloatArray:
        """Stage 2's demand (G6): Eq. (1) at market + DR price, at most the stage-1 bid."""
        return np.minimum(bid_demand_kwh, self.demand(price + dr_price))


def prosumers_from_profiles(
    load_kwh: FloatArray,
    pv_kwh: FloatArray,
    reference_price: FloatArray,
    *,
    elasticity: float = 0.3,
    flexibility: float = 0.3,
) -> Prosumers:
    """Prosumers whose Eq. (1) gives their load profile at the reference price (per slot).

    ``elasticity`` is the price elasticity of demand at that point, ``|∂d/∂π · π/d|`` (so
    ``γ = π_ref / (ε d_ref)`` and ``β = π_ref + γ d_ref``); ``flexibility`` the share by which
    demand may move either way (``d_min = (1 − f) d_ref``, ``d_max = (1 + f) d_ref``).
    """
    load = np.asarray(load_kwh, dtype=float)
    ref = np.broadcast_to(np.asarray(reference_price, dtype=float)[:, None], load.shape)
    if not (elasticity > 0 and 0 <= flexibility < 1):
        raise DemandResponseError(
            f"prosumers: elasticity must be > 0 and flexibility in [0, 1), got {elasticity:g}, "
            f"{flexibility:g}"
        )
    if (load <= 0).any() or (ref <= 0).any():
        raise DemandResponseError("prosumers: loads and reference prices must be > 0")
    gamma = ref / (elasticity * load)
    return Prosumers(
        beta=ref + gamma * load,
        gamma=gamma,
        d_min_kwh=(1 - flexibility) * load,
        d_max_kwh=(1 + flexibility) * load,
        pv_kwh=np.asarray(pv_kwh, dtype=float),
    )
