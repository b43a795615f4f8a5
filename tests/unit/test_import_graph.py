"""No module of ``xpay_auth`` imports, even for the type checker only, one that imports it back.

A circle hides which layer depends on which and breaks at import time as soon as one of its
imports leaves ``if TYPE_CHECKING``. The graph is read from the source with ``ast``: every
import statement counts, wherever it stands (module level, ``if TYPE_CHECKING``, a function).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import xpay_auth

PACKAGE_ROOT = Path(xpay_auth.__file__).parent


def module_names(root: Path) -> dict[str, Path]:
    """Every module under ``root`` (a package directory) by dotted name."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = [root.name, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _imported(
    node: ast.Import | ast.ImportFrom, module: str, *, is_package: bool, modules: set[str]
) -> set[str]:
    """The modules one import statement of ``module`` loads.

    ``from a import b`` loads module ``a.b`` when there is one, else takes the name ``b``
    from ``a``. The packages above a module are not counted: their initialisation runs
    first, but what it imports is counted where it is written.
    """
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        anchor = package[: len(package) - node.level + 1]
        base = ".".join([*anchor, base] if base else anchor)
    return {
        f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
        for alias in node.names
    }


def import_graph(root: Path) -> dict[str, set[str]]:
    """Which modules of the package under ``root`` each one imports."""
    modules = module_names(root)
    names = set(modules)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        graph[name] = {
            target
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Import | ast.ImportFrom)
            for target in _imported(node, name, is_package=is_package, modules=names)
            if target in names and target != name
        }
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a path that ends where it starts, or None."""
    done: set[str] = set()
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(node: str) -> list[str] | None:
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target in on_stack:
                return [*stack[stack.index(target) :], target]
            if target not in done:
                found = visit(target)
                if found is not None:
                    return found
        stack.pop()
        on_stack.discard(node)
        done.add(node)
        return None

    for start in sorted(graph):
        if start not in done:
            found = visit(start)
            if found is not None:
                return found
    return None


def test_no_import_circle_in_the_package() -> None:
    """No module of xpay_auth reaches itself through its imports, TYPE_CHECKING ones included."""
    graph = import_graph(PACKAGE_ROOT)
    assert len(graph) > 100  # the whole package was read
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_services_are_given_their_parts_not_the_runtime() -> None:
    """Services and components import neither the runtime nor the wiring that builds from it,
    and components import no service: what a service touches is in its signature."""
    graph = import_graph(PACKAGE_ROOT)
    builders = {"xpay_auth.runtime", "xpay_auth.wiring"}
    for module, targets in graph.items():
        if module.startswith(("xpay_auth.services.", "xpay_auth.components.")):
            assert not targets & builders, module
        if module.startswith("xpay_auth.components."):
            assert not {t for t in targets if t.startswith("xpay_auth.services.")}, module


def test_a_circle_through_a_type_checking_import_is_found(tmp_path: Path) -> None:
    """A module importing, for the type checker only, a module that imports it is a circle."""
    package = tmp_path / "pkg"
    (package / "services").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "services" / "__init__.py").write_text("")
    (package / "runtime.py").write_text("from pkg.services.audit import AuditTrail\n")
    (package / "services" / "audit.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.runtime import Runtime\n"
    )
    (package / "services" / "keys.py").write_text("from . import audit\nfrom ..runtime import x\n")
    graph = import_graph(package)
    assert graph["pkg.services.keys"] == {"pkg.services.audit", "pkg.runtime"}
    assert find_cycle(graph) == ["pkg.runtime", "pkg.services.audit", "pkg.runtime"]


def test_imports_of_names_and_of_modules_are_told_apart(tmp_path: Path) -> None:
    """``from a import b`` depends on module a.b when there is one, else on a alone."""
    package = tmp_path / "pkg"
    (package / "a").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a" / "__init__.py").write_text("from pkg.a.b import thing\n")
    (package / "a" / "b.py").write_text("thing = 1\n")
    (package / "c.py").write_text("from pkg.a import b\nfrom pkg.a import thing\n")
    graph = import_graph(package)
    assert graph["pkg.c"] == {"pkg.a", "pkg.a.b"}
    assert graph["pkg.a.b"] == set()
    assert find_cycle(graph) is None


def test_commands_and_the_app_start_without_alembic_or_redis() -> None:
    """Alembic and redis-py load only to migrate and where Redis is configured: each process
    the CLI or ``serve`` starts would otherwise spend a fifth of its start-up on them."""
    code = (
        "import sys, xpay_auth.cli.main, xpay_auth.app\n"
        "print(sorted(name for name in ('alembic', 'mako', 'redis') if name in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert loaded.stdout.strip() == "[]", loaded.stdout
