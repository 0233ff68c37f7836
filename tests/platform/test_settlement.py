"""Settlement adapters: what the ledger cannot settle, the DSO's feeder map, the registry."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from peergrid.core.errors import LedgerError, PeergridError
from peergrid.core.orders import Order, Side
from peergrid.core.trades import Trade
from peergrid.grid.distance import DistanceMatrix
from peergrid.ledger import EmbeddedChain, slot_transactions
from peergrid.platform.settlement import (
    MAX_MEMBERS,
    SETTLEMENTS,
    BatchSettlement,
    CommunitySettlement,
    MarketSetup,
    feeder_map_rows,
    open_settlement,
)

BUY = Order("b", "B", Side.BUY, 0.002, 0.20)
SELL = Order("s", "S", Side.SELL, 0.001, 0.10)


def trade(quantity_kwh: float, price: float = 0.15) -> Trade:
    return Trade("B", "S", quantity_kwh, price, buy_order="b", sell_order="s")


def batch(agents: list[str], deposit: float, fee: float, penalty: float, **more: object) -> Any:
    setup = MarketSetup(agents, deposit, fee, penalty, **more)  # type: ignore[arg-type]
    return BatchSettlement.open(EmbeddedChain(), setup)


def community(agents: list[str], deposit: float) -> CommunitySettlement:
    return CommunitySettlement.open(EmbeddedChain(), MarketSetup(agents, deposit))


def test_a_trade_below_one_wh_is_refused_by_either_market() -> None:
    tiny, fine = trade(0.0004), trade(0.0006)
    for market in (community(["B", "S"], 1.0), batch(["B", "S"], 1.0, 0.0, 0.0)):
        assert market.refused([BUY, SELL], [tiny, fine]) == [tiny]


def test_only_the_batch_market_checks_limits_and_what_orders_have_left() -> None:
    plain, verified = community(["B", "S"], 1.0), batch(["B", "S"], 1.0, 0.0, 0.0)
    above = trade(0.001, price=0.200001)  # one micro-unit over the buyer's limit
    assert plain.refused([BUY, SELL], [above]) == []
    assert verified.refused([BUY, SELL], [above]) == [above]
    # The 1 Wh sell order is used up by the first trade: the second is cut to 0 Wh.
    first, second = trade(0.001), trade(0.0008)
    assert plain.refused([BUY, SELL], [first, second]) == []
    assert verified.refused([BUY, SELL], [first, second]) == [second]


def test_settlements_are_found_by_the_scenario_s_market_name() -> None:
    assert set(SETTLEMENTS) == {"batch", "community"}
    chain = EmbeddedChain()
    opened = open_settlement("community", chain, MarketSetup(["A", "B"], 1.0))
    assert isinstance(opened, CommunitySettlement)
    assert opened.ledger.chain is chain  # the adapter runs on the chain it is given
    with pytest.raises(PeergridError, match="unknown ledger market 'nope'"):
        open_settlement("nope", chain, MarketSetup(["A"], 1.0))


DISTANCES = DistanceMatrix(
    buses=(3, 7, 9),
    values=np.array([[0.0, 121.332, 40.0], [121.332, 0.0, 80.0005], [40.0, 80.0005, 0.0]]),
    metric="length",
    unit="m",
)


def test_the_feeder_map_holds_every_pair_of_buses_in_millimetres() -> None:
    rows = feeder_map_rows([3, 7, 9], DISTANCES)
    assert [r.as_tuple() for r in rows] == [(4, 8, 121_332), (4, 10, 40_000), (8, 10, 80_000)]
    hops = DistanceMatrix(buses=(3, 7), values=np.zeros((2, 2)), metric="hops", unit="lines")
    with pytest.raises(ValueError, match="metres"):
        feeder_map_rows([3, 7], hops)


def test_a_batch_settlement_with_a_distance_charge_maps_the_households() -> None:
    settlement = batch(
        ["H1", "H2", "H3"],
        10.0,
        0.01,
        0.05,
        distance_charge_per_m=0.002,
        buses=[3, 7, 3],
        distances=DISTANCES,
    )
    ledger, address = settlement.ledger, settlement.address_of
    assert ledger.distance_charge_rate() == 2_000_000  # micro-units per km
    assert ledger.member_distance(address["H1"], address["H2"]) == 121_332
    assert ledger.member_distance(address["H1"], address["H3"]) == 0  # the same bus
    with pytest.raises(ValueError, match="buses"):
        batch(["H1"], 10.0, 0.01, 0.05, distance_charge_per_m=0.002)


def test_a_negative_distance_is_refused() -> None:
    bad = DistanceMatrix(
        buses=(1, 2), values=np.array([[0.0, -1.0], [-1.0, 0.0]]), metric="length", unit="m"
    )
    with pytest.raises(LedgerError, match="finite and >= 0"):
        feeder_map_rows([1, 2], bad)


def test_a_contract_delivered_in_full_reads_as_filled() -> None:
    # Two trades of 1.4 Wh each fill 1 Wh each on chain; the seller delivers its 2.8 Wh. Read
    # as round(2.8) = 3 Wh the meter would charge a penalty on 1 Wh never missing.
    settlement = batch(["B1", "B2", "S"], 10.0, 0.0, 0.05)
    orders = [
        Order("b1", "B1", Side.BUY, 0.0014, 0.20),
        Order("b2", "B2", Side.BUY, 0.0014, 0.20),
        Order("s", "S", Side.SELL, 0.0028, 0.10),
    ]
    trades = [
        Trade("B1", "S", 0.0014, 0.15, buy_order="b1", sell_order="s"),
        Trade("B2", "S", 0.0014, 0.15, buy_order="b2", sell_order="s"),
    ]
    receipts = settlement.settle(0, orders, trades, {"B1": 0.0014, "B2": 0.0014, "S": 0.0028})
    metered = [e.args for r in receipts for e in r.events_named("MeterSettled")]
    assert [(m["reference_wh"], m["metered_wh"], m["credit_micro"]) for m in metered] == [
        (1, 1, 0),
        (1, 1, 0),
        (2, 2, 0),
    ]
    # A shortfall still reads as one: the seller delivers 1.8 Wh of its 2.8.
    receipts = settlement.settle(1, orders, trades, {"B1": 0.0014, "B2": 0.0014, "S": 0.0018})
    seller = [e.args for r in receipts for e in r.events_named("MeterSettled")][-1]
    assert (seller["reference_wh"], seller["metered_wh"], seller["credit_micro"]) == (2, 1, 50)


def test_a_buyer_who_cannot_fund_its_escrow_is_refused_not_a_failed_run() -> None:
    settlement = batch(["B", "S"], 0.1, 0.0, 0.05)  # deposits of 0.1
    orders = [Order("b", "B", Side.BUY, 1.0, 0.20), Order("s", "S", Side.SELL, 1.0, 0.10)]
    trades = [Trade("B", "S", 1.0, 0.15, buy_order="b", sell_order="s")]
    assert settlement.refused(orders, trades) == trades  # 1 kWh at 0.20 needs 0.2 locked
    affordable = [Order("b", "B", Side.BUY, 0.4, 0.20), orders[1]]
    small = [Trade("B", "S", 0.4, 0.15, buy_order="b", sell_order="s")]
    assert settlement.refused(affordable, small) == []
    assert settlement.settle(0, affordable, small)


def test_max_members_states_each_markets_bound_per_slot() -> None:
    assert set(MAX_MEMBERS) == set(SETTLEMENTS)
    assert MAX_MEMBERS["community"] is None  # a slot's trades go in as many parts as needed
    settlement = batch(["B", "S"], 1.0, 0.0, 0.0)
    assert MAX_MEMBERS["batch"] == settlement.ledger.max_orders() == 1000


@pytest.mark.parametrize("market", ["batch", "community"])
def test_a_donation_to_the_contract_is_a_surplus_not_a_failure(market: str) -> None:
    chain = EmbeddedChain()
    settlement = open_settlement(market, chain, MarketSetup(["B", "S"], 1.0))
    orders = [Order("b", "B", Side.BUY, 0.002, 0.20), Order("s", "S", Side.SELL, 0.002, 0.10)]
    settlement.settle(0, orders, [Trade("B", "S", 0.002, 0.15, buy_order="b", sell_order="s")])
    assert settlement.money_conserved() and settlement.surplus_micro() == 0
    # A member takes 777 out and sends them back as a plain transfer, not a deposit: the
    # contract holds them, credited to nobody.
    ledger: Any = getattr(settlement, "ledger")  # noqa: B009 (not in the protocol)
    contract = ledger.market if market == "batch" else ledger.community
    member = settlement.address_of["S"]
    chain.transact(member, contract, "withdraw", 777)
    settlement.deposits_micro -= 777  # what the members hold in the contract now
    assert settlement.money_conserved() and settlement.surplus_micro() == 0
    chain.transact(member, ledger.token, "transfer", contract.address, 777)
    assert settlement.surplus_micro() == 777
    assert settlement.money_conserved()


@pytest.mark.slow
def test_a_slot_of_more_than_256_members_reports_its_transactions() -> None:
    agents = [f"h{i}" for i in range(300)]
    settlement = batch(agents, 1.0, 0.01, 0.0)
    orders = [
        Order(f"o{i}", a, Side.SELL if i % 2 == 0 else Side.BUY, 0.5, 0.1 if i % 2 == 0 else 0.2)
        for i, a in enumerate(agents)
    ]
    trades = [
        Trade(agents[i], agents[i - 1], 0.5, 0.15, buy_order=f"o{i}", sell_order=f"o{i - 1}")
        for i in range(1, 300, 2)
    ]
    receipts = settlement.settle(0, orders, trades)
    assert len(receipts) == slot_transactions(300, 150, 300) == 2 * 300 + 2 + 3 + 2
    assert settlement.money_conserved()
    assert settlement.ledger.slot_info(0).trade_count == 150
