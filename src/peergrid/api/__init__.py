"""The HTTP service (FastAPI): :func:`~peergrid.api.app.create_app`, the signatures
(:mod:`.auth`), the bodies (:mod:`.schemas`) and the service built from a scenario
(:func:`~peergrid.api.service.open_service`)."""

from peergrid.api.app import create_app
from peergrid.api.service import Service, open_service

__all__ = ["Service", "create_app", "open_service"]
