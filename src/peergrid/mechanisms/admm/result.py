"""What a design returns: schedules per household, trades per pair, prices, and how it was solved.

Arrays are (households, periods) in the case's order unless said otherwise; powers in kW (kvar),
energies in kWh, prices in currency per kWh, costs in currency over the horizon.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from peergrid.assets.fields import FloatArray
from peergrid.grid.opf.network import IntArray


@dataclass(frozen=True, eq=False)
class Schedules:
    """Every household's devices and retail contract, per period."""

    load_kw: FloatArray
    pv_kw: FloatArray  # dispatched PV (≤ available)
    pv_q_kvar: FloatArray  # reactive support injected by the PV inverter
    ev_kw: FloatArray
    battery_charge_kw: FloatArray
    battery_discharge_kw: FloatArray
    battery_energy_kwh: FloatArray  # state of charge at the end of each period
    import_kw: FloatArray  # retail import (zeros in grid-only: the root imports)
    export_kw: FloatArray
    net_kw: FloatArray  # device net injection p^dev (generation convention)
    net_kvar: FloatArray


@dataclass(frozen=True, eq=False)
class Trades:
    """Bilateral trades: ``quantity_kw[e]`` is what ``household[e]`` sells to ``partner[e]``
    (negative: buys), at ``price[e]`` per kWh; ``reverse[e]`` indexes the pair's other side."""

    household: IntArray
    partner: IntArray
    reverse: IntArray
    quantity_kw: FloatArray  # (E, T)
    price: FloatArray  # (E, T)
    gamma: FloatArray  # (E, T) trading coefficients, per kWh

    @property
    def reciprocity_residual_kw(self) -> float:
        """``max |d_ij + d_ji|`` (kW): 0 when every trade is matched by its partner."""
        if not len(self.household):
            return 0.0
        return float(np.abs(self.quantity_kw + self.quantity_kw[self.reverse]).max())

    def payments(self, n_households: int, period_hours: float) -> FloatArray:
        """(H,) what each household pays for its trades: ``−Σ_j ξ_ij d_ij Δt``."""
        pay = np.zeros(n_households)
        np.add.at(pay, self.household, -(self.price * self.quantity_kw).sum(axis=1) * period_hours)
        return pay


@dataclass(frozen=True, eq=False)
class NetworkState:
    """The feeder in the grid designs: voltages, branch flows, and the exchange at the root."""

    v_pu: FloatArray  # (N, T) voltage magnitude (√v)
    v_sq_pu: FloatArray  # (N, T) squared voltage
    branch_p_pu: FloatArray  # (N-1, T) P at the child end
    branch_q_pu: FloatArray
    branch_psi_pu: FloatArray  # (N-1, T) squared current
    root_p_kw: FloatArray  # (T,) injection of the external grid at the root
    root_q_kvar: FloatArray
    loss_kw: FloatArray  # (T,) branch losses


@dataclass(frozen=True)
class Iterate:
    """One ADMM iteration: the penalties used, the residuals after it, and the cost of x^k.

    Grid residuals (Eqs. 17/25a–b as norms): ``r_grid = ‖x − z̃‖`` over every copy,
    ``s_grid = ρ ‖z̃ − z̃_prev‖``; trade residuals ``r_trade = ‖d_ij + d_ji‖`` (25c) and
    ``s_trade = ‖d^{k+1} − d^k‖`` (25d). ``cost`` is the design's cost at the local solutions.
    """

    k: int
    rho: float
    phi: float
    r_grid: float
    s_grid: float
    r_trade: float
    s_trade: float
    cost: float
    time_s: float  # since the start of the run


@dataclass(frozen=True, eq=False)
class BderResult:
    """A design's outcome; ``method`` is ``"admm"`` or ``"central"``."""

    design: str
    method: str
    household_ids: tuple[str, ...]
    period_hours: float
    schedules: Schedules
    trades: Trades | None
    network: NetworkState | None
    import_price: FloatArray  # (T,) per kWh
    feed_in_price: FloatArray  # (T,)
    cost: float  # the design's objective: retail (or root) + coefficients + losses
    cost_parts: dict[str, float]
    iterations: int
    converged: bool
    wall_time_s: float
    solve_time_s: float  # in the solver (all local steps, or the one central solve)
    history: tuple[Iterate, ...] = ()
    info: dict[str, object] = field(default_factory=dict)

    def household_costs(self) -> dict[str, FloatArray]:
        """(H,) per household: retail import cost, feed-in revenue, trade payments."""
        s = self.schedules
        dt = self.period_hours
        H = len(self.household_ids)
        out = {
            "import_cost": s.import_kw @ self.import_price * dt,
            "feed_in_revenue": s.export_kw @ self.feed_in_price * dt,
        }
        out["trade_payments"] = (
            self.trades.payments(H, dt) if self.trades is not None else np.zeros(H)
        )
        return out

    def summary(self) -> dict[str, object]:
        out: dict[str, object] = {
            "design": self.design,
            "method": self.method,
            "households": len(self.household_ids),
            "cost": self.cost,
            **{f"cost_{k}": v for k, v in self.cost_parts.items()},
            "iterations": self.iterations,
            "converged": self.converged,
            "wall_time_s": self.wall_time_s,
            "solve_time_s": self.solve_time_s,
        }
        if self.trades is not None:
            out["reciprocity_residual_kw"] = self.trades.reciprocity_residual_kw
        if self.network is not None:
            out["v_min_pu"] = float(self.network.v_pu[1:].min())
            out["v_max_pu"] = float(self.network.v_pu[1:].max())
        return out
