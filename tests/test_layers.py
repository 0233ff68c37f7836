"""The layers of docs/architecture.md hold: every module imports, no layer imports one above
it, no module imports itself back through others, and the ledger runs without titanoboa."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import peergrid

SRC = Path(peergrid.__file__).parent

_BELOW_PLATFORM = {"core", "assets", "grid", "mechanisms", "ledger"}
_SIMULATIONS = {"sim", "microgrid", "protection"}

# layer -> the layers it may import (besides itself). A folder that is not listed is refused:
# a new layer is placed here, deliberately.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "assets": {"core"},
    "grid": {"core", "assets"},  # the OPF uses the device models
    "mechanisms": {"core", "assets", "grid"},
    "ledger": {"core"},  # settlement knows nothing of how trades were formed, nor of the grid
    "platform": _BELOW_PLATFORM,
    "sim": _BELOW_PLATFORM | {"platform", "protection"},  # reproduce/dc_protection runs S9
    "microgrid": _BELOW_PLATFORM | {"platform"},
    "protection": _BELOW_PLATFORM | {"platform"},
    "bench": _BELOW_PLATFORM | {"platform"} | _SIMULATIONS,  # a benchmark may run anything below
    "api": _BELOW_PLATFORM | {"platform"} | _SIMULATIONS,
    # the Python API a researcher calls; the command line is a thin layer on it
    "public": _BELOW_PLATFORM | {"platform"} | _SIMULATIONS,
    "cli": _BELOW_PLATFORM | {"platform", "api", "bench", "public", "__init__"} | _SIMULATIONS,
    # the package face hands on the names of a few layers; it never runs a command
    "__init__": _BELOW_PLATFORM | {"platform", "public"} | _SIMULATIONS,
    "__main__": {"cli"},
}


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join((root.name, *parts)).removesuffix(".__init__")


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path, package: str, *, named: bool = False) -> Iterator[str]:
    """Every module of ``package`` that ``path`` imports, in a function or not; with ``named``,
    also ``package.name`` for every ``from package import name`` (a module, if there is one)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if named:
                names += [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if name == package or name.startswith(package + "."):
                yield name


def layer_offences(root: Path) -> list[str]:
    """Every import in the package at ``root`` that runs against :data:`ALLOWED`."""
    offences = []
    for path in sorted(root.rglob("*.py")):
        module = _module_name(path, root)
        layer = _layer(module)
        if layer not in ALLOWED:
            offences.append(f"{module} is in no layer")
            continue
        for imported in _imports(path, root.name):
            target = _layer(imported)
            if target != layer and target not in ALLOWED[layer]:
                offences.append(f"{module} ({layer}) imports {imported} ({target})")
    return offences


def import_cycles(root: Path) -> list[list[str]]:
    """Modules that import themselves back through others (a deferred import counts too)."""
    modules = {_module_name(p, root): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = set()
        for imported in _imports(path, root.name, named=True):
            # A face that imports its own modules is no cycle; a module that imports its
            # package's face is one.
            if imported in modules and imported != module:
                targets.add(imported)
        graph[module] = targets
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path_stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path_stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append([*path_stack[path_stack.index(target) :], target])
            elif target not in state:
                visit(target)
        path_stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    return cycles


def test_every_module_imports() -> None:
    names = [m.name for m in pkgutil.walk_packages([str(SRC)], prefix="peergrid.")]
    assert "peergrid.mechanisms.dpda" in names
    for name in names:
        if name != "peergrid.__main__":  # running it is the CLI
            importlib.import_module(name)


def test_no_layer_imports_a_higher_one() -> None:
    assert layer_offences(SRC) == []


def test_no_module_imports_itself_back() -> None:
    assert import_cycles(SRC) == []


def test_mechanisms_and_ledger_stay_apart() -> None:
    assert "ledger" not in ALLOWED["mechanisms"]
    assert "mechanisms" not in ALLOWED["ledger"]


def _write(root: Path, module: str, text: str) -> None:
    path = root.joinpath(*module.split(".")[1:]).with_suffix(".py")
    path.parent.mkdir(parents=True, exist_ok=True)
    for parent in [path.parent, *path.parent.parents]:
        if parent == root.parent:
            break
        (parent / "__init__.py").touch()
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    root = tmp_path / "peergrid"
    _write(root, "peergrid.core.units", "X = 1\n")
    _write(root, "peergrid.sim.runner", "from peergrid.core.units import X\n")
    return root


def test_the_checks_find_a_layer_offence_and_a_cycle(toy: Path) -> None:
    assert layer_offences(toy) == [] and import_cycles(toy) == []
    _write(toy, "peergrid.core.orders", "def f():\n    from peergrid.sim import runner\n")
    _write(toy, "peergrid.ledger.chain", "import peergrid.mechanisms.dpda\n")
    _write(toy, "peergrid.gadgets.thing", "X = 2\n")
    assert layer_offences(toy) == [
        "peergrid.core.orders (core) imports peergrid.sim (sim)",
        "peergrid.gadgets is in no layer",
        "peergrid.gadgets.thing is in no layer",
        "peergrid.ledger.chain (ledger) imports peergrid.mechanisms.dpda (mechanisms)",
    ]
    _write(toy, "peergrid.core.units", "from peergrid.core.trades import Y\nX = 1\n")
    _write(toy, "peergrid.core.trades", "from peergrid.core.units import X\nY = 2\n")
    cycles = import_cycles(toy)
    assert [sorted(set(cycle)) for cycle in cycles] == [
        ["peergrid.core.trades", "peergrid.core.units"]
    ]
    assert all(cycle[0] == cycle[-1] for cycle in cycles)


def test_the_ledger_does_not_import_titanoboa() -> None:
    """The embedded chain drives py-evm itself: titanoboa is for tests only."""
    ledger = SRC / "ledger"
    users = [p.name for p in ledger.rglob("*.py") if list(_imports(p, "boa"))]
    assert users == []
