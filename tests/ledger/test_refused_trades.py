"""What each contract refuses, stated once in Python: the batch price rule and refused trades.

The batch market verifies every fill: its price, in micro-units, at least the sell order's limit
and at most the buy order's, and its energy within what both orders have left. The community
contract checks neither: it only refuses a trade of 0 Wh. ``batch_refused_trades`` and
``community_refused_trades`` name the trades each would not settle, so that the cycle voids them
before it posts; a property test pins them to the rule as the simulation first wrote it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peergrid.core.errors import LedgerError
from peergrid.core.orders import Order, Side
from peergrid.core.trades import Trade
from peergrid.core.units import kwh_to_wh, to_micro
from peergrid.ledger import (
    Fill,
    RevealedOrder,
    batch_refused_trades,
    community_refused_trades,
    fill_within_limits,
    settled_wh,
    within_price_limits,
)
from peergrid.ledger.markets.batch_market import clear

BUYER, SELLER = "0x" + "b" * 40, "0x" + "5" * 40


def _buy(order_id: str, kwh: float, price: float) -> Order:
    return Order(order_id, f"agent-{order_id}", Side.BUY, kwh, price)


def _sell(order_id: str, kwh: float, price: float) -> Order:
    return Order(order_id, f"agent-{order_id}", Side.SELL, kwh, price)


def _trade(buy: Order, sell: Order, kwh: float, price: float) -> Trade:
    return Trade(buy.agent, sell.agent, kwh, price, buy_order=buy.id, sell_order=sell.id)


# --- the price rule -------------------------------------------------------------------------


def test_a_price_at_either_limit_is_within_and_one_micro_unit_beyond_is_not() -> None:
    assert within_price_limits(100_000, 80_000, 120_000)
    assert within_price_limits(80_000, 80_000, 120_000)  # at the seller's limit
    assert within_price_limits(120_000, 80_000, 120_000)  # at the buyer's limit
    assert within_price_limits(100_000, 100_000, 100_000)  # at both
    assert not within_price_limits(120_001, 80_000, 120_000)
    assert not within_price_limits(79_999, 80_000, 120_000)
    assert not within_price_limits(100_000, 100_001, 99_999)  # limits that do not cross


def test_fill_within_limits_reads_the_fills_orders() -> None:
    revealed = [
        RevealedOrder(BUYER, True, 1000, 120_000),
        RevealedOrder(SELLER, False, 1000, 80_000),
    ]
    assert fill_within_limits(Fill(0, 1, 500, 120_000), revealed)
    assert fill_within_limits(Fill(0, 1, 500, 80_000), revealed)
    assert not fill_within_limits(Fill(0, 1, 500, 120_001), revealed)
    assert not fill_within_limits(Fill(0, 1, 500, 79_999), revealed)


@pytest.mark.parametrize(
    ("price", "reason"),
    [
        (120_001, "price above the buyer's limit"),
        (79_999, "price below the seller's limit"),
        (120_000, None),
        (80_000, None),
    ],
)
def test_clear_refuses_exactly_the_fills_outside_the_rule(price: int, reason: str | None) -> None:
    revealed = [
        RevealedOrder(BUYER, True, 1000, 120_000),
        RevealedOrder(SELLER, False, 1000, 80_000),
    ]
    fill = Fill(0, 1, 500, price)
    assert fill_within_limits(fill, revealed) is (reason is None)
    if reason is None:
        assert clear(revealed, [fill], 0).energy_wh == 500
    else:
        with pytest.raises(LedgerError, match=reason):
            clear(revealed, [fill], 0)


# --- the trades each market refuses ---------------------------------------------------------


def test_a_dpda_price_above_a_buyers_limit_is_refused_on_the_batch_market_only() -> None:
    """DPDA Case 4 can clear at a price above a buyer's limit (003 §6 item 9)."""
    buy, sell = _buy("b1", 1.0, 0.10), _sell("s1", 1.0, 0.05)
    above = _trade(buy, sell, 1.0, 0.12)
    assert batch_refused_trades([buy, sell], [above]) == [above]
    assert community_refused_trades([buy, sell], [above]) == []


def test_a_price_below_a_sellers_limit_is_refused() -> None:
    buy, sell = _buy("b1", 1.0, 0.10), _sell("s1", 1.0, 0.08)
    below = _trade(buy, sell, 1.0, 0.07)
    assert batch_refused_trades([buy, sell], [below]) == [below]


def test_a_price_exactly_at_both_limits_is_kept() -> None:
    buy, sell = _buy("b1", 1.0, 0.10), _sell("s1", 1.0, 0.10)
    at_both = _trade(buy, sell, 1.0, 0.10)
    assert batch_refused_trades([buy, sell], [at_both]) == []
    assert community_refused_trades([buy, sell], [at_both]) == []


def test_limits_are_compared_in_micro_units() -> None:
    buy, sell = _buy("b1", 1.0, 0.10), _sell("s1", 1.0, 0.05)
    rounds_to_the_limit = _trade(buy, sell, 1.0, 0.1000004)  # 100 000 micro-units
    one_unit_beyond = _trade(buy, sell, 0.5, 0.1000006)  # 100 001 micro-units
    trades = [rounds_to_the_limit, one_unit_beyond]
    assert batch_refused_trades([buy, sell], trades) == [one_unit_beyond]


