"""The thesis's worked examples as oracles: acceptance checks 1-8 and 10 of 003_dpda.md §6.

Numbers come from the digest (shared/spec/003_dpda.md §3); the [DERIVED] corrections are used
where the thesis's printout is wrong. Line numbers ``L###`` refer to
shared/seeds/003_760f1c2c666dcab8.txt, spec sections to the digest.

Tolerances (§6): 1e-9 for prices, cases and exact sums; 1e-3 for E'; 5e-4 for the P-50 E'
(the thesis prints 3 d.p.).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

import pytest

from peergrid.core.errors import OrderError, PeergridError
from peergrid.core.orders import Order
from peergrid.core.trades import Clearing
from peergrid.mechanisms import clear
from peergrid.mechanisms.curves import intersection, sort_book
from peergrid.mechanisms.dpda import clear_dpda, dpda_at
from peergrid.mechanisms.mcafee import clear_mcafee

from .books import (
    P50_COOP,
    P50_NONCOOP,
    SCENARIO_4_LIKE,
    SCENARIO_10,
    SCENARIO_12,
    SCENARIO_13,
    TABLE_2_2,
    Book,
)

PRICE_TOL = 1e-9
ENERGY_TOL = 1e-9  # exact sums of integer kWh
E_PRIME_TOL = 1e-3
P50_E_PRIME_TOL = 5e-4


# ------------------------------------------------------------------------------------------------
# helpers


def e_prime(result: Clearing, book: Book) -> list[float]:
    """E'(S) in submission order, losers included (the thesis's print format)."""
    return [result.allocations[i] for i in book.seller_ids]


def winning_sellers(result: Clearing, book: Book) -> list[str]:
    """Winning seller ids in submission order (the thesis prints them in that order)."""
    return book.in_seller_order(result.info["winning_sellers"])


def winning_buyers(result: Clearing, book: Book) -> list[str]:
    return book.in_buyer_order(result.info["winning_buyers"])


def assert_close_list(actual: Sequence[float], expected: Sequence[float], tol: float) -> None:
    assert len(actual) == len(expected)
    assert list(actual) == pytest.approx(list(expected), abs=tol)


def assert_trades_consistent(result: Clearing, book: Book) -> None:
    """Trades at p0, between winners, per buyer = allocation, per seller <= E'."""
    assert result.price is not None
    winners_b = set(result.info["winning_buyers"])
    winners_s = set(result.info["winning_sellers"])
    per_buyer: dict[str, float] = defaultdict(float)
    per_seller: dict[str, float] = defaultdict(float)
    for trade in result.trades:
        assert trade.price == pytest.approx(result.price, abs=PRICE_TOL)
        assert trade.quantity_kwh > 0
        assert trade.buy_order in winners_b
        assert trade.sell_order in winners_s
        per_buyer[trade.buy_order] += trade.quantity_kwh
        per_seller[trade.sell_order] += trade.quantity_kwh
    for bid in book.buyer_ids:
        assert per_buyer[bid] == pytest.approx(result.allocations[bid], abs=ENERGY_TOL)
    for sid in book.seller_ids:
        assert per_seller[sid] <= result.allocations[sid] + ENERGY_TOL


def assert_buyers_fully_served(result: Clearing, book: Book) -> None:
    demand = dict(zip(book.buyer_ids, book.buyer_energy, strict=True))
    winners = set(result.info["winning_buyers"])
    for bid in book.buyer_ids:
        expected = demand[bid] if bid in winners else 0.0
        assert result.allocations[bid] == pytest.approx(expected, abs=ENERGY_TOL), bid


# ------------------------------------------------------------------------------------------------
# §6 item 1: sorting (stable; sellers ascending, buyers descending by price)

