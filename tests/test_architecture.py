"""The import graph of ``coarsegrad``: no cycle, and no import from a lower layer to a higher one.

Layers, bottom to top: the library (everything not named below) < ``claims`` < ``figures`` < ``cli``.
Claims and figures sit on top of the library and never the other way round; figures may read a
claim's finding (the descent regime), claims never draw; the CLI sits on everything. Imports inside
functions count too: a lazy import hides a cycle from the interpreter, not from the design.
"""
from __future__ import annotations

import ast
import shutil
from pathlib import Path

import numpy as np
import pytest

import coarsegrad

PACKAGE_DIR = Path(coarsegrad.__file__).parent

#: Top layers by module prefix; every other module of the package is the library (layer 0).
LAYERS = {"coarsegrad.claims": 1, "coarsegrad.figures": 2, "coarsegrad.cli": 3, "coarsegrad.__main__": 3}


def layer(module: str) -> int:
    for prefix, rank in LAYERS.items():
        if module == prefix or module.startswith(prefix + "."):
            return rank
    return 0


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def import_graph(root: Path) -> dict:
    """``{module: {imported module of the same package}}`` for every ``.py`` file under ``root``.

    ``from .x import y`` is an edge to ``x.y`` when that is a module of the package, else to ``x``.
    """
    files = {_module_name(p, root): p for p in root.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        is_pkg = path.name == "__init__.py"
        package = name if is_pkg else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[:len(base) - (node.level - 1)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in files else mod for a in node.names]
            else:
                continue
            for t in targets:
                while t and t not in files:          # `import coarsegrad.population.alpha as x` -> that module
                    t = t.rpartition(".")[0]
                if t and t != name:
                    edges.add(t)
        graph[name] = edges
    return graph


def find_cycle(graph: dict) -> list | None:
    """One import cycle as a list of modules (first == last), or None (iterative depth-first search)."""
    colour = dict.fromkeys(graph, 0)            # 0 unvisited, 1 on the stack, 2 done
    for start in sorted(graph):
        if colour[start]:
            continue
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        colour[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = 2
                stack.pop()
                path.pop()
            elif colour.get(child, 2) == 1:
                return path[path.index(child):] + [child]
            elif colour.get(child) == 0:
                colour[child] = 1
                stack.append((child, iter(sorted(graph[child]))))
                path.append(child)
    return None


def upward_imports(graph: dict) -> list:
    """Edges from a lower layer to a higher one."""
    return sorted((a, b) for a, edges in graph.items() for b in edges
                  if layer(b) > layer(a) and a != "coarsegrad")      # the package's own __init__ may re-export


def test_import_graph_has_no_cycle():
    graph = import_graph(PACKAGE_DIR)
    assert len(graph) > 20, f"parsed only {sorted(graph)}"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_import_from_a_lower_layer_to_a_higher_one():
    bad = upward_imports(import_graph(PACKAGE_DIR))
    assert not bad, "imports from a lower layer to a higher one (library < claims < figures < cli): " + ", ".join(
        f"{a} imports {b}" for a, b in bad)


def test_graph_sees_lazy_and_relative_imports():
    graph = import_graph(PACKAGE_DIR)
    assert "coarsegrad.figures" in graph["coarsegrad.cli"]              # lazy, inside a function
    assert "coarsegrad.subspaces" in graph["coarsegrad.claims.subspaces"]  # `from .. import subspaces`
    assert "coarsegrad.population" in graph["coarsegrad.train"]


# ---------------------------------------------------------------------------- negative controls

def _copy_package(tmp_path: Path) -> Path:
    root = tmp_path / "coarsegrad"
    shutil.copytree(PACKAGE_DIR, root, ignore=shutil.ignore_patterns("__pycache__", "*.npz"))
    return root


@pytest.mark.parametrize("where, line", [
    ("population/moments.py", "from ..train import SGD\n"),                  # the cycle issue 19 removed
    ("quant.py", "def _lazy():\n    from .nets import mlp_forward\n"),       # a lazy one
])
def test_a_planted_cycle_is_found(tmp_path, where, line):
    root = _copy_package(tmp_path)
    with open(root / where, "a") as fh:
        fh.write("\n" + line)
    cycle = find_cycle(import_graph(root))
    assert cycle is not None and cycle[0] == cycle[-1], "the planted cycle was not found"


def test_a_planted_upward_import_is_found(tmp_path):
    root = _copy_package(tmp_path)
    with open(root / "estimators.py", "a") as fh:
        fh.write("\ndef _lazy():\n    from .figures import FIGURES\n")
    assert ("coarsegrad.estimators", "coarsegrad.figures") in upward_imports(import_graph(root))


def test_find_cycle_on_small_graphs():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    diamond = {"a": {"b", "c"}, "b": {"d"}, "c": {"d"}, "d": set()}
    assert find_cycle(diamond) is None
    assert np.all([layer("coarsegrad.cli") > layer("coarsegrad.figures.alpha") > layer("coarsegrad.claims")
                   > layer("coarsegrad.train")])
