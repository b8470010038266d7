"""sql2nl.integrations.spark on a real local SparkSession (``local[2]``, Arrow on, loopback only).

Needs pyspark, pandas, pyarrow (requirements-dev.txt) and a Java runtime (``.ci/run`` installs
Debian's headless JRE): without them these tests skip, except under CI (``CI=true``), where they fail.
The statements are made here from a few tables and templates (not from the shared Spider files).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from sql2nl import describe
from sql2nl.cache import fingerprint
from sql2nl.errors import InvalidInputError, Sql2NLError, UnknownBackendError
from sql2nl.integrations.spark import SHORT_JOB_JVM_OPTIONS
from sql2nl.plugins import register_plugin, unregister_plugin

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
pytestmark = [
    pytest.mark.slow,
    # pyspark 4.x warns that it does not test pandas 3 yet; what these tests use works with it.
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]
HERE = Path(__file__).resolve().parent


def _missing(what: str) -> None:
    if IN_CI:  # .ci/run installs everything these tests need: a missing piece is a failure there
        pytest.fail(f"{what} is missing under CI")
    pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="module")
def spark():
    for mod in ("pyspark", "pandas", "pyarrow"):
        try:
            __import__(mod)
        except ImportError:
            _missing(mod)
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        _missing("a Java runtime (java)")
    from pyspark.sql import SparkSession

    old_python = os.environ.get("PYSPARK_PYTHON")
    os.environ["PYSPARK_PYTHON"] = sys.executable  # executors run this interpreter (this venv)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("sql2nl-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # A short job: the client compiler only and the serial collector halve the JVM's start-up
        # CPU (benchmarks/RESULTS.md, "Query logs: Spark `local[2]` vs the process pool").
        .config("spark.driver.extraJavaOptions", SHORT_JOB_JVM_OPTIONS)
        # Several Arrow batches per partition: the repeat cache must outlive a batch.
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "500")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "4")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    # The executors import the test backends by module name, as a cluster gets them from --py-files.
    session.sparkContext.addPyFile(str(HERE / "sparkplugin.py"))
    yield session
    session.stop()
    if old_python is None:
        os.environ.pop("PYSPARK_PYTHON", None)
    else:
        os.environ["PYSPARK_PYTHON"] = old_python


@pytest.fixture
def counting_plugin():
    import sparkplugin

    name = register_plugin(sparkplugin, name="spark-test-backends")
    yield sparkplugin
    unregister_plugin(name)


# -- statements ------------------------------------------------------------------------------------

TABLES = {
    "singer": ["name", "age", "country", "song_name", "net_worth"],
    "orders": ["id", "status", "amount", "city", "created_at"],
    "employee": ["name", "salary", "department", "hire_year", "manager_id"],
    "flight": ["origin", "destination", "price", "distance", "airline"],
}
TEMPLATES = [
    "SELECT {a} FROM {t} WHERE {b} > {n}",
    "SELECT {a}, {b} FROM {t} ORDER BY {b} DESC LIMIT {k}",
    "SELECT count(*) FROM {t} WHERE {a} = '{w}'",
    "SELECT {a}, avg({b}) FROM {t} GROUP BY {a} HAVING count(*) > {k}",
    "SELECT DISTINCT {a} FROM {t} WHERE {b} BETWEEN {n} AND {m}",
    "SELECT max({b}), min({b}) FROM {t} WHERE {a} LIKE '%{w}%'",
    "UPDATE {t} SET {a} = '{w}' WHERE {b} < {n}",
    "SELECT {a} FROM {t} WHERE {b} IN (SELECT {b} FROM {t} WHERE {a} <> '{w}')",
]
WORDS = ["alpha", "north", "river", "cedar", "pixel", "ember", "quartz", "willow"]
BAD = [
    "SELEC name FRM singer",
    "SELECT name FROM singer WHERE (age > 3",
    "SELECT 'unclosed FROM t",
    "SELECT a FROM t WHERE\n  b = = 2",
]


def statements(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct statements from the templates (fixed by ``seed``)."""
    rng = random.Random(seed)
    out: dict[str, None] = {}
    while len(out) < n:
        t = rng.choice(list(TABLES))
        a, b = rng.sample(TABLES[t], 2)
        sql = rng.choice(TEMPLATES).format(
            t=t, a=a, b=b, n=rng.randint(1, 500), m=rng.randint(501, 900), k=rng.randint(1, 20), w=rng.choice(WORDS)
        )
        out.setdefault(sql)
    return list(out)


