from __future__ import annotations

from pathlib import Path

import pandas as pd

from peergrid.sim.reproduce.dpda import chapter_3_rows, reproduce_dpda


def test_every_disagreement_is_an_explained_erratum() -> None:
    rows = chapter_3_rows()
    assert len(rows) >= 14
    for row in rows:
        if not row.agrees:
            assert row.note, row
    # The two examples the digest marks as not reproducible, and only those, disagree.
    assert {r.example for r in rows if not r.agrees} == {
        "C: DPDA, Scenario 12",
        "D: DPDA, Scenario 13",
    }


def test_reproduction_writes_its_tables(tmp_path: Path) -> None:
    paths = reproduce_dpda(tmp_path)
    summary = paths["summary"].read_text()
    assert "Appendix B" in summary and "DPDA against the standard auction" in summary
    b4 = pd.read_csv(paths["table_b4_buyers"])
    assert b4["bill"].round(3).tolist() == [264.121, 1155.328, 990.116]
    comparison = pd.read_csv(paths["dpda_vs_dam"])
    coop = comparison[comparison.book == "P-50 cooperative"].set_index("mechanism")
    assert coop.loc["DAM", "unserved_winning_demand_kwh"] == 25
    assert coop.loc["DPDA", "unserved_winning_demand_kwh"] == 0
    assert coop.loc["DPDA", "price"] == 0.199 and coop.loc["DAM", "price"] == 0.198
    examples = pd.read_csv(paths["examples"])
    appendix = examples[examples.example == "J: App. B"]
    assert appendix[~appendix.agrees].quantity.tolist() == ["scores row B39 (B.2)"]


def test_the_summary_says_what_our_cost_figures_show() -> None:
    import pandas as pd

    from peergrid.sim.reproduce.dpda.report import _cost_verdict

    def table(costs: dict[str, tuple[float, float]]) -> pd.DataFrame:
        rows = [
            {"book": book, "mechanism": mech, "average_cost_per_trade": cost}
            for book, (dam, dpda) in costs.items()
            for mech, cost in (("DAM", dam), ("DPDA", dpda))
        ]
        return pd.DataFrame(rows)

    mixed = _cost_verdict(table({"A": (2.0, 1.0), "B": (1.0, 1.0), "C": (1.0, 3.0)}))
    assert "lower on 1 (A); equal on 1 (B); higher on 1 (C) of the 3 books" in mixed
    assert mixed.endswith("do not support that claim.")
    mostly = _cost_verdict(table({"A": (2.0, 1.0), "B": (3.0, 1.0), "C": (1.0, 3.0)}))
    assert mostly.endswith("support that claim.") and "do not" not in mostly
