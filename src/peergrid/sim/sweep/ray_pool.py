"""Ray as the engine of sweeps and regions: a local instance started and stopped here, or a
cluster joined by its address; tasks kept in flight up to the number of workers.

Ray is imported when a pool opens, never on import (``peergrid`` stays light without it). A local
instance gets ``workers`` CPUs, no dashboard and a small object store (the tasks return figures,
not tables); its workers inherit the driver's environment, so a source checkout on
``PYTHONPATH`` is what they import. A cluster (``address``: ``auto`` for one running on this
machine, ``ray://host:10001`` for a remote head) is joined and left, never stopped.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from peergrid.core.errors import PeergridError

OBJECT_STORE_BYTES = 100 * 2**20
"""The local instance's object store: Ray's smallest (results are a few kB a task)."""
WAIT_SECONDS = 0.5

T = TypeVar("T")


class EngineError(PeergridError):
    """Ray is missing, or the cluster cannot be reached."""


@dataclass(frozen=True)
class Finished(Generic[T]):
    """A task's end: its item, what it returned (``None`` when it raised) and the error."""

    item: T
    value: Any
    error: str | None


@contextmanager
def ray_pool(address: str | None, workers: int | None) -> Iterator[RayPool]:
    """A pool on a local Ray instance (``address`` None) or on the cluster at ``address``.

    The local instance is started with ``workers`` CPUs (default: this machine's) and shut down
    on leaving, whatever happened; a cluster is only disconnected from.
    """
    try:
        import ray
    except ImportError:
        raise EngineError(
            "Ray is not installed: pip install 'peergrid[distributed]' (or pip install ray)"
        ) from None
    if workers is not None and workers < 1:
        raise EngineError(f"--workers must be at least 1, got {workers}")
    options: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "logging_level": logging.WARNING,
    }
    session_dir: str | None = None
    if address is None:
        cpus = workers or os.cpu_count() or 1
        # A local instance keeps its session (logs, sockets, spilled objects) in a folder of its
        # own, removed on leaving: Ray's default, /tmp/ray, keeps every session for good.
        session_dir = tempfile.mkdtemp(prefix="peergrid-ray-")
        options |= {
            "num_cpus": cpus,
            "object_store_memory": OBJECT_STORE_BYTES,
            "_temp_dir": session_dir,
        }
    else:
        options["address"] = address
        options.pop("include_dashboard")
    try:
        try:
            ray.init(**options)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            where = "a local Ray instance" if address is None else f"the Ray cluster at {address!r}"
            raise EngineError(f"cannot start or join {where}: {exc}") from None
        try:
            slots = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
            yield RayPool(slots)
        finally:
            ray.shutdown()
    finally:
        if session_dir is not None:
            shutil.rmtree(session_dir, ignore_errors=True)


class RayPool:
    """Ray tasks, at most ``slots`` in flight; one CPU each, never retried (a failure is
    recorded, not hidden behind a second try)."""

    def __init__(self, slots: int) -> None:
        self.slots = slots

    def map(
        self,
        function: Callable[..., Any],
        items: Sequence[T],
        arguments: Callable[[T], tuple[Any, ...]],
        on_event: Callable[[int, int, Finished[T] | None], None] | None = None,
    ) -> Iterator[Finished[T]]:
        """Run ``function(*arguments(item))`` for every item as a Ray task; yields each as it
        finishes (in finishing order). ``on_event(running, done, finished)`` is called when tasks
        start (``finished`` None) and after each end."""
        import ray
        from ray.exceptions import RayError

        remote = ray.remote(num_cpus=1, max_retries=0)(function)
        pending = deque(items)
        in_flight: dict[Any, T] = {}
        done = 0
        while pending or in_flight:
            started = False
            while pending and len(in_flight) < self.slots:
                item = pending.popleft()
                in_flight[remote.remote(*arguments(item))] = item
                started = True
            if started and on_event is not None:
                on_event(len(in_flight), done, None)
            ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=WAIT_SECONDS)
            for ref in ready:
                item = in_flight.pop(ref)
                try:
                    finished = Finished(item, ray.get(ref), None)
                except RayError as exc:
                    # A worker that died or a task that raised: the item's error, not the pool's.
                    cause = getattr(exc, "cause", None) or exc
                    message = str(cause).strip().splitlines()
                    text = message[-1] if message else type(cause).__name__
                    finished = Finished(item, None, f"{type(cause).__name__}: {text}")
                done += 1
                if on_event is not None:
                    on_event(len(in_flight), done, finished)
                yield finished
