"""The lean tree walks and the reused sqlglot parser behind describe()'s speed (benchmarks/bench_core.py).

Each shortcut must find exactly what sqlglot's own (slower) way finds, so the facts and the texts
cannot change because of it.
"""

from __future__ import annotations

import threading

import pytest
import sqlglot
from describe_fixtures import cases
from sqlglot import exp

from sql2nl.errors import SQLParseError
from sql2nl.facts import children, columns_in, preorder, structure
from sql2nl.parsing import parse, parse_text


def _trees() -> list[exp.Expression]:
    out = []
    for case in cases("en") + cases("zh"):
        try:
            out += parse(case.sql, case.options.get("dialect"))
        except SQLParseError:
            continue  # (cases of bad input are described by an error, not a tree)
    return out


TREES = _trees()


def test_the_fixtures_give_many_trees():
    assert len(TREES) > 300


def test_structure_is_preorder_without_identifiers():
    for tree in TREES:
        assert [id(n) for n in structure(tree)] == [id(n) for n in preorder(tree) if type(n) is not exp.Identifier]


def test_children_are_iter_expressions():
    for tree in TREES:
        for node in preorder(tree):
            assert [id(c) for c in children(node)] == [id(c) for c in node.iter_expressions()]


def test_columns_in_finds_what_find_all_finds():
    for tree in TREES:
        assert sorted(map(id, columns_in(tree))) == sorted(map(id, tree.find_all(exp.Column)))


def test_the_reused_parser_gives_sqlglots_trees():
    for case in cases("en")[:80]:
        dialect = case.options.get("dialect")
        try:
            ours = parse_text(case.sql, dialect)
        except SQLParseError:
            continue
        if dialect:
            assert ours == [t for t in sqlglot.parse(case.sql, read=dialect) if t is not None], case


def test_the_reused_parser_recovers_after_an_error():
    good = "SELECT name FROM users WHERE age > 18"
    expected = sqlglot.parse_one(good)
    with pytest.raises(SQLParseError):
        parse("SELECT name FROM users WHERE (age >", "postgres")
    with pytest.raises(SQLParseError):
        parse("SELECT FROM WHERE", None)
    assert parse_text(good, "postgres") == [sqlglot.parse_one(good, read="postgres")]
    assert parse_text(good) == [expected]


def test_the_reused_parser_is_one_per_thread():
    sqls = [
        f"SELECT c{i}, COUNT(*) FROM t{i} JOIN u ON t{i}.id = u.t_id WHERE x > {i} GROUP BY c{i}" for i in range(40)
    ]
    expected = {s: sqlglot.parse_one(s) for s in sqls}
    wrong: list[str] = []

    def work(offset: int) -> None:
        for k in range(200):
            s = sqls[(k + offset) % len(sqls)]
            if parse_text(s) != [expected[s]]:
                wrong.append(s)

    threads = [threading.Thread(target=work, args=(i * 7,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []
