from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peergrid.core.orders import Order, Side
from peergrid.core.trades import Trade
from peergrid.mechanisms.metered import MeteredSettlement, settle_against_meters
from peergrid.platform.cycle import plain_quotes
from peergrid.sim.accounting import MeteredAccounts, delivered_kwh, metered_accounts
from peergrid.sim.behaviour import forecast_net, submission_minutes

RETAIL, FEED_IN = 0.30, 0.08


def order(agent: str, side: Side, quantity: float) -> Order:
    return Order(id=f"o{agent}", agent=agent, side=side, quantity_kwh=quantity, price=0.2)


def settle(
    orders: Sequence[Order],
    trades: Sequence[Trade],
    actual: np.ndarray,
    index: dict[str, int],
    price: float,
    penalty: float,
) -> tuple[dict[str, float], list[MeteredSettlement], MeteredAccounts]:
    """What the runner does after delivery: meters, eqs. 4.8/4.9, the households' accounts."""
    quotes = plain_quotes(trades)
    metered = delivered_kwh(orders, trades, actual, index)
    settlements = settle_against_meters(price, quotes, metered, penalty)
    accounts = metered_accounts(actual, orders, settlements, index, RETAIL, FEED_IN, price)
    return metered, settlements, accounts


def test_one_trade_by_hand() -> None:
    # A has 2 kWh surplus, B a 3 kWh deficit; B buys 1.5 kWh from A at 0.20 with a 0.01 fee.
    net = np.array([2.0, -3.0])
    orders = [order("A", Side.SELL, 2.0), order("B", Side.BUY, 3.0)]
    trade = Trade("B", "A", 1.5, 0.20, grid_fee=0.01, buy_order="oB", sell_order="oA")
    metered, _, acc = settle(orders, [trade], net, {"A": 0, "B": 1}, 0.20, penalty=0.05)
    assert metered == {"oA": 1.5, "oB": 1.5}
    assert acc.imported_kwh.tolist() == pytest.approx([0.0, 1.5])
    assert acc.exported_kwh.tolist() == pytest.approx([0.5, 0.0])
    assert acc.bill[0] == pytest.approx(-(1.5 * 0.20 - 0.005) - 0.5 * FEED_IN)
    assert acc.bill[1] == pytest.approx(1.5 * 0.20 + 0.005 + 1.5 * RETAIL)
    assert acc.baseline_bill.tolist() == pytest.approx([-2.0 * FEED_IN, 3.0 * RETAIL])
    assert acc.network_fees == pytest.approx(0.01)
    assert acc.penalties.tolist() == [0.0, 0.0] and acc.dso_imbalance == 0.0


def test_a_seller_that_delivers_less_pays_the_penalty_and_the_dso_covers_the_buyer() -> None:
    # A sold 1.5 kWh on a forecast, but its meter shows only 1.0 kWh of surplus.
    net = np.array([1.0, -3.0])
    orders = [order("A", Side.SELL, 2.0), order("B", Side.BUY, 3.0)]
    trade = Trade("B", "A", 1.5, 0.20, grid_fee=0.0, buy_order="oB", sell_order="oA")
    metered, settlements, acc = settle(orders, [trade], net, {"A": 0, "B": 1}, 0.20, 0.05)
    assert metered == {"oA": 1.0, "oB": 1.5}
    seller = next(s for s in settlements if s.side == "sell")
    assert seller.credit == pytest.approx(0.5 * 0.05)
    assert seller.amount == pytest.approx(0.20 * 1.0 - 0.025)  # eq. 4.9
    assert acc.exported_kwh[0] == 0.0 and acc.imported_kwh[1] == pytest.approx(1.5)
    # The DSO sold the buyer the 0.5 kWh the seller did not deliver, at the clearing price.
    assert acc.dso_imbalance == pytest.approx(0.20 * 0.5)


