"""Intake processes in front of the market's (``peergrid serve --intake-workers N``).

The market's books, nonces and group commit stay in one process, the market's; what costs most
per order and needs no market state is done in N other processes that share the public port:
parse the HTTP request, validate its body, recover the order's signer (EIP-712), check that it
is a member, that the bus is its own and that the slot's quotation window is open. A worker
then hands the order to the market's process over a Unix socket (the *channel*): length-framed
JSON, one batch in flight per worker, so that what arrives while a batch is being committed goes
in the next one. The market checks each order again as it always does (window, nonce, book)
and writes each batch in one group commit; a worker answers 201 only when the market answered
that the order's transaction committed, and a refused order gets the market's status and
reason. Everything else (reads, withdrawals, readings, the DSO's routes, the dashboard and its
event stream, ``/docs``) is passed on unchanged to the market's own app, which listens on a
Unix socket of its own.

A worker that dies is started again; the orders it had handed over are committed or refused by
the market as they would have been (an order is answered 201 only after its commit, so no
answered order is lost). A market process that dies (SIGKILL) closes the channel: every worker
sees it at once and exits, so the port is free for a restart.

``python -m peergrid.api.intake <config.json> <fd>`` runs one worker on the listening socket
``fd`` (inherited); the market's process starts them (:func:`intake_front`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

import peergrid.api.schemas as s
from peergrid.api.auth import Domain, check_signer, recover
from peergrid.api.statuses import status_of
from peergrid.core.errors import PeergridError
from peergrid.platform.cycle import CycleTimes
from peergrid.platform.service.clock import WallClock
from peergrid.platform.service.rules import (
    Member,
    OrderRequest,
    check_order_fields,
    check_quotation,
)

if TYPE_CHECKING:  # the workers do not load the market, its chain or its database
    from peergrid.platform.service.market import LiveMarket

logger = logging.getLogger(__name__)

MAX_INTAKE_WORKERS = 32
FRAME = struct.Struct("!I")  # the length of the JSON that follows, bytes
SHUTDOWN_GRACE_S = 2
"""Open streams (the dashboard's events) are closed this long after a stop is asked."""
START_TIMEOUT_S = 120.0
RESTART_PAUSE_S = 1.0
"""A worker that died is started again after at least this long (no busy loop of restarts)."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# --- the market's side ----------------------------------------------------------------------


def _read_exactly(connection: socket.socket, n: int) -> bytes | None:
    chunks, left = [], n
    while left:
        chunk = connection.recv(min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


class ChannelServer:
    """The market's end of the channel: a thread per worker connection takes a batch of
    verified orders, submits them in one group commit and answers each, in order:
    ``[201, order_id, slot, replaced]`` or ``[status, reason]``."""

    def __init__(self, market: LiveMarket, path: Path) -> None:
        self.market = market
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(MAX_INTAKE_WORKERS * 2)
        self.connections: set[socket.socket] = set()
        self.connected = 0  # connections taken so far (a worker makes one when it starts)
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="peergrid-intake", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                self.connections.add(connection)
                self.connected += 1
            threading.Thread(
                target=self._serve, args=(connection,), name="peergrid-intake-conn", daemon=True
            ).start()

    def _serve(self, connection: socket.socket) -> None:
        try:
            while True:
                header = _read_exactly(connection, FRAME.size)
                if header is None:
                    return
                body = _read_exactly(connection, FRAME.unpack(header)[0])
                if body is None:
                    return
                answers = self.answer(json.loads(body))
                payload = json.dumps(answers).encode()
                connection.sendall(FRAME.pack(len(payload)) + payload)
        except OSError:
            return  # the worker went away; what it handed over was committed or refused
        finally:
            with self._lock:
                self.connections.discard(connection)
            connection.close()

    def answer(self, batch: list[list[Any]]) -> list[list[Any]]:
        by_agent = self.market.by_agent
        requests: list[OrderRequest] = []
        answers: list[list[Any]] = []
        for agent, slot, side, quantity_wh, price, bus, nonce, signature in batch:
            requests.append(
                OrderRequest(by_agent[agent], slot, side, quantity_wh, price, bus, nonce, signature)
            )
        try:
            results = self.market.submit_many(requests)
        except Exception as exc:  # a fault of the service itself, not an order's refusal
            logger.exception("the intake of a batch failed")
            return [[500, f"the market could not take the order: {exc}"] for _ in batch]
        for result in results:
            if isinstance(result, PeergridError):
                answers.append([status_of(result), str(result)])
            elif isinstance(result, BaseException):  # the database's: as a failed commit was
                logger.error("an order's commit failed: %s", result)
                answers.append([500, "Internal Server Error"])
            else:
                answers.append([201, result.order_id, result.slot, result.replaced])
        return answers

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        with self._lock:
            for connection in list(self.connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)


@contextmanager
def _serving_unix(app: Any, path: Path) -> Iterator[None]:
    """The market's own app (with its clock thread) on a Unix socket until the block ends."""
    import uvicorn

    config = uvicorn.Config(
        app, uds=str(path), log_level="warning", timeout_graceful_shutdown=SHUTDOWN_GRACE_S
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="peergrid-market-http", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise PeergridError(f"the market's own server did not start on {path}")
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=SHUTDOWN_GRACE_S + 10)


def worker_config(market: LiveMarket, channel: Path, market_socket: Path) -> dict[str, Any]:
    """What a worker needs to check an order as the market would, in plain values."""
    clock = market.clock
    return {
        "chain_id": market.chain.chain_id,
        "verifying_contract": market.ledger.market.address,
        "members": [[m.agent, m.bus, m.signer] for m in market.config.members],
        "times": asdict(market.times),
        "horizon_slots": market.config.horizon_slots,
        # the market's wall clock, so that an order past its window is refused before it is
        # handed over (the market checks again: a worker's reading is never the later one)
        "clock": [clock.start, clock.speed] if isinstance(clock, WallClock) else None,
        "channel": str(channel),
        "market_socket": str(market_socket),
    }


class WorkerPool:
    """N worker processes on one listening socket; one that dies is started again."""

    def __init__(self, count: int, listener: socket.socket, config_path: Path) -> None:
        self.count = count
        self.listener = listener
        self.config_path = config_path
        self.processes: list[subprocess.Popen[bytes]] = []
        self.started_at: list[float] = []
        self.restarts = 0
        self._stop = threading.Event()
        self._monitor = threading.Thread(target=self._watch, name="peergrid-intake-watch")

    def _spawn(self) -> subprocess.Popen[bytes]:
        fd = self.listener.fileno()
        package_root = str(Path(__file__).resolve().parents[2])
        path = os.environ.get("PYTHONPATH")
        env = dict(os.environ, PYTHONPATH=package_root + (os.pathsep + path if path else ""))
        return subprocess.Popen(
            [sys.executable, "-m", "peergrid.api.intake", str(self.config_path), str(fd)],
            pass_fds=(fd,),
            env=env,
            # its own session: a Ctrl-C in the terminal reaches the market's process, which
            # stops the workers in order (a worker stopped first would be started again)
            start_new_session=True,
        )

    def start(self) -> None:
        for _ in range(self.count):
            self.processes.append(self._spawn())
            self.started_at.append(time.monotonic())
        self._monitor.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            for i, process in enumerate(self.processes):
                code = process.poll()
                if code is None or time.monotonic() - self.started_at[i] < RESTART_PAUSE_S:
                    continue
                if self._stop.is_set():
                    return
                logger.warning("intake worker %d exited with %s; starting another", i, code)
                self.processes[i] = self._spawn()
                self.started_at[i] = time.monotonic()
                self.restarts += 1

    def alive(self) -> int:
        return sum(1 for p in self.processes if p.poll() is None)

    def stop(self) -> None:
        self._stop.set()
        if self._monitor.is_alive():
            self._monitor.join(timeout=5)
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + SHUTDOWN_GRACE_S + 5
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@contextmanager
def intake_front(
    app: Any,
    market: LiveMarket,
    host: str,
    port: int,
    workers: int,
) -> Iterator[WorkerPool]:
    """``app`` (the market's) behind ``workers`` intake processes listening on ``host:port``
    until the block ends; yields the pool (its processes, for the tests)."""
    if not 1 <= workers <= MAX_INTAKE_WORKERS:
        raise PeergridError(f"intake workers must be from 1 to {MAX_INTAKE_WORKERS}, got {workers}")
    # a short path (Unix socket paths are at most 107 bytes), readable by this user only
    folder = Path(tempfile.mkdtemp(prefix="peergrid-intake-"))
    try:
        channel_path, market_path = folder / "channel.sock", folder / "market.sock"
        channel = ChannelServer(market, channel_path)
        try:
            with _serving_unix(app, market_path):
                family = socket.AF_INET6 if ":" in host else socket.AF_INET
                listener = socket.socket(family, socket.SOCK_STREAM)
                try:
                    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    try:
                        listener.bind((host, port))
                    except OSError as exc:
                        raise PeergridError(
                            f"the service could not listen on {host}:{port}: {exc.strerror}"
                        ) from exc
                    listener.listen(2048)
                    config_path = folder / "worker.json"
                    config_path.write_text(
                        json.dumps(worker_config(market, channel_path, market_path)),
                        encoding="utf-8",
                    )
                    pool = WorkerPool(workers, listener, config_path)
                    pool.start()
                    try:
                        _wait_for_workers(pool, channel, workers)
                        yield pool
                    finally:
                        pool.stop()
                finally:
                    listener.close()
        finally:
            channel.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _wait_for_workers(pool: WorkerPool, channel: ChannelServer, workers: int) -> None:
    """Until every worker has connected to the channel (it serves from then on)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while channel.connected < workers:
        exited = [p.returncode for p in pool.processes if p.poll() is not None]
        if exited:
            raise PeergridError(f"an intake worker exited with {exited[0]} while starting")
        if time.monotonic() > deadline:
            raise PeergridError(f"the intake workers did not start in {START_TIMEOUT_S:g} s")
        time.sleep(0.02)


# --- a worker's side --------------------------------------------------------------------------


class ChannelClient:
    """A worker's end of the channel: orders queue while a batch is at the market; the next
    batch takes all of them (one commit for many requests, no timer). The answers are read
    by a task of their own, always waiting, so that the channel's end (the market gone) is
    seen at once even by an idle worker."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.queue: list[tuple[list[Any], asyncio.Future[list[Any]]]] = []
        self.in_flight: list[tuple[list[Any], asyncio.Future[list[Any]]]] = []
        self.wake = asyncio.Event()
        self.answered = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.reader, self.writer = await asyncio.open_unix_connection(self.path)
        self.tasks = [asyncio.create_task(self._send()), asyncio.create_task(self._receive())]

    async def submit(self, item: list[Any]) -> list[Any]:
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self.queue.append((item, future))
        self.wake.set()
        return await future

    async def _send(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            if not self.queue:
                continue
            self.in_flight, self.queue = self.queue, []
            self.answered.clear()
            payload = json.dumps([item for item, _ in self.in_flight]).encode()
            self.writer.write(FRAME.pack(len(payload)) + payload)
            await self.writer.drain()
            await self.answered.wait()  # one batch at the market at a time

    async def _receive(self) -> None:
        try:
            while True:
                (size,) = FRAME.unpack(await self.reader.readexactly(FRAME.size))
                answers = json.loads(await self.reader.readexactly(size))
                batch, self.in_flight = self.in_flight, []
                for (_, future), answer in zip(batch, answers, strict=True):
                    if not future.done():  # a client that went away cancelled its own
                        future.set_result(answer)
                self.answered.set()
        except (OSError, EOFError, asyncio.IncompleteReadError) as exc:
            # The market's process is gone (killed, or stopped): nothing can be taken here any
            # more, and the port must be free for the service's restart.
            print(f"peergrid intake worker {os.getpid()}: the market is gone ({exc!r})", flush=True)
            # a killed market cannot remove its sockets' folder: its workers do
            shutil.rmtree(Path(self.path).parent, ignore_errors=True)
            os._exit(3)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.writer.close()


HOP_BY_HOP = {
    b"connection",
    b"keep-alive",
    b"proxy-authenticate",
    b"proxy-authorization",
    b"te",
    b"trailers",
    b"transfer-encoding",
    b"upgrade",
}


class MarketProxy:
    """Every request but ``POST /orders``, passed on to the market's app and its answer passed
    back as it comes (the dashboard's event stream too)."""

    def __init__(self, market_socket: str) -> None:
        import httpx

        self.client = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=market_socket),
            base_url="http://market",
            timeout=httpx.Timeout(60.0, read=None),  # a stream waits as long as it runs
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        target = scope.get("raw_path") or scope["path"].encode()
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        # the body is sent whole: httpx gives its length
        headers = [
            (k, v)
            for k, v in scope["headers"]
            if k.lower() not in HOP_BY_HOP and k.lower() != b"content-length"
        ]
        request = self.client.build_request(
            scope["method"], target.decode("latin-1"), headers=headers, content=body
        )
        response = await self.client.send(request, stream=True)
        try:
            # the body is relayed as it came (aiter_raw): its length, if given, still holds
            kept = [(k, v) for k, v in response.headers.raw if k.lower() not in HOP_BY_HOP]
            await send(
                {"type": "http.response.start", "status": response.status_code, "headers": kept}
            )
            relay = asyncio.create_task(self._relay(response, send))
            gone = asyncio.create_task(_disconnected(receive))
            done, _ = await asyncio.wait({relay, gone}, return_when=asyncio.FIRST_COMPLETED)
            for task in (relay, gone):
                if task not in done:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if relay in done:
                relay.result()
        finally:
            await response.aclose()

    @staticmethod
    async def _relay(response: Any, send: Send) -> None:
        async for chunk in response.aiter_raw():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def close(self) -> None:
        await self.client.aclose()


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def worker_app(config: dict[str, Any]) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """A worker's ASGI app: ``POST /orders`` checked here and handed to the market; the rest
    passed on to the market's app."""
    domain = Domain(int(config["chain_id"]), config["verifying_contract"])
    members = [Member(agent, bus, signer, "") for agent, bus, signer in config["members"]]
    by_signer = {m.signer.lower(): m for m in members}
    buses = {m.bus for m in members}
    times = CycleTimes(**config["times"])
    horizon = int(config["horizon_slots"])
    clock = WallClock(*config["clock"]) if config["clock"] is not None else None
    channel = ChannelClient(config["channel"])
    proxy = MarketProxy(config["market_socket"])

    orders = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @orders.exception_handler(PeergridError)
    async def _domain_error(_: Request, exc: PeergridError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status_of(exc))

    @orders.post("/orders", status_code=201)
    async def post_order(body: s.OrderIn) -> JSONResponse:
        # the same checks, in the same order, as the market's own route (peergrid.api.app)
        recovered = recover(domain, "Order", body.signed_message(), body.signature)
        check_signer(body.agent, recovered, "order")
        member = by_signer.get(recovered.lower())
        if member is None:
            raise HTTPException(403, f"order: {recovered} is not a member of this market")
        order_id = check_order_fields(
            member, buses, body.slot, body.quantity_wh, body.bus, body.nonce
        )
        if clock is not None:
            check_quotation(times, horizon, body.slot, clock.minute(), f"order {order_id!r}")
        answer = await channel.submit(
            [
                member.agent,
                body.slot,
                body.side,
                body.quantity_wh,
                body.price_micro_per_kwh,
                body.bus,
                body.nonce,
                body.signature,
            ]
        )
        if answer[0] == 201:
            return JSONResponse(
                {"order_id": answer[1], "slot": answer[2], "replaced": answer[3]}, status_code=201
            )
        return JSONResponse({"detail": answer[1]}, status_code=answer[0])

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            if scope["path"] == "/orders" and scope["method"] == "POST":
                await orders(scope, receive, send)
            else:
                await proxy(scope, receive, send)
        elif kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await channel.start()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await channel.close()
                    await proxy.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        else:  # the market's app has no websockets
            await send({"type": "websocket.close", "code": 1000})

    return app


def main(argv: list[str]) -> None:
    import uvicorn

    config = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    listener = socket.socket(fileno=int(argv[1]))
    server = uvicorn.Server(
        uvicorn.Config(
            worker_app(config),
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        )
    )
    server.run(sockets=[listener])


if __name__ == "__main__":
    main(sys.argv[1:])
