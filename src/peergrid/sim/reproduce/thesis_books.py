"""Order books of the DPDA thesis's worked examples (digest 003_dpda.md §3).

Every list is in *submission order*, exactly as printed in the thesis; ``L###`` is the line of
the thesis text (seed 003) the numbers come from. Where the thesis's own table is
wrong the fixture says so and follows the digest's correction.

Order ids are the thesis's prosumer ids as strings. Within every example the seller ids and the
buyer ids are disjoint, so the bare numbers are unique order ids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from peergrid.core.orders import Order, Side


@dataclass(frozen=True)
class Book:
    """One example's inputs, each list in submission order."""

    name: str
    seller_ids: tuple[str, ...]
    seller_energy: tuple[float, ...]
    seller_price: tuple[float, ...]
    buyer_ids: tuple[str, ...]
    buyer_energy: tuple[float, ...]
    buyer_price: tuple[float, ...]

    def __post_init__(self) -> None:
        assert len(self.seller_ids) == len(self.seller_energy) == len(self.seller_price)
        assert len(self.buyer_ids) == len(self.buyer_energy) == len(self.buyer_price)
        assert not set(self.seller_ids) & set(self.buyer_ids)

    def orders(self) -> list[Order]:
        """Sellers then buyers, each side in submission order (``submitted_at`` = file position)."""
        orders: list[Order] = []
        sellers = zip(self.seller_ids, self.seller_energy, self.seller_price, strict=True)
        for i, (sid, e, p) in enumerate(sellers):
            orders.append(Order(sid, sid, Side.SELL, e, p, submitted_at=i))
        offset = len(self.seller_ids)
        buyers = zip(self.buyer_ids, self.buyer_energy, self.buyer_price, strict=True)
        for j, (bid, e, p) in enumerate(buyers):
            orders.append(Order(bid, bid, Side.BUY, e, p, submitted_at=offset + j))
        return orders

    def seller_energy_by_id(self) -> Mapping[str, float]:
        return dict(zip(self.seller_ids, self.seller_energy, strict=True))

    def in_seller_order(self, ids: Sequence[str]) -> list[str]:
        """``ids`` rearranged into submission order (the order the thesis prints winners in)."""
        wanted = set(ids)
        return [i for i in self.seller_ids if i in wanted]

    def in_buyer_order(self, ids: Sequence[str]) -> list[str]:
        wanted = set(ids)
        return [i for i in self.buyer_ids if i in wanted]


def _ids(*numbers: int) -> tuple[str, ...]:
    return tuple(str(n) for n in numbers)


# ------------------------------------------------------------------------------------------------
# Table 2.2 (L805-813): Example A (McAfee DAM, L815-848) and Example B (DPDA, App. B L2864-2873).
TABLE_2_2 = Book(
    name="table_2_2",
    seller_ids=_ids(3, 24, 11, 20, 13, 6, 45, 4),  # L808
    seller_energy=(30, 25, 18, 40, 50, 21, 14, 70),  # L810
    seller_price=(20, 10, 16, 5, 16, 25, 7, 2),  # L812
    buyer_ids=_ids(16, 39, 10, 9, 5, 8, 12),  # L809
    buyer_energy=(20, 16, 50, 70, 24, 19, 60),  # L811
    buyer_price=(17, 28, 6, 30, 8, 15, 23),  # L813
)

# ------------------------------------------------------------------------------------------------
# Table 3.3 (L1487-1495): Example C, Scenario 12, "ideal" Case 1 of Algorithm 2.
# L1491 lists only 7 buyer ids for 8 buyers [AMBIG, digest §3.3], so the buyers are named by their
# 1-based submission position ("p1".."p8") instead; winners are compared by position.
SCENARIO_12 = Book(
    name="scenario_12",
    seller_ids=_ids(73, 44, 11, 32, 53, 6, 45, 4),  # L1490
    seller_energy=(30, 25, 18, 40, 50, 21, 14, 70),  # L1492
    seller_price=(20, 10, 16, 5, 18, 25, 7, 2),  # L1494
    buyer_ids=tuple(f"p{k}" for k in range(1, 9)),  # L1491 (7 ids printed, 8 buyers)
    buyer_energy=(80, 35, 43, 15, 28, 64, 30, 46),  # L1493 (sum 341, Table 3.1 row 12)
    buyer_price=(17, 28, 6, 30, 8, 15, 23, 10),  # L1495
)

# ------------------------------------------------------------------------------------------------
# Table 3.4 (L1542-1550): Example D, Scenario 13. Internally inconsistent in the thesis (digest
# §3.4); only the sorted lists and the sums 250/261 are oracles, plus the [DERIVED] results.
SCENARIO_13 = Book(
    name="scenario_13",
    seller_ids=_ids(53, 44, 11, 72, 63, 6, 51, 4),  # L1545
    seller_energy=(30, 25, 18, 40, 50, 21, 14, 70),  # L1547
    seller_price=(16, 10, 16, 5, 15, 13, 7, 5),  # L1549
    buyer_ids=_ids(46, 41, 10, 9, 75, 80, 12, 77),  # L1546
    buyer_energy=(80, 35, 43, 15, 28, 64, 30, 46),  # L1548
    buyer_price=(17, 28, 26, 30, 28, 19, 23, 30),  # L1550
)

