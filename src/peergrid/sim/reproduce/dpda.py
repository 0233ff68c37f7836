"""``peergrid reproduce dpda``: the DPDA thesis's worked examples and comparisons, regenerated.

Every figure the thesis prints for its chapter 3 examples and its Appendix B is recomputed by
peergrid's own mechanisms and written next to the thesis's value, with a word on every
difference (the thesis's errata are documented in the digest 003_dpda.md and
docs/decisions.md). Distances are path lengths on the reduced IEEE European LV feeder, whose
bus ids are the thesis's vertex numbers, so the thesis's prosumer ids are used as buses.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from peergrid.core.orders import Order
from peergrid.core.trades import Clearing
from peergrid.grid.distance import DistanceMatrix, distance_matrix
from peergrid.grid.feeders import load_feeder
from peergrid.mechanisms.curves import sort_book
from peergrid.mechanisms.dpda import clear_dpda, dpda_at
from peergrid.mechanisms.mcafee import clear_mcafee
from peergrid.mechanisms.score_matching import (
    ScoreParameters,
    clear_dpda_score,
    clear_mcafee_score,
)
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

# Appendix B, Table B.1 (L2880-2889): distance preferences printed "km", applied as metres.
APPENDIX_B_RADIUS_M = {"24": 100, "20": 35, "45": 280, "4": 390, "39": 80, "9": 100, "12": 400}


@dataclass(frozen=True)
class Row:
    example: str
    quantity: str
    thesis: str
    ours: str
    agrees: bool
    note: str = ""


def _num(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}".rstrip("0").rstrip(".") if not math.isnan(value) else "nan"


def _vector(values: Sequence[float], digits: int = 3) -> str:
    return "{" + ", ".join(_num(v, digits) for v in values) + "}"


def _e_prime(book: Book, clearing: Clearing) -> list[float]:
    return [clearing.allocations[i] for i in book.seller_ids]


def _close(a: Sequence[float], b: Sequence[float], tol: float) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


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
    add("A: DAM, Table 2.2", "p0", "16.5", _num(a.price), a.price == 16.5)
    add(
        "A: DAM, Table 2.2",
        "theta; E'(S24)",
        "3; 22",
        f"{_num(a.info['theta'])}; {_num(a.allocations['24'])}",
        a.info["theta"] == 3 and a.allocations["24"] == 22,
    )
    add(
        "A: DAM, Table 2.2",
        "E' (submission order)",
        "{0, 22, 0, 40, 0, 0, 14, 70} [derived]",
        _vector(_e_prime(TABLE_2_2, a)),
        _close(_e_prime(TABLE_2_2, a), [0, 22, 0, 40, 0, 0, 14, 70], 1e-9),
        "The thesis prints only E'(S24); the full vector follows eqs. 2.6/2.7.",
    )

    # Example B: DPDA on Table 2.2 (App. B, L2864-2873)
    b = clear_dpda(TABLE_2_2.orders())
    expected_b = [0, 24.25, 0, 39.25, 0, 0, 13.25, 69.25]
    add("B: DPDA, Table 2.2", "p0", "16.5", _num(b.price), b.price == 16.5)
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
        _vector(expected_b),
        _vector(_e_prime(TABLE_2_2, b)),
        _close(_e_prime(TABLE_2_2, b), expected_b, 1e-9),
        f"Case {b.info['case']} with oversupply {_num(b.info['oversupply'], 4)} kWh per seller "
        "(the thesis does not name the case).",
    )

    # Example C: Scenario 12 (L1487-1527)
    c = clear_dpda(SCENARIO_12.orders())
    add(
        "C: DPDA, Scenario 12",
        "case, (x, y), p0, oversupply",
        "Case 1, (4, 5), 16.5, 1.4",
        f"Case {c.info['case']}, ({c.info['x']}, {c.info['y']}), {_num(c.price)}, "
        f"{_num(c.info['oversupply'])}",
        (c.info["case"], c.info["x"], c.info["y"], c.price) == (1, 4, 5, 16.5)
        and abs(c.info["oversupply"] - 1.4) < 1e-9,
    )
    add(
        "C: DPDA, Scenario 12",
        "E'",
        "{0, 24.25, 0, 39.25, 0, 0, 13.25, 69.25} [printed]",
        _vector(_e_prime(SCENARIO_12, c)),
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
        f"{_num(d.price)}, {_num(d.info['oversupply'], 4)} (Rule R: Case {d.info['case']} at "
        f"({d.info['x']}, {d.info['y']}))",
        False,
        "Not reproducible: the thesis's winners demand 124 kWh, not the 139 it uses, and its "
        "price follows Case-2 formulas at (6, 6) where Case 1 holds. Rule R with the end-of-list "
        f"policy gives Case 3; Algorithm 2 at the thesis's (7, 7) gives Case {d77.info['case']}, "
        f"p0 = {_num(d77.price)}, oversupply {_num(d77.info['oversupply'], 4)}.",
    )

    # Example E: Scenario 10 (L1600-1646)
    e = clear_dpda(SCENARIO_10.orders())
    expected_e = [0, 6, 0, 21, 0, 0, 0, 51]
    add(
        "E: DPDA, Scenario 10",
        "case, (x, y), p0, oversupply",
        "Case 3, (3, 6), 20.5, 19",
        f"Case {e.info['case']}, ({e.info['x']}, {e.info['y']}), {_num(e.price)}, "
        f"{_num(e.info['oversupply'])}",
        (e.info["case"], e.info["x"], e.info["y"], e.price, e.info["oversupply"])
        == (3, 3, 6, 20.5, 19.0),
    )
    add(
        "E: DPDA, Scenario 10",
        "E'",
        _vector(expected_e),
        _vector(_e_prime(SCENARIO_10, e)),
        _close(_e_prime(SCENARIO_10, e), expected_e, 1e-9),
        "Clipping without redistribution: sum E' = 78 kWh for a demand of 72 kWh.",
    )

    # Example F: Scenario 4 (L1655-1704), on data satisfying the digest's constraints
    f = clear_dpda(SCENARIO_4_LIKE.orders())
    expected_f = [0, 23.333, 0, 38.333, 0, 0, 12.333]
    add(
        "F: DPDA, Scenario 4",
        "p0, oversupply, E'",
        f"15.5, 1.67, {_vector(expected_f)}",
        f"{_num(f.price)}, {_num(f.info['oversupply'], 2)}, "
        f"{_vector(_e_prime(SCENARIO_4_LIKE, f))}",
        f.price == 15.5 and _close(_e_prime(SCENARIO_4_LIKE, f), expected_f, 1e-3),
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
        f"Case {h.info['case']}, ({h.info['x']}, {h.info['y']}), {_num(h.price)}, "
        f"{_num(h.info['oversupply'], 4)}",
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
        f"Case {i.info['case']}, ({i.info['x']}, {i.info['y']}), {_num(i.price)}, "
        f"{_num(i.info['oversupply'], 4)}",
        i.info["case"] == 3 and abs((i.price or 0) - 0.204) < 1e-9,
        "The thesis's x, y are 0-based (Rule R: (11, 12) 1-based), and its E' (all E - 0.727) "
        "contradict its 'no oversupply' text: the oversupply is 8/11 kWh.",
    )
    return rows


@dataclass(frozen=True)
class AppendixB:
    b1: pd.DataFrame
    b2: pd.DataFrame
    matching: pd.DataFrame
    b3: pd.DataFrame
    b4: pd.DataFrame
    rows: list[Row]


def appendix_b(distances: DistanceMatrix) -> AppendixB:
    """Tables B.1-B.4 of the Score Matching example."""
    orders = [
        replace(o, bus=o.id, max_distance_m=APPENDIX_B_RADIUS_M.get(o.id))
        for o in TABLE_2_2.orders()
    ]
    result = clear_dpda_score(orders, distances)
    compat = clear_dpda_score(orders, distances, ScoreParameters(income_sign="table-b3"))
    info = result.info
    by_id = {o.id: o for o in orders}
    sellers = TABLE_2_2.in_seller_order(info["winning_sellers"])
    buyers = TABLE_2_2.in_buyer_order(info["winning_buyers"])
    b1 = pd.DataFrame(
        [
            {
                "side": side,
                "id": oid,
                "energy_kwh": result.allocations[oid]
                if side == "sell"
                else by_id[oid].quantity_kwh,
                "price": by_id[oid].price,
                "radius_m": by_id[oid].max_distance_m,
                "welfare": info["welfare"][oid],
            }
            for side, ids in (("sell", sellers), ("buy", buyers))
            for oid in ids
        ]
    )
    rows_order = info["winning_buyers"]
    cols_order = info["winning_sellers"]
    b2 = pd.DataFrame(
        [
            [info["scores"][rows_order.index(bb)][cols_order.index(ss)] for ss in sellers]
            for bb in buyers
        ],
        index=pd.Index(buyers, name="buyer"),
        columns=pd.Index(sellers, name="seller"),
    )
    matching = pd.DataFrame(
        [
            {
                "step": k + 1,
                "buyer": t.buyer,
                "seller": t.seller,
                "score": info["scores"][rows_order.index(t.buy_order)][
                    cols_order.index(t.sell_order)
                ],
                "quantity_kwh": t.quantity_kwh,
                "distance_m": distances.between(int(t.buyer), int(t.seller)),
                "dso_charge": t.grid_fee,
            }
            for k, t in enumerate(result.trades)
        ]
    )
    b3 = pd.DataFrame(
        [
            {
                "seller": s,
                "income_eq_4_7": info["quotes"][s]["income"],
                "income_table_b3_sign": compat.info["quotes"][s]["income"],
                "energy_kwh": info["quotes"][s]["energy_kwh"],
                "charge": info["quotes"][s]["charge"],
            }
            for s in sellers
        ]
    )
    b4 = pd.DataFrame(
        [
            {
                "buyer": b,
                "bill": info["quotes"][b]["bill"],
                "energy_kwh": info["quotes"][b]["energy_kwh"],
                "charge": info["quotes"][b]["charge"],
            }
            for b in buyers
        ]
    )
    thesis_w = {
        "24": 250.685,
        "20": 403.422,
        "45": 137.247,
        "4": 702.147,
        "39": -57.920,
        "9": -518.0,
        "12": -402.0,
    }
    thesis_scores = {
        "39": [976.531, 1683.731, 669.259, 4586.524],
        "9": [-1309.318, -848.397, -2820.745, 2759.977],
        "12": [-851.3, 13.120, -3017.459, 3440.873],
    }
    thesis_b3 = {"24": 400.244, "20": 647.798, "45": 218.741, "4": 1142.782}
    thesis_b4 = {"39": 264.121, "9": 1155.328, "12": 990.116}
    rows = [
        Row(
            "J: App. B",
            "welfare (B.1 text)",
            _vector(list(thesis_w.values())),
            _vector([info["welfare"][k] for k in thesis_w]),
            _close([info["welfare"][k] for k in thesis_w], list(thesis_w.values()), 1e-3),
            "Parameters a=0.005, b=6, c=1, omega=14, alpha=0.07 (never stated; derived).",
        ),
    ]
    for buyer, expected in thesis_scores.items():
        ours = b2.loc[buyer].to_list()
        agrees = _close(ours, expected, 5e-3)
        note = (
            ""
            if agrees
            else (
                "Reproduces only with W_B39 = -42.52 instead of the listed -57.92 (erratum); the "
                "match sequence is the same either way."
            )
        )
        rows.append(
            Row(
                "J: App. B",
                f"scores row B{buyer} (B.2)",
                _vector(expected),
                _vector(ours),
                agrees,
                note,
            )
        )
    sequence = [(t.buyer, t.seller, t.quantity_kwh) for t in result.trades]
    expected_seq = [
        ("39", "4", 16.0),
        ("12", "4", 53.25),
        ("12", "20", 6.75),
        ("9", "20", 32.5),
        ("9", "24", 24.25),
        ("9", "45", 13.25),
    ]
    rows.append(
        Row(
            "J: App. B",
            "matching sequence",
            str(expected_seq),
            str(sequence),
            sequence == expected_seq,
        )
    )
    rows.append(
        Row(
            "J: App. B",
            "seller income (B.3)",
            _vector(list(thesis_b3.values())),
            _vector(b3["income_table_b3_sign"].to_list()),
            _close(b3["income_table_b3_sign"].to_list(), list(thesis_b3.values()), 1e-3),
            "Table B.3 adds the charge, eq. 4.7 subtracts it: by eq. 4.7 the incomes are "
            f"{_vector(b3['income_eq_4_7'].to_list())}. B.3's 24.5 kWh is a typo for "
            "24.25.",
        )
    )
    rows.append(
        Row(
            "J: App. B",
            "buyer bill (B.4)",
            _vector(list(thesis_b4.values())),
            _vector(b4["bill"].to_list()),
            _close(b4["bill"].to_list(), list(thesis_b4.values()), 1e-3),
            "B.4's 70.25 kWh for buyer 9 is a typo: its bill uses 70.",
        )
    )
    rows.append(
        Row(
            "J: App. B",
            "DSO income",
            "1.131",
            _num(info["dso_income"]),
            abs(info["dso_income"] - 1.131) < 1e-3,
            "C_d = 0.002 applied per metre of feeder path (printed per km).",
        )
    )
    return AppendixB(b1, b2, matching, b3, b4, rows)


def mechanism_comparison(distances: DistanceMatrix) -> pd.DataFrame:
    """DPDA against the standard auction, both paired by Score Matching, on the thesis's books."""
    records: list[dict[str, Any]] = []
    books = {
        "Table 2.2": TABLE_2_2,
        "Scenario 10": SCENARIO_10,
        "P-50 cooperative": P50_COOP,
        "P-50 non-cooperative": P50_NONCOOP,
    }
    clearers: dict[str, Callable[..., Clearing]] = {
        "DAM": clear_mcafee_score,
        "DPDA": clear_dpda_score,
    }
    for book_name, book in books.items():
        orders: list[Order] = [replace(o, bus=o.id) for o in book.orders()]
        for mech, clearer in clearers.items():
            result = clearer(orders, distances)
            trades = result.trades
            costs = [t.value + t.grid_fee for t in trades]
            demand = sum(o.quantity_kwh for o in orders if o.id in result.info["winning_buyers"])
            traded = sum(t.quantity_kwh for t in trades)
            records.append(
                {
                    "book": book_name,
                    "mechanism": mech,
                    "price": result.price,
                    "winning_buyers": len(result.info["winning_buyers"]),
                    "winning_sellers": len(result.info["winning_sellers"]),
                    "trades": len(trades),
                    "traded_kwh": traded,
                    "unserved_winning_demand_kwh": max(0.0, round(demand - traded, 9)),
                    "average_cost_per_trade": sum(costs) / len(costs) if costs else None,
                    "max_cost_per_trade": max(costs) if costs else None,
                    "min_cost_per_trade": min(costs) if costs else None,
                    "dso_income": sum(t.grid_fee for t in trades),
                    "average_distance_m": (
                        sum(distances.between(int(t.buyer), int(t.seller)) for t in trades)
                        / len(trades)
                        if trades
                        else None
                    ),
                }
            )
    return pd.DataFrame(records)


