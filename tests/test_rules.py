"""The rules describer: behaviour read from golden files (SQL, then the expected text: see
``tests/describe_fixtures.py``), plus the promises that are not about wording: no crash, no silently
dropped clause, summarised huge lists, schema words, one class per language over one shared walk."""

from __future__ import annotations

import json
import re
import time

import pytest
from describe_fixtures import cases

from sql2nl import describe
from sql2nl.errors import InvalidInputError
from sql2nl.facts import extract
from sql2nl.faithfulness import check
from sql2nl.rules import describer_for
from sql2nl.rules.en import EnglishDescriber


@pytest.mark.parametrize("language", ["en", "zh"])
def test_golden_files(language):
    """The describer's text for every case in ``tests/fixtures/describe_<language>/`` (SQL, then the
    exact text). These files are reviewed by a person: when a case changes, read the new text and
    check it is correct English/Chinese and says exactly what the SQL does — never regenerate them
    blindly from the describer's output."""
    failures = []
    for case in cases(language):
        got = describe(case.sql, language=language, cache=False, **case.kwargs).text
        if got != case.expected:
            failures.append(f"{case}\n  expected: {case.expected!r}\n  got:      {got!r}")
    assert not failures, f"{len(failures)} of {len(cases(language))} cases differ:\n" + "\n".join(failures)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_golden_cases_warn_only_where_marked(language):
    # A warning means "said as SQL" or "no phrase yet"; the golden files mark the cases that expect one.
    for case in cases(language):
        d = describe(case.sql, language=language, cache=False, **case.kwargs)
        assert bool(d.warnings) == (case.options.get("warns") == "yes"), (str(case), d.warnings)


# Golden descriptions that are right but that the meaning checker misreads (its gaps, reported to its
# owner; the describer's wording is kept because it is the clearer sentence). Keyed by (language, SQL).
CHECKER_GAPS = {
    (
        "en",
        "SELECT * FROM t WHERE NOT (status = 'open' OR priority > 3)",
    ): "'neither ... nor' not read as a grouped NOT",
    (
        "en",
        "SELECT name FROM users WHERE NOT (age > 18 OR city = 'Paris')",
    ): "'neither ... nor' not read as a grouped NOT",
    ("en", "SELECT name FROM parts WHERE code LIKE '[A-C]%'"): "T-SQL character classes are not decoded",
    ("en", "SELECT * FROM users WHERE manager_id = NULL"): "'never true' taken for a negation the SQL lacks",
    ("zh", "SELECT * FROM users WHERE manager_id = NULL"): "永远不成立 taken for a negation the SQL lacks",
    ("en", "SELECT * FROM users WHERE NOT active"): "'active is false' not accepted for NOT active",
    (
        "en",
        "SELECT COUNT(DISTINCT c.id) FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.total > 100",
    ): "'the different customers' not accepted for COUNT(DISTINCT c.id)",
    (
        "zh",
        "SELECT COUNT(DISTINCT c.id) FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.total > 100",
    ): "不同客户 not accepted for COUNT(DISTINCT c.id)",
    ("en", "CREATE TABLE IF NOT EXISTS t (a INT)"): "IF NOT EXISTS is not a negation to it",
    (
        "en",
        "CREATE INDEX IF NOT EXISTS idx_orders ON orders (customer_id, created_at DESC)",
    ): "IF NOT EXISTS is not a negation to it",
    ("zh", "SELECT * FROM t WHERE a IS DISTINCT FROM b"): "IS DISTINCT FROM is not a negation to it",
    ("en", "SELECT * FROM users LIMIT ? OFFSET ?"): "a parameter OFFSET must be said as '?'",
    ("zh", "SELECT * FROM users LIMIT ? OFFSET ?"): "a parameter OFFSET must be said as '?'; 给定 not found",
    (
        "en",
        "SELECT * FROM users ORDER BY created_at DESC LIMIT $1 OFFSET $2",
    ): "a parameter OFFSET must be said as '@2'",
    ("zh", "SELECT name FROM users ORDER BY age DESC LIMIT :n"): "给定 not found in 由参数给定",
}


@pytest.mark.parametrize("language", ["en", "zh"])
def test_golden_cases_are_faithful_by_the_meaning_checker(language):
    # The meaning checker (sql2nl.faithfulness) finds every golden description complete and uncontradicted.
    failures = []
    for case in cases(language):
        if (language, case.sql) in CHECKER_GAPS:
            continue
        d = describe(case.sql, language=language, cache=False, **case.kwargs)
        result = check(d.text, d.facts, language=language)
        if result.score < 1.0:
            failures.append(f"{case}\n  {d.text!r}\n  missing {result.missing} contradicted {result.contradicted}")
    assert not failures, f"{len(failures)} unfaithful:\n" + "\n".join(failures)