# ------------------------------------------------------------------------------------------------
# Table 3.5 (L1602-1610): Example E, Scenario 10, Case 3 with clipping.
SCENARIO_10 = Book(
    name="scenario_10",
    seller_ids=_ids(3, 14, 11, 2, 13, 6, 15, 4),  # L1605
    seller_energy=(30, 25, 18, 40, 50, 21, 14, 70),  # L1607
    seller_price=(20, 10, 16, 5, 18, 25, 7, 2),  # L1609
    buyer_ids=_ids(16, 1, 10, 9, 5, 8, 12),  # L1606
    buyer_energy=(30, 45, 13, 27, 18, 39, 96),  # L1608 (sum 268)
    buyer_price=(15, 28, 6, 30, 8, 15, 23),  # L1610
)

# ------------------------------------------------------------------------------------------------
# Table 3.6 (L1665-1674): Example F, Scenario 4, "F-like" data (digest §3.6, §6 item 2).
# Sellers: ids, prices as printed; only the first 7 of the 8 printed energies apply (sum 198,
# Table 3.1). Buyers: ids and prices as printed; the printed energies (L1670) are copied from
# Table 2.2 [ERRATUM]. The energies below are chosen (not from the thesis) to satisfy the
# digest's constraints: sorted buyers B1..B4 (ids 2, 14, 15, 3) sum to 74 kWh, buyer 6 (price 15,
# 5th sorted) has E > 5 kWh, and the total is 150 kWh (Table 3.1 row 4).
SCENARIO_4_LIKE = Book(
    name="scenario_4_like",
    seller_ids=_ids(16, 1, 10, 9, 5, 8, 12),  # L1667
    seller_energy=(30, 25, 18, 40, 50, 21, 14),  # L1669, first 7 values
    seller_price=(20, 10, 16, 5, 16, 25, 7),  # L1671
    buyer_ids=_ids(3, 14, 11, 2, 13, 6, 15, 4),  # L1668
    # ids:        3   14  11  2   13  6   15  4
    buyer_energy=(20, 16, 20, 20, 13, 19, 18, 24),  # chosen, see above (sum 150)
    buyer_price=(17, 28, 6, 30, 8, 15, 23, 10),  # L1672
)

# ------------------------------------------------------------------------------------------------
# P-50 (Tables 3.7/3.8, L1732-1740 and L1790-1798). Every list is cut to its first 25 entries
# (digest §3.7); the seller and buyer energies are identical in both tables.
# fmt: off
P50_SELLER_IDS = _ids(
    76, 20, 114, 56, 33, 72, 41, 9, 97, 112, 6, 115, 65, 83, 12, 77, 61, 32, 116, 93, 38, 73, 103,
    66, 107,
)  # L1735 / L1793 (+ 46, 106, 88 unused)
P50_BUYER_IDS = _ids(
    10, 53, 87, 23, 81, 48, 28, 36, 59, 110, 39, 4, 80, 45, 96, 24, 51, 113, 101, 11, 95, 63, 29,
    44, 102,
)  # L1736 / L1794 (+ 49, 75 unused)
P50_ENERGY = (
    80, 45, 37, 30, 25, 30, 40, 30, 35, 28, 33, 47, 34, 80, 22, 50, 40, 43, 15, 20, 60, 37, 44,
    18, 80,
)  # L1737-1738 / L1795-1796, first 25 of each (sum 1003)

P50_COOP = Book(
    name="p50_cooperative",
    seller_ids=P50_SELLER_IDS,
    seller_energy=P50_ENERGY,
    seller_price=(
        0.198, 0.172, 0.172, 0.195, 0.196, 0.203, 0.213, 0.201, 0.167, 0.175, 0.173, 0.178,
        0.201, 0.201, 0.187, 0.167, 0.184, 0.207, 0.189, 0.228, 0.172, 0.200, 0.221, 0.171,
        0.191,
    ),  # L1739
    buyer_ids=P50_BUYER_IDS,
    buyer_energy=P50_ENERGY,
    buyer_price=(
        0.199, 0.202, 0.199, 0.189, 0.224, 0.200, 0.226, 0.193, 0.200, 0.189, 0.194, 0.211,
        0.210, 0.194, 0.204, 0.198, 0.211, 0.195, 0.218, 0.187, 0.205, 0.187, 0.195, 0.192,
        0.218,
    ),  # L1740
)

P50_NONCOOP = Book(
    name="p50_noncooperative",
    seller_ids=P50_SELLER_IDS,
    seller_energy=P50_ENERGY,
    seller_price=(
        0.287, 0.206, 0.155, 0.168, 0.147, 0.170, 0.240, 0.197, 0.221, 0.249, 0.182, 0.246,
        0.204, 0.199, 0.227, 0.204, 0.186, 0.289, 0.214, 0.213, 0.194, 0.146, 0.269, 0.169,
        0.2175,
    ),  # L1797 (the "sorted" printout at L1802 shows 0.217 for the last value)
    buyer_ids=P50_BUYER_IDS,
    buyer_energy=P50_ENERGY,
    buyer_price=(
        0.188, 0.209, 0.182, 0.189, 0.229, 0.195, 0.211, 0.193, 0.171, 0.193, 0.191, 0.206,
        0.192, 0.223, 0.161, 0.210, 0.192, 0.222, 0.204, 0.235, 0.194, 0.196, 0.212, 0.223,
        0.178,
    ),  # L1798
)
# fmt: on
