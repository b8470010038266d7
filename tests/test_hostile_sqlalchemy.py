"""Hostile-input pass (issue 16): the SQLAlchemy hook never changes what the user's query does.

Statements of every hostile class (bad SQL, SQL the database rejects, huge IN lists, 10,000 columns,
deep nesting, lone surrogates, NUL bytes) run on SQLite with and without the hook (logging and
commenting modes); the outcome — the rows, or the database's own exception type and message — must be
the same. The hook's own failures (a backend that raises) stay in its log.
"""

from __future__ import annotations

import logging

import pytest
from hostile import INPUTS
from skips import require

sqlalchemy = require("sqlalchemy")
from sqlalchemy import create_engine, text  # noqa: E402

from sql2nl import Backend, hookimpl  # noqa: E402
from sql2nl.integrations.sqlalchemy import LOGGER_NAME, instrument, uninstrument  # noqa: E402
from sql2nl.plugins import get_plugin_manager, reset_plugin_manager  # noqa: E402


class Raising(Backend):
    name = "hostile-raising"

    def describe(self, request):
        raise RuntimeError("injected failure")


class Plugin:
    @hookimpl
    def register_backends(self, register):
        register("hostile-raising", Raising, description="always raises (test)")


@pytest.fixture(scope="module", autouse=True)
def plugin():
    pm = get_plugin_manager()
    pm.register(Plugin(), name="test-hostile-sqlalchemy")
    yield
    pm.unregister(name="test-hostile-sqlalchemy")
    reset_plugin_manager()


STATEMENTS = {
    "not-sql": INPUTS["not-sql"][0],
    "unclosed-quote": INPUTS["unclosed-quote"][0],
    "control-characters": INPUTS["control-characters"][0],
    "nul-in-string": "SELECT 'a\x00b'",
    "lone-surrogate": "SELECT '\udcff'",
    "deep-parentheses": "SELECT " + "(" * 3000 + "1" + ")" * 3000,
    "huge-in-list": "SELECT count(*) FROM t WHERE x IN (" + ",".join(str(i) for i in range(20_000)) + ")",
    "10k-columns": "SELECT " + ", ".join(f"x AS c{i}" for i in range(10_000)) + " FROM t",
    "1500-columns": "SELECT " + ", ".join(f"x AS c{i}" for i in range(1500)) + " FROM t",
    "missing-table": "SELECT * FROM no_such_table",
    "tsql": INPUTS["tsql"][0],
    "many-statements": "SELECT 1; SELECT 2",
    "empty": "",
    "comment-closer": "SELECT 1 /* */ */",
    "sql2nl-comment-injection": "SELECT '*/ DROP TABLE t; /*' AS x",
}


def _outcome(engine, sql: str):
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(sql.replace(":", "\\:"))).fetchall()
            return ("rows", [tuple(r) for r in rows])
    except Exception as e:
        cause = e.orig if hasattr(e, "orig") and e.orig is not None else e
        return ("raised", type(cause).__name__, str(cause))


@pytest.fixture
def engine(tmp_path):
    eng = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with eng.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1), (2), (19999)"))
    yield eng
    uninstrument(eng)
    eng.dispose()


@pytest.mark.parametrize("mode", ["log", "comment", "raising-backend"])
def test_the_hook_never_changes_the_users_outcome(engine, mode, caplog):
    plain = {k: _outcome(engine, sql) for k, sql in STATEMENTS.items()}
    assert plain["huge-in-list"] == ("rows", [(3,)]) and plain["missing-table"][0] == "raised"
    kw = {"comment": mode != "log", "timeout": 30.0}
    if mode == "raising-backend":
        kw["backend"] = "hostile-raising"
    hook = instrument(engine, **kw)
    with caplog.at_level(logging.DEBUG, logger=LOGGER_NAME):
        hooked = {k: _outcome(engine, sql) for k, sql in STATEMENTS.items()}
        assert hook.flush(timeout=120)
    for k in STATEMENTS:
        assert hooked[k] == plain[k], k
    assert hook.stats()["listener_errors"] == 0
    logged = [r for r in caplog.records if hasattr(r, "fingerprint")]
    assert len(logged) == len(STATEMENTS)  # each statement reported once: a description or why not
    by_statement = {r.statement: r for r in logged}
    assert "20,000 values" in by_statement[STATEMENTS["huge-in-list"]].description
    assert "U+DCFF" in by_statement[STATEMENTS["lone-surrogate"]].sql2nl_warning
    if mode == "raising-backend":
        assert by_statement[STATEMENTS["missing-table"]].backend == "rules"
    assert "Traceback" not in caplog.text
