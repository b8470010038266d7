"""The SQLAlchemy hook, against SQLite and a real PostgreSQL server.

PostgreSQL: the DSN comes from ``SQL2NL_TEST_PG_DSN`` (``.ci/start-postgres.sh`` starts a server
and prints it); without a reachable server these tests skip, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import logging
import os
import threading
import time

import pytest
from skips import require, unavailable

sqlalchemy = require("sqlalchemy")
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, event, insert, select, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column  # noqa: E402

from sql2nl import Backend, Draft, describe, hookimpl  # noqa: E402
from sql2nl.backends import clear_backend_instances  # noqa: E402
from sql2nl.cache import fingerprint  # noqa: E402
from sql2nl.errors import InvalidInputError, UnknownBackendError  # noqa: E402
from sql2nl.integrations.sqlalchemy import (  # noqa: E402
    LOGGER_NAME,
    SQLGLOT_DIALECTS,
    _describable,
    comment_text,
    instrument,
    uninstrument,
)
from sql2nl.plugins import get_plugin_manager  # noqa: E402

PG_DSN = os.environ.get("SQL2NL_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:54329/sql2nl_test")


# -- backends registered through the plugin hook: one that counts, one that raises, one that hangs --
class CountingBackend(Backend):
    name = "test-counting"
    calls: list[str] = []

    def describe(self, request):
        CountingBackend.calls.append(request.sql)
        f = request.facts[0]
        return Draft(text=f"A {f.kind} over {', '.join(f.tables) or 'nothing'} */ /* with 100% care.")


class RaisingBackend(Backend):
    name = "test-raising"

    def describe(self, request):
        raise RuntimeError("injected failure")


class SleepingBackend(Backend):
    name = "test-sleeping"

    def describe(self, request):
        time.sleep(10)
        return Draft(text="too late")


class FaultPlugin:
    @hookimpl
    def register_backends(self, register):
        register("test-counting", CountingBackend, description="counts its calls")
        register("test-raising", RaisingBackend, description="always raises")
        register("test-sleeping", SleepingBackend, description="sleeps 10 s per call")


@pytest.fixture(autouse=True)
def fault_plugin():
    pm = get_plugin_manager()
    plugin = FaultPlugin()
    pm.register(plugin, name="sql2nl-test-faults")
    CountingBackend.calls = []
    yield
    pm.unregister(plugin)
    clear_backend_instances()


@pytest.fixture(autouse=True)
def no_leftover_hooks():
    yield
    uninstrument(None)


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)

    def at(self, level=logging.INFO):
        return [r for r in self.records if r.levelno == level]


@pytest.fixture
def records():
    log = logging.getLogger(LOGGER_NAME)
    handler, old = Records(), log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    yield handler
    log.removeHandler(handler)
    log.setLevel(old)


def _pg_engine():
    url = PG_DSN.replace("postgresql://", "postgresql+psycopg://", 1) if PG_DSN.startswith("postgresql://") else PG_DSN
    # A schema per test process, so that parallel runs (pytest -n) never share a table.
    schema = f"sql2nl_test_{os.getpid()}"
    engine = create_engine(url, connect_args={"connect_timeout": 3, "options": f"-c search_path={schema}"})
    try:
        with engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
    except Exception as e:
        engine.dispose()
        unavailable(f"no PostgreSQL reachable at {PG_DSN} ({type(e).__name__}); run .ci/start-postgres.sh")
    return engine


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request, tmp_path):
    eng = create_engine(f"sqlite:///{tmp_path / 'test.db'}") if request.param == "sqlite" else _pg_engine()
    META.drop_all(eng)
    META.create_all(eng)
    yield eng
    uninstrument(eng)
    META.drop_all(eng)
    eng.dispose()


META = MetaData()
PEOPLE = Table(
    "people", META, Column("id", Integer, primary_key=True), Column("name", String(50)), Column("age", Integer)
)


def people(engine):
    return PEOPLE


def _flat(sql):
    return " ".join(sql.split())


def described(records, statement_part):
    return [r for r in records.records if statement_part in _flat(r.statement)]


# -- Core and ORM --------------------------------------------------------------------------------
def test_core_query_is_logged_with_statement_description_and_fingerprint(engine, records):
    hook = instrument(engine, backend="test-counting")
    t = people(engine)
    with engine.begin() as conn:
        conn.execute(insert(t), {"id": 1, "name": "Ada", "age": 36})
        rows = conn.execute(select(t.c.name).where(t.c.age > 18)).all()
    assert rows == [("Ada",)]
    assert hook.flush()
    recs = [r for r in records.at(logging.INFO) if "FROM people WHERE" in _flat(r.statement)]
    assert len(recs) == 1
    r = recs[0]
    assert "people" in r.statement and r.fingerprint == fingerprint(r.statement)
    assert r.description == "A select over people */ /* with 100% care." and r.backend == "test-counting"
    assert r.description in r.getMessage() and r.dialect == engine.dialect.name
    assert r.executemany is False


def test_orm_session_and_executemany(engine, records):
    class Base(DeclarativeBase):
        pass

    class Person(Base):
        __tablename__ = "people"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(50))
        age: Mapped[int]

    hook = instrument(engine)
    with Session(engine) as s:
        s.add_all([Person(id=i, name=f"p{i}", age=20 + i) for i in range(5)])
        s.commit()
        assert [p.name for p in s.scalars(select(Person).where(Person.age >= 23).order_by(Person.id))] == ["p3", "p4"]
    with engine.begin() as conn:  # Core executemany: a list of parameter sets
        conn.execute(insert(people(engine)), [{"id": 10 + i, "name": f"q{i}", "age": i} for i in range(3)])
        assert conn.execute(text("SELECT count(*) FROM people")).scalar() == 8
    assert hook.flush()
    inserts = [r for r in records.records if r.statement.lstrip().upper().startswith("INSERT")]
    selects = described(records, "people.age >=")
    assert inserts and selects
    if engine.dialect.name == "sqlite":  # sqlite runs a plain executemany (PostgreSQL batches into one INSERT)
        assert any(r.executemany for r in inserts)
    rules = describe(
        _describable(selects[0].statement, engine.dialect.paramstyle),
        backend="rules",
        dialect=SQLGLOT_DIALECTS[engine.dialect.name],
    )
    assert selects[0].backend == "rules" and selects[0].description == rules.text


def test_repeated_query_is_described_once(engine, records):
    hook = instrument(engine, backend="test-counting", log_repeats=True)
    with engine.connect() as conn:
        for i in range(20):
            conn.execute(text("SELECT name FROM people WHERE id = :i"), {"i": i})
        # Same statement, other spelling: same fingerprint, so no new description.
        conn.exec_driver_sql("SELECT name   FROM people\n WHERE id = 3;")
        conn.exec_driver_sql("SELECT name FROM people WHERE id = 3")
    assert hook.flush()
    recs = described(records, "WHERE id =")
    assert len(recs) == 20 + 2  # every execution logged...
    assert len({r.fingerprint for r in recs if "3" not in r.statement}) == 1
    fps = {r.fingerprint for r in recs}
    assert len(CountingBackend.calls) == len(fps) <= 2  # ...but each fingerprint described once
    assert hook.stats()["cache_hits"] == 22 - len(fps)


def test_by_default_each_distinct_statement_is_logged_once(engine, records):
    hook = instrument(engine, backend="test-counting")
    with engine.connect() as conn:
        for i in range(50):
            conn.execute(text("SELECT name FROM people WHERE id = :i"), {"i": i})
    assert hook.flush()
    assert len(described(records, "WHERE id =")) == 1 and len(CountingBackend.calls) == 1


# -- comments --------------------------------------------------------------------------------------
def _sent_statements(engine):
    sent: list[str] = []
    event.listen(engine, "after_cursor_execute", lambda conn, cur, st, *a: sent.append(st))
    return sent


def test_comment_prefixes_rules_text_stable_per_fingerprint(engine, records):
    sent = _sent_statements(engine)
    instrument(engine, comment=True, backend="test-sleeping")  # a slow backend never feeds comments
    sql = "SELECT name FROM people WHERE age > 30 AND name LIKE 'A%'"
    driver_sql = sql.replace("%", "%%") if engine.dialect.paramstyle in ("format", "pyformat") else sql
    with engine.connect() as conn:
        conn.execute(text("INSERT INTO people (id, name, age) VALUES (1, 'Ann', 40)"))
        t0 = time.perf_counter()
        first = conn.exec_driver_sql(driver_sql).all()
        again = conn.exec_driver_sql(driver_sql).all()
        assert time.perf_counter() - t0 < 5
        conn.execute(insert(PEOPLE), [{"id": 10 + i, "name": f"x{i}", "age": i} for i in range(3)])  # executemany
        assert conn.execute(text("SELECT count(*) FROM people")).scalar() == 4
    assert first == again == [("Ann",)]
    assert any(s.startswith("/* sql2nl: ") and "INSERT INTO people" in s for s in sent)
    prefixed = [s for s in sent if "LIKE" in s]
    assert len(prefixed) == 2 and prefixed[0] == prefixed[1]
    assert prefixed[0].startswith("/* sql2nl: ") and prefixed[0].endswith(driver_sql)
    expected = comment_text(describe(sql, backend="rules", dialect=SQLGLOT_DIALECTS[engine.dialect.name]).text)
    shown = prefixed[0][len("/* sql2nl: ") : prefixed[0].index(" */ ")]
    assert shown.replace("%%", "%") == expected


def test_huge_statements_get_no_comment_but_still_run(engine):
    sent = _sent_statements(engine)
    instrument(engine, comment=True)
    sql = "SELECT " + ", ".join(f"{i} AS a_rather_long_column_name_{i}" for i in range(500))
    assert len(sql) > 10_000
    with engine.connect() as conn:
        assert conn.exec_driver_sql(sql).all()[0][499] == 499
    assert sent[-1] == sql


def test_comment_text_cannot_close_or_nest_the_comment():
    for raw in ["a */ DROP TABLE x; /*", "/*/", "**//", "*/*/", "x\n*/\t--y", "a\x00b"]:
        out = comment_text(raw)
        assert "*/" not in out and "/*" not in out and "\n" not in out and "\x00" not in out
    assert comment_text("word " * 200).endswith("…") and len(comment_text("word " * 200)) <= 240


def test_comment_from_cache_with_hostile_text_keeps_queries_correct(engine, records):
    """The counting backend's text contains */, /* and %: the statement must still run unchanged."""
    sent = _sent_statements(engine)
    hook = instrument(engine, backend="test-counting")
    sql = "SELECT count(*) FROM people WHERE name <> '*/'"
    with engine.connect() as conn:
        conn.exec_driver_sql(sql)
    assert hook.flush()
    hook = instrument(engine, backend="test-counting", comment=True)  # replaces the first hook
    hook._described.update(_described_from(records))  # what the first hook described: the cache
    with engine.connect() as conn:
        conn.execute(text("INSERT INTO people (id, name, age) VALUES (7, 'Bo', 5)"))
        assert conn.exec_driver_sql(sql).scalar() == 1
    last = [s for s in sent if "count(*)" in s][-1]
    assert last.startswith("/* sql2nl: A select over people * / / * with 100") and last.endswith(sql)


