"""Finding the SQL in a chat message (sql2nl.server.finder): where statements are, which do not
parse and where, the caps, and that the parser's work stays linear in the message's size (counted
by wrapping sqlglot's parse function, never timed)."""

from __future__ import annotations

import doctest

import pytest

from sql2nl import parsing
from sql2nl.server import finder, sqltext
from sql2nl.server.finder import MAX_CHARS, MAX_STATEMENTS, find_sql, find_statements
from sql2nl.server.sqltext import is_prose


def position(text: str, needle: str, start: int = 0) -> tuple[int, int]:
    """1-based line and column of ``needle`` in ``text``."""
    i = text.index(needle, start)
    return text.count("\n", 0, i) + 1, i - (text.rfind("\n", 0, i) + 1) + 1


@pytest.fixture(autouse=True)
def _fresh():
    finder._find_cached.cache_clear()  # each test counts its own work
    yield


@pytest.fixture
def parser_work(monkeypatch):
    """Every call of sqlglot's parser during a test: ``calls`` and ``chars`` (what it was given)."""
    work = {"calls": 0, "chars": 0}
    real = parsing._sqlglot_parse  # every parse goes through it (sqlglot's parser, reused per thread)

    def counting(sql, *args, **kwargs):
        work["calls"] += 1
        work["chars"] += len(sql)
        return real(sql, *args, **kwargs)

    monkeypatch.setattr(parsing, "_sqlglot_parse", counting)
    return work


def test_doctests():
    assert doctest.testmod(finder).failed == 0 and doctest.testmod(sqltext).failed == 0


# -- code blocks -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, expected",
    [
        ("```sql\nSELECT a FROM t;\nSELECT b FROM u\n```", ["SELECT a FROM t;", "SELECT b FROM u"]),
        ("look:\n```\nUPDATE t SET a = 1\n```\nthanks", ["UPDATE t SET a = 1"]),
        ("```sql\nSELECT a FROM t", ["SELECT a FROM t"]),  # never closed: runs to the end
        ("```sql\nSELECT a FROM t```", ["SELECT a FROM t"]),  # closed at the end of the line
        ("I tried SELECT x FROM y first, then:\n```sql\nSELECT a FROM t\n```", ["SELECT a FROM t"]),  # blocks win
        ("```\nSELECT a FROM t;\n a \n---\n 1\n```", ["SELECT a FROM t;"]),  # an unlabelled block's output table
        ("```sql\n-- the top three\nSELECT a\n\nFROM t\n```", ["-- the top three\nSELECT a\n\nFROM t"]),
        ("```python\nprint('SELECT')\n```", []),
        ("```sql\nSHOW TABLES\n```", ["SHOW TABLES"]),  # any statement in a block that says it is SQL
    ],
)
def test_fenced_blocks(text, expected):
    assert find_sql(text) == expected


def test_a_blocks_language_is_its_dialect():
    (found,) = find_statements("```mysql\nSELECT `a` FROM `t` LIMIT 1, 2\n```", "postgres").found
    assert found.error is None and found.dialect == "mysql"
    (found,) = find_statements("```tsql\nSELECT TOP 3 [name] FROM [users]\n```").found
    assert found.error is None and found.dialect == "tsql"


def test_inline_code():
    assert find_sql("Why does `SELECT a FROM t WHERE b = 1` return nothing?") == ["SELECT a FROM t WHERE b = 1"]
    # Backticks around names are not code spans holding a statement: the bare statement is found.
    assert find_sql("What does SELECT `name` FROM `users` return?") == ["SELECT `name` FROM `users`"]
    text = "Why does `SELECT a FROM t WHER b = 1` fail?"
    (found,) = find_statements(text).found
    assert found.error is not None and (found.error.line, found.error.column) == position(text, "b = 1")


# -- bare SQL in prose ------------------------------------------------------------------------------------
DBEAVER_EXPLAIN = (
    "Explain the following SQL query. Describe what it does, step by step.\n\n"
    "SELECT c.name, COUNT(o.id) AS orders\nFROM customers c\nJOIN orders o ON o.customer_id = c.id\n"
    "WHERE o.created_at >= '2024-01-01'\nGROUP BY c.name\nORDER BY orders DESC\nLIMIT 10;\n"
)


