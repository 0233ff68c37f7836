"""From core trades (kWh, currency) to settlement trades (Wh, micro-currency), and the hash."""

from __future__ import annotations

import logging

import pytest
from eth_utils import keccak

from peergrid.core.errors import LedgerError
from peergrid.core.trades import Trade
from peergrid.ledger import SettlementTrade, order_set_hash, settlement_trades, split_settleable

from .helpers import make_community

ADDRESS = {"alice": "0x" + "a1" * 20, "bob": "0x" + "b0" * 20}


def test_units_are_converted_to_integers() -> None:
    trade = Trade("alice", "bob", quantity_kwh=1.234, price=0.123457, slot=3, grid_fee=0.001001)
    (converted,) = settlement_trades([trade], ADDRESS)
    assert converted == SettlementTrade(ADDRESS["alice"], ADDRESS["bob"], 1234, 123_457, 1001)


def test_energy_rounds_to_the_nearest_wh() -> None:
    trades = [
        Trade("alice", "bob", quantity_kwh=0.0014, price=0.1),  # 1.4 Wh -> 1
        Trade("alice", "bob", quantity_kwh=0.0016, price=0.1),  # 1.6 Wh -> 2
        Trade("alice", "bob", quantity_kwh=0.0025, price=0.1),  # 2.5 Wh -> 2 (half to even)
    ]
    assert [t.energy_wh for t in settlement_trades(trades, ADDRESS)] == [1, 2, 2]


def test_trades_below_half_a_wh_are_dropped_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    tiny = Trade("alice", "bob", quantity_kwh=0.0004, price=0.2, slot=12)
    kept = Trade("alice", "bob", quantity_kwh=0.5, price=0.2, slot=12)
    settleable, dropped = split_settleable([tiny, kept], ADDRESS)
    assert dropped == [tiny]
    assert [t.energy_wh for t in settleable] == [500]
    with caplog.at_level(logging.WARNING, logger="peergrid.ledger.markets.community"):
        assert len(settlement_trades([tiny, kept], ADDRESS)) == 1
    assert "rounds to 0 Wh" in caplog.text and "slot 12" in caplog.text


def test_an_agent_without_address_is_named() -> None:
    with pytest.raises(LedgerError, match="carol"):
        settlement_trades([Trade("carol", "bob", quantity_kwh=1.0, price=0.1)], ADDRESS)


def test_negative_fees_are_refused() -> None:
    with pytest.raises(LedgerError, match="must not be negative"):
        settlement_trades([Trade("alice", "bob", 1.0, 0.1, grid_fee=-0.01)], ADDRESS)


def test_settlement_trade_refuses_negative_or_non_integer_values() -> None:
    with pytest.raises(ValueError, match="energy_wh"):
        SettlementTrade("a", "b", -1, 1, 0)
    with pytest.raises(ValueError, match="price_micro_per_kwh"):
        SettlementTrade("a", "b", 1, 1.5, 0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fee", "buyer_half", "seller_half"), [(0, 0, 0), (1, 1, 0), (2, 1, 1), (1001, 501, 500)]
)
def test_buyer_pays_the_larger_half_of_the_fee(fee: int, buyer_half: int, seller_half: int) -> None:
    trade = SettlementTrade("a", "b", 1000, 100_000, fee)
    assert (trade.buyer_fee_micro, trade.seller_fee_micro) == (buyer_half, seller_half)
    assert trade.buyer_pays_micro == trade.seller_receives_micro + fee


def test_order_set_hash_is_keccak256() -> None:
    document = b'{"orders":[{"id":"1","price":0.1,"quantity_kwh":2,"side":"buy"}]}'
    assert order_set_hash(document) == keccak(document)
    assert len(order_set_hash(document)) == 32
    assert order_set_hash(b"") == bytes.fromhex(
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )
    with pytest.raises(TypeError):
        order_set_hash("not bytes")  # type: ignore[arg-type]


def test_converted_trades_settle_as_the_client_predicts() -> None:
    community = make_community(n_members=3)
    a, b, c = community.members
    address_of = {"a": a, "b": b, "c": c}
    trades = [
        Trade("a", "b", quantity_kwh=2.5, price=0.21, grid_fee=0.0125),
        Trade("c", "a", quantity_kwh=0.333, price=0.187654, grid_fee=0.000003),
        Trade("b", "c", quantity_kwh=0.0001, price=0.3),  # 0 Wh: dropped
    ]
    converted = settlement_trades(trades, address_of)
    before = {m: community.ledger.balance_of(m) for m in community.members}
    community.ledger.settle_slot(1, order_set_hash(b"{}"), converted)
    expected = dict(before)
    for t in converted:
        expected[t.buyer] -= t.buyer_pays_micro
        expected[t.seller] += t.seller_receives_micro
    assert {m: community.ledger.balance_of(m) for m in community.members} == expected
    assert community.ledger.dso_balance() == sum(t.fee_micro for t in converted) == 12_503
