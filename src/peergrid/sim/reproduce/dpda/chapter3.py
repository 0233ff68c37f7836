"""The worked examples of the DPDA thesis's chapter 3 (and App. B step 1), recomputed.

Examples A-I clear the thesis's order books (:mod:`peergrid.sim.reproduce.thesis_books`) with
peergrid's DAM (McAfee) and DPDA and set each printed figure (case, (x, y), price p0, oversupply,
allocations E') next to the thesis's value; every disagreement names the thesis's erratum.
"""

from __future__ import annotations

from peergrid.core.trades import Clearing
from peergrid.mechanisms.curves import sort_book
from peergrid.mechanisms.dpda import clear_dpda, dpda_at
from peergrid.mechanisms.mcafee import clear_mcafee
from peergrid.sim.reproduce.dpda.rows import Row, all_close, fmt_num, fmt_vector
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


def _e_prime(book: Book, clearing: Clearing) -> list[float]:
    return [clearing.allocations[i] for i in book.seller_ids]


def chapter_3_rows() -> list[Row]:
    """The worked examples of chapter 3 and App. B step 1, thesis against peergrid."""
    rows: list[Row] = []

    def add(
        example: str, quantity: str, thesis: str, ours: str, agrees: bool, note: str = ""
    ) -> None:
        rows.append(Row(example, quantity, thesis, ours, agrees, note))

    # Example A: DAM on Table 2.2 (L815-848)
    a = clear_mcafee(TABLE_2_2.orders())
    add(
        "A: DAM, Table 2.2",
        "case, (x, y)",
        "Case 2, (4, 5)",
        f"Case {a.info['case']}, ({a.info['x']}, {a.info['y']})",
        (a.info["case"], a.info["x"], a.info["y"]) == (2, 4, 5),
    )
    add("A: DAM, Table 2.2", "p0", "16.5", fmt_num(a.price), a.price == 16.5)
    add(
        "A: DAM, Table 2.2",
        "theta; E'(S24)",
        "3; 22",
        f"{fmt_num(a.info['theta'])}; {fmt_num(a.allocations['24'])}",
        a.info["theta"] == 3 and a.allocations["24"] == 22,
    )
    add(
        "A: DAM, Table 2.2",
        "E' (submission order)",
        "{0, 22, 0, 40, 0, 0, 14, 70} [derived]",
        fmt_vector(_e_prime(TABLE_2_2, a)),
        all_close(_e_prime(TABLE_2_2, a), [0, 22, 0, 40, 0, 0, 14, 70], 1e-9),
        "The thesis prints only E'(S24); the full vector follows eqs. 2.6/2.7.",
    )

    # Example B: DPDA on Table 2.2 (App. B, L2864-2873)
    b = clear_dpda(TABLE_2_2.orders())
    expected_b = [0, 24.25, 0, 39.25, 0, 0, 13.25, 69.25]
    add("B: DPDA, Table 2.2", "p0", "16.5", fmt_num(b.price), b.price == 16.5)
    add(
        "B: DPDA, Table 2.2",
        "winning sellers / buyers",
        "[24, 20, 45, 4] / [39, 9, 12]",
        f"{TABLE_2_2.in_seller_order(b.info['winning_sellers'])} / "
        f"{TABLE_2_2.in_buyer_order(b.info['winning_buyers'])}",
        TABLE_2_2.in_seller_order(b.info["winning_sellers"]) == ["24", "20", "45", "4"],
    )
    add(
        "B: DPDA, Table 2.2",
        "E'",
        fmt_vector(expected_b),
        fmt_vector(_e_prime(TABLE_2_2, b)),
        all_close(_e_prime(TABLE_2_2, b), expected_b, 1e-9),
        f"Case {b.info['case']} with oversupply {fmt_num(b.info['oversupply'], 4)} kWh per seller "
        "(the thesis does not name the case).",
    )

    # Example C: Scenario 12 (L1487-1527)
    c = clear_dpda(SCENARIO_12.orders())
    add(
        "C: DPDA, Scenario 12",
        "case, (x, y), p0, oversupply",
        "Case 1, (4, 5), 16.5, 1.4",
        f"Case {c.info['case']}, ({c.info['x']}, {c.info['y']}), {fmt_num(c.price)}, "
        f"{fmt_num(c.info['oversupply'])}",
        (c.info["case"], c.info["x"], c.info["y"], c.price) == (1, 4, 5, 16.5)
        and abs(c.info["oversupply"] - 1.4) < 1e-9,
    )
    add(
        "C: DPDA, Scenario 12",
        "E'",
        "{0, 24.25, 0, 39.25, 0, 0, 13.25, 69.25} [printed]",
        fmt_vector(_e_prime(SCENARIO_12, c)),
        False,
        "Erratum: the thesis prints Example B's sellers and E' here (ids 24, 20 do not exist in "
        "Table 3.3; E - 0.75, not E - 1.4). With its own oversupply 1.4 the E' are "
        "{0, 23.6, 16.6, 38.6, 0, 0, 12.6, 68.6}, which peergrid gives.",
    )

    # Example D: Scenario 13 (L1538-1584)
    d = clear_dpda(SCENARIO_13.orders())
    d77 = dpda_at(SCENARIO_13.orders(), sort_book(SCENARIO_13.orders()), 7, 7)
    add(
        "D: DPDA, Scenario 13",
        "p0, oversupply",
        "20.5, 6.2",
        f"{fmt_num(d.price)}, {fmt_num(d.info['oversupply'], 4)} (Rule R: Case {d.info['case']} at "
        f"({d.info['x']}, {d.info['y']}))",
        False,
        "Not reproducible: the thesis's winners demand 124 kWh, not the 139 it uses, and its "
        "price follows Case-2 formulas at (6, 6) where Case 1 holds. Rule R with the end-of-list "
        f"policy gives Case 3; Algorithm 2 at the thesis's (7, 7) gives Case {d77.info['case']}, "
        f"p0 = {fmt_num(d77.price)}, oversupply {fmt_num(d77.info['oversupply'], 4)}.",
    )

    # Example E: Scenario 10 (L1600-1646)
    e = clear_dpda(SCENARIO_10.orders())
    expected_e = [0, 6, 0, 21, 0, 0, 0, 51]
    add(
        "E: DPDA, Scenario 10",
        "case, (x, y), p0, oversupply",
        "Case 3, (3, 6), 20.5, 19",
        f"Case {e.info['case']}, ({e.info['x']}, {e.info['y']}), {fmt_num(e.price)}, "
        f"{fmt_num(e.info['oversupply'])}",
        (e.info["case"], e.info["x"], e.info["y"], e.price, e.info["oversupply"])
        == (3, 3, 6, 20.5, 19.0),
    )
    add(
        "E: DPDA, Scenario 10",
        "E'",
        fmt_vector(expected_e),
        fmt_vector(_e_prime(SCENARIO_10, e)),
        all_close(_e_prime(SCENARIO_10, e), expected_e, 1e-9),
        "Clipping without redistribution: sum E' = 78 kWh for a demand of 72 kWh.",
    )

    # Example F: Scenario 4 (L1655-1704), on data satisfying the digest's constraints
    f = clear_dpda(SCENARIO_4_LIKE.orders())
    expected_f = [0, 23.333, 0, 38.333, 0, 0, 12.333]
    add(
        "F: DPDA, Scenario 4",
        "p0, oversupply, E'",
        f"15.5, 1.67, {fmt_vector(expected_f)}",
        f"{fmt_num(f.price)}, {fmt_num(f.info['oversupply'], 2)}, "
        f"{fmt_vector(_e_prime(SCENARIO_4_LIKE, f))}",
        f.price == 15.5 and all_close(_e_prime(SCENARIO_4_LIKE, f), expected_f, 1e-3),
        "The thesis's buyer energies are copied from Table 2.2 (erratum); the book uses energies "
        f"that meet its stated sums. Rule R lands on ({f.info['x']}, {f.info['y']}), Case "
        f"{f.info['case']}: the thesis's 'Case 4' narrative at (5, 3) gives the same numbers.",
    )

    # Example H: P-50 cooperative (L1728-1772)
    h = clear_dpda(P50_COOP.orders())
    add(
        "H: DPDA, P-50 cooperative",
        "case, (x, y), p0, oversupply",
        "Case 4, (15, 16), 0.199, 3.438",
        f"Case {h.info['case']}, ({h.info['x']}, {h.info['y']}), {fmt_num(h.price)}, "
        f"{fmt_num(h.info['oversupply'], 4)}",
        h.info["case"] == 4 and abs((h.price or 0) - 0.199) < 1e-9,
        "The thesis prints 3.4375 as 3.438. Its tables list 25-28 entries per column; every "
        "list is cut to its first 25 (the 25 prices).",
    )
    h_winners = P50_COOP.in_seller_order(h.info["winning_sellers"])
    add(
        "H: DPDA, P-50 cooperative",
        "winning sellers",
        "16 sellers [76, 20, 114, ...]",
        f"{len(h_winners)} sellers {h_winners[:3]}...",
        h_winners
        == [
            "76",
            "20",
            "114",
            "56",
            "33",
            "97",
            "112",
            "6",
            "115",
            "12",
            "77",
            "61",
            "116",
            "38",
            "66",
            "107",
        ],
    )

    # Example I: P-50 non-cooperative (L1786-1826)
    i = clear_dpda(P50_NONCOOP.orders())
    add(
        "I: DPDA, P-50 non-cooperative",
        "case, (x, y), p0, oversupply",
        "(10, 11), 0.204, 'no oversupply'",
        f"Case {i.info['case']}, ({i.info['x']}, {i.info['y']}), {fmt_num(i.price)}, "
        f"{fmt_num(i.info['oversupply'], 4)}",
        i.info["case"] == 3 and abs((i.price or 0) - 0.204) < 1e-9,
        "The thesis's x, y are 0-based (Rule R: (11, 12) 1-based), and its E' (all E - 0.727) "
        "contradict its 'no oversupply' text: the oversupply is 8/11 kWh.",
    )
    return rows