def test_a_buyer_whose_position_flipped_takes_nothing_and_pays_the_penalty() -> None:
    net = np.array([2.0, 0.4])  # B forecast a deficit, then had a surplus
    orders = [order("A", Side.SELL, 2.0), order("B", Side.BUY, 1.0)]
    trade = Trade("B", "A", 1.0, 0.20, grid_fee=0.0, buy_order="oB", sell_order="oA")
    metered, _, acc = settle(orders, [trade], net, {"A": 0, "B": 1}, 0.20, 0.05)
    assert metered["oB"] == 0.0
    assert acc.bill[1] == pytest.approx(0.05 - 0.4 * FEED_IN)
    assert acc.penalties[1] == pytest.approx(0.05) and acc.dso_imbalance == pytest.approx(-0.20)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.floats(-5, 5, allow_nan=False), min_size=2, max_size=8),
    st.lists(st.floats(-0.5, 0.5, allow_nan=False), min_size=8, max_size=8),
    st.floats(0.08, 0.30),
    st.floats(0, 0.02),
    st.floats(0, 0.2),
)
def test_money_and_energy_balance_against_the_meters(
    forecast_list: list[float], errors: list[float], price: float, fee: float, penalty: float
) -> None:
    """Whatever the forecasts, trades and meters: what members pay each other through the
    market is the DSO's fees, penalties and true-ups; every kWh metered is accounted for."""
    forecast = np.array(forecast_list)
    actual = forecast + np.array(errors[: len(forecast)])
    orders = [
        order(str(i), Side.SELL if v > 0 else Side.BUY, abs(v))
        for i, v in enumerate(forecast)
        if v != 0
    ]
    sellers = [o for o in orders if o.side is Side.SELL]
    buyers = [o for o in orders if o.side is Side.BUY]
    trades = []
    for b in buyers:
        for s in sellers:
            q = min(b.quantity_kwh, s.quantity_kwh) / (len(buyers) * len(sellers))
            if q > 0:
                trades.append(
                    Trade(
                        b.agent,
                        s.agent,
                        q,
                        price,
                        grid_fee=fee * q,
                        buy_order=b.id,
                        sell_order=s.id,
                    )
                )
    index = {str(i): i for i in range(len(forecast))}
    *_, acc = settle(orders, trades, actual, index, price, penalty)
    supplier = (acc.imported_kwh * RETAIL - acc.exported_kwh * FEED_IN).sum()
    dso = acc.network_fees + acc.penalties.sum() + acc.dso_imbalance
    assert acc.bill.sum() - supplier == pytest.approx(dso, abs=1e-9)
    assert (acc.imported_kwh >= 0).all() and (acc.exported_kwh >= 0).all()
    np.testing.assert_allclose(np.maximum(0, -actual), acc.bought_p2p_kwh + acc.imported_kwh)
    np.testing.assert_allclose(np.maximum(0, actual), acc.sold_p2p_kwh + acc.exported_kwh)
    assert (acc.bought_p2p_kwh <= acc.contracted_bought_kwh + 1e-12).all()
    assert (acc.sold_p2p_kwh <= acc.contracted_sold_kwh + 1e-12).all()
    shortfall = (acc.contracted_bought_kwh - acc.bought_p2p_kwh).sum() + (
        acc.contracted_sold_kwh - acc.sold_p2p_kwh
    ).sum()
    assert acc.penalties.sum() == pytest.approx(penalty * shortfall, abs=1e-9)
    if not any(errors[: len(forecast)]):
        assert shortfall == pytest.approx(0.0, abs=1e-12)


def test_forecasts_and_submission_times() -> None:
    rng = np.random.default_rng(1)
    load, pv = rng.uniform(0, 1, (5, 96)), rng.uniform(0, 2, (5, 96))
    assert np.array_equal(forecast_net(load, pv, rng, 0.0), pv - load)
    noisy = forecast_net(load, pv, rng, 0.1)
    assert noisy.shape == load.shape and not np.array_equal(noisy, pv - load)
    assert np.abs(noisy - (pv - load)).mean() < 0.2
    minutes = submission_minutes(20_000, rng, 3.0, 15.0, 0.1)
    late = minutes >= 3.0
    assert late.mean() == pytest.approx(0.1, abs=0.01)
    assert minutes.min() >= 0 and minutes.max() < 15.0
    assert not (submission_minutes(100, rng, 3.0, 15.0, 0.0) >= 3.0).any()
