"""Names a package exports but imports on first use (PEP 562's module ``__getattr__``).

A package lists each exported name with the module that defines it; the module is imported the
first time the name is read, and the name is then kept in the package, so later reads cost
nothing. A process that needs one light module of a package (the service's intake workers, the
command line's help) does not load the rest.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def lazy_exports(
    package: str, sources: Mapping[str, str], names: Iterable[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, whose exported ``names`` are
    defined in the modules ``sources`` gives for them."""
    namespace = sys.modules[package].__dict__
    listed = frozenset(names)

    def __getattr__(name: str) -> Any:
        module = sources.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | listed)

    return __getattr__, __dir__