@pytest.mark.xfail(reason="the meaning checker's gaps (see CHECKER_GAPS)", strict=False)
@pytest.mark.parametrize("language, sql", sorted(CHECKER_GAPS))
def test_checker_gaps(language, sql):
    case = next(c for c in cases(language) if c.sql == sql)
    d = describe(sql, language=language, cache=False, **case.kwargs)
    assert check(d.text, d.facts, language=language).score == 1.0, CHECKER_GAPS[language, sql]


def test_golden_files_cover_every_statement_kind_and_many_dialects():
    all_cases = cases("en")
    kinds = {f.kind for c in all_cases for f in extract(c.sql, c.options.get("dialect"))}
    assert {"select", "insert", "update", "delete", "merge", "create", "alter", "drop", "truncate"} <= kinds
    dialects = {c.options.get("dialect") for c in all_cases}
    assert {
        "postgres",
        "mysql",
        "bigquery",
        "snowflake",
        "tsql",
        "duckdb",
        "sqlite",
        "spark",
        "clickhouse",
        "oracle",
    } <= dialects
    assert len(all_cases) >= 200


def test_spider_double_quoted_strings_are_values():
    d = describe('SELECT name FROM people WHERE gender_code = "Male"', cache=False)
    assert '"Male"' in d.text and "male" not in d.text.replace('"Male"', "")
    assert d.facts[0].filters[0].values == ["Male"]


@pytest.mark.parametrize("language, n", [("en", 200_000), ("zh", 20_000)])  # parsing 200k items takes ~10 s
def test_huge_in_list_is_summarised(language, n):
    sql = "SELECT id FROM t WHERE x IN (" + ", ".join(str(i) for i in range(n)) + ")"
    t0 = time.perf_counter()
    d = describe(sql, language=language, cache=False)
    assert time.perf_counter() - t0 < 60  # generous; the point is "no hang"
    assert f"{n:,}" in d.text and str(n - 1) not in d.text
    assert ("0, 1" if language == "en" else "0、1") in d.text
    assert len(d.text) < 300


@pytest.mark.parametrize("language", ["en", "zh"])
def test_unknown_constructs_warn_but_still_describe(language):
    d = describe("SHOW TABLES", language=language, cache=False)
    assert d.text and "SHOW" in d.text
    assert d.warnings and "generically" in d.warnings[0]


def test_unknown_expression_is_quoted_not_dropped():
    # An operator with no wording (PostgreSQL's OPERATOR(schema.op)) still appears, as SQL, with a warning.
    d = describe("SELECT a OPERATOR(pg_catalog.+) b FROM people", dialect="postgres", cache=False)
    assert "`a OPERATOR(pg_catalog.+) b`" in d.text and "people" in d.text
    assert any("Operator" in w for w in d.warnings)


def test_unknown_function_is_named_not_dropped():
    # A function nobody has words for still appears, under its SQL name, with a warning.
    d = describe("SELECT my_udf(a, 2) FROM docs", dialect="postgres", cache=False)
    assert "docs" in d.text and "the result of my_udf(a, 2)" in d.text
    assert any("my_udf" in w for w in d.warnings)


def test_describer_never_crashes_when_a_rule_breaks(monkeypatch):
    def broken(self, p):
        raise RuntimeError("boom")

    monkeypatch.setattr(EnglishDescriber, "compose_select", broken)
    d = describe("SELECT name FROM users", cache=False)
    assert "users" in d.text
    assert any("boom" in w for w in d.warnings)


def test_script_is_described_statement_by_statement():
    d = describe("SELECT name FROM users; DELETE FROM users WHERE age < 0", cache=False)
    first, second = d.text.split("\n")
    assert "names of users" in first and second.startswith("Delete")


def test_aliases_resolve_to_tables_per_subquery():
    # T1 means student outside and takes inside; each column is named after its own table.
    d = describe(
        "SELECT T1.name FROM student AS T1 WHERE T1.id NOT IN "
        "(SELECT T1.id FROM takes AS T1 JOIN course AS T2 ON T1.course_id = T2.course_id "
        "WHERE T2.dept_name = 'Biology')",
        cache=False,
    )
    assert "students" in d.text and "takes" in d.text and "course department name" in d.text
    assert "T1" not in d.text and "T2" not in d.text


def test_schema_words_are_used():
    schema = {"usr": {"description": "customer", "columns": {"nm": "full name", "dob": "birthday"}}}
    d = describe("SELECT nm FROM usr WHERE dob > '2000-01-01'", schema=schema, cache=False)
    assert "full names" in d.text and "customers" in d.text and "birthday" in d.text
    assert "nm" not in d.text.split()
    assert check(d.text, d.facts, schema=schema).score == 1.0
    assert "column nm" in check(d.text, d.facts).missing  # without the schema, "full name" is not "nm"


