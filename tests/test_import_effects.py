"""Nothing happens on import: importing every module of peergrid, in a fresh interpreter, leaves
matplotlib's backend, logging, pandas' options, warnings filters and the file system as they
were.

Some libraries peergrid uses change such state when they are imported (cvxpy adds a log
handler, urllib3 and requests add warnings filters): the probe imports every third-party
package peergrid's sources name first, and compares what peergrid's own modules change.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import peergrid

SRC = Path(peergrid.__file__).parent

PROBE = r"""
import copy, importlib, json, logging, os, pkgutil, sys, warnings

import matplotlib
import pandas as pd
from pandas._config import config as pandas_config


def handlers():
    loggers = [logging.getLogger()] + [
        logging.getLogger(name) for name in sorted(logging.root.manager.loggerDict)
    ]
    return {
        logger.name: [type(h).__name__ for h in logger.handlers]
        for logger in loggers
        if any(not isinstance(h, logging.NullHandler) for h in logger.handlers)
    }


def state():
    return {
        "backend": repr(dict.__getitem__(matplotlib.rcParams, "backend")),
        "handlers": handlers(),
        "root_level": logging.getLogger().level,
        "pandas": repr(copy.deepcopy(pandas_config._global_config)),
        "warnings": repr(warnings.filters),
    }


for library in LIBRARIES:
    importlib.import_module(library)
before = state()
import peergrid

names = [
    m.name
    for m in pkgutil.walk_packages(peergrid.__path__, prefix="peergrid.")
    if m.name != "peergrid.__main__"
]
for name in names:
    importlib.import_module(name)
after = state()
print(json.dumps({"modules": len(names), "before": before, "after": after}))
"""


def _third_party_imports() -> set[str]:
    """The top-level packages outside peergrid and the standard library that it imports."""
    found: set[str] = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return {name for name in found if name not in sys.stdlib_module_names} - {"peergrid"}


def test_importing_every_module_changes_nothing(tmp_path: Path) -> None:
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PEERGRID_", "MPL", "XDG_")) and k != "PYTHONWARNINGS"
    }
    env |= {"HOME": str(home), "MPLBACKEND": ""}
    del env["MPLBACKEND"]
    libraries = sorted(_third_party_imports())
    assert {"cvxpy", "pandapower", "numpy", "typer"} <= set(libraries)
    probe = subprocess.run(
        [sys.executable, "-c", f"LIBRARIES = {libraries!r}\n" + PROBE],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout.strip().splitlines()[-1])
    assert found["modules"] > 50
    assert found["after"] == found["before"]
    # matplotlib keeps a font cache under $HOME at its first import: that is matplotlib's, and
    # it is made before peergrid is imported. peergrid itself writes nothing.
    written = sorted(
        str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if "matplotlib" not in p.parts
    )
    assert [w for w in written if not w.startswith(("home/.cache", "home/.config"))] == [
        "home",
        "work",
    ]
    assert [w for w in written if w.startswith(("home/.cache", "home/.config"))] in (
        [],
        [
            "home/.cache",
            "home/.config",
        ],
        ["home/.cache"],
        ["home/.config"],
    )
