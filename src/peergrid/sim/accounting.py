"""Who pays what in a slot: peer-to-peer trades, the supplier for the rest, the DSO's fee.

What a household does not trade peer to peer it buys from the supplier at the retail price or
sells to it at the feed-in tariff. The DSO's fee on a trade (``Trade.grid_fee``) is split equally
between buyer and seller here (on chain, the buyer pays the larger half of an odd micro-unit).
The no-market baseline buys every deficit at retail and sells every surplus at feed-in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from peergrid.core.trades import Trade

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SlotAccounts:
    """Per household (in the order of ``index``): energies in kWh and money in currency."""

    bought_p2p_kwh: FloatArray
    sold_p2p_kwh: FloatArray
    imported_kwh: FloatArray
    exported_kwh: FloatArray
    bill: FloatArray  # what the household pays in the slot (negative: it earns)
    baseline_bill: FloatArray
    network_fees: float


def slot_accounts(
    net_kwh: FloatArray,
    trades: Sequence[Trade],
    index: dict[str, int],
    retail: float,
    feed_in: float,
) -> SlotAccounts:
    n = len(net_kwh)
    bought = np.zeros(n)
    sold = np.zeros(n)
    paid_p2p = np.zeros(n)
    for trade in trades:
        b, s = index[trade.buyer], index[trade.seller]
        bought[b] += trade.quantity_kwh
        sold[s] += trade.quantity_kwh
        paid_p2p[b] += trade.value + trade.grid_fee / 2.0
        paid_p2p[s] -= trade.value - trade.grid_fee / 2.0
    deficit = np.maximum(0.0, -net_kwh)
    surplus = np.maximum(0.0, net_kwh)
    imported = np.maximum(0.0, deficit - bought)
    exported = np.maximum(0.0, surplus - sold)
    bill = paid_p2p + imported * retail - exported * feed_in
    baseline = deficit * retail - surplus * feed_in
    return SlotAccounts(
        bought_p2p_kwh=bought,
        sold_p2p_kwh=sold,
        imported_kwh=imported,
        exported_kwh=exported,
        bill=bill,
        baseline_bill=baseline,
        network_fees=float(sum(t.grid_fee for t in trades)),
    )
