"""Property: ``describe`` never says a sqlglot class name ("jsonextractscalar", "DateSub",
"rownumber"...) for generated statements — over expressions, predicates, clauses, joins,
subqueries and statements that change data, in several dialects and both styles.

The generator's identifiers are ordinary words that are not sqlglot class names, so any class
name in the text came from the describer. Two spellings are the describer's deliberate fallbacks
and are removed before checking: SQL quoted in backticks, and "the result of NAME(...)" for a
function without a phrase (NAME as SQL spells it, which the function-phrase tests cover).
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sql2nl import describe
from sql2nl.errors import Sql2NLError
from sql2nl.rules.sqlglot_names import internal_names as sqlglot_names

# Ordinary words, none of them a sqlglot class name.
TABLES = ["customers", "orders", "products", "employees", "invoices", "shipments"]
COLUMNS = [
    "price",
    "cost",
    "city",
    "status",
    "quantity",
    "amount",
    "email",
    "created_at",
    "total_due",
    "region",
    "customer_id",
    "manager_id",
    "score",
    "label",
    "category",
    "id",
]
FUNCTIONS = [
    "UPPER({0})",
    "LOWER({0})",
    "LENGTH({0})",
    "ABS({0})",
    "ROUND({0})",
    "COALESCE({0}, 0)",
    "TRIM({0})",
    "SUBSTRING({0}, 1, 3)",
    "CONCAT({0}, 'x')",
    "CURRENT_DATE",
    "NOW()",
]

col = st.sampled_from(COLUMNS)
value = st.one_of(st.integers(-5, 500).map(str), st.sampled_from(["'a%'", "'x'", "NULL", "TRUE", "3.5", "?"]))


def _expr(depth: int) -> st.SearchStrategy[str]:
    base = st.one_of(col, value, st.builds(lambda f, c: f.format(c), st.sampled_from(FUNCTIONS), col))
    if depth == 0:
        return base
    sub = _expr(depth - 1)
    return st.one_of(
        base,
        st.builds(lambda a, op, b: f"({a} {op} {b})", sub, st.sampled_from(["+", "-", "*", "/", "%", "||"]), sub),
        st.builds(lambda c, v, o: f"CASE WHEN {c} > {v} THEN {o} ELSE 0 END", col, value, sub),
        st.builds(lambda a, t: f"CAST({a} AS {t})", sub, st.sampled_from(["INT", "TEXT", "DATE", "DECIMAL(10, 2)"])),
        st.builds(lambda f, a: f"{f}({a})", st.sampled_from(["SUM", "AVG", "MIN", "MAX", "COUNT"]), sub),
        st.builds(
            lambda f, p, o: f"{f} OVER (PARTITION BY {p} ORDER BY {o} DESC)",
            st.sampled_from(["ROW_NUMBER()", "RANK()", "SUM(amount)", "LAG(price)"]),
            col,
            col,
        ),
    )


def _cond(depth: int) -> st.SearchStrategy[str]:
    e = _expr(1)
    base = st.one_of(
        st.builds(lambda a, op, b: f"{a} {op} {b}", e, st.sampled_from(["=", "<>", ">", ">=", "<", "<="]), e),
        st.builds(lambda c, v: f"{c} LIKE {v}", col, st.sampled_from(["'%a'", "'a%'", "'%a%'", "'a_b'", "'50\\%'"])),
        st.builds(lambda c: f"{c} IS NULL", col),
        st.builds(lambda c: f"{c} IS NOT NULL", col),
        st.builds(lambda c, a, b: f"{c} BETWEEN {a} AND {b}", col, value, value),
        st.builds(lambda c, vs: f"{c} IN ({', '.join(vs)})", col, st.lists(value, min_size=1, max_size=4)),
        st.builds(lambda c, t, k: f"{c} IN (SELECT {k} FROM {t})", col, st.sampled_from(TABLES), col),
        st.builds(lambda t, c: f"EXISTS (SELECT 1 FROM {t} x WHERE x.{c} = 1)", st.sampled_from(TABLES), col),
    )
    if depth == 0:
        return base
    sub = _cond(depth - 1)
    return st.one_of(
        base,
        st.builds(lambda a, op, b: f"({a} {op} {b})", sub, st.sampled_from(["AND", "OR"]), sub),
        st.builds(lambda a: f"NOT ({a})", sub),
    )


@st.composite
def statements(draw) -> str:
    t, u = draw(st.sampled_from(TABLES)), draw(st.sampled_from(TABLES))
    kind = draw(
        st.sampled_from(["select", "select", "select", "join", "group", "cte", "union", "insert", "update", "delete"])
    )
    cols = ", ".join(draw(st.lists(_expr(2), min_size=1, max_size=3)))
    where = f" WHERE {draw(_cond(2))}" if draw(st.booleans()) else ""
    if kind == "select":
        order = f" ORDER BY {draw(col)} {draw(st.sampled_from(['ASC', 'DESC']))}" if draw(st.booleans()) else ""
        limit = f" LIMIT {draw(st.sampled_from(['1', '5', '?']))}" if draw(st.booleans()) else ""
        return f"SELECT {cols} FROM {t}{where}{order}{limit}"
    if kind == "join":
        side = draw(st.sampled_from(["", "LEFT ", "RIGHT ", "FULL ", "CROSS "]))
        on = "" if side == "CROSS " else f" ON b.{draw(col)} = a.id"
        return f"SELECT a.{draw(col)}, b.{draw(col)}, COUNT(*) FROM {t} a {side}JOIN {u} b{on}{where} GROUP BY 1, 2"
    if kind == "group":
        having = f" HAVING COUNT(*) > {draw(st.integers(0, 9))}" if draw(st.booleans()) else ""
        return f"SELECT {draw(col)}, SUM({draw(col)}) FROM {t}{where} GROUP BY 1{having} ORDER BY 2 DESC"
    if kind == "cte":
        return f"WITH w AS (SELECT {cols} FROM {t}{where}) SELECT * FROM w"
    if kind == "union":
        return (
            f"SELECT {draw(col)} FROM {t} {draw(st.sampled_from(['UNION', 'UNION ALL', 'INTERSECT', 'EXCEPT']))} "
            f"SELECT {draw(col)} FROM {u}"
        )
    if kind == "insert":
        return f"INSERT INTO {t} ({draw(col)}) VALUES ({draw(value)})"
    if kind == "update":
        return f"UPDATE {t} SET {draw(col)} = {draw(_expr(1))}{where}"
    return f"DELETE FROM {t}{where}"


_FALLBACKS = re.compile(r"`[^`]*`|the result of [A-Z_][A-Z0-9_.$]*\([^)]*\)|[A-Z_]{2,}[A-Z0-9_]*\(")


def internal_names(text: str) -> list[str]:
    """The sqlglot class names in ``text`` (:mod:`sql2nl.rules.sqlglot_names`), after the describer's
    deliberate fallbacks are removed."""
    return sqlglot_names(_FALLBACKS.sub(" ", text))


def test_the_check_catches_what_the_issue_saw():
    assert internal_names("the jsonextractscalar of data and the timestamptrunc of created at") == [
        "jsonextractscalar",
        "timestamptrunc",
    ]
    assert internal_names("the explode of input kwarg, the nullif of a") == ["explode", "kwarg", "nullif"]
    assert internal_names("the DateSub of x") == ["DateSub"]
    assert internal_names("the rank (in upper case), `DATE_SUB(x)` and the result of NULLIF(a, 0)") == []


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sql=statements(),
    dialect=st.sampled_from([None, "postgres", "mysql", "bigquery", "snowflake", "duckdb", "tsql", "sqlite"]),
    language=st.sampled_from(["en", "zh"]),
    style=st.sampled_from(["statement", "question"]),
    detail=st.sampled_from(["summary", "steps"]),
)
def test_describe_never_says_a_sqlglot_class_name(sql, dialect, language, style, detail):
    try:
        d = describe(sql, dialect=dialect, language=language, style=style, detail=detail, cache=False)
    except Sql2NLError:
        return  # a generated statement some dialect does not read: nothing was described
    assert not internal_names(d.text), (sql, dialect, d.text)
    assert not any("failed on this statement" in w for w in d.warnings), (sql, dialect, d.warnings)