def _described_from(records):
    from sql2nl.integrations.sqlalchemy import _Described

    return {r.fingerprint: _Described(r.description, r.backend) for r in records.records if r.description}


# -- faults: the user's queries never fail nor wait ------------------------------------------------
def test_raising_backend_falls_back_and_queries_run(engine, records):
    hook = instrument(engine, backend="test-raising", comment=True)
    with engine.connect() as conn:
        for i in range(10):
            assert conn.execute(text("SELECT :i + 1"), {"i": i}).scalar() == i + 1
    assert hook.flush()
    rec = described(records, "+ 1")[0]
    assert "injected failure" in rec.sql2nl_warning and rec.backend == "rules"
    assert hook.stats()["failures"] == 1  # one distinct statement, described (and failed) once


def test_hanging_backend_does_not_delay_queries(engine, records):
    hook = instrument(engine, backend="test-sleeping", timeout=0.5, log_repeats=True)
    t0 = time.perf_counter()
    with engine.connect() as conn:
        for i in range(30):
            assert conn.execute(text(f"SELECT {i} AS n")).scalar() == i
    elapsed = time.perf_counter() - t0
    assert elapsed < 5, f"30 queries took {elapsed:.1f} s behind a backend that sleeps 10 s"
    assert hook.flush(timeout=8)  # the stalled backend times out once, then rules answers the rest
    assert hook.stats()["timeouts"] == 1
    recs = described(records, "AS n")
    assert len(recs) == 30 and all(r.backend == "rules" for r in recs)
    t0 = time.perf_counter()
    uninstrument(engine)
    assert time.perf_counter() - t0 < 2


