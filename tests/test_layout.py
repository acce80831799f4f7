"""The package's import graph: no circles, and the layers' arrows point one way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "leakstats"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    """Every leakstats import of every module (module level, in functions, under
    TYPE_CHECKING), to the deepest leakstats module it names."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules
                           else node.module for a in node.names]
            graph[name].update(t for t in targets if t in modules and t not in (name, "leakstats"))
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[v] = min(low[v], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def test_circle_finder_finds_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(graph) == [["a", "b", "c"]]
    assert _circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles():
    assert _circles(_graph()) == []


@pytest.mark.parametrize("analysis", ["leakstats.compare", "leakstats.extrapolate",
                                      "leakstats.bayes", "leakstats.certify", "leakstats.plan"])
def test_presentation_never_imports_analysis(analysis):
    graph = _graph()
    bad = sorted(f"{m} -> {t}" for m, targets in graph.items() if m.startswith("leakstats.report")
                 for t in targets if t == analysis or t.startswith(analysis + "."))
    assert bad == []


def test_core_imports_no_other_layer():
    graph = _graph()
    bad = sorted(f"{m} -> {t}" for m, targets in graph.items() if m.startswith("leakstats.core")
                 for t in targets if not t.startswith("leakstats.core"))
    assert bad == []


#: Built-in errors that leakstats never raises itself: it raises its own subclasses of them
#: (``InputNotFoundError`` ...), which the CLI reports as bad input, exit code 2.
_BUILTIN_FILE_ERRORS = {"FileExistsError", "FileNotFoundError", "IsADirectoryError",
                        "NotADirectoryError", "PermissionError", "OSError", "ImportError",
                        "ModuleNotFoundError"}


def _raised_builtins(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Raise) and node.exc is not None:
            call = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(call, ast.Name) and call.id in _BUILTIN_FILE_ERRORS:
                found.append(f"{call.id} at line {node.lineno}")
    return found


def test_leakstats_raises_its_own_file_and_dependency_errors():
    offenders = [f"{path.relative_to(PACKAGE.parent)}: {hit}"
                 for path in sorted(PACKAGE.rglob("*.py"))
                 for hit in _raised_builtins(path.read_text(encoding="utf-8"))]
    assert not offenders, "raise leakstats' own error classes instead:\n" + "\n".join(offenders)


def test_raised_builtin_finder_finds_one():
    assert _raised_builtins("def f():\n    raise FileNotFoundError('x')\n") == [
        "FileNotFoundError at line 2"]
    assert _raised_builtins("raise InputNotFoundError('x')\n") == []
