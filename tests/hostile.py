"""Hostile inputs shared by the hostile-input pass (tests/test_hostile*.py, issue 16), and the harness.

Each input class maps to what every surface must make of it: ``"error"`` (a :class:`Sql2NLError` subclass
named in ``ERRORS``, with a message saying what is wrong) or ``"described"`` (a description). Nothing may
crash, hang or print a traceback; the harness bounds every call with a timeout (a hang guard, not a speed
assertion: speed is shown in benchmarks/).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from sql2nl.errors import InvalidInputError, SQLParseError

#: Hang guard per call. Generous: a 20,000-term expression takes ~20 s on a busy 2-core machine.
TIMEOUT_S = 150

_DEEP = 5000

#: class -> (SQL, dialect, expected). ``expected`` is an error class or "described".
INPUTS: dict[str, tuple[Any, str | None, Any]] = {
    "empty": ("", None, InvalidInputError),
    "whitespace-and-semicolons": (" ;\n;\t;" * 1000, None, InvalidInputError),
    "5MB": ("SELECT a FROM t WHERE b IN (" + "1," * 2_500_000 + "1)", None, InvalidInputError),
    "deep-parentheses": ("SELECT " + "(" * _DEEP + "1" + ")" * _DEEP, None, InvalidInputError),
    "deep-function-calls": ("SELECT " + "f(" * _DEEP + "1" + ")" * _DEEP, None, InvalidInputError),
    "nul-byte": ("SELECT a\x00 FROM t", None, InvalidInputError),
    "lone-surrogate": ("SELECT \udcff FROM t", None, InvalidInputError),  # a byte decoded with surrogateescape
    "invalid-utf8-bytes": (b"SELECT '\xff\xfe' FROM t", None, InvalidInputError),
    "not-sql": ("Hello, could you please list the users?", None, SQLParseError),
    "control-characters": ("SELECT \x01\x02\x1b[31m FROM t", None, SQLParseError),
    "unclosed-quote": ("SELECT 'abc FROM t", None, SQLParseError),
    "tsql": ("SELECT TOP 5 [a b] FROM [db].[dbo].[t] WITH (NOLOCK) OPTION (RECOMPILE)", "tsql", "described"),
    "mysql": ("SELECT `a``b` FROM t LIMIT 1, 2", "mysql", "described"),
    "postgres": (
        "SELECT $tag$ a $ b $tag$::text, E'\\x41', B'101' FROM t WHERE j #>> '{a,b}' = 'x'",
        "postgres",
        "described",
    ),
    "bigquery": ("SELECT * FROM `proj.ds.t` WHERE _PARTITIONTIME > TIMESTAMP('2020-01-01')", "bigquery", "described"),
    "unicode-names": ('SELECT "🦙", "\u202egnp.exe" FROM "表"', None, "described"),
    "huge-in-list": ("SELECT * FROM t WHERE x IN (" + ",".join(str(i) for i in range(20_000)) + ")", None, "described"),
    "10k-columns": ("SELECT " + ", ".join(f"c{i}" for i in range(10_000)) + " FROM t", None, "described"),
    "20k-term-expression": ("SELECT " + " + ".join(["1"] * 20_000), None, InvalidInputError),
    "many-statements": ("SELECT 1;" * 2000, None, "described"),
}

#: The classes cheap enough to send through every surface (the big ones go through the library and one
#: process boundary each; they cost seconds per call on a loaded machine).
CHEAP = [
    k
    for k in INPUTS
    if k
    not in ("5MB", "huge-in-list", "10k-columns", "20k-term-expression", "many-statements", "whitespace-and-semicolons")
]


def bounded(fn: Callable[[], Any], timeout: float = TIMEOUT_S) -> tuple[str, Any]:
    """Run ``fn`` with a hang guard: ``("ok", value)`` or ``("raised", exception)``; fails the test on a hang."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["ok"] = fn()
        except BaseException as e:
            box["raised"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        pytest.fail(f"no answer within {timeout} s (hang)")
    return next(iter(box.items()))


def check_outcome(kind: str, outcome: tuple[str, Any]) -> None:
    """The library-level contract: the expected Sql2NLError subclass with a message, or a description."""
    from sql2nl import Description

    how, value = outcome
    expected = INPUTS[kind][2]
    if expected == "described":
        assert how == "ok", f"{kind}: expected a description, got {value!r}"
        texts = [d.text for d in value] if isinstance(value, list) else [value.text]
        assert all(isinstance(d, Description) for d in (value if isinstance(value, list) else [value]))
        assert all(t.strip() for t in texts), texts
        "".join(texts).encode("utf-8")  # printable, sendable, storable
    else:
        assert how == "raised" and isinstance(value, expected), f"{kind}: expected {expected.__name__}, got {value!r}"
        assert len(str(value)) > 20
