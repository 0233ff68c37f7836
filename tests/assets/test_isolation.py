"""The device models need numpy only: no solver, no power flow."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import peergrid


def test_device_models_import_without_cvxpy_or_pandapower() -> None:
    src = str(Path(peergrid.__file__).parent.parent)
    code = (
        "import sys\n"
        "import peergrid.assets.battery, peergrid.assets.ev, peergrid.assets.load\n"
        "import peergrid.assets.pv\n"
        "heavy = sorted({'cvxpy', 'pandapower', 'scipy'} & set(sys.modules))\n"
        "assert not heavy, heavy\n"
    )
    env = os.environ | {"PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)
