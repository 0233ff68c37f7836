"""``peergrid sweep --address auto``: a sweep joins a Ray instance another process runs, and
leaves it running; without Ray installed, one line says what to install."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from peergrid.core.errors import PeergridError
from peergrid.sim.sweep.ray_pool import ray_pool

ROOT = Path(__file__).resolve().parents[2]
HOLDER = """
import sys, ray
ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 2**20,
         log_to_driver=False)
print("up", flush=True)
for line in sys.stdin:
    if line.strip() == "check":
        print("alive", ray.get(ray.remote(lambda: 41 + 1).remote()), flush=True)
ray.shutdown()
print("down", flush=True)
"""
BASE = "[households]\ncount = 4\n[time]\nslot_minutes = 60\n[ledger]\nenabled = false\n"


def test_without_ray_one_line_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    missing = r"pip install 'peergrid\[distributed\]'"
    with pytest.raises(PeergridError, match=missing), ray_pool(None, 1):
        pass


@pytest.mark.slow
def test_a_sweep_joins_a_running_instance_and_leaves_it_running(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    (tmp_path / "base.toml").write_text(BASE, encoding="utf-8")
    sweep = tmp_path / "sweep.toml"
    sweep.write_text('base = "base.toml"\n[axes]\npv_share = [0.2, 0.6]\n', encoding="utf-8")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "up"
        out = tmp_path / "out"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "peergrid",
                "sweep",
                str(sweep),
                "-o",
                str(out),
                "-q",
                "--address",
                "auto",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "on Ray at auto" in " ".join(done.stderr.split())
        assert list(pd.read_parquet(out / "runs.parquet")["status"]) == ["ok", "ok"]
        holder.stdin.write("check\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "alive 42"  # not shut down by the sweep
    finally:
        holder.stdin.close()
        assert holder.wait(timeout=120) == 0
    with holder.stdout:
        assert holder.stdout.read().strip() == "down"


@pytest.mark.slow
def test_a_local_pool_leaves_no_session_folder_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    made: list[Path] = []
    mkdtemp = tempfile.mkdtemp

    def recorded(*args: object, **kwargs: object) -> str:
        folder = mkdtemp(*args, **kwargs)  # type: ignore[call-overload]
        made.append(Path(folder))
        return str(folder)

    monkeypatch.setattr(tempfile, "mkdtemp", recorded)
    with ray_pool(None, 1) as pool:
        import ray

        assert len(made) == 1 and made[0].name.startswith("peergrid-ray-")
        assert any(made[0].iterdir())  # the instance's session is there
        assert ray.get(ray.remote(lambda: 41 + 1).remote()) == 42
        assert pool.slots == 1
    assert not made[0].exists()
