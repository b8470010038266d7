"""No import cycles between the modules of the core, the plugins, training and gguf.

The graph is read from the source with ``ast`` (see ``tests/import_graph.py``; ``python
tests/import_graph.py`` prints it). A module-level cycle fails outright. Cycles that only
function-level or ``TYPE_CHECKING`` imports close are listed in :data:`KNOWN_CYCLES`: a new one
fails, and so does a listed one that is gone (take it off the list).
"""

from __future__ import annotations

import textwrap

import import_graph

#: Cycles closed only by ``TYPE_CHECKING`` imports (none closed by imports inside functions is
#: left: a new one fails).
KNOWN_CYCLES = [
    # Type-only, never executed: the describer's mixins (one per concern, sqlglot's Generator
    # convention) annotate ``self`` as the :class:`Describer` that combines them, for the type
    # checker; at run time only base.py imports the mixins.
    [
        "sql2nl.rules.base",
        "sql2nl.rules.changes",
        "sql2nl.rules.conditions",
        "sql2nl.rules.expressions",
        "sql2nl.rules.outline",
        "sql2nl.rules.queries",
        "sql2nl.rules.relations",
    ],
]


#: Who may import whom, by distribution (the layers of docs/architecture.md). The core imports none
#: of the others; plugins and training import only the core; the GGUF export imports the core, the
#: llama.cpp plugin (to load a GGUF safely) and training (to merge a run's adapter before export).
LAYERS = {
    "sql2nl": set(),
    "sql2nl_transformers": {"sql2nl"},
    "sql2nl_llamacpp": {"sql2nl"},
    "sql2nl_openai": {"sql2nl"},
    "sql2nl_training": {"sql2nl"},
    "sql2nl_gguf": {"sql2nl", "sql2nl_llamacpp", "sql2nl_training"},
    # a model plugin: it names a model for the llamacpp backend through the core's hook only
    "sql2nl_smollm2": {"sql2nl"},
}


def test_each_distribution_imports_only_the_layers_below_it():
    g = import_graph.build()
    assert {m.split(".")[0] for m in g.modules} == set(LAYERS), "a new distribution: give it a row in LAYERS"
    wrong = sorted(
        f"{a} -> {b}"
        for edges in (g.module_level, g.function_level, g.type_only)
        for a, targets in edges.items()
        for b in targets
        if b.split(".")[0] != a.split(".")[0] and b.split(".")[0] not in LAYERS[a.split(".")[0]]
    )
    assert wrong == []


def test_no_module_level_import_cycles():
    g = import_graph.build()
    assert len(g.modules) > 50, "the source roots moved: the graph is nearly empty"
    assert import_graph.cycles(g.module_level) == [], import_graph.report(g)


def test_function_level_and_type_only_cycles_are_the_known_ones():
    g = import_graph.build()
    found = import_graph.cycles(import_graph.merged(g.module_level, g.function_level, g.type_only))
    assert found == KNOWN_CYCLES, import_graph.report(g)


def _package(tmp_path, files):
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return import_graph.build([tmp_path])


def test_the_graph_tells_module_function_and_type_only_imports_apart(tmp_path):
    g = _package(
        tmp_path,
        {
            "pkg/__init__.py": "from .a import x\n",
            "pkg/a.py": """\
            from typing import TYPE_CHECKING
            from . import b
            import pkg.c as c
            if TYPE_CHECKING:
                from .d import D
            try:
                from pkg import e
            except ImportError:
                e = None
            class K:
                from .f import F
            def later():
                from .g import G
                from . import h
            x = 1
            """,
            **{f"pkg/{m}.py": "" for m in "bcdefgh"},
        },
    )
    assert g.module_level["pkg"] == {"pkg.a"}
    assert g.module_level["pkg.a"] == {"pkg.b", "pkg.c", "pkg.e", "pkg.f"}
    assert g.function_level["pkg.a"] == {"pkg.g", "pkg.h"}
    assert g.type_only["pkg.a"] == {"pkg.d"}


def test_a_module_level_cycle_is_found_and_a_function_level_one_kept_apart(tmp_path):
    g = _package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from .b import y\nx = 1\n",
            "pkg/b.py": "from pkg.a import x\ny = 2\n",
            "pkg/c.py": "from . import d\n",
            "pkg/d.py": "def f():\n    from . import c\n",
            "pkg/sub/__init__.py": "from .. import a\n",
        },
    )
    assert import_graph.cycles(g.module_level) == [["pkg.a", "pkg.b"]]
    both = import_graph.cycles(import_graph.merged(g.module_level, g.function_level))
    assert both == [["pkg.a", "pkg.b"], ["pkg.c", "pkg.d"]]
    assert g.module_level["pkg.sub"] == {"pkg.a"}
    text = import_graph.report(g)
    assert "module-level cycles: 1\n  pkg.a <-> pkg.b\n" in text
    assert "pkg.d -> pkg.c (function)" in text
