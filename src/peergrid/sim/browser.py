"""A headless chromium for reading reports as a person would (the report's tests, benchmarks).

Debian's chromium (``make browser`` installs it), driven by Playwright (a development
dependency): nothing is downloaded, and the browser runs without sandbox (tests may run as root)
and without background traffic (the machine may be offline)::

    with headless_chromium() as browser:
        page = browser.new_page()
        page.goto(Path("report.html").resolve().as_uri())
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from peergrid.core.errors import PeergridError

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


@contextmanager
def headless_chromium() -> Iterator[Browser]:
    """A running headless chromium, closed on exit; a clear error when it is not installed."""
    if not Path(CHROMIUM).exists():
        raise PeergridError("chromium is not installed: run `make browser`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()
