"""The engine's module structure (issue 15): no import circle among fakebean's modules (type-checking
imports included), and the command handlers reach the engine only through ``engine_view``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.fake

SRC = Path(__file__).resolve().parent.parent / "src"


def _imports(package: str) -> dict[str, set[str]]:
    """Each module of ``package`` and the sibling modules it imports, at any level of its code."""
    folder = SRC / package
    modules = {path.stem for path in folder.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in folder.glob("*.py"):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1 and node.module:
                    found.add(node.module.split(".")[0])
                elif node.level == 1:
                    found.update(alias.name for alias in node.names)
                elif node.module and node.module.startswith(package + "."):
                    found.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                found.update(a.name.split(".")[1] for a in node.names if a.name.startswith(package + "."))
        graph[path.stem] = (found & modules) - {path.stem, "__init__"}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return path[path.index(module) :] + [module]
        if module in done:
            return None
        for dep in sorted(graph.get(module, ())):
            found = visit(dep, path + [module])
            if found:
                return found
        done.add(module)
        return None

    for module in sorted(graph):
        found = visit(module, [])
        if found:
            return found
    return None


def test_no_import_circle() -> None:
    assert _cycle(_imports("fakebean")) is None


def test_handlers_see_the_engine_only_through_its_view() -> None:
    graph = _imports("fakebean")
    for module in ("dispatch", "commands", "inspection", "stats", "engine_view"):
        assert not graph[module] & {"engine", "scheduler"}, (module, graph[module])
    assert "dispatch" in graph["engine"]
