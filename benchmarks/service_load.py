"""Benchmark: ``peergrid serve`` under load on 127.0.0.1, signed orders from many households.

Starts the service (a real process, on ``--chain``: the embedded chain by default, or a private
anvil node the service starts itself; SQLite unless ``--db``) for a community of
``--households`` on a fast clock (``--speed``, market minutes per real minute; 60: a 15-minute
slot in 15 s). Every slot, each household sends one signed order (EIP-712) for the slot after
next: half sell 1 kWh, half buy 1 kWh at crossing prices, all at once from ``--threads`` client
threads (one kept-alive connection each, the standard library's client), orders signed
beforehand so that the client's signing is not timed. For ``--minutes`` of real time, then it
waits for the last slot to settle and checks that nothing was lost: every accepted order (201)
is in the service's intake table and revealed on chain in its slot (the slot's order count), and
every slot cleared once.

Prints: orders sent and accepted, accepted per second within the bursts (accepted orders over
the time from each burst's first request to its last answer) and over the whole run, latency
p50/p95/p99 (request sent to answer read, client side), the slots settled and the chain's
height (transactions in the journal).

    .venv/bin/python benchmarks/service_load.py [--households 500] [--minutes 10]
        [--speed 60] [--threads 32] [--db URL] [--intake-workers N]
        [--chain embedded|anvil] [--json]

Load on the client and the service together: both share the machine's cores, so the CPU each
used over the load is printed too (cores busy on average: the client's own process; the
service's process and its intake workers).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import tomli_w
from sqlalchemy import create_engine, select

import peergrid.platform.service.readmodel as db
from peergrid.api.auth import Domain, access_token, sign
from peergrid.ledger import BatchMarketLedger
from peergrid.ledger.chain.persisted import JournaledChain, PersistedEmbeddedChain
from peergrid.ledger.chain.persisted_anvil import PersistedAnvilChain
from peergrid.platform.service.events import contract_events

SLOT_MINUTES = 15.0
SOURCES = Path(__file__).resolve().parents[1] / "src"


def scenario(households: int, folder: Path) -> dict[str, Any]:
    return {
        "name": "service-load",
        "seed": 11,
        "feeder": {"name": "ieee-eu-lv"},
        "households": {"count": households},
        "market": {"mechanism": "dpda", "penalty_per_kwh": 0.05},
        "tariffs": {"network_fee_per_kwh": 0.01},
        "grid": {"power_flow": False},
        "ledger": {"chain": "embedded", "deposit_per_member": 1000.0},
        "output": {"directory": str(folder / "results")},
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_service(
    folder: Path,
    households: int,
    speed: float,
    db_url: str | None,
    intake_workers: int | None,
    chain: str,
) -> tuple[subprocess.Popen[bytes], str]:
    path = folder / "scenario.toml"
    path.write_text(tomli_w.dumps(scenario(households, folder)), encoding="utf-8")
    port = free_port()
    args = [
        sys.executable, "-m", "peergrid", "serve", "--scenario", str(path), "--run-dir",
        str(folder / "run"), "--clock", f"fast:{speed:g}", "--port", str(port),
        "--chain", chain,
    ]  # fmt: skip
    if db_url:
        args += ["--db", db_url]
    if intake_workers is not None:
        args += ["--intake-workers", str(intake_workers)]
    env = dict(os.environ, PYTHONPATH=str(SOURCES))
    with (folder / "serve.log").open("wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"peergrid serve exited {process.returncode}: see {folder}/serve.log")
        try:
            if httpx.get(f"{url}/market", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("peergrid serve did not answer within 300 s")


class Households:
    def __init__(self, url: str, run_dir: Path) -> None:
        self.market = httpx.get(f"{url}/market", timeout=30).json()
        self.domain = Domain(self.market["chain_id"], self.market["verifying_contract"])
        self.members = self.market["members"]
        self.keys = [
            (run_dir / "keys" / f"{m['agent']}.key").read_text(encoding="utf-8").strip()
            for m in self.members
        ]
        self.nonce = 0
        self.run_dir = run_dir

    def wait_for_slot(self, url: str, slot: int, timeout: float = 600.0) -> None:
        """Until ``GET /slots`` (read as the DSO) lists ``slot``: settled on chain."""
        dso = (self.run_dir / "keys" / "dso.key").read_text(encoding="utf-8").strip()
        token = access_token(self.domain, dso, int(time.time()) + 3600)
        headers = {"Authorization": f"Peergrid {token}"}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            page = httpx.get(f"{url}/slots?offset=0&limit=500", headers=headers, timeout=60)
            if any(s["slot"] == slot for s in page.json()["items"]):
                return
            time.sleep(0.5)
        raise SystemExit(f"slot {slot} did not settle within {timeout} s")

    def orders(self, slot: int) -> list[dict[str, Any]]:
        """One signed order per household for ``slot``: even ones sell, odd ones buy."""
        self.nonce += 1
        signed = []
        for i, (m, key) in enumerate(zip(self.members, self.keys, strict=True)):
            side = "sell" if i % 2 == 0 else "buy"
            price = 100_000 + 100 * (i % 50) if side == "sell" else 300_000 - 100 * (i % 50)
            message = {
                "agent": m["address"], "slot": slot, "side": side, "quantityWh": 1000,
                "priceMicroPerKwh": price, "bus": m["bus"], "nonce": self.nonce,
            }  # fmt: skip
            body = {
                "agent": m["address"], "slot": slot, "side": side, "quantity_wh": 1000,
                "price_micro_per_kwh": price, "bus": m["bus"], "nonce": self.nonce,
            }  # fmt: skip
            body["signature"] = sign(self.domain, "Order", message, key)
            signed.append(body)
        return signed


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process ``pid`` and of its live children (the intake
    workers), from /proc (Linux); 0 where it cannot be read."""
    ticks = os.sysconf("SC_CLK_TCK")

    def own(p: int) -> float:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime

    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            children += [int(c) for c in task.read_text().split()]
    return own(pid) + sum(own(c) for c in children)