# [DERIVED] sorted prices and cumulative energies of P-50 (§3.8, §3.9)
# fmt: off
H_SORTED_SELL = [
    0.167, 0.167, 0.171, 0.172, 0.172, 0.172, 0.173, 0.175, 0.178, 0.184, 0.187, 0.189, 0.191,
    0.195, 0.196, 0.198, 0.2, 0.201, 0.201, 0.201, 0.203, 0.207, 0.213, 0.221, 0.228,
]
H_SORTED_BUY = [
    0.226, 0.224, 0.218, 0.218, 0.211, 0.211, 0.21, 0.205, 0.204, 0.202, 0.2, 0.2, 0.199, 0.199,
    0.198, 0.195, 0.195, 0.194, 0.194, 0.193, 0.192, 0.189, 0.189, 0.187, 0.187,
]
H_CUM_S = [
    35, 85, 103, 148, 185, 245, 278, 306, 353, 393, 415, 430, 510, 540, 565, 645, 682, 712, 746,
    826, 856, 899, 939, 983, 1003,
]
H_CUM_B = [
    40, 65, 80, 160, 207, 247, 281, 341, 363, 408, 438, 473, 553, 590, 640, 683, 727, 760, 840,
    870, 888, 918, 946, 966, 1003,
]
I_CUM_S = [37, 62, 99, 129, 147, 177, 210, 250, 310, 340, 420, 454]
I_CUM_B = [20, 45, 125, 143, 186, 230, 270, 320, 365, 412, 427, 464]
# fmt: on

SORTED_PRICES = [
    # book, P'(S), P'(B)
    pytest.param(
        TABLE_2_2, [2, 5, 7, 10, 16, 16, 20, 25], [30, 28, 23, 17, 15, 8, 6], id="A-L824-828"
    ),
    pytest.param(
        SCENARIO_12,
        [2, 5, 7, 10, 16, 18, 20, 25],
        [30, 28, 23, 17, 15, 10, 8, 6],
        id="C-L1501-1505",
    ),
    pytest.param(
        SCENARIO_13,
        [5, 5, 7, 10, 13, 15, 16, 16],
        [30, 30, 28, 28, 26, 23, 19, 17],
        id="D-L1554-1558",
    ),
    pytest.param(
        SCENARIO_10, [2, 5, 7, 10, 16, 18, 20, 25], [30, 28, 23, 15, 15, 8, 6], id="E-L1616-1620"
    ),
    pytest.param(
        SCENARIO_4_LIKE,
        [5, 7, 10, 16, 16, 20, 25],
        [30, 28, 23, 17, 15, 10, 8, 6],
        id="F-L1676-1680",
    ),
    pytest.param(P50_COOP, H_SORTED_SELL, H_SORTED_BUY, id="H-derived-3.8"),
]


@pytest.mark.parametrize(("book", "sell_prices", "buy_prices"), SORTED_PRICES)
def test_sorted_prices_match_thesis(
    book: Book, sell_prices: list[float], buy_prices: list[float]
) -> None:
    sorted_book = sort_book(book.orders())
    assert [o.price for o in sorted_book.sellers] == pytest.approx(sell_prices, abs=PRICE_TOL)
    assert [o.price for o in sorted_book.buyers] == pytest.approx(buy_prices, abs=PRICE_TOL)


def test_sorted_prices_p50_noncooperative_prefix() -> None:
    # [DERIVED] §3.9: only the first 14 seller and 13 buyer prices are printed.
    sorted_book = sort_book(P50_NONCOOP.orders())
    sell = [0.146, 0.147, 0.155, 0.168, 0.169, 0.17, 0.182, 0.186, 0.194, 0.197, 0.199, 0.204]
    sell += [0.204, 0.206]
    buy = [0.235, 0.229, 0.223, 0.223, 0.222, 0.212, 0.211, 0.21, 0.209, 0.206, 0.204, 0.196]
    buy += [0.195]
    assert [o.price for o in sorted_book.sellers[:14]] == pytest.approx(sell, abs=PRICE_TOL)
    assert [o.price for o in sorted_book.buyers[:13]] == pytest.approx(buy, abs=PRICE_TOL)


SORTED_IDS = [
    # Hand-derived from the tables with a stable sort (ties keep submission order).
    pytest.param(
        TABLE_2_2,
        ["4", "20", "45", "24", "11", "13", "3", "6"],  # 11 and 13 both at 16
        ["9", "39", "12", "16", "8", "5", "10"],
        id="A",
    ),
    pytest.param(
        SCENARIO_12,
        ["4", "32", "45", "44", "11", "53", "73", "6"],
        ["p4", "p2", "p7", "p1", "p6", "p8", "p5", "p3"],
        id="C",
    ),
    pytest.param(
        SCENARIO_13,
        ["72", "4", "51", "44", "6", "63", "53", "11"],  # 72/4 at 5, 53/11 at 16
        ["9", "77", "41", "75", "10", "12", "80", "46"],  # 9/77 at 30, 41/75 at 28
        id="D",
    ),
    pytest.param(
        SCENARIO_10,
        ["4", "2", "15", "14", "11", "13", "3", "6"],
        ["9", "1", "12", "16", "8", "5", "10"],  # 16/8 at 15
        id="E",
    ),
    pytest.param(
        SCENARIO_4_LIKE,
        ["9", "12", "1", "10", "5", "16", "8"],  # 10/5 at 16
        ["2", "14", "15", "3", "6", "4", "13", "11"],
        id="F",
    ),
]


