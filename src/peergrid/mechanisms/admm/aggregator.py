"""The aggregator's part of one consensus ADMM iteration, behind one interface.

The ADMM loop (:func:`~peergrid.mechanisms.admm.consensus.run_admm`) runs the agents' part:
the local step and the scaled duals ``u``. Everything between one local step and the next
that needs every agent's submission is the aggregator's (steps 2, 4–6 of the protocol in
:mod:`~peergrid.mechanisms.admm.consensus`): the relaxation of the copies, the z-update by
averaging, the trade prices ``ξ``, the four residual sums, the convergence test and the
penalty balancing. :class:`Aggregator` is that interface; :class:`OffChainAggregator` does it
in floating point, in process; an on-chain aggregator (a contract, through its client) does
it in fixed-point integers and gives the same iterates to its resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from peergrid.assets.fields import FloatArray
from peergrid.grid.opf.network import IntArray
from peergrid.mechanisms.admm.network import CopyMap


class AggregatorSettings(Protocol):
    """What the aggregator reads of θ (``AdmmSettings`` has it)."""

    @property
    def rho0(self) -> float: ...
    @property
    def phi(self) -> float: ...
    @property
    def eps_grid_primal(self) -> float: ...
    @property
    def eps_grid_dual(self) -> float: ...
    @property
    def eps_trade_primal(self) -> float: ...
    @property
    def eps_trade_dual(self) -> float: ...
    @property
    def alpha(self) -> float: ...
    @property
    def adaptive(self) -> bool: ...
    @property
    def balance_ratio(self) -> float: ...
    @property
    def balance_factor(self) -> float: ...


@dataclass(frozen=True, eq=False)
class AggregatorStep:
    """What the aggregator publishes after one iteration ``k → k+1``.

    ``z`` (G, T) the new global variables ``z̃^{k+1}``; ``copies`` each copy as the aggregator
    took it (relaxed, or as the chain holds it), from which the agents update their duals;
    ``xi`` (E, T) the updated trade prices and ``bids`` (E, T) the bids as forwarded. The
    residuals and the convergence verdict are those of this iteration, ``rho``/``phi`` the
    penalties it ran with; ``rho_next``/``phi_next`` those of the next one, and
    ``rho_change`` (+1, −1, 0) says whether ρ was multiplied or divided by ``τ``, so the agents
    rescale their scaled duals (``y = ρu`` unchanged).
    """

    z: FloatArray | None
    copies: list[FloatArray] | None
    xi: FloatArray | None
    bids: FloatArray | None
    r_grid: float
    s_grid: float
    r_trade: float
    s_trade: float
    converged: bool
    rho: float
    phi: float
    rho_next: float
    phi_next: float
    rho_change: int = 0


class Aggregator(Protocol):
    """The aggregator of a consensus ADMM run (module docstring)."""

    def open(
        self, z: FloatArray | None, xi: FloatArray | None, bids: FloatArray | None = None
    ) -> tuple[FloatArray | None, FloatArray | None, FloatArray | None]:
        """Publish the start ``z̃^0``, ``ξ^0`` and the bids ``d^0`` (zero if None, with trades);
        returns them as the agents read them back."""
        ...

    def iterate(self, copies: list[FloatArray] | None, bids: FloatArray | None) -> AggregatorStep:
        """Every agent's coupling copies (one array per copy of the copy map) and bids
        ``(E, T)`` of this iteration in; the published step out."""
        ...


class OffChainAggregator:
    """The aggregator in floating point, in process (the reference of every other)."""

    def __init__(
        self,
        settings: AggregatorSettings,
        copies: CopyMap | None,
        reverse: IntArray | None,
    ) -> None:
        self.settings = settings
        self.copy_map = copies
        self.reverse = reverse
        self.rho = settings.rho0
        self.phi = settings.phi
        self.z: FloatArray | None = None
        self.xi: FloatArray | None = None
        self.d: FloatArray | None = None

    def open(
        self, z: FloatArray | None, xi: FloatArray | None, bids: FloatArray | None = None
    ) -> tuple[FloatArray | None, FloatArray | None, FloatArray | None]:
        self.z, self.xi = z, xi
        if xi is not None:
            self.d = np.zeros(xi.shape) if bids is None else np.array(bids, dtype=float)
        return z, xi, self.d

    def restart(self, z: FloatArray | None, xi: FloatArray | None, bids: FloatArray | None) -> None:
        """Continue from other iterates (an accelerated step moved them)."""
        self.z, self.xi = z, xi
        if bids is not None:
            self.d = bids

    def iterate(self, copies: list[FloatArray] | None, bids: FloatArray | None) -> AggregatorStep:
        s = self.settings
        rho, phi = self.rho, self.phi
        r_g = s_g = r_t = s_t = 0.0
        ok = True
        relaxed = None
        cm = self.copy_map
        if cm is not None:
            assert copies is not None and self.z is not None
            z_old = [self.z[r] for r in cm.rows]
            a = s.alpha
            relaxed = [a * x + (1 - a) * zo for x, zo in zip(copies, z_old, strict=True)]
            z_new = cm.average(relaxed)  # Eq. 16b / 23
            z_at = [z_new[r] for r in cm.rows]
            n = sum(x.size for x in copies)
            w = [cm.weight(c) for c in range(len(copies))]
            r_g = math.sqrt(
                sum(
                    wc * float(((x - zc) ** 2).sum())
                    for wc, x, zc in zip(w, copies, z_at, strict=True)
                )
            )
            s_g = rho * math.sqrt(
                sum(
                    wc * float(((zc - zo) ** 2).sum())
                    for wc, zc, zo in zip(w, z_at, z_old, strict=True)
                )
            )
            self.z = z_new
            ok &= r_g <= s.eps_grid_primal * math.sqrt(n)
            ok &= s_g <= s.eps_grid_dual * math.sqrt(n)
        if self.reverse is not None:
            assert bids is not None and self.xi is not None and self.d is not None
            mismatch = bids + bids[self.reverse]
            self.xi = self.xi - phi / 2 * mismatch
            r_t = float(np.linalg.norm(mismatch))
            s_t = float(np.linalg.norm(bids - self.d))
            self.d = bids
            ok &= r_t <= s.eps_trade_primal * math.sqrt(bids.size)
            ok &= s_t <= s.eps_trade_dual * math.sqrt(bids.size)
        rho_change = 0
        if not ok and s.adaptive:
            rho_change = self._balance(r_g, s_g, r_t, s_t)
        return AggregatorStep(
            self.z,
            relaxed,
            self.xi,
            self.d,
            r_g,
            s_g,
            r_t,
            s_t,
            ok,
            rho,
            phi,
            self.rho,
            self.phi,
            rho_change,
        )

    def _balance(self, r_g: float, s_g: float, r_t: float, s_t: float) -> int:
        """Residual balancing (Boyd §3.4.1); returns the direction ρ moved."""
        m, tau = self.settings.balance_ratio, self.settings.balance_factor
        change = 0
        if self.copy_map is not None:
            if r_g > m * s_g:
                self.rho *= tau
                change = 1
            elif s_g > m * r_g:
                self.rho /= tau
                change = -1
        if self.reverse is not None:
            # s_trade carries no φ (Eq. 25d): compare it as the dual residual φ‖Δd‖.
            dual = self.phi * s_t
            if r_t > m * dual:
                self.phi *= tau
            elif dual > m * r_t:
                self.phi /= tau
        return change