def reproduce_dpda(directory: Path) -> dict[str, Path]:
    """Write every table and the markdown summary into ``directory``; returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    distances = distance_matrix(load_feeder("ieee-eu-lv-reduced"))
    chapter3 = chapter_3_rows()
    appendix = appendix_b(distances)
    comparison = mechanism_comparison(distances)
    paths: dict[str, Path] = {}
    tables = {
        "table_b1": appendix.b1,
        "table_b2_scores": appendix.b2.reset_index(),
        "appendix_b_matching": appendix.matching,
        "table_b3_sellers": appendix.b3,
        "table_b4_buyers": appendix.b4,
        "dpda_vs_dam": comparison,
        "examples": pd.DataFrame([r.__dict__ for r in chapter3 + appendix.rows]),
    }
    for name, frame in tables.items():
        paths[name] = directory / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    paths["summary"] = directory / "summary.md"
    paths["summary"].write_text(_summary(chapter3, appendix, comparison), encoding="utf-8")
    return paths


def _md_rows(rows: Sequence[Row]) -> str:
    lines = [
        "| example | quantity | thesis | peergrid | agrees | why it differs / note |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        mark = "yes" if r.agrees else "**no**"
        lines.append(f"| {r.example} | {r.quantity} | {r.thesis} | {r.ours} | {mark} | {r.note} |")
    return "\n".join(lines)


def _summary(chapter3: list[Row], appendix: AppendixB, comparison: pd.DataFrame) -> str:
    agree = sum(r.agrees for r in chapter3 + appendix.rows)
    total = len(chapter3) + len(appendix.rows)
    cmp = comparison.copy()
    for column in cmp.columns:
        if cmp[column].dtype.kind == "f":
            cmp[column] = cmp[column].map(lambda v: "-" if pd.isna(v) else f"{v:.4g}")
    header = "| " + " | ".join(cmp.columns) + " |"
    rule = "|" + "---|" * len(cmp.columns)
    body = "\n".join(
        "| " + " | ".join(str(v) for v in row) + " |" for row in cmp.itertuples(index=False)
    )
    return f"""# DPDA thesis, reproduced

