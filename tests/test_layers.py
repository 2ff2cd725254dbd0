"""The package's layers, read from its import statements: no import circle anywhere, and the
client and rendering layers never import IPython, ipywidgets or traitlets.

Every import statement counts: at the top, inside functions, and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "haoee_jupyter"
NOTEBOOK_ONLY = {"IPython", "ipywidgets", "traitlets", "ipykernel"}


def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package (packages by their __init__)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> tuple[set[str], set[str]]:
    """(modules of the package this one imports, top-level names of outside packages it imports)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    inside, outside = set(), set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                (inside if alias.name in known else outside).add(
                    alias.name if alias.name in known else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "haoee_jupyter":
                outside.add(target.split(".")[0])
                continue
            for alias in node.names:
                # `from . import _settings` imports the module; `from ._x import name` imports _x
                inside.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in known else target)
    return inside, outside


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known)[0] for name, path in known.items()}


def cycle_in(edges: dict[str, set[str]]) -> list[str] | None:
    """One import circle, as a path that comes back to its start, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target, [*path, target])):
                return found
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node, [node])):
            return found
    return None


def test_the_reader_sees_the_imports_it_must() -> None:
    edges = graph()
    assert {"haoee_jupyter.notebook._core", "haoee_jupyter.client._settings"} <= edges[
        "haoee_jupyter.notebook._core"
    ] | {"haoee_jupyter.notebook._core"}
    assert "haoee_jupyter.notebook._magics" in edges["haoee_jupyter"]  # inside a function
    assert "haoee_jupyter.notebook._form" in edges["haoee_jupyter"]  # under TYPE_CHECKING
    assert (
        "haoee_jupyter.client._settings" in edges["haoee_jupyter.notebook._subcommands"]
    )  # from ..client import _settings
    assert cycle_in({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle_in({"a": {"b"}, "b": set()}) is None


def test_no_import_circle_in_the_package() -> None:
    found = cycle_in(graph())
    assert found is None, "import circle: " + " -> ".join(found or [])


def test_the_form_does_not_import_the_magic() -> None:
    edges = graph()
    assert "haoee_jupyter.notebook._magics" not in edges["haoee_jupyter.notebook._form"]
    assert "haoee_jupyter.notebook._magics" not in edges["haoee_jupyter.notebook._subcommands"]


def test_client_and_render_never_import_the_notebook_stack() -> None:
    known = modules()
    for name, path in known.items():
        if name.startswith(("haoee_jupyter.client", "haoee_jupyter.render")):
            inside, outside = imports(name, path, known)
            assert not outside & NOTEBOOK_ONLY, (name, outside & NOTEBOOK_ONLY)
            assert not {m for m in inside if m.startswith("haoee_jupyter.notebook")}, name