@pytest.mark.parametrize(
    "text, expected",
    [
        (DBEAVER_EXPLAIN, [DBEAVER_EXPLAIN[DBEAVER_EXPLAIN.index("SELECT") :].strip()]),
        ("What does select count(*) from t do?", ["select count(*) from t"]),
        ("Is SELECT * FROM t WHERE a = 1 slow?", ["SELECT * FROM t WHERE a = 1"]),
        ("Why does SELECT a FROM t take so long", ["SELECT a FROM t"]),
        ("SELECT a\nFROM t\nThanks!", ["SELECT a\nFROM t"]),
        ("SELECT a\nFROM t\nAnd what does it return when t is empty?", ["SELECT a\nFROM t"]),
        (
            "Explain SELECT name FROM users WHERE note = 'it''s'. I don't get it",
            ["SELECT name FROM users WHERE note = 'it''s'"],
        ),
        ("解释一下 SELECT name FROM users WHERE age > 18 这个查询", ["SELECT name FROM users WHERE age > 18"]),
        ("SELECT name FROM users WHERE age > 18。这是什么意思？", ["SELECT name FROM users WHERE age > 18"]),
        ("please update me: SELECT a FROM t", ["SELECT a FROM t"]),
        ("explain SELECT name FROM users", ["SELECT name FROM users"]),
        ("SELECT a FROM t WHERE note = 'line one\nline two'", ["SELECT a FROM t WHERE note = 'line one\nline two'"]),
    ],
)
def test_bare_sql_in_prose(text, expected):
    assert find_sql(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("First SELECT a FROM t; then\nDELETE FROM t WHERE a = 1", ["SELECT a FROM t;", "DELETE FROM t WHERE a = 1"]),
        (
            "SELECT a FROM t WHERE b IN (1, 2)\nSELECT c FROM u",
            ["SELECT a FROM t WHERE b IN (1, 2)", "SELECT c FROM u"],
        ),
        ("SELECT a FROM t\n\nSELECT c FROM u", ["SELECT a FROM t", "SELECT c FROM u"]),
        # A statement word at a line's start that continues the statement.
        ("INSERT INTO t (a, b)\nSELECT x, y FROM u", ["INSERT INTO t (a, b)\nSELECT x, y FROM u"]),
        (
            "WITH x AS (\n  SELECT 1 AS a\n)\nSELECT a FROM x\nSELECT b FROM y",
            ["WITH x AS (\n  SELECT 1 AS a\n)\nSELECT a FROM x", "SELECT b FROM y"],
        ),
        ("SELECT a FROM t\nUNION\nSELECT b FROM u", ["SELECT a FROM t\nUNION\nSELECT b FROM u"]),
        ("ALTER TABLE t\nDROP COLUMN c", ["ALTER TABLE t\nDROP COLUMN c"]),
    ],
)
def test_several_statements(text, expected):
    assert find_sql(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "please select the best option from the list",
        "Can you update me on the status? I'd like to create something and drop it.",
        "hello",
        "I need to select the names from users whose orders were shipped late, then update the report.",
        "Also, please create a table view of the results, or alter the index if it's slow.\n"
        "I'd like to drop the table of contents from report 7 and insert into it a summary instead.",
        "With that, replace the old numbers; truncate nothing until the audit is done.",
    ],
)
def test_prose_that_uses_sql_words_has_no_sql(text):
    assert find_statements(text).found == ()  # neither statements nor errors


# -- what does not parse, and where ------------------------------------------------------------------------
def test_a_typo_is_reported_with_its_position_in_the_message():
    text = "Why does this fail?\nSELECT name FROM users WHER age > 18\nThanks!"
    (found,) = find_statements(text).found
    assert found.sql == "SELECT name FROM users WHER age > 18"
    # sqlglot reads WHER as an alias and stops at the next word.
    assert (found.error.line, found.error.column) == position(text, "age")
    assert f"at line {found.error.line}, column {found.error.column}" in str(found.error)


def test_typos_in_blocks_and_in_later_statements():
    text = "Look:\n```sql\nSELECT a,\n  b\nFROM t WHERE = 1\n```"
    (found,) = find_statements(text).found
    assert found.error is not None and found.error.line == position(text, "WHERE = 1")[0]
    text = "SELECT a FROM t;\nSELECT b FRM u;"  # the second one's FROM is misspelt
    first, second = find_statements(text).found
    assert first.error is None and second.error is not None and second.error.line == 2


