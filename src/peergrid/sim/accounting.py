"""Who pays what in a slot: peer-to-peer trades, the supplier for the rest, the DSO's fee.

What a household does not trade peer to peer it buys from the supplier at the retail price or
sells to it at the feed-in tariff. The DSO's fee on a trade (``Trade.grid_fee``) is split equally
between buyer and seller here (on chain, the buyer pays the larger half of an odd micro-unit).
The no-market baseline buys every deficit at retail and sells every surplus at feed-in.

Against the meters (:func:`delivered_kwh`, :func:`metered_accounts`): a position's metered
energy is the part of its contract the household really delivered (a seller) or took (a buyer):
``min(contracted, the household's metered surplus or deficit)``. Energy beyond the contract is
ordinary export or import with the supplier; a shortfall is the deviation of eqs. 4.8/4.9,
settled at the clearing price with the penalty (the thesis: "penalty charges for prosumers who
fail to complete the transaction"), the DSO being the counterparty of the difference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from peergrid.core.orders import Order, Side
from peergrid.core.trades import Trade
from peergrid.mechanisms.metered import MeteredSettlement

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


def delivered_kwh(
    orders: Sequence[Order],
    trades: Sequence[Trade],
    actual_net_kwh: FloatArray,
    index: Mapping[str, int],
) -> dict[str, float]:
    """The metered energy of every order, by order id (see the module): 0 without a trade."""
    contracted: dict[str, float] = dict.fromkeys((o.id for o in orders), 0.0)
    for t in trades:
        contracted[t.buy_order] += t.quantity_kwh
        contracted[t.sell_order] += t.quantity_kwh
    delivered = {}
    for order in orders:
        net = float(actual_net_kwh[index[order.agent]])
        available = max(0.0, net) if order.side is Side.SELL else max(0.0, -net)
        delivered[order.id] = min(contracted[order.id], available)
    return delivered


@dataclass(frozen=True)
class MeteredAccounts(SlotAccounts):
    """:class:`SlotAccounts` settled against the meters, with the contracts and penalties."""

    contracted_bought_kwh: FloatArray
    contracted_sold_kwh: FloatArray
    penalties: FloatArray
    dso_imbalance: float  # what buyers' true-ups paid the DSO minus what sellers' cost it


def metered_accounts(
    actual_net_kwh: FloatArray,
    orders: Sequence[Order],
    settlements: Sequence[MeteredSettlement],
    index: Mapping[str, int],
    retail: float,
    feed_in: float,
    price: float | None,
) -> MeteredAccounts:
    """Per household: the metered P2P bills and incomes (eqs. 4.8/4.9), the supplier for the
    rest of the metered energy, the no-market baseline."""
    n = len(actual_net_kwh)
    agent_of = {o.id: o.agent for o in orders}
    bought = np.zeros(n)
    sold = np.zeros(n)
    contracted_bought = np.zeros(n)
    contracted_sold = np.zeros(n)
    paid_p2p = np.zeros(n)
    penalties = np.zeros(n)
    fees = 0.0
    for s in settlements:
        i = index[agent_of[s.order_id]]
        penalties[i] += s.credit
        fees += s.tariff
        if s.side == "buy":
            bought[i] += s.metered_kwh
            contracted_bought[i] += s.agreed_kwh
            paid_p2p[i] += s.amount
        else:
            sold[i] += s.metered_kwh
            contracted_sold[i] += s.agreed_kwh
            paid_p2p[i] -= s.amount
    deficit = np.maximum(0.0, -actual_net_kwh)
    surplus = np.maximum(0.0, actual_net_kwh)
    imported = np.maximum(0.0, deficit - bought)
    exported = np.maximum(0.0, surplus - sold)
    bill = paid_p2p + imported * retail - exported * feed_in
    baseline = deficit * retail - surplus * feed_in
    return MeteredAccounts(
        bought_p2p_kwh=bought,
        sold_p2p_kwh=sold,
        imported_kwh=imported,
        exported_kwh=exported,
        bill=bill,
        baseline_bill=baseline,
        network_fees=fees,
        contracted_bought_kwh=contracted_bought,
        contracted_sold_kwh=contracted_sold,
        penalties=penalties,
        dso_imbalance=(price or 0.0) * float(bought.sum() - sold.sum()),
    )
