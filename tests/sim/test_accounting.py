from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peergrid.core.trades import Trade
from peergrid.sim.accounting import slot_accounts


def test_one_trade_by_hand() -> None:
    # A has 2 kWh surplus, B a 3 kWh deficit; B buys 1.5 kWh from A at 0.20 with a 0.01 fee.
    net = np.array([2.0, -3.0])
    trade = Trade(buyer="B", seller="A", quantity_kwh=1.5, price=0.20, grid_fee=0.01)
    acc = slot_accounts(net, [trade], {"A": 0, "B": 1}, retail=0.30, feed_in=0.08)
    assert acc.imported_kwh.tolist() == pytest.approx([0.0, 1.5])
    assert acc.exported_kwh.tolist() == pytest.approx([0.5, 0.0])
    assert acc.bill[0] == pytest.approx(-(1.5 * 0.20 - 0.005) - 0.5 * 0.08)
    assert acc.bill[1] == pytest.approx(1.5 * 0.20 + 0.005 + 1.5 * 0.30)
    assert acc.baseline_bill.tolist() == pytest.approx([-2.0 * 0.08, 3.0 * 0.30])
    assert acc.network_fees == pytest.approx(0.01)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-5, 5, allow_nan=False), min_size=2, max_size=8),
    st.floats(0.08, 0.30),
    st.floats(0, 0.02),
)
def test_money_between_members_balances(net_list: list[float], price: float, fee: float) -> None:
    """Whatever the trades, members' P2P payments net to the DSO's fees."""
    net = np.array(net_list)
    sellers = [i for i, v in enumerate(net) if v > 0]
    buyers = [i for i, v in enumerate(net) if v < 0]
    trades = []
    for b in buyers:
        for s in sellers:
            q = min(-net[b], net[s]) / (len(buyers) * len(sellers))
            if q > 0:
                trades.append(
                    Trade(
                        buyer=str(b), seller=str(s), quantity_kwh=q, price=price, grid_fee=fee * q
                    )
                )
    index = {str(i): i for i in range(len(net))}
    acc = slot_accounts(net, trades, index, retail=0.30, feed_in=0.08)
    supplier = (acc.imported_kwh * 0.30 - acc.exported_kwh * 0.08).sum()
    assert acc.bill.sum() - supplier == pytest.approx(acc.network_fees, abs=1e-9)
    assert (acc.imported_kwh >= 0).all() and (acc.exported_kwh >= 0).all()
    # Physical balance per household: own deficit = bought + imported, surplus = sold + exported.
    np.testing.assert_allclose(np.maximum(0, -net), acc.bought_p2p_kwh + acc.imported_kwh)
    np.testing.assert_allclose(np.maximum(0, net), acc.sold_p2p_kwh + acc.exported_kwh)
