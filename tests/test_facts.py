"""Facts: what a statement says, extracted once."""

from __future__ import annotations

import json

from sqlglot import exp

from sql2nl.facts import extract, literal_text, statement_facts
from sql2nl.parsing import parse


def one(sql, dialect=None):
    return extract(sql, dialect)[0]


def test_select_facts():
    f = one("SELECT DISTINCT u.name, count(DISTINCT o.id) AS n FROM users AS u LEFT JOIN orders o ON o.user_id = u.id "
            "WHERE u.age >= 18 AND u.city NOT IN ('Paris', 'Rome') GROUP BY u.name HAVING count(*) > 2 "
            "ORDER BY n DESC, u.name LIMIT 10 OFFSET 5")
    assert f.kind == "select" and f.distinct
    assert f.tables == ["users", "orders"] and f.aliases == {"u": "users", "o": "orders"}
    assert [(s.column, s.table, s.aggregate, s.distinct, s.alias) for s in f.selected] == [
        ("name", "users", None, False, None), ("id", "orders", "count", True, "n")]
    assert [(j.kind, j.table, j.alias) for j in f.joins] == [("left", "orders", "o")]
    assert [(x.column, x.op, x.values, x.negated) for x in f.filters] == [
        ("age", ">=", ["18"], False), ("city", "in", ["Paris", "Rome"], True)]
    assert [(x.op, x.values, x.aggregate) for x in f.having] == [(">", ["2"], "count")]
    assert f.group_by == ["name"]
    assert [(o.sql, o.descending) for o in f.order_by] == [("n", True), ("u.name", False)]
    assert (f.limit, f.offset) == (10, 5)
    assert f.negations == 1
    assert {(a.func, a.distinct) for a in f.aggregates} == {("count", True), ("count", False)}


def test_facts_are_json_and_sql_is_lazy():
    f = one("SELECT a FROM t WHERE b LIKE 'x%'")
    assert "_sql" not in f.__dict__  # nothing generated until asked
    d = f.to_dict()
    json.dumps(d)
    assert d["sql"] == "SELECT a FROM t WHERE b LIKE 'x%'"
    assert d["filters"][0]["sql"] == "b LIKE 'x%'"
    assert "tree" not in d and "scopes" not in d


def test_spider_double_quoted_values_become_literals():
    f = one('SELECT T1.name FROM people AS T1 WHERE T1.gender = "Male" AND T1.city IN ("New York", "Oslo")')
    assert [x.values for x in f.filters] == [["Male"], ["New York", "Oslo"]]
    assert isinstance(f.tree.find(exp.EQ).expression, exp.Literal)


def test_double_quoted_column_on_the_left_stays_a_column():
    f = one('SELECT "name" FROM t WHERE "age" > 3')
    assert f.filters[0].column == "age" and f.selected[0].column == "name"


def test_aliases_are_scoped_per_select():
    f = one("SELECT T1.name FROM student AS T1 WHERE T1.id IN (SELECT T1.sid FROM takes AS T1)")
    assert f.selected[0].table == "student"
    assert f.filters[0].subquery and f.subqueries >= 1


def test_set_operations_ctes_windows():
    f = one("WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r WHERE n < 3) "
            "SELECT n, rank() OVER (PARTITION BY n ORDER BY n DESC) FROM r EXCEPT SELECT 2")
    assert f.ctes == ["r"] and f.recursive
    assert "except" in f.set_operations and "union all" in f.set_operations
    assert f.windows[0].func == "rank" and f.windows[0].partition_by == ["n"]
    assert f.tables == []  # a CTE is not a table


def test_exists_and_between_and_is_null():
    f = one("SELECT a FROM t WHERE NOT EXISTS (SELECT 1 FROM u) AND b BETWEEN 1 AND 5 AND c IS NOT NULL")
    assert [(x.op, x.negated) for x in f.filters] == [("exists", True), ("between", False), ("is", True)]
    assert f.filters[1].values == ["1", "5"]


def test_dml_facts():
    f = one("INSERT INTO users (name, age) VALUES ('Ann', 30), ('Bob', -4)")
    assert (f.kind, f.target, f.target_columns, f.values) == ("insert", "users", ["name", "age"],
                                                            ["Ann", "30", "Bob", "-4"])
    f = one("UPDATE users SET status = 'x' WHERE id = 3")
    assert (f.kind, f.target, f.target_columns, f.values) == ("update", "users", ["status"], ["x"])
    assert f.filters[0].values == ["3"]
    f = one("DELETE FROM logs WHERE level <> 'error'")
    assert (f.kind, f.target, f.negations) == ("delete", "logs", 1)
    f = one("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE")
    assert (f.kind, f.target) == ("merge", "t") and set(f.tables) == {"t", "s"}


def test_ddl_facts():
    f = one("CREATE VIEW v AS SELECT a FROM t")
    assert (f.kind, f.object_kind, f.target) == ("create", "VIEW", "v")
    f = one("DROP TABLE IF EXISTS old")
    assert (f.kind, f.target, f.object_kind) == ("drop", "old", "TABLE")
    f = one("TRUNCATE TABLE logs")
    assert (f.kind, f.target) == ("truncate", "logs")
    f = one("ALTER TABLE users ADD COLUMN nick TEXT")
    assert (f.kind, f.target) == ("alter", "users")


def test_script_gives_one_facts_per_statement():
    assert [f.kind for f in extract("SELECT 1; DELETE FROM t; CREATE TABLE x (a INT)")] == ["select", "delete", "create"]


def test_literal_text():
    assert literal_text(exp.Literal.string("a b")) == "a b"
    assert literal_text(exp.Neg(this=exp.Literal.number(3))) == "-3"
    assert literal_text(exp.Null()) == "null"


def test_statement_facts_on_a_tree():
    tree = parse("SELECT a FROM t")[0]
    assert statement_facts(tree).tables == ["t"]


def test_long_or_chain_does_not_recurse_deeply():
    sql = "SELECT a FROM t WHERE " + " OR ".join(f"b = {i}" for i in range(3000))
    f = one(sql)
    assert len(f.filters) == 3000
