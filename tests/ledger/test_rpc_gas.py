"""Gas per function (``peergrid bench gas``): Eq. 1 costs, and embedded against anvil receipts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from peergrid.bench.gas import (
    EUR_PER_GAS,
    cost_eur,
    format_gas_table,
    gas_entry,
    gas_table,
)
from peergrid.ledger import EmbeddedChain, SettlementTrade, order_set_hash
from peergrid.ledger.chain.rpc import RpcChain

from .conftest import make_community_on


@pytest.fixture(scope="module")
def embedded_table() -> dict[str, Any]:
    return gas_table()


def test_eq1_prices_gas_as_the_vdma_paper() -> None:
    # 3.2e-9 ETH per gas x 273.90 EUR per ETH (004_vdma.md, Eq. 1 and its parameters)
    assert pytest.approx(8.7648e-7, rel=1e-12) == EUR_PER_GAS
    assert cost_eur(114_093) == pytest.approx(0.1000, abs=5e-5)  # the digest's 0.10 EUR/shout
    assert cost_eur(1_000_000) == pytest.approx(0.87648)
    assert cost_eur(1000, gwei_per_gas=1.0, eur_per_eth=1000.0) == pytest.approx(1e-3)


def test_the_table_has_one_entry_per_function(embedded_table: dict[str, Any]) -> None:
    table = embedded_table
    functions = table["functions"]
    for name in functions:
        entry = functions[name]
        assert set(entry) == {"gas", "eur", "calls", "note"}
        assert isinstance(entry["gas"], int) and entry["gas"] > 0
        assert entry["eur"] == round(cost_eur(entry["gas"]), 6)
    # Whole transactions cost more than the 21 000 every transaction pays; a marginal trade less.
    whole = ("register", "deposit", "withdraw", "commit", "reveal", "place_order")
    whole += ("place_order_first_use",)
    assert all(functions[n]["gas"] > 21_000 for n in whole)
    marginal = ("settlement_per_trade", "clearing_per_trade", "match_per_trade", "meter_reading")
    assert all(1_000 < functions[n]["gas"] < 40_000 for n in marginal)
    assert table["per_trade_settled"] == functions["clearing_per_trade"]["gas"]  # batch market
    placed = functions.get("place_order")
    assert table["per_order_placed"] == (placed["gas"] if placed else None)
    market = {"commit", "reveal", "clearing_per_trade", "place_order", "match_per_trade"}
    assert market | {"meter_reading"} <= set(functions)  # the market clients exist now
    assert table["not_measured"] == {}
    assert table["chain"] == {"backend": "EmbeddedChain", "chain_id": 1337}
    assert json.loads(json.dumps(table)) == table  # plain JSON
    text = format_gas_table(table)
    assert all(name in text for name in functions)
    assert "per trade settled" in text and "Eq. 1" in text


def test_the_per_trade_figure_predicts_a_55_trade_slot(embedded_table: dict[str, Any]) -> None:
    """Fixed part + 55 x marginal trade = one settlement of 55 trades in a running community."""
    functions = embedded_table["functions"]
    community = make_community_on(EmbeddedChain(), n_members=110)
    m = community.members
    trades = [SettlementTrade(m[2 * i], m[2 * i + 1], 500, 100_000, 10) for i in range(55)]
    community.ledger.settle_slot(1, order_set_hash(b"earlier"), trades[:3])  # fees to the DSO
    (receipt,) = community.ledger.settle_slot(2, order_set_hash(b"55"), trades)
    predicted = functions["settlement_fixed"]["gas"] + 55 * functions["settlement_per_trade"]["gas"]
    assert receipt.gas_used == pytest.approx(predicted, rel=0.002)


def test_an_entry_name_is_registered_once() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        gas_entry("deposit")(lambda bench: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="at least 1"):
        gas_table(settle_extra_trades=0)
    with pytest.raises(ValueError, match="no gas entry nonsense"):
        gas_table(entries=["nonsense"])


def test_an_entry_whose_client_module_is_missing_is_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("peergrid.bench.gas._module_exists", lambda module: False)
    table = gas_table(entries=["deposit", "place_order"])
    assert set(table["functions"]) == {"deposit"}
    assert table["not_measured"] == {
        "place_order": "no client module peergrid.ledger.markets.orderbook yet"
    }
    assert table["per_order_placed"] is None and table["per_trade_settled"] is None


@pytest.mark.slow
def test_embedded_gas_equals_anvil_receipts(
    rpc_chain: RpcChain, embedded_table: dict[str, Any]
) -> None:
    """The same measurements from anvil's receipts.

    Calls whose calldata holds no address (deposit, withdraw, an empty slot's settlement) cost
    exactly the same. The others carry addresses, which differ between the backends: each zero
    byte in an address costs 4 gas of calldata instead of 16 (EIP-2028), so those may differ by
    a multiple of 12 gas, and by a fraction of that per trade in the averaged per-trade figure.
    """
    community = [
        "register",
        "approve",
        "deposit",
        "withdraw",
        "settlement_per_trade",
        "settlement_fixed",
        "settlement_empty_slot",
    ]
    on_anvil = gas_table(rpc_chain, entries=community)
    assert on_anvil["chain"] == {"backend": "RpcChain", "chain_id": 31337}
    embedded, rpc = embedded_table["functions"], on_anvil["functions"]
    assert set(rpc) == set(community)
    for name in ("deposit", "withdraw", "settlement_empty_slot"):
        assert rpc[name]["gas"] == embedded[name]["gas"], name
    for name in ("register", "approve"):  # one address in the calldata
        difference = rpc[name]["gas"] - embedded[name]["gas"]
        assert difference % 12 == 0 and abs(difference) <= 12 * 20, name
    for name in ("settlement_per_trade", "settlement_fixed"):  # addresses in every trade
        difference = rpc[name]["gas"] - embedded[name]["gas"]
        assert abs(difference) <= 12 * 40 * 5, name
