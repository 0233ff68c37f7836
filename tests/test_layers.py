"""Every module imports, and no layer imports one above it (DESIGN.md, "Layers")."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import peergrid

SRC = Path(peergrid.__file__).parent

# layer -> layers it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "grid": {"core"},
    "assets": {"core"},
    "mechanisms": {"core", "grid", "assets"},
    "ledger": {"core", "grid", "assets"},
    "sim": {"core", "grid", "assets", "mechanisms", "ledger", "platform"},
    "platform": {"core", "grid", "assets", "mechanisms", "ledger"},
    "api": {"core", "grid", "assets", "mechanisms", "ledger", "sim", "platform"},
    "cli": {"core", "grid", "assets", "mechanisms", "ledger", "sim", "platform", "api"},
}


def _layer(module: str) -> str:
    parts = module.split(".")
    layer = parts[1] if len(parts) > 1 else "__init__"
    # cli_*.py modules are parts of the command line
    return "cli" if layer.startswith("cli_") else layer


def _peergrid_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("peergrid."))
        elif (
            isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("peergrid.")
        ):
            found.add(node.module)
    return found


def test_every_module_imports() -> None:
    names = [m.name for m in pkgutil.walk_packages([str(SRC)], prefix="peergrid.")]
    assert "peergrid.mechanisms.dpda" in names
    for name in names:
        if name != "peergrid.__main__":  # running it is the CLI
            importlib.import_module(name)


def test_no_layer_imports_a_higher_one() -> None:
    offences = []
    for path in SRC.rglob("*.py"):
        module = "peergrid." + ".".join(path.relative_to(SRC).with_suffix("").parts)
        layer = _layer(module.removesuffix(".__init__"))
        if layer in ("__init__", "__main__"):
            continue
        layer = layer.removesuffix(".py")
        for imported in _peergrid_imports(path):
            target = _layer(imported)
            if target != layer and target not in ALLOWED[layer]:
                offences.append(f"{module} imports {imported}")
    assert offences == []


def test_mechanisms_and_ledger_stay_apart() -> None:
    assert "ledger" not in ALLOWED["mechanisms"]
    assert "mechanisms" not in ALLOWED["ledger"]