@pytest.mark.parametrize(("book", "sellers", "buyers"), SORTED_IDS)
@pytest.mark.parametrize("mechanism", ["dpda", "mcafee"])
def test_sorted_ids_are_stable(
    book: Book, sellers: list[str], buyers: list[str], mechanism: str
) -> None:
    assert [o.id for o in sort_book(book.orders()).sellers] == sellers
    assert [o.id for o in sort_book(book.orders()).buyers] == buyers
    result = clear(mechanism, book.orders())
    assert result.info["sorted_sellers"] == sellers
    assert result.info["sorted_buyers"] == buyers


CUMULATIVE = [
    # book, cumS, cumB (prefixes); sources in the ids
    pytest.param(
        TABLE_2_2,
        [70, 110, 124, 149, 167, 217, 247, 268],
        [70, 86, 146, 166, 185, 209, 259],
        id="A-derived-3.1",
    ),
    pytest.param(SCENARIO_4_LIKE, [40, 54, 79, 97, 147, 177, 198], [20, 36, 54, 74], id="F-3.6"),
    pytest.param(P50_COOP, H_CUM_S, H_CUM_B, id="H-derived-3.8"),
    pytest.param(P50_NONCOOP, I_CUM_S, I_CUM_B, id="I-derived-3.9"),
]


@pytest.mark.parametrize(("book", "cum_s", "cum_b"), CUMULATIVE)
def test_cumulative_energy(book: Book, cum_s: list[float], cum_b: list[float]) -> None:
    sorted_book = sort_book(book.orders())
    assert [sorted_book.cum_s(y) for y in range(1, len(cum_s) + 1)] == pytest.approx(cum_s)
    assert [sorted_book.cum_b(x) for x in range(1, len(cum_b) + 1)] == pytest.approx(cum_b)


def test_scenario_13_sums_250_261() -> None:
    # L1566 (the only numbers of Example D usable as an oracle, §3.4): at (7, 7).
    sorted_book = sort_book(SCENARIO_13.orders())
    assert sorted_book.cum_s(7) == pytest.approx(250, abs=ENERGY_TOL)
    assert sorted_book.cum_b(7) == pytest.approx(261, abs=ENERGY_TOL)


# ------------------------------------------------------------------------------------------------
# §6 item 2: Rule R intersection (1-based)

INTERSECTIONS = [
    pytest.param(TABLE_2_2, (4, 5), id="A/B-L830"),
    pytest.param(SCENARIO_12, (4, 5), id="C-L1507"),
    pytest.param(SCENARIO_10, (3, 6), id="E-L1622"),
    pytest.param(SCENARIO_4_LIKE, (4, 3), id="F-like-3.6"),
    pytest.param(P50_COOP, (15, 16), id="H-L1750"),
    pytest.param(P50_NONCOOP, (11, 12), id="I-L1808-0-based-erratum"),
]


@pytest.mark.parametrize(("book", "expected"), INTERSECTIONS)
def test_rule_r_intersection(book: Book, expected: tuple[int, int]) -> None:
    assert intersection(sort_book(book.orders())) == expected
    for mechanism in ("dpda", "mcafee"):
        info = clear(mechanism, book.orders()).info
        assert (info["x"], info["y"]) == expected


# ------------------------------------------------------------------------------------------------
# §6 item 3: DAM (Algorithm 1, eqs. 2.6/2.7) on Table 2.2 - Example A, L830-848


def test_dam_table_2_2() -> None:
    result = clear_mcafee(TABLE_2_2.orders())
    assert result.info["case"] == 2  # 15.5 not in [16, 17], L832-834
    assert result.price == pytest.approx(16.5, abs=PRICE_TOL)  # L838
    assert winning_sellers(result, TABLE_2_2) == ["24", "20", "45", "4"]  # L834
    assert winning_buyers(result, TABLE_2_2) == ["39", "9", "12"]
    assert result.info["theta"] == pytest.approx(3, abs=PRICE_TOL)  # 149 - 146, L842-844
    assert_close_list(e_prime(result, TABLE_2_2), [0, 22, 0, 40, 0, 0, 14, 70], E_PRIME_TOL)
    assert_buyers_fully_served(result, TABLE_2_2)
    assert_trades_consistent(result, TABLE_2_2)


def test_dam_does_not_reproduce_algorithm_1_inverted_test_when_supply_exceeds() -> None:
    # [ERRATUM] §2.2: Algorithm 1's printed "if sum S < sum B then E' = Max(0, E - theta)" would
    # leave seller 24 at 25 kWh here (149 > 146); (2.6)/(2.7) cut it to 22 (L846).
    result = clear_mcafee(TABLE_2_2.orders())
    assert result.allocations["24"] == pytest.approx(22, abs=E_PRIME_TOL)
    assert result.allocations["24"] != pytest.approx(25, abs=E_PRIME_TOL)


def test_dam_does_not_reproduce_algorithm_1_inverted_test_when_supply_short() -> None:
    # P-50 cooperative, DAM: Case 2 with theta = -25 ([DERIVED] §3.8). The inverted test would
    # *raise* the last winning seller (id 33, 25 kWh) to Max(0, 25 + 25) = 50.
    result = clear_mcafee(P50_COOP.orders())
    assert result.info["case"] == 2
    assert result.info["theta"] == pytest.approx(-25, abs=ENERGY_TOL)
    assert result.info["winning_sellers"][-1] == "33"
    energy = P50_COOP.seller_energy_by_id()
    for sid in result.info["winning_sellers"]:
        assert result.allocations[sid] == pytest.approx(energy[sid], abs=E_PRIME_TOL)


def test_dam_scenario_10() -> None:
    # [DERIVED] §3.5: Case 2, p0 = 20.5, theta = 95, only id 11 is cut to 0.
    result = clear_mcafee(SCENARIO_10.orders())
    assert result.info["case"] == 2
    assert result.price == pytest.approx(20.5, abs=PRICE_TOL)
    assert result.info["theta"] == pytest.approx(95, abs=ENERGY_TOL)
    assert_close_list(e_prime(result, SCENARIO_10), [0, 25, 0, 40, 0, 0, 14, 70], E_PRIME_TOL)
    assert_buyers_fully_served(result, SCENARIO_10)
    assert_trades_consistent(result, SCENARIO_10)


def test_dam_p50_cooperative_buyer_deficit() -> None:
    # [DERIVED] §3.8: Case 2, p0 = 0.198, 15 sellers (565 kWh) for 14 buyers (590 kWh).
    result = clear_mcafee(P50_COOP.orders())
    assert result.price == pytest.approx(0.198, abs=PRICE_TOL)
    assert len(result.info["winning_sellers"]) == 15
    assert len(result.info["winning_buyers"]) == 14
    energy = P50_COOP.seller_energy_by_id()
    assert sum(energy[s] for s in result.info["winning_sellers"]) == pytest.approx(565)
    demand = dict(zip(P50_COOP.buyer_ids, P50_COOP.buyer_energy, strict=True))
    assert sum(demand[b] for b in result.info["winning_buyers"]) == pytest.approx(590)
    # The deficit is left with the buyers: only 565 kWh are delivered.
    assert result.info["traded_kwh"] == pytest.approx(565, abs=ENERGY_TOL)
    assert sum(result.allocations[b] for b in P50_COOP.buyer_ids) == pytest.approx(565)
    assert_trades_consistent(result, P50_COOP)


def test_dam_p50_noncooperative() -> None:
    # [DERIVED] §3.9: Case 2, p0 = 0.204, theta = 8, only seller 83 is cut (80 -> 72).
    result = clear_mcafee(P50_NONCOOP.orders())
    assert result.info["case"] == 2
    assert result.price == pytest.approx(0.204, abs=PRICE_TOL)
    assert result.info["theta"] == pytest.approx(8, abs=ENERGY_TOL)
    energy = P50_NONCOOP.seller_energy_by_id()
    for sid in result.info["winning_sellers"]:
        expected = 72.0 if sid == "83" else energy[sid]
        assert result.allocations[sid] == pytest.approx(expected, abs=E_PRIME_TOL), sid
    assert_buyers_fully_served(result, P50_NONCOOP)
    assert_trades_consistent(result, P50_NONCOOP)


# ------------------------------------------------------------------------------------------------
# §6 item 4: DPDA on Table 2.2 - Example B, App. B L2864-2873


