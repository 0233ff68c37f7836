"""The service's HTTP server (uvicorn) in a thread of this process, for as long as a ``with``
block runs: the demo drives its households from the main thread beside it, and the tests start
and stop a real server with it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI

from peergrid.core.errors import PeergridError

SHUTDOWN_GRACE_S = 2
"""Open streams (the dashboard's events) are closed this long after a stop is asked."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def local_url(host: str, port: int) -> str:
    """The URL a client on this machine uses for a server listening on ``host``."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextmanager
def serving(app: FastAPI, host: str, port: int, *, start_timeout_s: float = 60.0) -> Iterator[str]:
    """``app`` served on ``host:port`` until the block ends; yields the URL to reach it."""
    import uvicorn

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="peergrid-http", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if not thread.is_alive():
            raise PeergridError(f"the service could not listen on {host}:{port} (in use?)")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise PeergridError(
                f"the service did not start on {host}:{port} in {start_timeout_s} s"
            )
        time.sleep(0.02)
    try:
        yield local_url(host, port)
    finally:
        server.should_exit = True
        thread.join(timeout=SHUTDOWN_GRACE_S + 10)