def log_rows(n_distinct: int) -> list[tuple[str | None, str | None]]:
    """A query log: distinct statements, repeats (some with other spacing), bad SQL, nulls, empty
    text, and a dialect column (some rows MySQL/T-SQL syntax with their dialect, one unknown)."""
    rng = random.Random(1)
    base = statements(n_distinct)
    rows: list[tuple[str | None, str | None]] = [(s, None) for s in base]
    rows += [(rng.choice(base), None) for _ in range(n_distinct // 2)]
    rows += [(s.replace(" ", "  ", 1) + " ;", None) for s in rng.sample(base, 50)]
    rows += [(s, None) for s in BAD] * 3 + [(BAD[1].replace(" ", "\n", 2), None)]
    rows += [(None, None), ("", None), ("   ", None), ("-- only a comment", None)] * 2
    rows += [(f"SELECT `{a}` FROM `{t}` LIMIT 5", "mysql") for t, cols in TABLES.items() for a in cols]
    rows += [(f"SELECT TOP 5 [{a}] FROM [{t}]", "tsql") for t, cols in TABLES.items() for a in cols]
    rows += [("SELECT 1 FROM t", "no_such_dialect"), ("SELECT name FROM singer", None)]
    rng.shuffle(rows)
    return rows


def expected(sql: str | None, dialect: str | None, **kw) -> dict:
    """What describe() gives for one row, in the UDF's struct's terms."""
    if sql is None:
        return {"error_type": "InvalidInputError"}
    try:
        d = describe(sql, dialect=dialect, cache=False, **kw)
    except Sql2NLError as e:
        return {
            "error_type": type(e).__name__,
            "message": str(e),
            "line": getattr(e, "line", None),
            "column": getattr(e, "column", None),
        }
    return {"text": d.text, "warnings": list(d.warnings), "faithfulness": d.faithfulness, "backend": d.backend}


def got(row) -> dict:
    if row.error is not None:
        e = row.error
        return {"error_type": e.type, "message": e.message, "line": e.line, "column": e.column}
    return {"text": row.text, "warnings": list(row.warnings), "faithfulness": row.faithfulness, "backend": row.backend}


def run_udf(spark, rows, udf, partitions=4):
    from pyspark.sql.functions import col, monotonically_increasing_id, spark_partition_id

    df = spark.createDataFrame(rows, "sql string, dialect string").repartition(partitions)
    out = df.select(
        "sql",
        "dialect",
        spark_partition_id().alias("part"),
        udf(col("sql"), col("dialect")).alias("d"),
        monotonically_increasing_id().alias("i"),
    )
    return out.collect()


# -- tests -----------------------------------------------------------------------------------------


def test_every_row_described_as_describe_does(spark):
    from sql2nl.integrations.spark import describe_udf

    rows = log_rows(3000)
    result = run_udf(spark, rows, describe_udf())
    assert len(result) == len(rows)  # no row lost, and the job did not fail on the bad ones
    assert Counter((r.sql, r.dialect) for r in result) == Counter(rows)
    errors = Counter()
    for r in result:
        want = expected(r.sql, r.dialect)
        have = got(r.d)
        if r.sql is None:
            assert have["error_type"] == "InvalidInputError" and "null" in have["message"]
        else:
            assert have == want, r.sql
        assert r.d.fingerprint == (fingerprint(r.sql) if r.sql is not None else None)
        if r.d.error is not None:
            errors[r.d.error.type] += 1
        else:
            assert r.d.text
    # The bad rows: 13 unparsable, the unknown dialect, null/empty/blank/comment-only inputs.
    assert errors["SQLParseError"] == 3 * len(BAD) + 1
    assert sum(errors.values()) == 3 * len(BAD) + 1 + 1 + 8


def test_an_error_is_reported_at_each_texts_own_position(spark):
    from sql2nl.integrations.spark import describe_udf

    # One partition, so the respaced statement is a repeat by fingerprint of the one before it: its
    # description could be shared, but its error's line and column are its own.
    one_line, three_lines = BAD[1], BAD[1].replace(" ", "\n", 2)
    assert fingerprint(one_line) == fingerprint(three_lines)
    result = run_udf(spark, [(one_line, None), (three_lines, None), (one_line, None)], describe_udf(), partitions=1)
    assert sorted((r.sql.count("\n"), r.d.error.line, r.d.error.column) for r in result) == [
        (0, 1, 38),
        (0, 1, 38),
        (2, 3, 26),
    ]


def test_repeats_described_once_per_partition(spark, counting_plugin, tmp_path):
    from sql2nl.integrations.spark import describe_udf

    log = tmp_path / "described.log"
    base = statements(600, seed=7)
    rng = random.Random(2)
    rows = [(s, None) for s in base] + [(rng.choice(base), None) for _ in range(1400)]
    rows += [(s.replace(" ", "   ", 1), None) for s in base[:100]]  # same fingerprint
    # cache=False: only the UDF's own per-partition cache stands between a repeat and the backend.
    result = run_udf(spark, rows, describe_udf(backend="counting", log=str(log), cache=False), partitions=3)
    assert len(result) == len(rows) and all(r.d.error is None for r in result)
    lines = [line.split("\t") for line in log.read_text().splitlines()]
    calls = [(pid, int(part), fp) for pid, part, fp in lines if part != "built"]
    described = Counter((part, fp) for _, part, fp in calls)
    assert max(described.values()) == 1  # no statement twice in one partition
    assert set(described) == {(r.part, r.d.fingerprint) for r in result}  # and every one once
    assert len(calls) < len(rows) * 0.7
    # One backend per executor process, however many of the 3 partitions (tasks) it ran.
    built = Counter(pid for pid, what, _ in lines if what == "built")
    assert set(built) == {pid for pid, _, _ in calls} and set(built.values()) == {1}
    # The texts are the counting backend's, as describe() gives them on the driver.
    for r in result[:300]:
        assert got(r.d) == expected(r.sql, None, backend="counting"), r.sql


def test_backend_options_reach_the_executors(spark, counting_plugin):
    from sql2nl.integrations.spark import describe_udf

    rows = [(s, None) for s in statements(200, seed=3)]
    schema = {"singer": {"description": "performers", "columns": {"net_worth": "wealth"}}}
    udf = describe_udf(backend="counting", voice="shout", language="zh", schema=schema)
    result = run_udf(spark, rows, udf, partitions=2)
    assert len(result) == len(rows)
    for r in result:
        want = expected(r.sql, None, backend="counting", voice="shout", language="zh", schema=schema)
        assert got(r.d) == want, r.sql
        assert r.d.backend == "counting"
    # and the option did change the text: shouting English is all capitals
    shout = run_udf(spark, rows[:20], describe_udf(backend="counting", voice="shout"), partitions=1)
    assert all(r.d.text == r.d.text.upper() and r.d.text != r.d.text.lower() for r in shout)


def test_a_backend_class_or_instance_instead_of_a_name(spark, counting_plugin):
    from sql2nl.integrations.spark import describe_udf

    rows = [(s, None) for s in statements(40, seed=13)]
    by_class = run_udf(spark, rows, describe_udf(backend=counting_plugin.CountingBackend, voice="shout"), partitions=2)
    by_instance = run_udf(
        spark, rows, describe_udf(backend=counting_plugin.CountingBackend(voice="shout")), partitions=2
    )
    for result in (by_class, by_instance):
        assert len(result) == 40
        for r in result:
            assert got(r.d) == expected(r.sql, None, backend="counting", voice="shout"), r.sql
    with pytest.raises(InvalidInputError, match="cannot be passed with a Backend instance"):
        describe_udf(backend=counting_plugin.CountingBackend(), voice="shout")


def test_rules_backend_in_chinese_with_a_schema(spark):
    from sql2nl.integrations.spark import describe_udf

    rows = [(s, None) for s in statements(300, seed=11)]
    schema = {"orders": {"description": "订单", "columns": {"amount": "金额"}}}
    result = run_udf(spark, rows, describe_udf(language="zh", schema=schema, dialect="postgres"), partitions=2)
    for r in result:
        assert got(r.d) == expected(r.sql, "postgres", language="zh", schema=schema), r.sql


def test_the_neural_path_through_an_openai_compatible_server(spark):
    """backend="openai", base_url=...: what a cluster does with vLLM or llama-server. Here the server
    is sql2nl's own (its OpenAI-compatible API on loopback) and every executor process talks to it."""
    for mod in ("sql2nl_openai", "openai", "uvicorn", "starlette"):
        try:
            __import__(mod)
        except ImportError:
            _missing(mod)
    from sql2nl.integrations.spark import describe_udf
    from sql2nl.server.app import create_app
    from sql2nl.server.config import ServerConfig
    from sql2nl.server.runner import ServerThread

    rows = [(s, None) for s in statements(120, seed=5)] + [(BAD[0], None), (None, None)]
    with ServerThread(create_app(ServerConfig())) as url:
        options = dict(backend="openai", base_url=f"{url}/v1", model="sql2nl", api_key="sk-local", max_new_tokens=96)
        result = run_udf(spark, rows, describe_udf(**options), partitions=2)
        for r in result:
            if r.sql is not None:
                assert got(r.d) == expected(r.sql, None, **options), r.sql
    described = [r for r in result if r.d.error is None]
    assert len(described) == 120
    assert all(r.d.backend == "openai" and r.d.faithfulness is not None for r in described)


def test_a_backend_that_cannot_start_on_the_executors_gives_error_rows(spark, counting_plugin, tmp_path):
    from sql2nl.integrations.spark import describe_udf

    # The driver only checks the name and options (no model is loaded there); each executor then
    # fails to start it: every row says why and the job still finishes.
    udf = describe_udf(backend="needs-model", model=str(tmp_path / "absent.gguf"))
    result = run_udf(spark, [(s, None) for s in statements(50)], udf, partitions=2)
    assert len(result) == 50
    assert {r.d.error.type for r in result} == {"ModelError"}
    assert all("absent.gguf" in r.d.error.message and r.d.text is None for r in result)


def test_wrong_settings_fail_on_the_driver_before_any_job():
    from sql2nl.integrations.spark import describe_udf

    with pytest.raises(UnknownBackendError, match="rules"):
        describe_udf(backend="rulez")
    with pytest.raises(InvalidInputError, match="no option"):
        describe_udf(backend="rules", temprature=0.1)
    with pytest.raises(InvalidInputError, match="dialect"):
        describe_udf(dialect="no_such_dialect")
    with pytest.raises(InvalidInputError, match="language"):
        describe_udf(language="xx")
    with pytest.raises(InvalidInputError, match="schema"):
        describe_udf(schema=["users"])
    with pytest.raises(InvalidInputError, match="max_chars"):
        describe_udf(max_chars=0)


def test_importing_sql2nl_does_not_import_pyspark_and_a_missing_pyspark_says_what_to_install():
    code = (
        "import sys\n"
        "import sql2nl, sql2nl.integrations.spark as s\n"
        "assert not {'pyspark', 'pandas', 'pyarrow'} & set(sys.modules), sorted(sys.modules)\n"
        "sys.modules['pyspark'] = None  # as if it were not installed\n"
        "try:\n"
        "    s.describe_udf()\n"
        "except sql2nl.InvalidInputError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "pip install 'sql2nl[spark]'" in out.stdout
