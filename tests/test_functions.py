"""Words for SQL functions and operators (sql2nl.rules.functions): every class sqlglot knows is
phrased without leaking a sqlglot name, arguments are read by meaning (not position) in every
dialect, phrases nest, and functions nobody has words for fall back readably, with a warning."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from function_examples import classes, example
from sqlglot import exp

from sql2nl import describe
from sql2nl.facts import extract
from sql2nl.faithfulness import check
from sql2nl.rules.en import EnglishDescriber
from sql2nl.rules.functions import has_phrase, phrase, sql_name
from sql2nl.rules.sqlglot_names import internal_names
from sql2nl.rules.zh import ChineseDescriber
from sql2nl.words import humanize

FIXTURES = Path(__file__).parent / "fixtures"
DESCRIBERS = {"en": EnglishDescriber, "zh": ChineseDescriber}
#: Generic wrappers sqlglot uses for aggregates it does not model: the fallback names them by SQL.
GENERIC = {
    "Agg",
    "AnonymousAggFunc",
    "CombinedAggFunc",
    "CombinedParameterizedAgg",
    "NetFunc",
    "ParameterizedAgg",
    "Secret",
    "Apply",
    "ObjectTransform",
}
#: Arguments a phrase may leave unsaid: options that do not change what a reader needs to know.
UNSAID = {
    "JSONTable": {"schema"},
    "Kwarg": {"this"},
    "MLTranslate": {"params_struct"},
    "Normal": {"gen"},
    "Zipf": {"gen"},
    "ParseIp": {"type"},
    "Greatest": {"ignore_nulls"},
    "Least": {"ignore_nulls"},
}
#: English words that are also sqlglot class names, allowed in the phrase of that very class.
ENGLISH = {
    "year",
    "month",
    "week",
    "day",
    "hour",
    "minute",
    "second",
    "quarter",
    "date",
    "time",
    "timestamp",
    "rank",
    "list",
    "map",
    "array",
    "struct",
    "first",
    "last",
    "median",
    "mode",
    "variance",
    "space",
    "sign",
    "length",
    "upper",
    "lower",
    "reverse",
    "repeat",
    "replace",
    "format",
    "collation",
    "exists",
    "distance",
    "translate",
    "contains",
    "overlaps",
    "search",
    "uuid",
    "string",
    "columns",
    "interval",
    "host",
    "generator",
    "flatten",
    "if",
    "and",
    "or",
    "exp",
    "pi",
    "normal",
    "encode",
    "decode",
    "corr",
    "try",
    "stack",
    "transform",
    "reduce",
    "predict",
    "encrypt",
    "decrypt",
    "compress",
    "datetime",
    "uniform",
    "kurtosis",
    "skewness",
    "factorial",
    "degrees",
    "radians",
    "negative",
    "unicode",
    "ascii",
    "hex",
    "soundex",
    "trim",
    "round",
    "floor",
    "abs",
    "sum",
    "min",
    "max",
    "count",
    "lag",
    "lead",
    "shuffle",
    "levenshtein",
    "elt",
    "chr",
    "cast",
    "case",
    "glob",
    "lambda",
    "dot",
    "bracket",
    "slice",
    "split",
    "concat",
    "substring",
    "left",
    "right",
    "inline",
    "pad",
    "overlay",
    "stuff",
    "extract",
    "quantile",
    "normalize",
    "initcap",
    "coalesce",
    "trunc",
    "ceil",
    "greatest",
    "least",
    "avg",
    "explode",
    "unnest",
    "collate",
    "typeof",
    "convert",
    "adjacent",
    "apply",
}


def _render(language):
    return DESCRIBERS[language](extract("SELECT 1")[0]).operand


def _words_of(node: exp.Expression) -> set[str]:
    """Words the phrase of ``node`` may legitimately contain: its columns, identifiers, values."""
    words = set()
    for n in node.walk():
        if isinstance(n, (exp.Column, exp.Identifier)):
            words.update(humanize(n.name).split() + n.name.split("_") + [n.name])
        elif isinstance(n, (exp.Literal, exp.JSONPathKey)):
            words.update(re.findall(r"[A-Za-z]+", str(n.this)))
    return words


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("with_optional", [False, True], ids=["required-args", "all-template-args"])
def test_every_sqlglot_function_class_is_phrased_without_internal_names(language, with_optional):
    render = _render(language)
    problems = []
    for cls in classes():
        node = example(cls, with_optional)
        p = phrase(node, render, language)
        allowed = _words_of(node)
        text = p.text
        own = cls.__name__.lower()
        issues = []
        if not text or "{" in text or "}" in text:
            issues.append("empty or unfilled template")
        if internal_names(text, allowed):  # jsonextractscalar, DateSub, nullif...
            issues.append(f"sqlglot names {internal_names(text, allowed)}")
        if own in re.findall(r"[a-z0-9]+", text) and own not in ENGLISH:
            issues.append(f"its own class name {own!r}")
        if language == "zh":  # English template words left in Chinese text
            english = [
                w
                for w in re.findall(r"(?<![A-Za-z0-9])[a-z]{2,}(?![A-Za-z0-9])", text)
                if w not in allowed and w.lower() not in {a.lower() for a in allowed}
            ]
            if english:
                issues.append(f"English words {english}")
        if not with_optional:  # every required argument is said (values and names kept)
            for name, required in cls.arg_types.items():
                value = node.args.get(name)
                if required and isinstance(value, exp.Column) and name not in UNSAID.get(cls.__name__, ()):
                    if render(value) not in text:
                        issues.append(f"argument {name} ({render(value)}) not said")
        if issues:
            problems.append(f"{cls.__name__}: {text!r}: {'; '.join(issues)}")
    assert not problems, "\n".join(problems)


def test_which_classes_have_a_real_phrase(capsys):
    real = [c.__name__ for c in classes() if has_phrase(c)]
    generic = sorted(c.__name__ for c in classes() if not has_phrase(c))
    with capsys.disabled():
        print(f"\n{len(real)} sqlglot function/operator classes have a phrase; generic fallback: {', '.join(generic)}")
    assert set(generic) <= GENERIC, f"new classes without a phrase: {sorted(set(generic) - GENERIC)}"
    assert len(real) >= 560


@pytest.mark.parametrize("cls", sorted(GENERIC & {c.__name__ for c in classes()}))
def test_generic_fallback_names_the_sql_function_and_warns(cls):
    node = example(getattr(exp, cls))
    p = phrase(node, _render("en"), "en")
    name = sql_name(node)
    assert p.text.startswith(f"the result of {name}(") and p.warning and name in p.warning
    assert name == name.upper() and cls not in p.text


def test_fallback_uses_the_name_as_written_and_a_readable_sql_name():
    d = describe("SELECT my_Udf(price, 2) FROM items", cache=False)
    assert "the result of my_Udf(price, 2)" in d.text
    assert d.warnings == ['no wording for the SQL function my_Udf; described as "the result of my_Udf(price, 2)"']
    zh = describe("SELECT my_Udf(price, 2) FROM items", language="zh", cache=False)
    assert "my_Udf(价格, 2)的结果" in zh.text and zh.warnings
    # sqlglot spells some names J_S_O_N_ARRAY; the fallback never shows that.
    assert sql_name(exp.JSONArray()) == "JSON_ARRAY" and sql_name(exp.SHA1Digest(this=exp.column("x"))) == "SHA1_DIGEST"


def test_phrase_is_none_for_nodes_that_are_not_functions():
    assert phrase(exp.column("x"), str, "en") is None
    assert phrase(exp.EQ(this=exp.column("x"), expression=exp.Literal.number(1)), str, "en") is None


def _dialect_cases():
    cases = []
    for line in (FIXTURES / "functions_dialects.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            dialect, sql, en, zh = (part.strip() for part in line.split(" | "))
            cases.append(pytest.param(dialect, sql, en, zh, id=f"{dialect}: {sql[:60]}"))
    return cases


@pytest.mark.parametrize("dialect, sql, en, zh", _dialect_cases())
def test_functions_as_written_in_each_dialect(dialect, sql, en, zh):
    for language, expected in (("en", en), ("zh", zh)):
        d = describe(sql, dialect=dialect, language=language, cache=False)
        assert expected in d.text, (language, d.text)
        identifiers = {
            w
            for n in d.facts[0].tree.walk()
            if isinstance(n, exp.Identifier)
            for w in [n.name, *humanize(n.name).split()]
        }
        assert not internal_names(d.text, identifiers), d.text
        assert not [w for w in d.warnings if "no wording" in w], d.warnings
        assert check(d.text, d.facts, language=language).score == 1.0, (language, d.text)


@pytest.mark.parametrize(
    "dialect, sql",
    [
        ("tsql", "SELECT DATEDIFF(day, a, b) FROM t"),
        ("mysql", "SELECT DATEDIFF(b, a) FROM t"),
        ("bigquery", "SELECT DATE_DIFF(b, a, DAY) FROM t"),
        ("snowflake", "SELECT DATEDIFF('day', a, b) FROM t"),
        ("spark", "SELECT DATEDIFF(b, a) FROM t"),
        ("duckdb", "SELECT DATE_DIFF('day', a, b) FROM t"),
        ("redshift", "SELECT DATEDIFF(day, a, b) FROM t"),
        ("clickhouse", "SELECT dateDiff('day', a, b) FROM t"),
        ("databricks", "SELECT DATEDIFF(b, a) FROM t"),
        ("presto", "SELECT DATE_DIFF('day', a, b) FROM t"),
    ],
)
def test_datediff_means_b_minus_a_in_every_dialect(dialect, sql):
    # The dialects disagree on argument order; sqlglot's tree does not, and neither may the text.
    assert "the number of days from a to b" in describe(sql, dialect=dialect, cache=False).text


@pytest.mark.parametrize(
    "dialect, sql, words",
    [
        ("tsql", "SELECT DATEADD(mm, 3, d) FROM t", "d plus 3 months"),  # T-SQL's "mm" is a month
        ("tsql", "SELECT DATEADD(mi, 30, d) FROM t", "d plus 30 minutes"),
        ("snowflake", "SELECT DATEADD(day, -1, d) FROM t", "d minus 1 day"),
        ("mysql", "SELECT DATE_ADD(d, INTERVAL -2 HOUR) FROM t", "d minus 2 hours"),
        ("bigquery", "SELECT DATE_SUB(d, INTERVAL 1 WEEK) FROM t", "d minus 1 week"),
        ("postgres", "SELECT d + INTERVAL '1 day 2 hours' FROM t", "d plus 1 day and 2 hours"),
        ("postgres", "SELECT EXTRACT(doy FROM d) FROM t", "the day of the year of d"),
        ("snowflake", "SELECT DATE_PART(dayofweek, d) FROM t", "the day of the week of d"),
    ],
)
def test_date_units_and_signs_follow_the_dialect(dialect, sql, words):
    assert words in describe(sql, dialect=dialect, cache=False).text


@pytest.mark.parametrize(
    "sql, en, zh",
    [
        (
            "SELECT DATE_TRUNC('month', MAX(shipped_date)) FROM orders",
            "the month of the maximum shipped date",
            "最大发货日期所在的月份",
        ),
        (
            "SELECT ROUND(AVG(price), 1) FROM products",
            "the average price rounded to 1 decimal place",
            "平均价格四舍五入保留1位小数",
        ),
        (
            "SELECT UPPER(TRIM(name)) FROM products",
            "name with spaces trimmed from both ends in upper case",
            "去掉两端空格后的名称的大写形式",
        ),
        (
            "SELECT COALESCE(NULLIF(nickname, ''), name) FROM users",
            'nickname (or null when it equals "") (or name when it is missing)',
            '昵称（等于""时为空值）（为空时取姓名）',
        ),
    ],
)
def test_phrases_nest(sql, en, zh):
    assert en in describe(sql, dialect="postgres", cache=False).text
    assert zh in describe(sql, dialect="postgres", language="zh", cache=False).text


def test_values_and_names_are_kept_verbatim():
    d = describe(
        "SELECT REGEXP_REPLACE(sku, '[^0-9]', 'X'), LPAD(code, 8, '0') FROM Items", dialect="postgres", cache=False
    )
    for kept in ('"[^0-9]"', '"X"', "sku", "8", '"0"', "code"):
        assert kept in d.text, kept


def test_internal_names_finds_sqlglot_class_names_only():
    assert internal_names("the jsonextractscalar of data and datesub") == ["jsonextractscalar", "datesub"]
    assert internal_names("explode of input kwarg") == ["explode", "kwarg"]
    assert internal_names("the JSONExtract of data") == ["JSONExtract"]
    assert internal_names("the year of the date, ranked, DATE_SUB as SQL") == []
    assert internal_names("the avg score", allowed={"avg"}) == []


@pytest.mark.parametrize("dialect", ["postgres", "snowflake", "bigquery", "mysql", "tsql"])
def test_every_function_written_in_a_dialect_is_described_without_sqlglot_names(dialect, caplog):
    # The SQL sqlglot writes for each class in the dialect, parsed back as a user's statement would be.
    import sqlglot

    problems, described = [], 0
    for cls in classes():
        try:
            written = example(cls).sql(dialect=dialect)
            sql = f"SELECT {written} FROM t"
            sqlglot.parse_one(sql, read=dialect)
        except Exception:  # sqlglot cannot write or read this class in this dialect
            continue
        if not written.strip():
            continue
        d = describe(sql, dialect=dialect, cache=False)
        described += 1
        own = {
            w
            for n in d.facts[0].tree.walk()
            if isinstance(n, (exp.Identifier, exp.Literal))
            for w in [str(n.this), *humanize(str(n.this)).split(), *str(n.this).split("_")]
        }
        if internal_names(d.text, own):
            problems.append(f"{sql} -> {d.text}")
    assert described > 400 and not problems, "\n".join(problems)
