"""Facts: what a statement says, extracted once."""

from __future__ import annotations

import json

from sqlglot import exp

from sql2nl.facts import extract, literal_text, statement_facts
from sql2nl.parsing import parse


def one(sql, dialect=None):
    return extract(sql, dialect)[0]


def test_select_facts():
    f = one(
        "SELECT DISTINCT u.name, count(DISTINCT o.id) AS n FROM users AS u LEFT JOIN orders o ON o.user_id = u.id "
        "WHERE u.age >= 18 AND u.city NOT IN ('Paris', 'Rome') GROUP BY u.name HAVING count(*) > 2 "
        "ORDER BY n DESC, u.name LIMIT 10 OFFSET 5"
    )
    assert f.kind == "select" and f.distinct
    assert f.tables == ["users", "orders"] and f.aliases == {"u": "users", "o": "orders"}
    assert [(s.column, s.table, s.aggregate, s.distinct, s.alias) for s in f.selected] == [
        ("name", "users", None, False, None),
        ("id", "orders", "count", True, "n"),
    ]
    assert [(j.kind, j.table, j.alias) for j in f.joins] == [("left", "orders", "o")]
    assert [(x.column, x.op, x.values, x.negated) for x in f.filters] == [
        ("age", ">=", ["18"], False),
        ("city", "in", ["Paris", "Rome"], True),
    ]
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
    f = one(
        "WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r WHERE n < 3) "
        "SELECT n, rank() OVER (PARTITION BY n ORDER BY n DESC) FROM r EXCEPT SELECT 2"
    )
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
    assert (f.kind, f.target, f.target_columns, f.values) == (
        "insert",
        "users",
        ["name", "age"],
        ["Ann", "30", "Bob", "-4"],
    )
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
    assert [f.kind for f in extract("SELECT 1; DELETE FROM t; CREATE TABLE x (a INT)")] == [
        "select",
        "delete",
        "create",
    ]


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


# -- identifiers stay identifiers; the caller's tree is never changed --------------------------------


def test_facts_never_change_the_callers_tree():
    tree = parse('SELECT name FROM people WHERE gender = "Male"')[0]
    before = tree.sql()
    f = statement_facts(tree)
    assert tree.sql() == before and isinstance(tree.find(exp.EQ).expression, exp.Column)
    assert f.tree is not tree and isinstance(f.tree.find(exp.EQ).expression, exp.Literal)
    assert f.filters[0].values == ["Male"]


def test_a_tree_the_caller_owns_is_normalised_in_place():
    # owned=True: the caller parsed the tree for this alone (describe() does), so no copy is made.
    tree = parse('SELECT name FROM people WHERE gender = "Male" AND age > 3')[0]
    f = statement_facts(tree, owned=True)
    assert f.tree is tree and isinstance(tree.find(exp.EQ).expression, exp.Literal)
    assert f.filters[0].values == ["Male"]
    # extract() parses the text itself, so it owns its trees
    assert extract('SELECT name FROM people WHERE gender = "Male"')[0].filters[0].values == ["Male"]


def test_plain_statements_are_not_copied():
    tree = parse("SELECT name FROM people WHERE gender = 'Male'")[0]
    assert statement_facts(tree).tree is tree


def test_two_quoted_names_compared_are_two_columns():
    f = one('SELECT * FROM users WHERE "updatedAt" = "createdAt"')
    assert f.filters[0].values == [] and isinstance(f.tree.find(exp.EQ).expression, exp.Column)


def test_quoted_names_are_identifiers_in_dialects_that_say_so():
    for dialect in ("postgres", "snowflake", "duckdb", "oracle"):
        f = one('SELECT * FROM users WHERE status = "active"', dialect)
        assert f.filters[0].values == [], dialect
        assert isinstance(f.tree.find(exp.EQ).expression, exp.Column), dialect


def test_a_quoted_name_the_query_uses_as_a_column_stays_a_column():
    f = one('SELECT "createdAt" FROM users WHERE updated > "createdAt"')
    assert f.filters[0].values == []