def test_unbalanced_quotes_and_parentheses():
    text = "Hi!\nSELECT name FROM users WHERE note = 'late AND age > 3"
    (found,) = find_statements(text).found
    assert (found.error.line, found.error.column) == position(text, "'late")
    assert "never closed" in found.error.reason
    text = "Hi\nthere: SELECT COUNT(a FROM t"
    (found,) = find_statements(text).found
    line, col = position(text, "(a")
    assert f"the '(' at line {line}, column {col} is never closed" in found.error.reason  # in message terms
    text = "```sql\nSELECT 'abc\nFROM t\n```"
    (found,) = find_statements(text).found
    assert (found.error.line, found.error.column) == position(text, "'abc")


# -- caps and bounded work --------------------------------------------------------------------------------
def _typo_lines(size: int) -> str:
    lines, i = ["Why do these fail?"], 0
    while sum(len(x) + 1 for x in lines) < size:
        lines.append(f"SELECT name, total FROM orders WHERE total > {i} AND AND status = 'open'")
        i += 1
    return "\n".join(lines)


def _keyword_prose(size: int) -> str:
    line = (
        "Can you select the rows from orders where the total is big, and then update the totals set by "
        "the team? Also create a table view, or alter the index if it's slow; drop the table of contents."
    )
    return "\n".join([line] * (size // len(line) + 1))


def _long_select(size: int, flaw: str) -> str:
    conds = "\n".join(f"  AND (o.a_{i} IN (1, 2) OR o.b_{i} BETWEEN {i} AND {i + 9})" for i in range(size // 50))
    where = {"typo": "WHER o.x = 1", "quote": "WHERE o.note = 'late", "paren": "WHERE (o.x = 1"}[flaw]
    return f"Explain the following SQL query:\nSELECT o.id\nFROM orders o\n{where}\n{conds}\nORDER BY 1;"


@pytest.mark.parametrize(
    "make",
    [
        _typo_lines,
        _keyword_prose,
        lambda n: _long_select(n, "typo"),
        lambda n: _long_select(n, "quote"),
        lambda n: _long_select(n, "paren"),
    ],
    ids=["typo-lines", "keyword-prose", "typo", "quote", "paren"],
)
def test_parsing_work_is_linear_in_the_message(make, parser_work):
    for size in (4_000, 40_000, 400_000):
        text = make(size)
        finder._find_cached.cache_clear()
        parser_work.update(calls=0, chars=0)
        find_statements(text)
        searched = min(len(text), MAX_CHARS)
        # The old finder parsed a 2.5 KB message of typo lines 11,608 times (1,000+ characters each).
        assert parser_work["chars"] <= finder.PARSE_CHARS_PER_CHAR * searched + finder.PARSE_CHARS_SLACK
        # A few per statement found or reported, and at most three per line of prose.
        assert parser_work["calls"] <= 8 * MAX_STATEMENTS + 3 * text.count("\n", 0, searched)


def test_a_statement_is_parsed_once_per_dialect_tried(parser_work):
    find_statements("Why?\nSELECT name FROM users WHER age > 18")
    assert parser_work["calls"] == finder.DIALECT_TRIES  # the old finder: 400 (80 shorter texts x 5 dialects)
    parser_work.update(calls=0)
    find_statements("```sql\nSELECT a FROM t;\nSELECT b FROM u;\n```", "postgres")
    assert parser_work["calls"] == 2  # one each, in the client's dialect


def test_long_messages_are_searched_up_to_the_cap():
    text = "SELECT a FROM t WHERE b = 1\n\n" + "x" * MAX_CHARS
    search = find_statements(text)
    assert search.statements == ["SELECT a FROM t WHERE b = 1"] and search.capped == "chars"
    search = find_statements(_typo_lines(40_000))
    assert len(search.found) == MAX_STATEMENTS and search.capped == "statements"
    assert all(f.error is not None for f in search.found)
    search = find_statements(_typo_lines(1_000))
    assert 0 < len(search.found) < MAX_STATEMENTS and search.capped is None


def test_the_clients_dialect_first_then_the_permissive_parser():
    sql = "SELECT TOP 5 name FROM users ORDER BY age DESC"  # T-SQL, on a connection called PostgreSQL
    (found,) = find_statements(sql, "postgres").found
    assert found.error is None and found.dialect is None  # describe it with the permissive chain
    (found,) = find_statements(sql, "tsql").found
    assert found.error is None and found.dialect == "tsql"


def test_prose_lines():
    assert is_prose("Thanks!") and is_prose("What does this query return?") and is_prose("这是什么意思")
    assert is_prose("And what does it return when t is empty?")
    assert not is_prose("ORDER BY name") and not is_prose("WHERE a = 1") and not is_prose("users u")
    assert not is_prose("-- the top three") and not is_prose("AND total > 100")
