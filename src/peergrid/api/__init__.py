"""The HTTP service (FastAPI): :func:`~peergrid.api.app.create_app`, the signatures
(:mod:`.auth`), the bodies (:mod:`.schemas`) and the service built from a scenario
(:func:`~peergrid.api.service.open_service`).

The names below are imported on first use, so that a process that needs one light module
of this package (the service's intake workers) does not load the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from peergrid.core.lazy import lazy_exports

if TYPE_CHECKING:
    from peergrid.api.app import (
        create_app,
    )
    from peergrid.api.service import (
        Service,
        open_service,
    )

# name -> the module that defines it, imported on first use (PEP 562)
_LAZY: dict[str, str] = {
    "Service": "peergrid.api.service",
    "create_app": "peergrid.api.app",
    "open_service": "peergrid.api.service",
}

__all__ = [
    "Service",
    "create_app",
    "open_service",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