def test_identifiers_are_humanized():
    d = describe("SELECT born_state, customerID FROM head", cache=False)
    assert "born states" in d.text and "customer ids" in d.text


@pytest.mark.parametrize(
    "sql, words",
    [
        ("SELECT name FROM t ORDER BY score DESC LIMIT 1", "highest score"),
        ("SELECT name FROM t ORDER BY score ASC LIMIT 1", "lowest score"),
        ("SELECT name FROM t ORDER BY score DESC LIMIT 3", "top 3"),
        ("SELECT k FROM items GROUP BY k ORDER BY count(*) DESC LIMIT 1", "the most items"),
        ("SELECT name FROM t LIMIT 5 OFFSET 10", "skipping the first 10"),
    ],
)
def test_limits_read_as_top_n_and_superlatives(sql, words):
    assert words in describe(sql, cache=False).text


def test_new_language_is_one_subclass_overriding_wording():
    class Shouty(EnglishDescriber):
        CLAUSES = {**EnglishDescriber.CLAUSES, "gt": "{0} IS OVER {1}"}
        FILTERS = {**EnglishDescriber.FILTERS, "gt": "{0} OVER {1}"}

    f = extract("SELECT name FROM users WHERE age > 18")[0]
    text = Shouty(f).describe()
    assert "age OVER 18" in text and "users" in text


def test_chinese_keeps_literal_values_verbatim():
    d = describe("SELECT 名字 FROM 学生 WHERE 城市 = '北京' AND 年龄 >= 18.5", language="zh", cache=False)
    assert "'北京'" not in d.text and "北京" in d.text and "18.5" in d.text


def test_unknown_language_is_a_clear_error():
    with pytest.raises(InvalidInputError):
        describer_for("xx")


def test_facts_json_round_trip_through_description():
    d = describe("SELECT a FROM t WHERE b = 1", cache=False)
    json.dumps([f.to_dict() for f in d.facts])


@pytest.mark.parametrize("language", ["en", "zh"])
def test_unknown_clause_parts_are_quoted_with_a_warning(language):
    d = describe(
        "SELECT a FROM t START WITH a = 1 CONNECT BY PRIOR id = parent_id",
        dialect="oracle",
        language=language,
        cache=False,
    )
    assert "CONNECT BY PRIOR id = parent_id" in d.text
    assert any("connect" in w for w in d.warnings)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_redacted_values_come_back_in_every_language(language):
    # Chinese has no spaces after a value, so placeholders must be found without word boundaries.
    d = describe(
        'SELECT name FROM people WHERE gender = "Male" AND age > 30', redact=True, language=language, cache=False
    )
    assert "Male" in d.text and "30" in d.text and ":v" not in d.text


@pytest.mark.parametrize("language", ["en", "zh"])
def test_no_literal_value_is_silently_dropped(language):
    # Every value written in the SQL shows up verbatim (LIKE wildcards aside). "1" may be said as
    # a superlative ("the highest", LIMIT 1) or be the dummy column of EXISTS (SELECT 1 ...).
    for case in cases(language):
        d = describe(case.sql, language=language, cache=False, **case.kwargs)
        for f in d.facts:
            for v in f.literals:
                parts = [x for x in re.split(r"[%_]", v.replace("\\", "").lower()) if x]  # LIKE patterns in pieces
                said_in_words = v in ("1", "1.0", "100.0") or v.strip() in (",", ";", "")  # "joined with commas"
                assert said_in_words or all(x in d.text.lower() for x in parts), (str(case), d.text, v)


@pytest.mark.parametrize(
    "table, many, one",
    [
        ("documents_to_be_destroyed", "documents to be destroyed", "document to be destroyed"),
        ("Member_of_club", "members of club", "member of club"),
        ("Products_for_Hire", "products for hire", "product for hire"),
        ("hall_of_fame", "halls of fame", "hall of fame"),
        # a participle before "by" heads nothing: the last word is the noun
        ("destroyed_by_employee", "destroyed by employees", "destroyed by employee"),
        # "in" ends compounds, it starts no qualifier
        ("sign_in_log", "sign in logs", "sign in log"),
    ],
)
def test_table_names_with_a_qualifier_inflect_their_head_noun(table, many, one):
    d = EnglishDescriber(extract(f"SELECT * FROM {table}")[0])
    assert d.noun(table) == many
    assert d.singular_noun(table) == one
    text = describe(f"SELECT COUNT(*) FROM {table}").text
    assert many in text and f"{many}s" not in text
