"""Trading partners and the automatic bilateral trading coefficients (000_bder.md §2.9).

Trades are directed pairs ``e = (i, j)``: ``d_e`` (kW) is what household ``i`` sells to ``j``
(positive) or buys from it (negative), so reciprocity reads ``d_ij + d_ji = 0`` (Eq. 13b).
:class:`TradePairs` lists them with the index of each pair's reverse.

The coefficients (Eqs. 26–29) come from the net position of PV and base load only,
``P^net = P^pv − P^l`` (26): per household and period its deficit and surplus magnitudes
(27a–b; the report's (27a) keeps the sign of the deficit, which would divide by a non-positive
maximum in (28a), so magnitudes are used, as the digest recommends), relative to its largest
deficit and surplus of the horizon, scaled to ``[0, χ/2]`` (28a–b). Two sellers or two buyers
get ``γ = χ``; any other pair ``χ − (γ^b_i + γ^b_j + γ^s_i + γ^s_j)`` (29), so a buyer and a
seller both at their extremes get 0. γ is symmetric by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from peergrid.assets.fields import FloatArray
from peergrid.grid.opf.network import IntArray
from peergrid.mechanisms.admm.case import BderCase, BderInputError

#: The report's χ (seed L610) is unitless; we read it per MWh: 10 per MWh = 0.01 per kWh,
#: a few per cent of a retail price (see docs/decisions.md).
CHI_PER_KWH = 0.01


@dataclass(frozen=True, eq=False)
class TradePairs:
    """Directed trading pairs ``(household[e], partner[e])``; ``reverse[e]`` indexes ``(j, i)``."""

    household: IntArray  # (E,) i
    partner: IntArray  # (E,) j
    reverse: IntArray  # (E,) index of (j, i)
    n_households: int

    def first_of_pair(self) -> IntArray:
        """The first side ``e`` of every pair (``e < reverse[e]``): one per pair, in
        order, where reciprocity ``d_e + d_reverse(e) = 0`` is written once."""
        return np.flatnonzero(np.arange(len(self.reverse)) < self.reverse)

    def __len__(self) -> int:
        return len(self.household)

    def outgoing(self) -> np.ndarray:
        """(H, E) 0/1 matrix: row i sums i's trades (``Σ_j d_ij``, Eq. 20b)."""
        m = np.zeros((self.n_households, len(self)))
        m[self.household, np.arange(len(self))] = 1.0
        return m


def trade_pairs(n_households: int, max_partners: int | None = None) -> TradePairs:
    """Every ordered pair when ``max_partners`` is None or at least ``H − 1``; otherwise each
    household trades with the ``max_partners`` households nearest to it in the case's order
    (half before, half after, wrapping round), which keeps the partner relation symmetric."""
    H = n_households
    if H < 2:
        raise BderInputError("trading: at least two households are needed")
    if max_partners is not None and max_partners < 1:
        raise BderInputError(
            f"trading: field 'max_partners' must be at least 1, got {max_partners}"
        )
    if max_partners is None or max_partners >= H - 1:
        pairs = [(i, j) for i in range(H) for j in range(H) if i != j]
    else:
        half = max(1, max_partners // 2)
        links = {(i, (i + s) % H) for i in range(H) for s in range(1, half + 1)}
        links |= {(j, i) for i, j in links}
        pairs = sorted(p for p in links if p[0] != p[1])
    index = {p: e for e, p in enumerate(pairs)}
    hh = np.array([p[0] for p in pairs], dtype=np.int64)
    pp = np.array([p[1] for p in pairs], dtype=np.int64)
    rev = np.array([index[(j, i)] for i, j in pairs], dtype=np.int64)
    return TradePairs(hh, pp, rev, H)


def trading_coefficients(case: BderCase, pairs: TradePairs, chi: float = CHI_PER_KWH) -> FloatArray:
    """γ per pair and period (currency per kWh), Eqs. (26)–(29)."""
    if not (np.isfinite(chi) and chi >= 0):
        raise BderInputError(f"trading: field 'chi' must be non-negative, got {chi}")
    T = case.periods
    pv = np.vstack(
        [h.pv.available_kw if h.pv is not None else np.zeros(T) for h in case.households]
    )
    load = np.vstack([h.load.p_kw for h in case.households])
    net = pv - load  # (26)
    buy = np.where(net < 0, -net, 0.0)  # (27a), as a magnitude
    sell = np.where(net > 0, net, 0.0)  # (27b)

    def relative(x: FloatArray) -> FloatArray:
        top = x.max(axis=1, keepdims=True)
        return np.where(top > 0, chi * x / (2.0 * np.where(top > 0, top, 1.0)), 0.0)  # (28)

    gb, gs = relative(buy), relative(sell)
    i, j = pairs.household, pairs.partner
    both_sell = (gs[i] > 0) & (gs[j] > 0)
    both_buy = (gb[i] > 0) & (gb[j] > 0)
    other = chi - (gb[i] + gb[j] + gs[i] + gs[j])
    return np.where(both_sell | both_buy, chi, other)  # (29)
