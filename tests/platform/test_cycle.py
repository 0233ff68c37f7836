"""The trading cycle (003_dpda.md §1.5, §6 items 18-19)."""

from __future__ import annotations

from dataclasses import asdict, replace

import pytest

from peergrid.core.errors import PeergridError
from peergrid.core.orders import Order, Side
from peergrid.grid.distance import distance_matrix
from peergrid.grid.feeders import load_feeder
from peergrid.platform.cycle import CycleTimes, Phase, TradingCycle
from peergrid.sim.reproduce.thesis_books import TABLE_2_2

RADIUS_M = {"24": 100, "20": 35, "45": 280, "4": 390, "39": 80, "9": 100, "12": 400}


@pytest.mark.parametrize(
    ("minute", "phase"),
    [
        (0.0, Phase.QUOTATION),
        (2.99, Phase.QUOTATION),
        (3.0, Phase.MATCHING),
        (9.99, Phase.MATCHING),
        (10.0, Phase.FEEDBACK),
        (12.99, Phase.FEEDBACK),
        (13.0, Phase.SETTLEMENT),
        (14.99, Phase.SETTLEMENT),
        (15.0, Phase.QUOTATION),
        (33.0, Phase.MATCHING),
    ],
)
def test_phases_item_18(minute: float, phase: Phase) -> None:
    assert CycleTimes().phase_at(minute) is phase


def test_scaled_and_bad_times() -> None:
    hourly = CycleTimes.scaled(60)
    assert hourly.phase_at(11.9) is Phase.QUOTATION and hourly.phase_at(12.0) is Phase.MATCHING
    with pytest.raises(PeergridError):
        CycleTimes(15, 5, 4, 13)


def appendix_b_cycle(**kwargs: object) -> TradingCycle:
    distances = distance_matrix(load_feeder("ieee-eu-lv-reduced"))
    return TradingCycle("dpda+score", distances=distances, **kwargs)  # type: ignore[arg-type]


def orders_for(slot: int) -> list:  # type: ignore[type-arg]
    return [
        replace(o, bus=o.id, max_distance_m=RADIUS_M.get(o.id), slot=slot)
        for o in TABLE_2_2.orders()
    ]


def test_a_whole_cycle() -> None:
    cycle = appendix_b_cycle(penalty_per_kwh=0.5)
    # Cycle 0 quotes and matches delivery slot 1.
    for k, order in enumerate(orders_for(1)):
        receipt = cycle.submit(order, minute=0.1 * k)
        assert not receipt.rolled and receipt.delivery_slot == 1
    clearing = cycle.match(1)
    assert clearing.price == 16.5 and len(clearing.trades) == 6
    feedback = {f.order_id: f for f in cycle.feedback(1)}
    assert feedback["39"].won and feedback["39"].quote is not None
    assert feedback["39"].quote["bill"] == pytest.approx(264.121, abs=1e-3)
    assert not feedback["3"].won and feedback["3"].quote is None
    assert "16.5" in feedback["3"].message and "lower" in feedback["3"].message
    assert "higher" in feedback["16"].message
    # Delivered in slot 1, settled in cycle 2 against the meters.
    metered = {o: q["energy_kwh"] for o, q in clearing.info["quotes"].items()}
    metered["39"] = 15.0
    settled = {s.order_id: s for s in cycle.settle(1, metered)}
    assert settled["39"].credit == pytest.approx(0.5)
    assert settled["9"].amount == pytest.approx(1155.328, abs=1e-3)
    with pytest.raises(PeergridError, match="already settled"):
        cycle.settle(1, metered)


def test_late_orders_roll_to_the_next_cycle() -> None:
    cycle = TradingCycle("dpda")
    orders = orders_for(1)
    on_time = cycle.submit(orders[0], minute=2.5)
    late = cycle.submit(orders[1], minute=3.0)  # matching has begun
    very_late = cycle.submit(orders[2], minute=16.0)  # cycle 1 is quoting slot 2
    assert (on_time.delivery_slot, on_time.rolled) == (1, False)
    assert (late.delivery_slot, late.rolled) == (2, True)
    assert "rolled" in late.message
    assert (very_late.delivery_slot, very_late.rolled) == (2, True)
    assert [o.id for o in cycle.orders(2)] == [orders[1].id, orders[2].id]
    assert all(o.slot == 2 for o in cycle.orders(2))


def test_orders_for_a_matched_slot_or_twice_are_refused() -> None:
    cycle = TradingCycle("dpda")
    orders = orders_for(1)
    cycle.submit(orders[0], minute=0)
    with pytest.raises(PeergridError, match="duplicate"):
        cycle.submit(orders[0], minute=1)
    with pytest.raises(PeergridError, match="not been matched"):
        cycle.feedback(1)
    cycle.match(1)
    with pytest.raises(PeergridError, match="already matched"):
        cycle.submit(replace(orders[1], slot=1), minute=-10)


def test_dso_sees_results_not_bids_item_19() -> None:
    cycle = appendix_b_cycle()
    for order in orders_for(1):
        cycle.submit(order, minute=0)
    cycle.match(1)
    view = cycle.dso_view(1)
    assert view.price == 16.5 and view.traded_kwh == pytest.approx(146.0)
    assert view.dso_income == pytest.approx(1.131, abs=1e-3)
    text = repr(asdict(view))
    # No reserved price of any order reaches the DSO's channel (16.5 is the clearing price).
    for order in orders_for(1):
        if order.price != 16.5:
            assert f"'price': {order.price}" not in text
    assert "max_distance_m" not in text and "submitted_at" not in text
    for trade in view.trades:
        assert set(trade) == {"buyer", "seller", "quantity_kwh", "price", "grid_fee"}


