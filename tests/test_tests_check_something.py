"""Every test can fail: it asserts, expects an exception or a warning, or calls a helper that does.

Read from the source with ``ast``: a ``test_*`` function passes this check when its body has an
``assert``, a ``pytest.raises``/``pytest.warns``/``pytest.fail``, or a call to a function (of any
module in tests/) that has one of those, or to a library's own validator (schemathesis'
``call_and_validate``). A test that only runs code proves nothing when the code is wrong.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent

#: Calls that assert inside a library.
VALIDATORS = {"call_and_validate"}
#: Known offenders in files other work owns; each is to be fixed there, then removed here.
KNOWN = {
    "test_rules.py::test_facts_json_round_trip_through_description",  # json.dumps only (describer's file)
}


def _called(node: ast.AST) -> str | None:
    f = node.func if isinstance(node, ast.Call) else None
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


def _checks(fn: ast.AST, helpers: dict[str, bool]) -> bool:
    for n in ast.walk(fn):
        if isinstance(n, ast.Assert):
            return True
        name = _called(n)
        if name in ("raises", "warns", "fail", "deprecated_call") or name in VALIDATORS or helpers.get(name or ""):
            return True
    return False


def _is_fixture(fn: ast.AST) -> bool:
    # A fixture may be named test_* (test_spark.py's test_backends): pytest does not collect it as a test.
    for d in fn.decorator_list:  # type: ignore[attr-defined]
        target = d.func if isinstance(d, ast.Call) else d
        if (target.id if isinstance(target, ast.Name) else getattr(target, "attr", None)) == "fixture":
            return True
    return False


def unchecked(paths: list[Path]) -> list[str]:
    """``file::test`` for every test function in ``paths`` that checks nothing."""
    trees = {p: ast.parse(p.read_text(encoding="utf-8")) for p in paths}
    funcs = [
        (p, n) for p, t in trees.items() for n in ast.walk(t) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]
    helpers: dict[str, bool] = {}
    for _ in range(4):  # helpers calling helpers
        for _, n in funcs:
            if not n.name.startswith("test_"):
                helpers[n.name] = helpers.get(n.name, False) or _checks(n, helpers)
    return [
        f"{p.name}::{n.name}"
        for p, n in funcs
        if n.name.startswith("test_") and not _is_fixture(n) and not _checks(n, helpers)
    ]


def test_every_test_checks_something():
    found = unchecked(sorted(TESTS.glob("*.py")))
    assert sorted(set(found) - KNOWN) == [], "these tests assert nothing: make them check real behaviour"
    assert sorted(KNOWN - set(found)) == [], "fixed: take them off KNOWN"


def test_the_check_tells_a_checking_test_from_one_that_only_runs(tmp_path):
    (tmp_path / "test_x.py").write_text(
        "import json, pytest\n"
        "def expect_two(x):\n    assert x == 2\n"
        "def indirect(x):\n    expect_two(x)\n"
        "def test_asserts():\n    assert 1 + 1 == 2\n"
        "def test_raises():\n    with pytest.raises(ValueError):\n        int('x')\n"
        "def test_through_helpers():\n    indirect(2)\n"
        "def test_only_runs():\n    json.dumps({'a': 1})\n"
        "async def test_async_only_runs():\n    await something()\n"
        "@pytest.fixture\ndef test_data():\n    return 1\n"
        "@pytest.fixture(scope='module')\ndef test_more():\n    yield 2\n"
    )
    assert unchecked([tmp_path / "test_x.py"]) == ["test_x.py::test_only_runs", "test_x.py::test_async_only_runs"]