def test_dpda_table_2_2() -> None:
    result = clear_dpda(TABLE_2_2.orders())
    assert result.info["case"] == 3  # [DERIVED] §3.2
    assert result.price == pytest.approx(16.5, abs=PRICE_TOL)  # L2868
    assert winning_sellers(result, TABLE_2_2) == ["24", "20", "45", "4"]  # L2870
    assert winning_buyers(result, TABLE_2_2) == ["39", "9", "12"]
    assert result.info["oversupply"] == pytest.approx(0.75, abs=PRICE_TOL)  # (149 - 146) / 4
    expected = [0.0, 24.25, 0.0, 39.25, 0.0, 0.0, 13.25, 69.25]  # L2873
    assert_close_list(e_prime(result, TABLE_2_2), expected, E_PRIME_TOL)
    assert sum(e_prime(result, TABLE_2_2)) == pytest.approx(146, abs=ENERGY_TOL)
    assert result.info["clipping_excess_kwh"] == pytest.approx(0, abs=ENERGY_TOL)
    assert result.info["individual_rationality_violations"] == []
    assert_buyers_fully_served(result, TABLE_2_2)
    assert_trades_consistent(result, TABLE_2_2)


def test_dpda_table_2_2_merit_order_trades() -> None:
    # pairing.py: winning buyers by priority (9, 39, 12) filled from sellers by priority
    # (4, 20, 45, 24), all at p0 = 16.5.
    result = clear_dpda(TABLE_2_2.orders())
    got = [(t.buy_order, t.sell_order, t.quantity_kwh, t.price) for t in result.trades]
    expected = [
        ("9", "4", 69.25, 16.5),
        ("9", "20", 0.75, 16.5),
        ("39", "20", 16.0, 16.5),
        ("12", "20", 22.5, 16.5),
        ("12", "45", 13.25, 16.5),
        ("12", "24", 24.25, 16.5),
    ]
    assert len(got) == len(expected)
    for (b, s, q, p), (eb, es, eq, ep) in zip(got, expected, strict=True):
        assert (b, s) == (eb, es)
        assert q == pytest.approx(eq, abs=ENERGY_TOL)
        assert p == pytest.approx(ep, abs=PRICE_TOL)
    assert all(t.buyer == t.buy_order and t.seller == t.sell_order for t in result.trades)


# ------------------------------------------------------------------------------------------------
# §6 item 5: DPDA Scenario 10 - Example E, L1602-1646


def test_dpda_scenario_10_clipping() -> None:
    result = clear_dpda(SCENARIO_10.orders())
    assert result.info["case"] == 3
    assert result.price == pytest.approx(20.5, abs=PRICE_TOL)  # L1634
    assert winning_sellers(result, SCENARIO_10) == ["14", "11", "2", "15", "4"]  # L1630
    assert winning_buyers(result, SCENARIO_10) == ["1", "9"]
    assert result.info["oversupply"] == pytest.approx(19, abs=PRICE_TOL)  # L1638
    expected = [0.0, 6.0, 0.0, 21.0, 0.0, 0.0, 0.0, 51.0]  # L1642
    assert_close_list(e_prime(result, SCENARIO_10), expected, E_PRIME_TOL)
    # Clipping is not redistributed: sum E' = 78 against a demand of 72.
    assert sum(e_prime(result, SCENARIO_10)) == pytest.approx(78, abs=ENERGY_TOL)
    assert result.info["traded_kwh"] == pytest.approx(72, abs=ENERGY_TOL)
    assert result.info["clipping_excess_kwh"] == pytest.approx(6, abs=ENERGY_TOL)
    assert_buyers_fully_served(result, SCENARIO_10)
    assert_trades_consistent(result, SCENARIO_10)


def test_dpda_scenario_10_merit_order_trades() -> None:
    # Buyers 9 (27 kWh), 1 (45 kWh) from sellers 4 (51), 2 (21), 15 (0), 14 (6), 11 (0): the
    # clipping excess stays with the highest-priced winner (14).
    result = clear_dpda(SCENARIO_10.orders())
    got = [(t.buy_order, t.sell_order, t.quantity_kwh) for t in result.trades]
    assert [(b, s) for b, s, _ in got] == [("9", "4"), ("1", "4"), ("1", "2")]
    assert [q for _, _, q in got] == pytest.approx([27, 24, 21], abs=ENERGY_TOL)


