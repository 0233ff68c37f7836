"""The ``peergrid`` command line: one module per command group, one error boundary
(:mod:`peergrid.cli.main`). Logging is configured here and only here."""

from peergrid.cli.main import app, main

__all__ = ["app", "main"]
