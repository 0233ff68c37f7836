"""Alembic's environment for the service's database: the connection is handed in by
:func:`peergrid.platform.service.readmodel.migrate` (no ini file, no logging set up here)."""

from __future__ import annotations

from alembic import context

from peergrid.platform.service.readmodel import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
