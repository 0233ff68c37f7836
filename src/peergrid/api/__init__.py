"""The HTTP service (FastAPI): :func:`~peergrid.api.app.create_app`, the signatures
(:mod:`.auth`), the bodies (:mod:`.schemas`) and the service built from a scenario
(:mod:`.service`)."""
