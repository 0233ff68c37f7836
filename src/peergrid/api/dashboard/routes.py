"""The dashboard's routes: the page at ``/``, its script, its state, and a live stream.

* ``GET /`` — the page (plain HTML; its script and drawing are served by the package, nothing
  from the network, so it works offline);
* ``GET /dashboard/state`` — the snapshot (:class:`~.feed.DashboardFeed`) as JSON;
* ``GET /dashboard/feeder`` — the feeder's bus positions and lines (404 without a feeder);
* ``GET /dashboard/events`` — server-sent events: ``state`` (a snapshot) when it changes,
  ``clock`` every second. Kept out of the OpenAPI schema: it is a stream that does not end.

The page is for anyone who reaches the service (it listens on 127.0.0.1 unless told otherwise);
what it shows is what the chain shows members — settled slots, trades, balances, the DSO's
income — plus book depth pooled so that no order can be told apart (:mod:`.depth`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Hashable
from importlib.resources import files
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from peergrid.api.dashboard.feed import DashboardFeed
from peergrid.grid.feeders import Feeder
from peergrid.platform.service.market import LiveMarket

POLL_S = 0.25
"""How often a stream looks for a change (real seconds)."""
CLOCK_EVERY_S = 1.0

STATIC = files("peergrid.api.dashboard") / "static"


def dashboard_router(market: LiveMarket, feeder: Feeder | None = None) -> APIRouter:
    """The dashboard of ``market``; ``feeder`` (the market's feeder) draws the map."""
    feed = DashboardFeed(market, feeder)
    router = APIRouter(tags=["dashboard"])

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    @router.get("/dashboard/app.js", include_in_schema=False)
    def script() -> Response:
        return Response(
            (STATIC / "dashboard.js").read_text(encoding="utf-8"),
            media_type="text/javascript",
        )

    @router.get("/dashboard/state")
    def state() -> dict[str, Any]:
        """The dashboard's snapshot: clock, cleared and matched slots, pooled depth, the map
        slot's trades and voltages, balances."""
        return feed.snapshot()

    @router.get("/dashboard/feeder")
    def feeder_map() -> dict[str, Any]:
        """The feeder's bus positions and lines, and the members' buses."""
        geometry = feed.geometry()
        if geometry is None:
            raise HTTPException(404, "this service was started without its feeder's map")
        return geometry

    @router.get("/dashboard/events", include_in_schema=False)
    async def events(request: Request) -> StreamingResponse:
        return StreamingResponse(
            _stream(feed, request),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return router


async def _stream(feed: DashboardFeed, request: Request) -> AsyncIterator[str]:
    """``state`` when the snapshot changes, ``clock`` every second, until the client goes."""
    loop = asyncio.get_running_loop()
    yield "retry: 2000\n\n"
    sent: Hashable = None
    last_clock = 0.0
    while not await request.is_disconnected():
        version = await run_in_threadpool(feed.version)
        if version != sent:
            snapshot = await run_in_threadpool(feed.snapshot)
            sent = version
            yield _event("state", snapshot)
            last_clock = loop.time()
        elif loop.time() - last_clock >= CLOCK_EVERY_S:
            yield _event("clock", feed.clock())
            last_clock = loop.time()
        await asyncio.sleep(POLL_S)


def _event(name: str, data: Any) -> str:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
