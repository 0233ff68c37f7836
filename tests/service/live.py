"""``peergrid serve`` as a real process on 127.0.0.1 for the fault tests, and a client that
signs as the households whose keys the service wrote in its run directory."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import tomli_w

from peergrid.api.auth import Domain, access_token, sign
from tests.service.conftest import SCENARIO
from tests.service.postgres import free_port

SOURCES = Path(__file__).resolve().parents[2] / "src"


def write_scenario(folder: Path) -> Path:
    path = folder / "scenario.toml"
    scenario = {**SCENARIO, "output": {"directory": str(folder / "results")}}
    path.write_text(tomli_w.dumps(scenario), encoding="utf-8")
    return path


@dataclass
class Serve:
    """One ``peergrid serve`` process; :meth:`start` waits until it answers."""

    scenario: Path
    run_dir: Path
    clock: str = "fast:600"
    rpc: str | None = None
    intake_workers: int | None = None  # None: the command's default
    chain: str | None = None  # None: the command's default (the embedded chain)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> Serve:
        args = [
            sys.executable, "-m", "peergrid", "serve", "--scenario", str(self.scenario),
            "--run-dir", str(self.run_dir), "--clock", self.clock, "--port", str(self.port),
        ]  # fmt: skip
        if self.rpc is not None:
            args += ["--rpc", self.rpc]
        if self.intake_workers is not None:
            args += ["--intake-workers", str(self.intake_workers)]
        if self.chain is not None:
            args += ["--chain", self.chain]
        env = dict(os.environ, PYTHONPATH=str(SOURCES))
        log = (self.run_dir.parent / f"serve-{self.port}.log").open("ab")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"peergrid serve exited {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/market", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.kill()
        raise AssertionError(f"peergrid serve did not answer within {timeout} s")

    def children(self) -> list[int]:
        """The process ids of the service's child processes (its anvil node, its intake
        workers), from /proc."""
        if self.process is None:
            return []
        found: list[int] = []
        for task in Path(f"/proc/{self.process.pid}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                found += [int(c) for c in task.read_text().split()]
        return found

    def anvil_node(self) -> tuple[int, str] | None:
        """The managed anvil node the service started: its process id and JSON-RPC url."""
        for pid in self.children():
            try:
                args = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
            except OSError:
                continue
            if Path(args[0]).name == "anvil" and "--port" in args:
                return pid, f"http://127.0.0.1:{args[args.index('--port') + 1]}"
        return None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)


@dataclass
class Households:
    """Signs as the service's households (keys from its run directory)."""

    url: str
    run_dir: Path
    market: dict[str, Any] = field(init=False)
    domain: Domain = field(init=False)
    nonces: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.market = httpx.get(f"{self.url}/market", timeout=10).json()
        self.domain = Domain(self.market["chain_id"], self.market["verifying_contract"])

    def key(self, name: str) -> str:
        return (self.run_dir / "keys" / f"{name}.key").read_text(encoding="utf-8").strip()

    def member(self, k: int) -> dict[str, Any]:
        return dict(self.market["members"][k])

    def order(
        self, k: int, slot: int, side: str, quantity_wh: int, price: int, bus: str | None = None
    ) -> dict[str, Any]:
        m = self.member(k)
        if bus is not None:  # signed as given: the service refuses it for the bus alone
            m["bus"] = bus
        nonce = self.nonces.get(m["agent"], int(time.time() * 1000)) + 1
        self.nonces[m["agent"]] = nonce
        message = {
            "agent": m["address"], "slot": slot, "side": side, "quantityWh": quantity_wh,
            "priceMicroPerKwh": price, "bus": m["bus"], "nonce": nonce,
        }  # fmt: skip
        return {
            "agent": m["address"], "slot": slot, "side": side, "quantity_wh": quantity_wh,
            "price_micro_per_kwh": price, "bus": m["bus"], "nonce": nonce,
            "signature": sign(self.domain, "Order", message, self.key(m["agent"])),
        }  # fmt: skip

    def dso_token(self) -> dict[str, str]:
        token = access_token(self.domain, self.key("dso"), int(time.time()) + 3600)
        return {"Authorization": f"Peergrid {token}"}


def gone(pid: int, timeout: float = 30.0) -> bool:
    """Whether process ``pid`` has ended within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":  # ended, not yet reaped by its (new) parent
            return True
        time.sleep(0.05)
    return False
