"""The thesis's worked-example books live with the reproduction; the tests use the same data."""

from peergrid.sim.reproduce.thesis_books import (
    P50_COOP,
    P50_NONCOOP,
    SCENARIO_4_LIKE,
    SCENARIO_10,
    SCENARIO_12,
    SCENARIO_13,
    TABLE_2_2,
    Book,
)

__all__ = [
    "P50_COOP",
    "P50_NONCOOP",
    "SCENARIO_4_LIKE",
    "SCENARIO_10",
    "SCENARIO_12",
    "SCENARIO_13",
    "TABLE_2_2",
    "Book",
]