def client_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def kept_alive_request(
    local: threading.local,
    url: str,
    method: str,
    path: str,
    body: bytes | None = None,
    timeout: float = 60,
) -> tuple[int, bytes]:
    """One request on the calling thread's kept-alive connection (the standard library's HTTP
    client: lighter than httpx, so that less of the cores the client shares with the service
    goes to it; the same run measured 454 accepted/s with httpx, 576/s with this client).
    The status and the body."""
    parts = urlsplit(url)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    for attempt in (1, 2):
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = http.client.HTTPConnection(
                parts.hostname or "127.0.0.1", parts.port, timeout=timeout
            )
        try:
            connection.request(method, path, body, headers)
            response = connection.getresponse()
            return response.status, response.read()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # the server closed the kept-alive connection between two requests: the request
            # did not reach it; open a new one (a second failure is an error)
            connection.close()
            local.connection = None
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


_POLL = threading.local()


def market_minute(url: str) -> float:
    """The market's minute, on a kept-alive connection. ``httpx.get`` builds a new client, and
    with it an SSL context, for every call: about 10 ms of the client's processor time a poll,
    taken from the two cores the service shares with the client."""
    status, answer = kept_alive_request(_POLL, url, "GET", "/market", timeout=30)
    if status != 200:
        raise RuntimeError(f"GET /market answered {status}: {answer[:200]!r}")
    return float(json.loads(answer)["minute"])


def wait_for_minute(url: str, minute: float) -> None:
    while (now := market_minute(url)) < minute:
        time.sleep(min(0.5, max(0.01, (minute - now) / 120)))


def burst(
    pool: ThreadPoolExecutor, local: threading.local, url: str, orders: list[dict[str, Any]]
) -> tuple[float, list[tuple[int, float, str | None]]]:
    def send(order: dict[str, Any]) -> tuple[int, float, str | None]:
        body = json.dumps(order).encode()
        started = time.perf_counter()
        status, answer = kept_alive_request(local, url, "POST", "/orders", body)
        elapsed = time.perf_counter() - started
        if status != 201:
            return status, elapsed, None
        return status, elapsed, json.loads(answer)["order_id"]

    started = time.perf_counter()
    results = list(pool.map(send, orders))
    return time.perf_counter() - started, results