def test_full_queue_drops_and_counts(engine, records):
    hook = instrument(engine, backend="test-sleeping", queue_size=2, timeout=30)
    with engine.connect() as conn:
        for i in range(40):
            assert conn.execute(text(f"SELECT {i} AS k")).scalar() == i
    stats = hook.stats()
    assert stats["dropped"] >= 40 - 2 - 1 and stats["queued"] <= 2
    uninstrument(engine)


def test_listener_failures_never_reach_the_user(engine, records):
    hook = instrument(engine, comment=True)

    class Broken:
        def __len__(self):
            raise RuntimeError("boom")

    hook._queue = Broken()  # every enqueue now raises inside the listener
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 41 + 1")).scalar() == 42
    assert hook.counts["listener_errors"] == 1  # the one query, whose listener raised


def test_logger_off_means_no_describing(engine):
    logging.getLogger(LOGGER_NAME).setLevel(logging.WARNING)
    try:
        hook = instrument(engine, backend="test-counting")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        assert hook.flush() and CountingBackend.calls == []
    finally:
        logging.getLogger(LOGGER_NAME).setLevel(logging.NOTSET)


def test_sample_rate_zero_logs_nothing(engine, records):
    hook = instrument(engine, sample_rate=0.0)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert hook.flush() and records.records == []


