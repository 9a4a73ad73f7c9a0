"""The package's import graph: no cycles, no import from a lower layer to a higher one, small modules.

Layers, lowest first. A module may import its own package and any lower layer, never a higher layer
and never a sibling package of its own layer (one monitor never imports another):

    contracts   errors, findings, records, the monitor and source protocols, the message, typed values
    support     shared helpers with no product logic (safe text, retries, rate limits, embeddings, cron)
    sources, notifiers, store          the outside world
    cost, drift, audit, events         one package per monitor
    engine      config, registries, the run pipeline, dedupe, delivery, wiring
    report, metrics   the weekly report; Prometheus series and Alertmanager sync (read the store via the engine)
    app         the CLI, the scheduler, Kubernetes rendering, the demo: nothing imports it
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "monitors"
LAYERS: list[set[str]] = [
    {"contracts"},
    {"support"},
    {"sources", "notifiers", "store"},
    {"cost", "drift", "audit", "events"},
    {"engine"},
    {"report", "metrics"},
    {"app"},
]
MAX_MODULE_LINES = 400
MAX_PACKAGE_SHARE = 0.20


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(path: Path) -> set[str]:
    """Every monitors.* module a file imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("monitors"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("monitors"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for imported in _imports(path):
            target = _resolve(imported, modules)
            if target and target != name and target != "monitors":
                graph[name].add(target)
    return graph


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _layer(package: str) -> int:
    for index, members in enumerate(LAYERS):
        if package in members:
            return index
    raise AssertionError(f"monitors.{package} is in no layer: add it to LAYERS and to the map of the code")


def test_every_package_has_a_layer() -> None:
    for module in _modules():
        if _top(module):
            _layer(_top(module))


def test_no_import_cycles() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert cycles == []


def test_imports_only_go_down_the_layers() -> None:
    wrong = []
    for module, targets in sorted(_graph().items()):
        here = _top(module)
        for target in sorted(targets):
            there = _top(target)
            if not here or here == there:
                continue
            if _layer(there) > _layer(here):
                wrong.append(f"{module} -> {target} (upward)")
            elif _layer(there) == _layer(here):
                wrong.append(f"{module} -> {target} (sibling package)")
    assert wrong == []


@pytest.mark.parametrize("module", sorted(_modules()))
def test_module_is_small(module: str) -> None:
    lines = len(_modules()[module].read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{module}: {lines} lines"


def test_no_package_holds_a_fifth_of_the_code() -> None:
    sizes: dict[str, int] = defaultdict(int)
    for module, path in _modules().items():
        sizes[_top(module) or "(root)"] += len(path.read_text().splitlines())
    total = sum(sizes.values())
    biggest = max(sizes, key=sizes.__getitem__)
    assert sizes[biggest] / total < MAX_PACKAGE_SHARE, f"monitors.{biggest}: {sizes[biggest]} of {total} lines"
