"""The faithfulness checker: the rules describer passes it, and real omissions fail it."""

from __future__ import annotations

import pytest

from sql2nl import describe
from sql2nl.facts import extract
from sql2nl.faithfulness import check

SQL = "SELECT name FROM users WHERE city != 'Paris' AND age > 18 ORDER BY age DESC LIMIT 5"
GOOD = "List the names of the 5 oldest users older than 18 who do not live in Paris, highest age first."


def facts(sql):
    return extract(sql)


def test_good_text_passes():
    r = check(GOOD, facts(SQL))
    assert r.score == 1.0 and r.missing == []


@pytest.mark.parametrize(
    "bad, missing",
    [
        ("List the names of the 5 oldest users who do not live in Paris.", "value 18"),
        ("List the names of the 5 oldest users older than 18 who live in Paris.", "negation"),
        ("List the names of the 5 oldest customers older than 18 who do not live in Paris.", "table users"),
        ("List the users older than 18 who do not live in Paris, oldest first, 5 of them.", "column name"),
        ("List the names of the oldest users older than 18 who do not live in Paris.", "limit 5"),
    ],
)
def test_omissions_are_caught(bad, missing):
    r = check(bad, facts(SQL))
    assert missing in r.missing and r.score < 1.0


def test_ordering_direction_must_match():
    f = facts("SELECT name FROM users ORDER BY age DESC")
    assert check("List user names sorted by age in descending order.", f).score == 1.0
    assert "ordering descending" in check("List user names sorted by age.", f).missing


def test_synonyms_plurals_and_humanized_names_are_accepted():
    f = facts("SELECT count(*), max(unit_price) FROM order_items WHERE born_state = 'CA' GROUP BY category")
    text = "For each category, give the number of order items from CA and their highest unit prices (born state)."
    assert check(text, f).score == 1.0
    assert "aggregate max" in check("For each category give the number of order items from CA.", f).missing


def test_values_match_on_boundaries():
    f = facts("SELECT name FROM t WHERE x = 18")
    assert "value 18" in check("Names of ts whose x is 180.", f).missing
    assert check("Names of ts whose x is 18.", f).score == 1.0


def test_spider_double_quoted_value_counts_as_value():
    f = facts('SELECT name FROM people WHERE gender = "Female"')
    assert "value Female" in check("Names of people.", f).missing


def test_huge_in_list_needs_its_size_and_first_values():
    sql = "SELECT id FROM t WHERE x IN (" + ", ".join(str(i) for i in range(1000, 21000)) + ")"
    f = facts(sql)
    r = check("ids of t with x one of 20,000 values such as 1000, 1001, 1002", f)
    assert r.score == 1.0 and r.checked < 20
    assert "20,000 values" in check("ids of t with x 1000, 1001, 1002", f).missing


def test_chinese():
    f = facts("SELECT name FROM users WHERE city != 'Paris'")
    assert check('查询city不为"Paris"的users的name。', f, language="zh").score == 1.0
    assert "negation" in check('查询city为"Paris"的users的name。', f, language="zh").missing


UNNAMED_B = "SELECT T2.name, count(*) FROM a AS T1 JOIN b AS T2 ON T1.b_id = T2.id GROUP BY T2.name HAVING count(*) > 3"


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize(
    "sql",
    [
        SQL,
        UNNAMED_B,
        "SELECT x FROM t WHERE y NOT IN (SELECT y FROM u WHERE z LIKE '%abc%') UNION SELECT x FROM v",
        "UPDATE users SET status = 'gone' WHERE last_seen < '2020-01-01'",
        "INSERT INTO users (name, age) VALUES ('Ann', 30)",
    ],
)
def test_rules_describer_is_faithful(sql, language):
    d = describe(sql, language=language, cache=False)
    r = check(d.text, d.facts, language=language)
    assert r.score == 1.0, (d.text, r.missing, r.contradicted)


def test_empty_text_scores_zero():
    assert check("", facts(SQL)).score == 0.0


# -- the meaning checker's API ----------------------------------------------------------------------
def test_check_faithfulness_is_public_and_parses_the_sql():
    import sql2nl
    from sql2nl import Faithfulness, SQLParseError, check_faithfulness

    assert "check_faithfulness" in sql2nl.__all__ and "Faithfulness" in sql2nl.__all__
    r = check_faithfulness("SELECT name FROM users WHERE age > 18", "Names of users older than 18.")
    assert isinstance(r, Faithfulness) and (r.score, r.missing, r.contradicted) == (1.0, [], [])
    assert float(r) == 1.0 and r.checked >= 4
    with pytest.raises(SQLParseError):
        check_faithfulness("SELECT name FROM users WHERE", "Names of users.")


def test_a_contradiction_costs_more_than_an_omission():
    sql = "SELECT name FROM users WHERE age > 18"
    missing = check(facts=facts(sql), text="Names of users aged 18.")  # no direction said
    opposite = check(facts=facts(sql), text="Names of users younger than 18.")  # everything named, but opposite
    assert missing.missing and not missing.contradicted
    assert opposite.contradicted == ["comparison age > 18"] and not opposite.missing
    assert opposite.score < missing.score < 1.0
    # (found - contradicted) / checked
    assert opposite.score == round((opposite.checked - 2) / opposite.checked, 4)


def test_dialect_is_used_to_parse():
    from sql2nl import check_faithfulness

    r = check_faithfulness(
        "SELECT * EXCEPT (ssn) FROM employees", "All details of employees except ssn.", dialect="bigquery"
    )
    assert r.score == 1.0, r


def test_claims_the_sql_does_not_make_are_contradictions():
    f = facts("SELECT name FROM users")
    for text, label in [
        ("Names of users who are not admins.", "negation (not in the SQL)"),
        ("The average name of users.", "aggregate avg (not in the SQL)"),
        ("The top 10 names of users.", "limit (not in the SQL)"),
        ("The distinct names of users.", "distinct (not in the SQL)"),
    ]:
        assert label in check(text, f).contradicted, text


def test_scripts_are_checked_statement_by_statement():
    f = facts("DELETE FROM logs WHERE day < '2020-01-01'; SELECT count(*) FROM logs")
    assert check("Delete the logs before 2020-01-01, then count the logs.", f).score == 1.0
    r = check("Delete the logs after 2020-01-01, then count the logs.", f)
    assert "comparison day < 2020-01-01" in r.contradicted


def test_group_by_position_wants_the_column_not_the_number():
    facts = extract("SELECT city, COUNT(*) FROM shops GROUP BY 1")
    assert check("Count the shops for each city.", facts).score == 1.0
    assert "grouping" in check("Count the shops for each 1.", facts).missing