# -- targets and setup errors ----------------------------------------------------------------------
def test_context_manager_detaches(engine, records):
    with instrument(engine) as hook:
        with engine.connect() as conn:
            conn.execute(text("SELECT 3 AS inside"))
    assert described(records, "inside") and hook._closed and uninstrument(engine) is False
    with engine.connect() as conn:
        conn.execute(text("SELECT 4 AS outside"))
    assert not event.contains(engine, "before_cursor_execute", hook._listener)


def test_engine_class_instruments_every_engine(tmp_path, records):
    hook = instrument(Engine, backend="test-counting")
    eng = create_engine(f"sqlite:///{tmp_path / 'other.db'}")
    with eng.connect() as conn:
        conn.execute(text("SELECT 5 AS five"))
    assert hook.flush() and described(records, "five")
    assert uninstrument() is True and uninstrument() is False
    with eng.connect() as conn:
        conn.execute(text("SELECT 6 AS six"))
    time.sleep(0.05)
    assert not described(records, "six")


def test_setup_errors_are_clear(engine):
    with pytest.raises(UnknownBackendError):
        instrument(engine, backend="no-such-backend")
    with pytest.raises(InvalidInputError, match="sample_rate"):
        instrument(engine, sample_rate=2)
    with pytest.raises(InvalidInputError, match="queue_size"):
        instrument(engine, queue_size=0)
    with pytest.raises(InvalidInputError, match="level"):
        instrument(engine, level="LOUD")
    assert instrument(engine, level="debug").level == logging.DEBUG
    with pytest.raises(InvalidInputError, match="Engine"):
        instrument("sqlite://")


def test_worker_survives_and_threads_are_daemons(engine, records):
    hook = instrument(engine, backend="test-raising")
    assert hook._worker.daemon
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA table_info(people)" if engine.dialect.name == "sqlite" else "SHOW server_version")
        conn.execute(text("SELECT 2 AS two"))
    assert hook.flush() and hook._worker.is_alive()
    assert described(records, "two")
    assert threading.active_count() < 50


def test_many_threads_share_one_hook(engine, records):
    hook = instrument(engine, backend="test-counting", comment=True)
    errors: list[BaseException] = []

    def work(n):
        try:
            with engine.connect() as conn:
                for i in range(30):
                    assert conn.execute(text(f"SELECT {n % 3} AS shard, :i AS i"), {"i": i}).all() == [(n % 3, i)]
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and hook.flush()
    assert sorted(_flat(r.statement) for r in described(records, "AS shard")) == [
        f"SELECT {k} AS shard, {'?' if engine.dialect.name == 'sqlite' else '%(i)s'} AS i" for k in range(3)
    ]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_gets_a_working_hook(tmp_path):
    import multiprocessing

    eng = create_engine(f"sqlite:///{tmp_path / 'fork.db'}")
    instrument(eng, backend="test-counting")
    logging.getLogger(LOGGER_NAME).setLevel(logging.INFO)
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()

    def child():
        from sql2nl.integrations.sqlalchemy import _active

        with eng.connect() as conn:
            conn.execute(text("SELECT 'from the child' AS c"))
        hook = _active[eng]
        out.put((hook.flush(timeout=5), hook.stats()["logged"], hook._worker.is_alive()))

    p = ctx.Process(target=child)
    p.start()
    p.join(30)
    logging.getLogger(LOGGER_NAME).setLevel(logging.NOTSET)
    assert p.exitcode == 0
    flushed, logged, alive = out.get(timeout=5)
    assert flushed and logged == 1 and alive  # the child's one statement, by the child's own worker


def test_routine_statements_are_logged_at_debug_only(engine, records):
    # The docs promise that PRAGMAs and other vendor commands are not worth an INFO record; the
    # rules backend describes SQLite's PRAGMA generically, and that record used to come at INFO.
    hook = instrument(engine)
    routine = (
        "PRAGMA table_info(people)" if engine.dialect.name == "sqlite" else "SET application_name TO 'sql2nl-test'"
    )
    with engine.connect() as conn:
        conn.exec_driver_sql(routine)
        conn.execute(text("SELECT name FROM people WHERE age > 3"))
    assert hook.flush()
    admin = described(records, routine.split()[0])
    query = described(records, "SELECT name FROM people")
    assert admin and all(r.levelno == logging.DEBUG for r in admin)
    assert admin[0].description  # still described, just quieter
    assert query and all(r.levelno == logging.INFO for r in query)
