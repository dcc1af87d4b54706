"""The module structure (issue 15): no import circle among fakebean's modules, binlog included, nor
among beanclient's (type-checking imports count too), and the command handlers reach the engine
only through ``engine_view``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.paths import SRC

pytestmark = pytest.mark.fake


def _imports(package: str) -> dict[str, set[str]]:
    """Each module of ``package`` (subpackages included, named relative to it: ``engine``,
    ``binlog``, ``binlog.wal``) and the modules of ``package`` it imports, at any level of its code.
    The top package's ``__init__`` is left out: every module passes through it."""
    root = SRC / package
    modules: dict[str, Path] = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if parts:
            modules[".".join(parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        # the package a relative import starts from, relative to ``package``
        here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here[: len(here) - (node.level - 1)] if node.level > 1 else here
                    target = ".".join(base + ([node.module] if node.module else []))
                elif node.module and node.module.startswith(package + "."):
                    target = node.module[len(package) + 1 :]
                else:
                    continue
                subs = {f"{target}.{a.name}".lstrip(".") for a in node.names} & modules.keys()
                found |= subs or ({target} & modules.keys())
            elif isinstance(node, ast.Import):
                found.update(
                    a.name[len(package) + 1 :] for a in node.names if a.name[len(package) + 1 :] in modules
                )
        graph[name] = found - {name}
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


@pytest.mark.parametrize("package", ["fakebean", "beanclient"])
def test_no_import_circle(package: str) -> None:
    assert _cycle(_imports(package)) is None


def test_the_graph_sees_subpackages_and_type_checking_imports() -> None:
    graph = _imports("fakebean")
    assert "engine" in graph["binlog.journal"]  # under TYPE_CHECKING, two levels up
    assert "binlog.lock" in graph["binlog.wal"]
    assert {"binlog.journal", "binlog.recovery"} <= graph["binlog"]


def test_handlers_see_the_engine_only_through_its_view() -> None:
    graph = _imports("fakebean")
    for module in ("dispatch", "commands", "inspection", "stats", "engine_view"):
        assert not graph[module] & {"engine", "scheduler"}, (module, graph[module])
    assert "dispatch" in graph["engine"]


def test_what_users_import_is_where_they_import_it_from() -> None:
    """Modules split in two keep their public names where users (and the README) import them."""
    import fakebean
    from fakebean import epollserver, real_beanstalkd, server, testing

    assert fakebean.Server is server.Server
    assert epollserver.EpollServer.__module__ == "fakebean.epollserver"
    for name in ("RealBeanstalkd", "find_beanstalkd", "beanstalkd_version", "supports_socket_activation"):
        assert getattr(testing, name) is getattr(real_beanstalkd, name)
        assert name in testing.__all__