def test_a_trade_that_rounds_to_0_wh_is_refused_on_both_markets() -> None:
    buy, sell = _buy("b1", 1.0, 0.10), _sell("s1", 1.0, 0.05)
    tiny = _trade(buy, sell, 0.0004, 0.08)  # 0.4 Wh
    whole = _trade(buy, sell, 0.0006, 0.08)  # 0.6 Wh -> 1 Wh
    assert batch_refused_trades([buy, sell], [tiny, whole]) == [tiny]
    assert community_refused_trades([buy, sell], [tiny, whole]) == [tiny]


def test_a_trade_cut_to_nothing_by_earlier_trades_on_its_order_is_refused() -> None:
    buy = _buy("b1", 1.0, 0.10)
    first, second = _sell("s1", 1.0, 0.05), _sell("s2", 1.0, 0.05)
    takes_all = _trade(buy, first, 1.0, 0.08)
    left_nothing = _trade(buy, second, 1.0, 0.08)
    orders = [buy, first, second]
    assert batch_refused_trades(orders, [takes_all, left_nothing]) == [left_nothing]
    # Cut, not emptied: what is left still settles.
    half = _trade(buy, first, 0.5, 0.08)
    assert batch_refused_trades(orders, [half, left_nothing]) == []
    # The community contract does not know the orders' quantities.
    assert community_refused_trades(orders, [takes_all, left_nothing]) == []


def test_price_refusals_come_first_then_energy_refusals_each_in_trade_order() -> None:
    buy = _buy("b1", 1.0, 0.10)
    s1, s2, s3 = _sell("s1", 1.0, 0.05), _sell("s2", 1.0, 0.05), _sell("s3", 1.0, 0.05)
    trades = [
        _trade(buy, s1, 0.0001, 0.08),  # 0 Wh
        _trade(buy, s2, 1.0, 0.12),  # above the buyer's limit
        _trade(buy, s3, 1.0, 0.08),  # takes all of b1
        _trade(buy, s1, 0.5, 0.11),  # above the buyer's limit
        _trade(buy, s2, 0.5, 0.08),  # b1 has nothing left
    ]
    refused = batch_refused_trades([buy, s1, s2, s3], trades)
    assert refused == [trades[1], trades[3], trades[0], trades[4]]


# --- pinned to the rule as the simulation first wrote it ------------------------------------


def _reference(orders: Sequence[Order], trades: Sequence[Trade], *, batch: bool) -> list[Trade]:
    """``sim.settlement.unsettleable`` before it called the ledger's functions."""
    by_id = {o.id: o for o in orders}
    refused: list[Trade] = []
    kept: list[Trade] = []
    for t in trades:
        within = not batch or (
            to_micro(by_id[t.sell_order].price)
            <= to_micro(t.price)
            <= to_micro(by_id[t.buy_order].price)
        )
        (kept if within else refused).append(t)
    wanted = [kwh_to_wh(t.quantity_kwh) for t in kept]
    if batch:
        position = {o.id: i for i, o in enumerate(orders)}
        legs = [(position[t.buy_order], position[t.sell_order]) for t in kept]
        wanted = settled_wh(wanted, legs, [kwh_to_wh(o.quantity_kwh) for o in orders])
    return refused + [t for t, energy in zip(kept, wanted, strict=True) if energy <= 0]


PRICES = st.sampled_from([0.05, 0.0799996, 0.08, 0.0800004, 0.1, 0.1000006, 0.12])
KWH = st.sampled_from([0.0001, 0.0004, 0.0005, 0.0006, 0.25, 0.5, 1.0, 1.5])


@st.composite
def slots(draw: st.DrawFn) -> tuple[list[Order], list[Trade]]:
    buys = [_buy(f"b{i}", draw(KWH), draw(PRICES)) for i in range(draw(st.integers(1, 3)))]
    sells = [_sell(f"s{i}", draw(KWH), draw(PRICES)) for i in range(draw(st.integers(1, 3)))]
    trades = [
        _trade(draw(st.sampled_from(buys)), draw(st.sampled_from(sells)), draw(KWH), draw(PRICES))
        for _ in range(draw(st.integers(0, 6)))
    ]
    orders = draw(st.permutations(buys + sells))
    return list(orders), trades


@settings(max_examples=300, deadline=None)
@given(slots())
def test_the_refused_trades_are_the_simulations_rule(slot: tuple[list[Order], list[Trade]]) -> None:
    orders, trades = slot
    assert batch_refused_trades(orders, trades) == _reference(orders, trades, batch=True)
    assert community_refused_trades(orders, trades) == _reference(orders, trades, batch=False)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 200_000), st.integers(0, 200_000), st.integers(0, 200_000), st.booleans())
def test_fill_within_limits_is_the_simulations_rule(
    price: int, sell_limit: int, buy_limit: int, swap: bool
) -> None:
    """``sim.settlement._within_limits`` compared the fill's price with its revealed orders."""
    buy = RevealedOrder(BUYER, True, 1000, buy_limit)
    sell = RevealedOrder(SELLER, False, 1000, sell_limit)
    revealed, fill = (
        ([sell, buy], Fill(1, 0, 10, price)) if swap else ([buy, sell], Fill(0, 1, 10, price))
    )
    expected = sell_limit <= price <= buy_limit
    assert fill_within_limits(fill, revealed) is expected
    assert within_price_limits(price, sell_limit, buy_limit) is expected