# ------------------------------------------------------------------------------------------------
# §6 item 6: DPDA Scenario 12 - Example C, L1487-1527, with the [DERIVED] outputs of §3.3


def test_dpda_scenario_12_case_1() -> None:
    result = clear_dpda(SCENARIO_12.orders())
    assert result.info["case"] == 1  # 16.5 in [16, 17] and 160 <= 167, L1509-1515
    assert result.price == pytest.approx(16.5, abs=PRICE_TOL)
    assert result.info["oversupply"] == pytest.approx(1.4, abs=PRICE_TOL)  # L1519
    sellers = winning_sellers(result, SCENARIO_12)
    assert [SCENARIO_12.seller_ids.index(s) for s in sellers] == [1, 2, 3, 6, 7]  # 0-based
    assert sellers == ["44", "11", "32", "45", "4"]
    # Buyers at submitted positions 1, 2, 4, 7 (1-based; prices 17, 28, 30, 23).
    assert winning_buyers(result, SCENARIO_12) == ["p1", "p2", "p4", "p7"]
    expected = [0.0, 23.6, 16.6, 38.6, 0.0, 0.0, 12.6, 68.6]  # [DERIVED] §3.3, not L1521
    assert_close_list(e_prime(result, SCENARIO_12), expected, E_PRIME_TOL)
    assert sum(e_prime(result, SCENARIO_12)) == pytest.approx(160, abs=ENERGY_TOL)
    assert_buyers_fully_served(result, SCENARIO_12)
    assert_trades_consistent(result, SCENARIO_12)


def test_dpda_scenario_12_is_not_the_copied_erratum() -> None:
    # [ERRATUM] L1521 prints Example B's E' (E - 0.75); the correct values are E - 1.4.
    copied = [0.0, 24.25, 0.0, 39.25, 0.0, 0.0, 13.25, 69.25]
    assert e_prime(clear_dpda(SCENARIO_12.orders()), SCENARIO_12) != pytest.approx(copied)


# ------------------------------------------------------------------------------------------------
# F-like data (Scenario 4, §3.6): Case 1 at Rule R's (4, 3)


def test_dpda_scenario_4_like() -> None:
    result = clear_dpda(SCENARIO_4_LIKE.orders())
    assert result.info["case"] == 1
    assert result.price == pytest.approx(15.5, abs=PRICE_TOL)  # (16 + 15) / 2, L1686
    assert result.info["oversupply"] == pytest.approx(5 / 3, abs=PRICE_TOL)  # L1696 "1.67"
    assert winning_sellers(result, SCENARIO_4_LIKE) == ["1", "9", "12"]
    assert winning_buyers(result, SCENARIO_4_LIKE) == ["3", "14", "2", "15"]
    expected = [0.0, 23.33, 0.0, 38.33, 0.0, 0.0, 12.33]  # L1700
    assert_close_list(e_prime(result, SCENARIO_4_LIKE), expected, 0.01)  # printed to 2 d.p.
    exact = [0.0, 25 - 5 / 3, 0.0, 40 - 5 / 3, 0.0, 0.0, 14 - 5 / 3]
    assert_close_list(e_prime(result, SCENARIO_4_LIKE), exact, E_PRIME_TOL)
    assert_buyers_fully_served(result, SCENARIO_4_LIKE)
    assert_trades_consistent(result, SCENARIO_4_LIKE)


# ------------------------------------------------------------------------------------------------
# §6 item 7: P-50 cooperative (first 25 entries) - Example H, L1728-1772


