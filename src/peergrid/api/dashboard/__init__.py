"""The live dashboard served at ``/``: :func:`~.routes.dashboard_router` (the page, its state
and a server-sent event stream), :class:`~.feed.DashboardFeed` (what it shows) and
:mod:`.depth` (order book depth that reveals no one's bid)."""

from peergrid.api.dashboard.routes import dashboard_router

__all__ = ["dashboard_router"]
