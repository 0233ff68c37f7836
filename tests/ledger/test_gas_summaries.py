"""The gas table's top-level figures: each from one named contract, under its stated key."""

from __future__ import annotations

from peergrid.bench.gas import format_gas_table, gas_table


def test_each_summary_names_its_contract_and_adds_up_its_entries() -> None:
    table = gas_table(settle_base_trades=1, settle_extra_trades=2)
    functions = table["functions"]
    gas = {name: entry["gas"] for name, entry in functions.items()}
    # The keys readers rely on, from the contracts the issue names.
    assert table["per_order_placed"] == gas["place_order"]
    assert table["per_order_placed_first_use"] == gas["place_order_first_use"]
    # Steady state reuses a word a left order made nonzero: 20 000 - 2 900 gas less, but for
    # the calldata of the hints, whose later nonces have more nonzero bytes (12 gas each).
    assert 17_000 < gas["place_order_first_use"] - gas["place_order"] <= 17_100
    assert table["per_trade_settled"] == gas["clearing_per_trade"]
    assert table["per_trade_settled_charged"] == gas["clearing_per_charged_trade"]
    assert table["per_trade_metered"] == gas["clearing_per_trade"] + 2 * gas["meter_reading"]
    assert table["per_trade_settled_community"] == gas["settlement_per_trade"]
    assert table["commit_reveal_per_order"] == gas["commit"] + gas["reveal"]
    contracts = {key: s["contract"] for key, s in table["summaries"].items()}
    assert contracts == {
        "per_order_placed": "OrderBook",
        "per_order_placed_first_use": "OrderBook",
        "per_trade_settled": "BatchMarket",
        "per_trade_settled_charged": "BatchMarket",
        "per_trade_metered": "BatchMarket",
        "per_trade_settled_community": "Community",
        "commit_reveal_per_order": "BatchMarket",
    }
    text = format_gas_table(table)
    assert f"per trade settled: {gas['clearing_per_trade']:,} gas (BatchMarket" in text
    assert f"per order placed: {gas['place_order']:,} gas (OrderBook" in text


def test_a_summary_whose_entries_were_not_measured_is_null() -> None:
    table = gas_table(entries=["deposit", "commit"], settle_base_trades=1, settle_extra_trades=1)
    assert table["per_trade_settled"] is None and table["per_order_placed"] is None
    assert table["commit_reveal_per_order"] is None  # the reveal was not measured
    assert "per trade settled: not measured" in format_gas_table(table)