def test_dpda_p50_cooperative_case_4() -> None:
    result = clear_dpda(P50_COOP.orders())
    assert result.info["case"] == 4  # [DERIVED] §3.8
    assert result.price == pytest.approx(0.199, abs=PRICE_TOL)  # L1772
    assert result.info["oversupply"] == pytest.approx(3.4375, abs=PRICE_TOL)  # L1764 "3.438"
    assert winning_sellers(result, P50_COOP) == [
        "76", "20", "114", "56", "33", "97", "112", "6",
        "115", "12", "77", "61", "116", "38", "66", "107",
    ]  # fmt: skip  # L1760
    assert winning_buyers(result, P50_COOP) == [
        "10", "53", "87", "81", "48", "28", "59", "4", "80", "96", "51", "101", "95", "102",
    ]  # fmt: skip
    # fmt: off
    expected = [
        76.562, 41.562, 33.562, 26.562, 21.562, 31.562, 24.562, 29.562, 43.562, 18.562, 46.562,
        36.562, 11.562, 56.562, 14.562, 76.562,
    ]  # L1768, the 16 winners in submission order
    # fmt: on
    got = [result.allocations[s] for s in winning_sellers(result, P50_COOP)]
    # The printed values are E - 3.4375 rounded half-even to 3 d.p., so each is exactly 5e-4
    # away from the true value: compare to the printout with 5e-4 plus float slack, and to the
    # exact values at 1e-9.
    assert_close_list(got, expected, P50_E_PRIME_TOL + 1e-9)
    energy = P50_COOP.seller_energy_by_id()
    exact = [energy[s] - 55 / 16 for s in winning_sellers(result, P50_COOP)]
    assert_close_list(got, exact, PRICE_TOL)
    losers = set(P50_COOP.seller_ids) - set(result.info["winning_sellers"])
    assert all(result.allocations[s] == 0 for s in losers)
    assert sum(got) == pytest.approx(590, abs=ENERGY_TOL)  # 645 - 590 shared by 16
    assert_buyers_fully_served(result, P50_COOP)
    assert_trades_consistent(result, P50_COOP)


def test_dpda_p50_cooperative_ir_margin_zero() -> None:
    # §6 item 9: in P-50 coop the Case-4 price equals the limit of the last winning buyers
    # (p0 = 0.199 = P(B_14)); individual rationality holds with equality, nobody is flagged.
    result = clear_dpda(P50_COOP.orders())
    prices = dict(zip(P50_COOP.buyer_ids, P50_COOP.buyer_price, strict=True))
    assert min(prices[b] for b in result.info["winning_buyers"]) == pytest.approx(0.199)
    assert result.info["individual_rationality_violations"] == []


# ------------------------------------------------------------------------------------------------
# §6 item 8: P-50 non-cooperative - Example I, L1786-1826


def test_dpda_p50_noncooperative_case_3() -> None:
    result = clear_dpda(P50_NONCOOP.orders())
    assert result.info["case"] == 3
    assert result.price == pytest.approx(0.204, abs=PRICE_TOL)  # L1818
    # [ERRATUM] L1820 says "no oversupply shared"; the E' of L1824 need 8/11.
    assert result.info["oversupply"] == pytest.approx(8 / 11, abs=PRICE_TOL)
    assert winning_sellers(result, P50_NONCOOP) == [
        "114", "56", "33", "72", "9", "6", "83", "61", "38", "73", "66",
    ]  # fmt: skip  # L1816
    assert winning_buyers(result, P50_NONCOOP) == [
        "53", "81", "28", "4", "45", "24", "113", "11", "29", "44",
    ]  # fmt: skip
    expected = [
        36.273, 29.273, 24.273, 29.273, 29.273, 32.273, 79.273, 39.273, 59.273, 36.273, 17.273,
    ]  # fmt: skip  # L1824
    got = [result.allocations[s] for s in winning_sellers(result, P50_NONCOOP)]
    assert_close_list(got, expected, P50_E_PRIME_TOL)
    energy = P50_NONCOOP.seller_energy_by_id()
    exact = [energy[s] - 8 / 11 for s in winning_sellers(result, P50_NONCOOP)]
    assert_close_list(got, exact, PRICE_TOL)
    assert sum(got) == pytest.approx(412, abs=ENERGY_TOL)  # 420 - 412 shared by 11
    assert result.info["individual_rationality_violations"] == []
    assert_buyers_fully_served(result, P50_NONCOOP)
    assert_trades_consistent(result, P50_NONCOOP)


# ------------------------------------------------------------------------------------------------
# §6 item 10 and §2.3: Scenario 13 (Example D) - end of list, and Case 2 at a hand-given (x, y)


def test_scenario_13_rule_r_does_not_crash_and_documents_policy() -> None:
    # Rule R gives (7, 8): P(S_9) does not exist. Documented policy (curves.midpoint_in_band):
    # the check counts as failed, so Case 3 - the digest's [DERIVED] result (§3.4):
    # p0 = (P(S_8) + P(B_7)) / 2 = (16 + 19) / 2 = 17.5, oversupply (250 - 197) / 7 = 53/7.
    book = SCENARIO_13
    result = clear_dpda(book.orders())
    assert (result.info["x"], result.info["y"]) == (7, 8)
    assert result.info["case"] == 3
    assert result.price == pytest.approx(17.5, abs=PRICE_TOL)
    assert result.info["oversupply"] == pytest.approx(53 / 7, abs=PRICE_TOL)
    assert winning_sellers(result, book) == ["53", "44", "72", "63", "6", "51", "4"]
    assert winning_buyers(result, book) == ["41", "10", "9", "75", "12", "77"]
    energy = book.seller_energy_by_id()
    expected = [0.0 if s == "11" else max(0.0, energy[s] - 53 / 7) for s in book.seller_ids]
    assert_close_list(e_prime(result, book), expected, E_PRIME_TOL)
    assert_buyers_fully_served(result, book)
    assert_trades_consistent(result, book)