def check(
    run_dir: Path, accepted: dict[str, int], db_url: str | None, backend: str
) -> dict[str, Any]:
    """What the chain (its journal replayed on the run's backend) and the intake table hold
    of the accepted orders."""
    journal = run_dir / "chain.jsonl"
    chain: JournaledChain = (
        PersistedAnvilChain(journal) if backend == "anvil" else PersistedEmbeddedChain(journal)
    )
    engine = create_engine(db_url or f"sqlite:///{run_dir / 'service.db'}")
    try:
        state = json.loads((run_dir / "market.json").read_text(encoding="utf-8"))
        ledger = BatchMarketLedger.at(
            chain, **{k: state[k] for k in ("token", "market", "operator", "dso", "issuer")}
        )
        events = contract_events(chain, ledger.market)
        cleared = Counter(int(e.args["slot"]) for e in events if e.name == "Cleared")
        per_slot = Counter(accepted.values())
        # Orders revealed per slot, from the events: the contract holds only its last slots.
        on_chain = Counter(int(e.args["slot"]) for e in events if e.name == "Revealed")
        with engine.connect() as c:
            recorded = set(c.execute(select(db.orders.c.id)).scalars())
        return {
            "slots": len(per_slot),
            "slots_cleared_once": sum(1 for s in per_slot if cleared[s] == 1),
            "slots_cleared_twice_or_more": sum(1 for n in cleared.values() if n > 1),
            "orders_missing_from_intake": len(set(accepted) - recorded),
            "orders_missing_on_chain": sum(per_slot[s] - on_chain[s] for s in per_slot),
            "transactions": chain.replayed,
        }
    finally:
        chain.close()
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=500)
    parser.add_argument("--minutes", type=float, default=10.0, help="real minutes of load")
    parser.add_argument("--speed", type=float, default=60.0, help="market minutes per minute")
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--db", default=None, help="SQLAlchemy URL (default SQLite)")
    parser.add_argument(
        "--intake-workers",
        type=int,
        default=None,
        help="peergrid serve's --intake-workers (default: its default)",
    )
    parser.add_argument(
        "--chain",
        choices=("embedded", "anvil"),
        default="embedded",
        help="peergrid serve's --chain (default embedded)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="peergrid-load-"))
    try:  # the folder goes whatever happens: keys, chain journal and database
        t0 = time.perf_counter()
        process, url = start_service(
            folder, args.households, args.speed, args.db, args.intake_workers, args.chain
        )
        startup_s = time.perf_counter() - t0
        run_dir = folder / "run"
        households = Households(url, run_dir)
        accepted: dict[str, int] = {}
        statuses: Counter[int] = Counter()
        latencies: list[float] = []
        burst_s: list[float] = []
        slots: list[int] = []
        burst_cpu = [0.0, 0.0]  # client, service: CPU seconds within the bursts
        local = threading.local()
        try:
            with ThreadPoolExecutor(args.threads) as pool:
                cpu_at_start = client_cpu_seconds(), cpu_seconds(process.pid)
                load_started = time.monotonic()
                end = load_started + args.minutes * 60
                cycle = int(market_minute(url) // SLOT_MINUTES) + 1
                while time.monotonic() < end:
                    slot = cycle + 2  # quoted until minute (slot-1)*15+3: a cycle and more
                    orders = households.orders(slot)
                    wait_for_minute(url, cycle * SLOT_MINUTES + 0.5)
                    cpu_before = client_cpu_seconds(), cpu_seconds(process.pid)
                    took, results = burst(pool, local, url, orders)
                    burst_cpu[0] += client_cpu_seconds() - cpu_before[0]
                    burst_cpu[1] += cpu_seconds(process.pid) - cpu_before[1]
                    burst_s.append(took)
                    slots.append(slot)
                    for status, elapsed, order_id in results:
                        statuses[status] += 1
                        latencies.append(elapsed)
                        if order_id is not None:
                            accepted[order_id] = slot
                    cycle += 1
                load_s = time.monotonic() - load_started
                client_cpu = client_cpu_seconds() - cpu_at_start[0]
                service_cpu = cpu_seconds(process.pid) - cpu_at_start[1]
            wait_for_minute(url, (slots[-1] + 1) * SLOT_MINUTES + 13.0)  # the last slot settles
            households.wait_for_slot(url, slots[-1])
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
            log = (folder / "serve.log").read_text(encoding="utf-8", errors="replace").strip()
            if log:
                print(f"service log (last lines):\n{log[-2000:]}", file=sys.stderr)
        checked = check(run_dir, accepted, args.db, args.chain)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    cuts = statistics.quantiles(latencies, n=100)
    figures = {
        "households": args.households,
        "speed": args.speed,
        "minutes": args.minutes,
        "threads": args.threads,
        "database": "sqlite" if not args.db else args.db.split(":", 1)[0],
        "startup_s": round(startup_s, 1),
        "bursts": len(burst_s),
        "orders_sent": sum(statuses.values()),
        "orders_accepted": len(accepted),
        "statuses": dict(statuses),
        "accepted_per_s_in_bursts": round(len(accepted) / sum(burst_s), 1),
        "accepted_per_s_whole_run": round(len(accepted) / (args.minutes * 60), 1),
        "burst_s_median": round(statistics.median(burst_s), 3),
        "latency_ms_p50": round(cuts[49] * 1000, 1),
        "latency_ms_p95": round(cuts[94] * 1000, 1),
        "latency_ms_p99": round(cuts[98] * 1000, 1),
        # CPU (both share the machine's cores), in cores busy on average (1.0: one core all the
        # time): within the bursts, and over the whole load (the client signs the next slot's
        # orders between bursts; the service settles the slots)
        "client_cpu_cores_in_bursts": round(burst_cpu[0] / sum(burst_s), 2),
        "service_cpu_cores_in_bursts": round(burst_cpu[1] / sum(burst_s), 2),
        "client_cpu_cores": round(client_cpu / load_s, 2),
        "service_cpu_cores": round(service_cpu / load_s, 2),
        "intake_workers": args.intake_workers,
        "chain": args.chain,
        **checked,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key:32s} {value}")


if __name__ == "__main__":
    main()
