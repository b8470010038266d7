"""The description cache: in-memory LRU, optional persistent SQLite, keys, bypass."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from sql2nl import Backend, Draft, InvalidInputError, cache, describe
from sql2nl.cache import LRUCache, SQLiteCache, fingerprint, normalize
from sql2nl.schema import Schema

SQL = "SELECT name FROM users WHERE age > 18"


class Counting(Backend):
    name = "counting"

    def __init__(self, model="a"):
        self.model = model
        self.calls = 0

    @property
    def identity(self):
        return f"counting:{self.model}"

    def describe(self, request):
        self.calls += 1
        return Draft(text=f"call {self.calls} by {self.model}: {request.sql}")


@pytest.fixture
def persistent(tmp_path):
    cache.configure(path=tmp_path / "c.sqlite3")
    yield cache.persistent
    cache.configure(persistent_cache=False)


def test_repeated_describe_is_a_hit():
    first = describe(SQL)
    assert describe(SQL) is first
    assert (cache.memory.hits, cache.memory.misses) == (1, 1)  # each test starts with an empty cache


def test_cache_false_bypasses_reading_and_writing():
    be = Counting()
    describe(SQL, backend=be, cache=False)
    describe(SQL, backend=be, cache=False)
    assert be.calls == 2 and len(cache.memory) == 0


def test_spacing_and_trailing_semicolon_share_an_entry():
    be = Counting()
    describe(SQL, backend=be)
    d = describe("SELECT  name\n  FROM users   WHERE age > 18 ;", backend=be)
    assert be.calls == 1
    assert d.sql == "SELECT  name\n  FROM users   WHERE age > 18 ;"  # the caller's own text


def test_text_inside_quotes_is_not_normalized():
    be = Counting()
    describe("SELECT a FROM t WHERE b = 'x  y'", backend=be)
    describe("SELECT a FROM t WHERE b = 'x y'", backend=be)
    assert be.calls == 2


def test_line_comments_keep_their_line_ends():
    # "-- x\nFROM t" and "-- x FROM t" are different statements once the newline is gone.
    assert normalize("SELECT 1 -- x\nFROM t") != normalize("SELECT 1 -- x FROM t")


def test_key_includes_backend_identity_language_and_options():
    a, b = Counting("a"), Counting("b")
    describe(SQL, backend=a)
    describe(SQL, backend=b)
    describe(SQL, backend=a, language="zh")
    describe(SQL, backend=a, redact=True)
    describe(SQL, backend=a, schema={"users": {"name": "full name"}})
    describe(SQL, backend=a, dialect="postgres")
    assert (a.calls, b.calls) == (5, 1)


def test_lru_evicts_the_least_recently_used():
    lru = LRUCache(maxsize=2)
    d1, d2, d3 = (describe(f"SELECT {c} FROM t", cache=False) for c in "abc")
    lru.put(1, d1)
    lru.put(2, d2)
    assert lru.get(1) is d1  # 1 is now the most recent
    lru.put(3, d3)
    assert lru.get(2) is None and lru.get(1) is d1 and lru.get(3) is d3
    lru.resize(1)
    assert len(lru) == 1 and lru.get(3) is d3  # the most recently used stays
    lru.resize(3)
    lru.put(1, d1)
    lru.put(2, d2)
    assert lru.get(3) is d3 and len(lru) == 3
    lru.resize(2)
    assert lru.get(1) is None and lru.get(2) is d2 and lru.get(3) is d3
    lru.resize(0)
    lru.put(1, d1)
    assert len(lru) == 0 and lru.get(1) is None


def test_lru_counts_hits_and_misses():
    lru = LRUCache(maxsize=2)
    lru.put("a", "x")
    lru.get("a"), lru.get("a"), lru.get("b")
    assert (lru.hits, lru.misses) == (2, 1)


def test_persistent_cache_survives_a_new_process(tmp_path):
    path = tmp_path / "shared.sqlite3"
    code = (
        "import sys; from sql2nl import cache, describe; cache.configure(path=sys.argv[1]); "
        "d = describe(sys.argv[2]); print(len(cache.persistent), d.text)"
    )
    first = subprocess.run([sys.executable, "-c", code, str(path), SQL], capture_output=True, text=True, check=True)
    assert first.stdout.startswith("1 ")
    with sqlite3.connect(path) as c:  # make the stored text recognisable: the next process must read it
        c.execute("UPDATE descriptions SET value = json_set(value, '$.text', 'FROM THE DISK')")
    second = subprocess.run([sys.executable, "-c", code, str(path), SQL], capture_output=True, text=True, check=True)
    assert second.stdout.strip() == "1 FROM THE DISK"


def test_persistent_hit_rebuilds_facts(persistent):
    be = Counting()
    describe(SQL, backend=be)
    cache.memory.clear()
    d = describe(SQL, backend=be)
    assert be.calls == 1 and d.text.startswith("call 1") and d.facts[0].tables == ["users"]
    assert len(persistent) == 1
    cache.clear()
    assert len(persistent) == 0


def test_unusable_cache_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "not-a-db.sqlite3"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(InvalidInputError, match="cannot be used"):
        cache.configure(path=bad)


def test_cache_that_breaks_later_never_breaks_describing(tmp_path):
    store = SQLiteCache(tmp_path / "c.sqlite3")
    (tmp_path / "c.sqlite3").write_bytes(b"garbage" * 1000)  # corrupted under our feet
    store._local.conn = None
    assert store.get(("k",)) is None
    store.put(("k",), describe(SQL, cache=False))  # no exception


def test_default_path_is_the_user_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("SQL2NL_CACHE_PATH", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    if sys.platform.startswith("linux"):
        assert cache.default_path() == tmp_path / "sql2nl" / "descriptions.sqlite3"
    monkeypatch.setenv("SQL2NL_CACHE_PATH", str(tmp_path / "x.db"))
    assert cache.default_path() == tmp_path / "x.db"


def test_fingerprint_is_stable_and_spacing_insensitive():
    assert fingerprint("SELECT a  FROM t;") == fingerprint("SELECT a FROM t")
    assert fingerprint("SELECT a FROM t") != fingerprint("SELECT b FROM t")
    assert len(fingerprint(SQL)) == 40


@pytest.mark.parametrize(
    "a, b",
    [
        ("SELECT [a  b] FROM t", "SELECT [a b] FROM t"),  # T-SQL quoted names
        ("SELECT $$a  b$$ FROM t", "SELECT $$a b$$ FROM t"),  # dollar-quoted strings
        ("SELECT $q$a  b$q$ FROM t", "SELECT $q$a b$q$ FROM t"),
        ("SELECT E'a  b' FROM t", "SELECT E'a b' FROM t"),
        ('SELECT "a  b" FROM t', 'SELECT "a b" FROM t'),
        ("SELECT `a  b` FROM t", "SELECT `a b` FROM t"),
    ],
)
def test_whitespace_inside_every_quoting_style_is_kept(a, b):
    assert normalize(a) != normalize(b)
    assert normalize(a.replace(" FROM", "   FROM")) == normalize(a)  # outside quotes it still collapses


def test_every_describe_setting_is_in_the_cache_key():
    # describe()'s own settings that can change the text must be in the key; a new one (say
    # detail= or style=) fails here until it is added to DESCRIBE_SETTINGS and the key.
    import inspect

    from sql2nl import api

    not_settings = {"sql", "backend", "cache", "max_chars", "backend_options"}
    params = set(inspect.signature(api.describe).parameters) - not_settings
    assert params == set(api.DESCRIBE_SETTINGS)
    be = Counting()
    base = dict(language="en", dialect=None, schema=None, redact=False, detail="summary", style="statement")
    other = dict(
        language="zh",
        dialect="postgres",
        schema=Schema.from_any({"t": {"a": "b"}}),
        redact=True,
        detail="steps",
        style="question",
    )
    assert set(base) == set(api.DESCRIBE_SETTINGS)
    for name in api.DESCRIBE_SETTINGS:
        assert api._cache_key(SQL, be, **{**base, name: other[name]}) != api._cache_key(SQL, be, **base), name


def test_backend_options_are_in_the_key():
    # Two instances of one backend class that differ only in an option that changes the text.
    from sql2nl.llm import LLMBackend

    class Echo(LLMBackend):
        name = "echo-options"

        def generate(self, prompts, *, temperature=None):
            return [f"users ({self.on_unfaithful})" for _ in prompts]

    assert describe("SELECT name FROM users", backend=Echo()).text.endswith("(warn)")
    assert describe("SELECT name FROM users", backend=Echo(on_unfaithful="fallback")).backend == "rules"
    assert Echo().identity != Echo(on_unfaithful="fallback").identity
    assert Echo().identity == Echo().identity


def test_persistent_cache_keeps_the_guard_record(persistent):
    from sql2nl.llm import LLMBackend

    class Echo(LLMBackend):
        name = "echo-guard"

        def generate(self, prompts, *, temperature=None):
            return ["users" for _ in prompts]

    be = Echo()
    first = describe("SELECT name FROM users", backend=be)
    cache.memory.clear()
    again = describe("SELECT name FROM users", backend=be)
    assert again is not first and again.guard == first.guard and again.guard["candidates"] == 1
