"""The report in a real browser (Debian's chromium, driven by Playwright): it renders with no
console error, its interactive chart draws, and its headline holds the numbers of summary.json.

``make test`` installs chromium (``make browser``); without it this test fails, naming the fix.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import peergrid
from peergrid.sim.browser import headless_chromium
from peergrid.sim.headline import headline
from peergrid.sim.summary import RunSummary


@pytest.mark.slow
def test_the_report_renders_and_its_headline_is_the_summary(tmp_path: Path) -> None:
    scenario = peergrid.Scenario().replace(
        name="browser", households={"count": 8}, ledger={"enabled": True, "market": "community"}
    )
    paths = peergrid.run(scenario).save(tmp_path / "run")
    summary = json.loads(paths["summary"].read_text(encoding="utf-8"))
    with headless_chromium() as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(paths["report"].resolve().as_uri(), wait_until="load")
        page.wait_for_selector(".plot-container .main-svg", timeout=30_000)
        shown = page.eval_on_selector_all(
            ".headline .figure",
            "els => els.map(e => [e.dataset.key, e.dataset.value, e.innerText])",
        )
        images = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
    assert errors == []
    assert all(width > 0 for width in images) and len(images) >= 5
    figures = {key: json.loads(value) for key, value, _ in shown}
    expected = headline(RunSummary.from_mapping(summary))
    assert list(figures) == [h.key for h in expected]
    for key, value in figures.items():
        assert value == summary[key], key
    text = {key: words for key, _, words in shown}
    assert f"{summary['self_sufficiency']:.1%}" in text["self_sufficiency"]
    assert text["ledger_money_conserved"].splitlines()[1] == "yes"
