"""The offline server's code: standard library only, no import circles, small modules, assets shipped."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

OFFLINE = Path(__file__).parents[1] / "haoee_jupyter" / "offline"
MODULES = sorted(OFFLINE.glob("*.py"))


def imports_of(path: Path) -> tuple[set[str], set[str]]:
    """(modules of this package it imports, top-level outside modules it imports), TYPE_CHECKING included."""
    tree = ast.parse(path.read_text())
    inside: set[str] = set()
    outside: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                if node.module:
                    inside.add(node.module)
                else:
                    inside.update(alias.name for alias in node.names)
            elif node.level == 0 and node.module:
                outside.add(node.module.split(".")[0])
            else:
                outside.add("haoee_jupyter")  # a parent-relative import leaves the offline package
        elif isinstance(node, ast.Import):
            outside.update(alias.name.split(".")[0] for alias in node.names)
    return inside, outside


def test_standard_library_only() -> None:
    for path in MODULES:
        _inside, outside = imports_of(path)
        foreign = {name for name in outside if name not in sys.stdlib_module_names and name != "__future__"}
        assert not foreign, (path.name, foreign)


def test_no_import_circles() -> None:
    graph = {path.stem: imports_of(path)[0] for path in MODULES}
    assert "_http" in graph and "_server" in graph

    def visit(module: str, trail: tuple[str, ...]) -> None:
        for target in graph.get(module, ()):
            assert target not in trail, " -> ".join((*trail, target))
            visit(target, (*trail, target))

    for module in graph:
        visit(module, (module,))


def test_modules_stay_small() -> None:
    for path in MODULES:
        assert len(path.read_text().splitlines()) <= 400, path.name
