"""The ledger imports neither a higher layer (sim, platform, api, cli) nor mechanisms or grid."""

from __future__ import annotations

import ast
from pathlib import Path

import peergrid.ledger

LEDGER = Path(peergrid.ledger.__file__).parent
FORBIDDEN = ("mechanisms", "sim", "grid", "platform", "api", "cli")


def _module(path: Path) -> str:
    parts = ("peergrid", "ledger", *path.relative_to(LEDGER).with_suffix("").parts)
    return ".".join(parts).removesuffix(".__init__")


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
    """The embedded chain drives py-evm itself (chain/embedded.py): titanoboa is for tests only."""
    assert not [
        p.name for p in LEDGER.rglob("*.py") if "boa" in {n.split(".")[0] for n in _imports(p)}
    ]


def test_no_module_of_the_ledger_imports_one_that_imports_it_back() -> None:
    """No import cycle, direct or transitive, counting imports inside functions too.

    ``from package import name`` counts as importing the module ``package.name`` when there is
    one; a package's own face (its ``__init__``) is not counted as imported by its modules.
    """
    modules = {_module(path): path for path in LEDGER.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                edges.update(alias.name for alias in node.names if alias.name in modules)
            elif isinstance(node, ast.ImportFrom) and node.module:
                edges.update(
                    f"{node.module}.{alias.name}"
                    for alias in node.names
                    if f"{node.module}.{alias.name}" in modules
                )
                if node.module in modules:
                    edges.add(node.module)
        graph[name] = edges

    def reachable(start: str) -> set[str]:
        seen: set[str] = set()
        stack = [start]
        while stack:
            for target in graph[stack.pop()] - seen:
                seen.add(target)
                stack.append(target)
        return seen

    assert "peergrid.ledger.chain.rpc" in graph and "peergrid.ledger.markets.base" in graph
    assert [name for name in sorted(graph) if name in reachable(name)] == []