def test_scenario_13_dam_does_not_crash() -> None:
    # Same end-of-list policy in the DAM: Case 2 at (7, 8), p0 = 17.5, theta = 250 - 197 = 53,
    # the last winning seller (53, 30 kWh) is cut to 0.
    result = clear_mcafee(SCENARIO_13.orders())
    assert (result.info["x"], result.info["y"]) == (7, 8)
    assert result.info["case"] == 2
    assert result.price == pytest.approx(17.5, abs=PRICE_TOL)
    assert result.info["theta"] == pytest.approx(53, abs=ENERGY_TOL)
    assert result.allocations["53"] == pytest.approx(0, abs=E_PRIME_TOL)
    assert_buyers_fully_served(result, SCENARIO_13)
    assert_trades_consistent(result, SCENARIO_13)


def test_dpda_at_thesis_intersection_7_7_gives_case_2() -> None:
    # [DERIVED] §3.4: Algorithm 2 at the thesis's (7, 7): (16 + 17)/2 = 16.5 in [16, 19] and
    # 261 > 250, so Case 2: sellers S_1..S_6, buyers B_1..B_5, p0 = (P(S_7) + P(B_6)) / 2.
    book = SCENARIO_13
    orders = book.orders()
    result = dpda_at(orders, sort_book(orders), 7, 7)
    assert result.info["case"] == 2
    assert (result.info["x"], result.info["y"]) == (7, 7)
    assert winning_sellers(result, book) == ["44", "72", "63", "6", "51", "4"]
    assert winning_buyers(result, book) == ["41", "10", "9", "75", "77"]
    assert result.price == pytest.approx(19.5, abs=PRICE_TOL)
    assert result.info["oversupply"] == pytest.approx(53 / 6, abs=PRICE_TOL)  # (220 - 167) / 6
    energy = book.seller_energy_by_id()
    winners = set(result.info["winning_sellers"])
    expected = [energy[s] - 53 / 6 if s in winners else 0.0 for s in book.seller_ids]
    assert_close_list(e_prime(result, book), expected, E_PRIME_TOL)
    assert_buyers_fully_served(result, book)
    assert_trades_consistent(result, book)


def test_dpda_at_rejects_point_outside_book() -> None:
    orders = SCENARIO_13.orders()
    with pytest.raises(ValueError, match="outside"):
        dpda_at(orders, sort_book(orders), 9, 1)


@pytest.mark.parametrize(
    "book",
    [TABLE_2_2, SCENARIO_12, SCENARIO_13, SCENARIO_10, SCENARIO_4_LIKE, P50_COOP, P50_NONCOOP],
    ids=lambda b: b.name,
)
def test_case_2_unreachable_through_rule_r(book: Book) -> None:
    # §2.3 / §6 item 10: Case 2's guard contradicts eq. 2.3, which Rule R's (x, y) satisfies.
    assert clear_dpda(book.orders()).info["case"] in {1, 3, 4}


# ------------------------------------------------------------------------------------------------
# the registry


@pytest.mark.parametrize(
    ("name", "function"), [("dpda", clear_dpda), ("mcafee", clear_mcafee)], ids=["dpda", "mcafee"]
)
def test_registry_dispatches_by_name(
    name: str, function: Callable[[Sequence[Order]], Clearing]
) -> None:
    orders = TABLE_2_2.orders()
    assert clear(name, orders).to_dict() == function(orders).to_dict()
    assert clear(name, orders).info["mechanism"] == name


def test_registry_rejects_unknown_mechanism_and_params() -> None:
    with pytest.raises(PeergridError, match="nope"):
        clear("nope", TABLE_2_2.orders())
    with pytest.raises(OrderError, match="params"):
        clear("dpda", TABLE_2_2.orders(), {"alpha": 1})
