"""The ledger imports neither a higher layer (sim, platform, api, cli) nor mechanisms or grid."""

from __future__ import annotations

import ast
from pathlib import Path

import peergrid.ledger

LEDGER = Path(peergrid.ledger.__file__).parent
FORBIDDEN = ("mechanisms", "sim", "grid", "platform", "api", "cli")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_ledger_imports_only_core_of_peergrid() -> None:
    modules = sorted(LEDGER.rglob("*.py"))
    assert len(modules) >= 6
    offences = [
        f"{path.name} imports {name}"
        for path in modules
        for name in _imports(path)
        if name.startswith("peergrid.") and name.split(".")[1] in FORBIDDEN
    ]
    assert offences == []


def test_ledger_does_not_import_titanoboa() -> None:
    """The embedded chain drives py-evm itself (see chain.py): titanoboa is for tests only."""
    assert not [
        p.name for p in LEDGER.rglob("*.py") if "boa" in {n.split(".")[0] for n in _imports(p)}
    ]