Every worked example of the thesis recomputed by peergrid: {agree} of {total} printed figures
agree; each that does not is a documented erratum of the thesis, explained in its row.

## Chapter 3 examples (DAM and DPDA)

{_md_rows(chapter3)}

## Appendix B: Score Matching (Tables B.1-B.4)

Distances: path lengths in metres on `ieee-eu-lv-reduced` (bus = thesis vertex). Tables in
`table_b1.csv`, `table_b2_scores.csv`, `appendix_b_matching.csv`, `table_b3_sellers.csv`,
`table_b4_buyers.csv`.

{_md_rows(appendix.rows)}

## DPDA against the standard auction

Both mechanisms' winners paired by Score Matching on the reduced feeder (C_d = 0.002 per m,
no distance preferences, default welfare parameters); cost of a trade = its energy value plus
the DSO's charge for the pair.

{header}
{rule}
{body}

What the thesis reports for this comparison is qualitative (Figs. 3.17-3.20, 4.12-4.15): DPDA
serves every winning buyer in full while the standard auction leaves the last buyers short when
supply is short (P-50 cooperative: theta = -25 kWh, the "unserved" column), prices a little higher
or equal under DPDA (P-50: 0.199 against 0.198 cooperative, 0.204 against 0.204
non-cooperative, matching the figures derived from its data), and a lower average cost per trade
under DPDA in most cases. Its Figs. 4.12-4.17 use data sets ("B-30", "B-50") the thesis does not
print (the "B-50" figures of 878 kWh in 41 trades do not come from Table 3.7), so those numbers
cannot be recomputed; the table above gives ours on the books the thesis does print.
"""
