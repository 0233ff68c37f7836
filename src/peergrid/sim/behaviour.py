"""How households form their orders: net position and reserved price.

Net position (kWh in the slot, PV minus load): a surplus is offered for sale, a deficit is bid
for. The reserved price follows the behavioural model of 003_dpda.md §2.11: normalised random
values around a local reference price, with the thesis's standard deviations (stated on its
reference of £0.2023/kWh, here scaled to the scenario's reference price):

=================  ======  =======
behaviour          buyers  sellers
=================  ======  =======
cooperative        0.010   0.025
non-cooperative    0.020   0.045
=================  ======  =======

Prices are clipped to [feed-in tariff, retail price]: no seller accepts less than the supplier
pays for its export, no buyer pays more than the supplier's retail price.

Orders are formed a cycle ahead, from forecasts (:func:`forecast_net`): each household's load
and PV energy with independent relative errors of standard deviation ``forecast_error``
(clipped at zero). The meters then read what really happened; the difference is settled with
the penalty of eqs. 4.8/4.9. Each order is sent at a minute of the quotation window; a share
``late_order_share`` arrives after it (:func:`submission_minutes`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from peergrid.core.orders import Order, Side

_SELL, _BUY = Side.SELL, Side.BUY  # an enum member is a descriptor lookup each time it is read
THESIS_REFERENCE_PRICE = 0.2023
PRICE_SPREAD = {
    "cooperative": {"buy": 0.010, "sell": 0.025},
    "non-cooperative": {"buy": 0.020, "sell": 0.045},
}


@dataclass(frozen=True)
class PriceModel:
    reference_price: float
    feed_in: float
    retail: float
    behaviour: str = "cooperative"

    def draw(
        self, rng: np.random.Generator, sides: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.float64]:
        """One reserved price per order; ``sides`` is True for a sell order."""
        scale = self.reference_price / THESIS_REFERENCE_PRICE
        spread = PRICE_SPREAD[self.behaviour]
        sd = np.where(sides, spread["sell"], spread["buy"]) * scale
        prices = self.reference_price + rng.standard_normal(len(sides)) * sd
        return np.clip(prices, self.feed_in, self.retail)


def slot_orders(
    slot: int,
    agents: list[str],
    buses: list[int],
    net_kwh: npt.NDArray[np.float64],
    prices: PriceModel,
    rng: np.random.Generator,
    min_order_kwh: float,
) -> list[Order]:
    """Every household with a net position of at least ``min_order_kwh`` places one order."""
    active, selling, reserved = order_terms(net_kwh, prices, rng, min_order_kwh)
    return [
        household_order(slot, agents[i], buses[i], net_kwh[i], selling[k], reserved[k], k)
        for k, i in enumerate(active)
    ]


def order_terms(
    net_kwh: npt.NDArray[np.float64],
    prices: PriceModel,
    rng: np.random.Generator,
    min_order_kwh: float,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """Who places an order (household indices), whether each sells, and its reserved price:
    the random draws of :func:`slot_orders` without building the orders."""
    active = np.flatnonzero(np.abs(net_kwh) >= min_order_kwh)
    selling = net_kwh[active] > 0
    return active, selling, prices.draw(rng, selling)


def household_order(
    slot: int,
    agent: str,
    bus: int,
    net_kwh: float,
    selling: bool,
    reserved_price: float,
    submitted_at: int,
) -> Order:
    """A household's order for ``slot`` from its net position and reserved price."""
    return Order(
        id=f"{slot}-{agent}",
        agent=agent,
        side=_SELL if selling else _BUY,
        quantity_kwh=float(abs(net_kwh)),
        price=round(float(reserved_price), 6),
        slot=slot,
        bus=str(bus),
        submitted_at=submitted_at,
    )


def forecast_net(
    load_kwh: npt.NDArray[np.float64],
    pv_kwh: npt.NDArray[np.float64],
    rng: np.random.Generator,
    forecast_error: float,
) -> npt.NDArray[np.float64]:
    """Forecast net positions (PV minus load), same shape as the inputs."""
    if forecast_error == 0:
        return pv_kwh - load_kwh
    load = load_kwh * (1.0 + forecast_error * rng.standard_normal(load_kwh.shape))
    pv = pv_kwh * (1.0 + forecast_error * rng.standard_normal(pv_kwh.shape))
    return np.maximum(pv, 0.0) - np.maximum(load, 0.0)


def submission_minutes(
    n: int,
    rng: np.random.Generator,
    quotation_minutes: float,
    cycle_minutes: float,
    late_share: float,
) -> npt.NDArray[np.float64]:
    """Minutes from the start of the quotation cycle at which ``n`` orders are sent: uniform in
    the quotation window, or, for a share ``late_share``, uniform in the rest of the cycle."""
    late = rng.random(n) < late_share
    on_time = rng.uniform(0.0, quotation_minutes, n)
    after = rng.uniform(quotation_minutes, cycle_minutes, n)
    return np.where(late, after, on_time)