def test_a_quoted_name_the_schema_knows_stays_a_column():
    from sql2nl.schema import Schema

    schema = Schema.from_any({"users": ["id", "signup", "createdAt"]})
    f = extract('SELECT id FROM users WHERE signup > "createdAt"', schema=schema)[0]
    assert f.filters[0].values == []
    f = extract('SELECT id FROM users WHERE signup > "yesterday"', schema=schema)[0]
    assert f.filters[0].values == ["yesterday"]


def test_sqlite_reads_spider_strings_as_values():
    assert one('SELECT id FROM t WHERE kind = "fish"', "sqlite").filters[0].values == ["fish"]


# -- parameters, RETURNING, star modifiers, patterns -------------------------------------------------


def test_bound_parameters_in_limit_and_offset_are_parameters():
    from sql2nl.facts import is_parameter

    f = one("SELECT * FROM users LIMIT ? OFFSET ?")
    assert (f.limit, f.offset) == ("?", "?") and is_parameter(f.limit)
    f = one("SELECT * FROM users WHERE id = $1 LIMIT $2", "postgres")
    assert is_parameter(str(f.limit)) and is_parameter(f.filters[0].values[0])
    f = one("SELECT * FROM users LIMIT :n")
    assert f.limit == ":n"


def test_returning_columns():
    f = one("UPDATE accounts SET balance = balance - 100 WHERE id = 5 RETURNING id, balance", "postgres")
    assert f.returning == ["id", "balance"]


def test_star_except_and_replace():
    f = one("SELECT * EXCEPT (ssn, password_hash) FROM employees", "bigquery")
    assert f.selected[0].star and f.selected[0].except_columns == ["ssn", "password_hash"]
    f = one("SELECT * REPLACE (UPPER(name) AS name) FROM employees", "bigquery")
    assert f.selected[0].replaced_columns == ["name"]


def test_like_with_escape_is_one_predicate():
    f = one(r"SELECT name FROM products WHERE discount LIKE '50\%' ESCAPE '\'")
    assert [(x.op, x.column) for x in f.filters] == [("like", "discount")]


def test_like_patterns_are_decoded():
    from sql2nl.facts import like_pattern

    assert (like_pattern("Jo%").shape, like_pattern("Jo%").text) == ("starts", "Jo")
    assert (like_pattern("%son").shape, like_pattern("%son").text) == ("ends", "son")
    assert (like_pattern("%a%").shape, like_pattern("%a%").text) == ("contains", "a")
    assert (like_pattern(r"50\%", None, "mysql").shape, like_pattern(r"50\%", None, "mysql").text) == ("exact", "50%")
    assert like_pattern(r"50!%", "!").text == "50%" and like_pattern(r"50!%", "!").shape == "exact"
    assert like_pattern(r"50\%", None, "sqlite").shape == "starts"  # SQLite has no default escape
    assert like_pattern("a_c").shape == "pattern" and like_pattern("A%B").shape == "starts_ends"
    assert like_pattern("[0-9]%", None, "tsql") is None


def test_scopes_resolve_correlated_columns_to_the_outer_table():
    f = one("SELECT name FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id)")
    inner = f.tree.find(exp.Exists).find(exp.EQ)
    assert [f.scopes.table_of(c) for c in (inner.this, inner.expression)] == ["orders", "customers"]


def test_scopes_place_unqualified_columns_with_a_schema():
    from sql2nl.facts import Scopes
    from sql2nl.schema import Schema

    tree = parse("SELECT total FROM customers JOIN orders ON orders.cid = customers.id")[0]
    col = tree.find(exp.Column)
    assert Scopes(tree).table_of(col) is None
    assert Scopes(tree, Schema.from_any({"orders": ["cid", "total"], "customers": ["id"]})).table_of(col) == "orders"


def test_group_by_position_names_the_selected_column():
    # GROUP BY 1 groups by the first selected expression; the fact names it, not "1".
    assert extract("SELECT city, COUNT(*) FROM shops GROUP BY 1")[0].group_by == ["city"]
    assert extract("SELECT UPPER(city) AS c, COUNT(*) FROM shops GROUP BY 1")[0].group_by == ["UPPER(city)"]
