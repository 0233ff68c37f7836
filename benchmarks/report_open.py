"""How long the HTML report takes to open in a real browser, and how big it is.

The built-in scenario (ledger off) is stretched to ``--days`` and its report written once; then
Debian's chromium (driven by Playwright) opens it ``--repeat`` times in a fresh page each time.
Two times per opening: until the page's ``load`` event, and until the interactive chart has drawn
(Plotly's first SVG). The median of the openings is printed, with the file's size and the
machine's load average (the figures move with it).

    python benchmarks/report_open.py [--days 365] [--repeat 5] [--json]

Goal (a year): the report opens in under 3 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import peergrid
from peergrid.assets.profiles import PROFILE_YEAR_END, PROFILE_YEAR_START
from peergrid.sim.browser import headless_chromium


def open_times(report: Path, repeat: int) -> list[tuple[float, float]]:
    """(seconds to ``load``, seconds to the chart drawn) for each opening."""
    times: list[tuple[float, float]] = []
    with headless_chromium() as browser:
        for _ in range(repeat):
            page = browser.new_page()
            start = time.perf_counter()
            page.goto(report.resolve().as_uri(), wait_until="load", timeout=120_000)
            loaded = time.perf_counter() - start
            page.wait_for_selector(".plot-container .main-svg", timeout=120_000)
            drawn = time.perf_counter() - start
            page.close()
            times.append((loaded, drawn))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365, help="days of the run (1..366)")
    parser.add_argument("--repeat", type=int, default=5, help="openings (the median is shown)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    base = peergrid.Scenario()
    start = base.time.start
    if start + dt.timedelta(days=args.days - 1) > PROFILE_YEAR_END:
        start = PROFILE_YEAR_START.date()  # a long run from the demo's day would leave the profiles
    scenario = base.replace(ledger={"enabled": False}, time={"days": args.days, "start": start})
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        result = peergrid.run(scenario)
        run_s = time.perf_counter() - start
        start = time.perf_counter()
        report = result.report(Path(folder) / "report.html")
        write_s = time.perf_counter() - start
        size_mb = report.stat().st_size / 1e6
        times = open_times(report, args.repeat)
    figures = {
        "days": args.days,
        "report_mb": round(size_mb, 2),
        "run_s": round(run_s, 1),
        "report_write_s": round(write_s, 2),
        "open_load_s": round(statistics.median(t[0] for t in times), 3),
        "open_chart_drawn_s": round(statistics.median(t[1] for t in times), 3),
        "openings": args.repeat,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>20}: {value}")


if __name__ == "__main__":
    main()