def test_plain_dpda_settles_with_meters_too() -> None:
    cycle = TradingCycle("dpda", penalty_per_kwh=1.0)
    for order in orders_for(1):
        cycle.submit(order, minute=0)
    clearing = cycle.match(1)
    traded = {t.buy_order: 0.0 for t in clearing.trades} | {
        t.sell_order: 0.0 for t in clearing.trades
    }
    for t in clearing.trades:
        traded[t.buy_order] += t.quantity_kwh
        traded[t.sell_order] += t.quantity_kwh
    settled = cycle.settle(1, traded)
    bills = {s.order_id: s.amount for s in settled if s.side == "buy"}
    assert bills["9"] == pytest.approx(16.5 * 70)
    assert all(s.credit == 0 for s in settled)


def test_a_newer_order_replaces_the_agents_older_one_and_orders_can_be_withdrawn() -> None:
    cycle = TradingCycle("dpda")
    first, other = orders_for(1)[:2]
    late = cycle.submit(first, minute=5.0)  # rolls to slot 2
    assert late.rolled and late.delivery_slot == 2
    update = replace(first, id="update", slot=2, quantity_kwh=1.0)
    submission = cycle.submit(update, minute=16.0)  # cycle 1 quotes slot 2
    assert submission.replaced == first.id and not submission.rolled
    assert "replaces" in submission.message
    assert [(o.id, o.quantity_kwh) for o in cycle.orders(2)] == [("update", 1.0)]
    assert [o.id for o in cycle.orders(1)] == []
    # The replaced id stays used.
    with pytest.raises(PeergridError, match="duplicate"):
        cycle.submit(first, minute=16.5)
    cycle.submit(replace(other, slot=2), minute=16.5)
    assert cycle.withdraw("update").id == "update"
    assert [o.id for o in cycle.orders(2)] == [other.id]
    with pytest.raises(PeergridError, match="no such order"):
        cycle.withdraw("update")
    cycle.match(2)
    with pytest.raises(PeergridError, match="already matched"):
        cycle.withdraw(other.id)


def test_the_network_fee_reaches_trades_quotes_and_the_dso() -> None:
    plain, charged = appendix_b_cycle(), appendix_b_cycle(network_fee_per_kwh=0.01)
    for cycle in (plain, charged):
        for order in orders_for(1):
            cycle.submit(order, minute=0)
    base, with_fee = plain.match(1), charged.match(1)
    for a, b in zip(base.trades, with_fee.trades, strict=True):
        assert b.grid_fee == pytest.approx(a.grid_fee + 0.01 * a.quantity_kwh)
    traded_kwh = sum(t.quantity_kwh for t in base.trades)
    assert with_fee.info["dso_income"] == pytest.approx(base.info["dso_income"] + 0.01 * traded_kwh)
    quotes, quotes_fee = base.info["quotes"], with_fee.info["quotes"]
    for order_id, quote in quotes.items():
        share = 0.005 * quote["energy_kwh"]
        assert quotes_fee[order_id]["charge"] == pytest.approx(quote["charge"] + share)
        if "bill" in quote:
            assert quotes_fee[order_id]["bill"] == pytest.approx(quote["bill"] + share)
        else:
            assert quotes_fee[order_id]["income"] == pytest.approx(quote["income"] - share)
    with pytest.raises(PeergridError, match="network_fee_per_kwh"):
        TradingCycle("dpda", network_fee_per_kwh=-1.0)


def test_voided_trades_leave_the_clearing_quotes_and_settlement() -> None:
    cycle = appendix_b_cycle(penalty_per_kwh=0.5)
    for order in orders_for(1):
        cycle.submit(order, minute=0)
    before = cycle.match(1)
    voided = before.trades[0]
    after = cycle.void(1, [voided])
    assert len(after.trades) == len(before.trades) - 1 and voided not in after.trades
    assert after.info["voided_trades"] == 1
    assert after.info["dso_income"] == pytest.approx(before.info["dso_income"] - voided.grid_fee)
    q0, q1 = before.info["quotes"][voided.buy_order], after.info["quotes"][voided.buy_order]
    assert q1["energy_kwh"] == pytest.approx(q0["energy_kwh"] - voided.quantity_kwh)
    assert q1["charge"] == pytest.approx(q0["charge"] - voided.grid_fee / 2)
    assert q1["bill"] == pytest.approx(q1["energy_kwh"] * 16.5 + q1["charge"])
    # Settled against the quotes without the trade: meters equal to them owe no penalty.
    metered = {o: q["energy_kwh"] for o, q in after.info["quotes"].items()}
    assert all(s.credit == 0 for s in cycle.settle(1, metered))
    with pytest.raises(PeergridError, match="already settled"):
        cycle.void(1, [after.trades[0]])
    with pytest.raises(PeergridError, match="not been matched"):
        cycle.void(7, [voided])


def test_a_settled_book_can_be_forgotten_and_its_ids_used_again() -> None:
    cycle = TradingCycle("dpda")
    buy = Order("b", "B", Side.BUY, 1.0, 0.2, slot=1)
    sell = Order("s", "S", Side.SELL, 1.0, 0.1, slot=1)
    cycle.submit(buy, 0.0)
    cycle.submit(sell, 0.0)
    cycle.match(1)
    with pytest.raises(PeergridError, match="not settled yet"):
        cycle.forget(1)
    cycle.settle(1, {"b": 1.0, "s": 1.0})
    cycle.forget(1)
    with pytest.raises(PeergridError, match="not been matched"):
        cycle.dso_view(1)
    again = Order("b", "B", Side.BUY, 1.0, 0.2, slot=3)
    assert cycle.submit(again, 30.0).delivery_slot == 3
