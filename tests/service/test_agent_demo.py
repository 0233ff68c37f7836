"""``peergrid serve --demo`` as a user runs it, in a subprocess: the households trade, the
dashboard answers, and a stop by the system (SIGTERM) ends it with its temporary run
directory removed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import peergrid
from peergrid.api.server import free_port

SCENARIO = """
name = "demo-test"
seed = 7
[households]
count = 6
[market]
mechanism = "dpda+score"
"""


@pytest.mark.slow
def test_serve_demo_trades_and_leaves_nothing_behind(tmp_path: Path) -> None:
    scenario = tmp_path / "small.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    port = free_port()
    env = os.environ | {"PYTHONPATH": str(Path(peergrid.__file__).parents[1])}
    args = ["serve", "--demo", "--scenario", str(scenario), "--port", str(port)]
    process = subprocess.Popen(
        [sys.executable, "-m", "peergrid", *args, "--clock", "fast:600"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    matched: list[object] = []
    try:
        deadline = time.monotonic() + 60
        while not matched and time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                state = httpx.get(f"http://127.0.0.1:{port}/dashboard/state").json()
            except httpx.HTTPError:
                continue
            matched = state["matched"] + state["slots"]  # books the households sent
        assert matched
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "6 households trading" in stderr and "stopped" in stderr
    run_dir = re.search(r"run dir (\S+)", stderr)
    assert run_dir is not None and not Path(run_dir.group(1)).exists()
