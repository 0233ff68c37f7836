"""`peergrid run`'s progress: slots done, elapsed and time left, one line in a log."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from peergrid.cli import run


def test_progress_is_one_final_line_when_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    log = io.StringIO()
    monkeypatch.setattr(run, "err", Console(file=log, force_terminal=False, width=120))
    with run._slot_progress(quiet=False) as on_slot:
        for done in range(1, 35_041):
            on_slot(done, 35_040)
    lines = log.getvalue().strip().splitlines()
    assert len(lines) == 1
    assert "35040/35040" in lines[0] and "elapsed" in lines[0] and "left" in lines[0]


def test_quiet_prints_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    log = io.StringIO()
    monkeypatch.setattr(run, "err", Console(file=log, force_terminal=False, width=120))
    with run._slot_progress(quiet=True) as on_slot:
        on_slot(1, 1)
    assert log.getvalue() == ""
