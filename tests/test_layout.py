"""The layout of src/helpers: no module over 800 lines, no import cycles, the analyst's names.

The import graph is read statically (ast) from the imports each module runs when it is loaded:
statements at module level, including inside ``if``/``try`` blocks, but not those under
``if TYPE_CHECKING:`` nor inside functions (imported on call, they cannot form a cycle at load).
An edge goes to the module an import names: ``from helpers.stats import meta`` to
``helpers.stats.meta``, ``from helpers.stats.meta import rma`` to ``helpers.stats.meta``.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

MAX_LINES = 800
PACKAGE = Path(__file__).resolve().parents[1] / "src" / "helpers"


def module_files(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under ``root`` (a package named root.name)."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = [root.name, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _load_time_imports(body: list[ast.stmt]) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If):
            test = node.test
            name = test.attr if isinstance(test, ast.Attribute) else getattr(test, "id", None)
            if name != "TYPE_CHECKING":
                found += _load_time_imports(node.body)
            found += _load_time_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                found += _load_time_imports(block)
            for handler in node.handlers:
                found += _load_time_imports(handler.body)
        elif isinstance(node, ast.With):
            found += _load_time_imports(node.body)
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports when loaded."""
    modules = module_files(root)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        package = name if is_package else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _load_time_imports(tree.body):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            for target in targets:
                while target and target not in modules:  # `import a.b.c` of a name in a.b
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = lowlink[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                lowlink[node] = min(lowlink[node], lowlink[target])
            elif target in on_stack:
                lowlink[node] = min(lowlink[node], index[target])
        if lowlink[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def long_modules(root: Path, limit: int = MAX_LINES) -> dict[str, int]:
    counts = {
        name: len(path.read_text(encoding="utf-8").splitlines())
        for name, path in module_files(root).items()
    }
    return {name: count for name, count in counts.items() if count > limit}


# ---------------------------------------------------------------------------------------------
# The project
# ---------------------------------------------------------------------------------------------


def test_no_module_is_over_800_lines() -> None:
    assert long_modules(PACKAGE) == {}


def test_helpers_has_no_import_cycle() -> None:
    graph = import_graph(PACKAGE)
    assert "helpers.stats.meta.model" in graph["helpers.stats.meta.influence"]  # graph is read
    assert cycles(graph) == []


@pytest.mark.parametrize(
    "module",
    ["helpers.stats.effects", "helpers.stats.meta", "helpers.evidence.schema", "helpers.data"],
)
def test_public_names_are_importable_from_the_modules_analysts_use(module: str) -> None:
    imported = importlib.import_module(module)
    missing = [name for name in imported.__all__ if not hasattr(imported, name)]
    assert missing == []


def test_analyst_short_names() -> None:
    from helpers import data, effects, forest, meta

    assert callable(effects.escalc) and callable(meta.rma) and callable(meta.leave1out)
    assert callable(data.load_all) and callable(forest.forest_plot)


# ---------------------------------------------------------------------------------------------
# The checks themselves, on a made-up package
# ---------------------------------------------------------------------------------------------


def write_package(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_a_cycle_through_a_package_init_is_found(tmp_path: Path) -> None:
    root = write_package(
        tmp_path / "pkg",
        {
            "__init__.py": "",
            "a.py": "from pkg.sub import thing\n",
            "sub/__init__.py": "from pkg.sub.b import thing\n",
            "sub/b.py": "import pkg.a\nthing = 1\n",
            "c.py": "from . import a\n",
        },
    )
    graph = import_graph(root)
    assert graph["pkg.c"] == {"pkg.a"}
    assert cycles(graph) == [["pkg.a", "pkg.sub", "pkg.sub.b"]]


def test_imports_that_do_not_run_at_load_make_no_cycle(tmp_path: Path) -> None:
    root = write_package(
        tmp_path / "pkg",
        {
            "__init__.py": "",
            "a.py": "from pkg import b\n",
            "b.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from pkg import a\n"
                "def later():\n    from pkg import a\n"
            ),
        },
    )
    assert cycles(import_graph(root)) == []


def test_a_long_module_is_named(tmp_path: Path) -> None:
    root = write_package(
        tmp_path / "pkg", {"__init__.py": "", "long.py": "x = 1\n" * (MAX_LINES + 1)}
    )
    assert long_modules(root) == {"pkg.long": MAX_LINES + 1}
