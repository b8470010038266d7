"""The import graph of every package in the repository, read from the source (no imports run).

Used by ``tests/test_import_graph.py``; run it directly to print the report::

    python tests/import_graph.py

An import counts as *module-level* when it runs while the module is imported: at the top of the
file, in a class body, or under a module-level ``if``/``try``. Imports under ``if TYPE_CHECKING:``
never run, and imports inside a function run only when it is called, so they are listed apart.
A cycle among module-level imports breaks or half-initialises a module depending on which one is
imported first; a cycle through function-level imports works but still ties two rooms together.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Where each package's source lives (src layouts: the folder holding the top-level package).
SOURCE_ROOTS = [
    ROOT / "src",
    *sorted((ROOT / "plugins").glob("*/src")),
    ROOT / "training" / "src",
    ROOT / "gguf" / "src",
]


@dataclass
class Graph:
    """Edges between modules, split by when the import runs."""

    modules: dict[str, Path] = field(default_factory=dict)
    module_level: dict[str, set[str]] = field(default_factory=dict)
    function_level: dict[str, set[str]] = field(default_factory=dict)
    type_only: dict[str, set[str]] = field(default_factory=dict)


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module) -> list[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import statement with where it runs: "module", "function" or "type"."""
    found: list[tuple[ast.Import | ast.ImportFrom, str]] = []

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append((child, where))
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, "function" if where == "module" else where)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    visit(ast.Module(body=[stmt], type_ignores=[]), "type" if where == "module" else where)
                for stmt in child.orelse:
                    visit(ast.Module(body=[stmt], type_ignores=[]), where)
            else:
                visit(child, where)

    visit(tree, "module")
    return found


def _targets(node: ast.Import | ast.ImportFrom, importer: str, is_package: bool, known: dict[str, Path]) -> set[str]:
    """The repository modules an import statement loads (the named module, or a submodule it names)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        if node.level:
            base = importer.split(".") if is_package else importer.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        # `from pkg import sub` loads pkg.sub when sub is a module; otherwise it reads a name of pkg.
        names = [f"{module}.{a.name}" if f"{module}.{a.name}" in known else module for a in node.names]
    out = set()
    for name in names:
        # `import a.b.c` loads a.b.c; an unknown tail (an attribute) falls back to the longest known module.
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name != importer:
            out.add(name)
    return out


def build(roots: list[Path] | None = None) -> Graph:
    """Read every module under ``roots`` (default :data:`SOURCE_ROOTS`) and collect its imports of
    the other modules found there."""
    g = Graph()
    for root in SOURCE_ROOTS if roots is None else roots:
        for path in sorted(root.rglob("*.py")):
            g.modules[_module_name(root, path)] = path
    for name, path in g.modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for kind in ("module_level", "function_level", "type_only"):
            getattr(g, kind).setdefault(name, set())
        for node, where in _imports(tree):
            bucket = {"module": g.module_level, "function": g.function_level, "type": g.type_only}[where]
            bucket[name] |= _targets(node, name, is_package, g.modules)
    return g


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0

    def strongconnect(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(edges):
        if v not in index:
            strongconnect(v)
    return sorted(out)


def merged(*parts: dict[str, set[str]]) -> dict[str, set[str]]:
    """The union of several edge maps."""
    out: dict[str, set[str]] = {}
    for part in parts:
        for k, v in part.items():
            out.setdefault(k, set()).update(v)
    return out


def _edges_within(g: Graph, comp: list[str]) -> list[str]:
    members = set(comp)
    out = []
    for kind, edges in (("module", g.module_level), ("function", g.function_level), ("type", g.type_only)):
        out += [f"{a} -> {b} ({kind})" for a in comp for b in sorted(edges.get(a, ())) if b in members]
    return out


def report(g: Graph) -> str:
    """Cycles by the kind of import that closes them, each with the imports inside it."""
    lines = []
    seen: list[list[str]] = []
    for title, edges in (
        ("module-level cycles", g.module_level),
        ("cycles closed by function-level imports", merged(g.module_level, g.function_level)),
        ("cycles closed by TYPE_CHECKING imports", merged(g.module_level, g.function_level, g.type_only)),
    ):
        found = [c for c in cycles(edges) if c not in seen]
        seen += found
        lines.append(f"{title}: {len(found)}")
        for c in found:
            lines.append("  " + " <-> ".join(c))
            lines += ["      " + e for e in _edges_within(g, c)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(report(build()), end="")
