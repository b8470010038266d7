"""``%%explain_sql`` in a real IPython ``InteractiveShell``."""

from __future__ import annotations

import json

import pytest
from skips import require

require("IPython")
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402
from IPython.utils.capture import capture_output  # noqa: E402

from sql2nl import Backend, Draft, describe, hookimpl  # noqa: E402
from sql2nl.backends import clear_backend_instances  # noqa: E402
from sql2nl.errors import SQLParseError, UnknownBackendError  # noqa: E402
from sql2nl.integrations.ipython import Explanation, interpolate, split_statements  # noqa: E402
from sql2nl.plugins import get_plugin_manager  # noqa: E402


class EchoBackend(Backend):
    """Says which model it was given and always warns, so options and warnings can be checked."""

    name = "test-echo"

    def __init__(self, model=None):
        self.model = model

    @property
    def identity(self):
        return f"{self.name}:{self.model}"

    def describe(self, request):
        return Draft(
            text=f"model={self.model} tables={','.join(request.facts[0].tables)} <b>&",
            warnings=[f"echo of <{request.language}>"],
        )


class EchoPlugin:
    @hookimpl
    def register_backends(self, register):
        register("test-echo", EchoBackend, description="echoes its options")


@pytest.fixture(scope="module")
def ip():
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "sql2nl")
    yield shell
    shell.run_line_magic("unload_ext", "sql2nl")


@pytest.fixture(autouse=True)
def echo_plugin():
    pm = get_plugin_manager()
    plugin = EchoPlugin()
    pm.register(plugin, name="sql2nl-test-echo")
    yield
    pm.unregister(plugin)
    clear_backend_instances()


def run(ip, cell):
    with capture_output() as out:
        result = ip.run_cell(cell)
    return result, out


def test_load_ext_registers_line_and_cell_magic(ip):
    magics = ip.magics_manager.magics
    assert "explain_sql" in magics["line"] and "explain_sql" in magics["cell"]


def test_cell_magic_describes_each_statement(ip):
    sql1, sql2 = "SELECT name FROM users WHERE age > 18", "SELECT count(*) FROM orders"
    res, out = run(ip, f"%%explain_sql\n{sql1};\n-- a comment; with a semicolon\n{sql2};\n")
    assert res.success
    ex = res.result
    assert isinstance(ex, Explanation) and len(ex) == 2
    assert [d.text for d in ex] == [describe(sql1).text, describe(sql2).text]
    assert ex[0].sql == sql1 and ex[1].sql.endswith(sql2)
    assert str(ex) == describe(sql1).text + "\n" + describe(sql2).text
    assert describe(sql1).text in out.stdout  # the plain-text display is the text


def test_line_magic(ip):
    res, _ = run(ip, "%explain_sql SELECT id FROM items WHERE price < 5")
    assert res.success and res.result.text == describe("SELECT id FROM items WHERE price < 5").text


def test_variables_are_interpolated_only_when_known(ip):
    ip.user_ns.update(min_age=21, tbl="people")
    res, _ = run(ip, "%%explain_sql\nSELECT name FROM {tbl} WHERE age > {min_age} AND tag <> '{unknown}'")
    assert res.success
    assert res.result[0].sql == "SELECT name FROM people WHERE age > 21 AND tag <> '{unknown}'"
    res, _ = run(
        ip, "%explain_sql SELECT a FROM t WHERE b = '{{min_age}}' AND c = $1 AND d = $min_age AND e = {min_age}"
    )
    assert res.result[0].sql == "SELECT a FROM t WHERE b = '{{min_age}}' AND c = $1 AND d = $min_age AND e = 21"
    kept = "{{min_age}} {not known} {x.y}"
    assert interpolate("a {min_age} " + kept, {"min_age": 1}) == "a 1 " + kept


def test_store_in_variable_and_json(ip):
    res, out = run(ip, "%%explain_sql stored <<\nSELECT name FROM users")
    assert res.success and res.result is None and out.stdout == ""
    stored = ip.user_ns["stored"]
    assert isinstance(stored, Explanation) and stored.text == describe("SELECT name FROM users").text
    res, _ = run(ip, "%explain_sql --json as_json << SELECT name FROM users")
    data = ip.user_ns["as_json"]
    assert data["statements"][0]["text"] == describe("SELECT name FROM users").text
    assert data["statements"][0]["facts"][0]["tables"] == ["users"]
    res, out = run(ip, "%%explain_sql --json\nSELECT a FROM b")
    shown = out.stdout.split(":", 1)[1] if out.stdout.startswith("Out") else out.stdout
    assert json.loads(shown)["statements"][0]["sql"] == "SELECT a FROM b"
    fmt, _ = ip.display_formatter.format(res.result)
    assert fmt["application/json"]["statements"][0]["sql"] == "SELECT a FROM b"


def test_options_reach_the_backend(ip):
    res, _ = run(ip, "%%explain_sql -b test-echo -m tiny-model -l zh -d postgres\nSELECT a FROM t1")
    assert res.success
    d = res.result[0]
    assert d.text.startswith("model=tiny-model tables=t1") and d.language == "zh" and d.backend == "test-echo"
    res, _ = run(ip, "%%explain_sql --backend=test-echo --model=m2\nSELECT a FROM t2")
    assert res.result[0].text.startswith("model=m2 tables=t2")


def test_chinese_with_rules(ip):
    res, _ = run(ip, "%explain_sql -l zh SELECT name FROM users")
    assert res.success and res.result[0].text == describe("SELECT name FROM users", language="zh").text


def test_bad_query_shows_a_short_error_and_the_shell_keeps_working(ip):
    res, out = run(ip, "%%explain_sql\nSELECT name\nFORM users WHERE")
    assert isinstance(res.error_in_exec, SQLParseError)
    text = out.stdout + out.stderr
    assert "SQLParseError: Could not parse the SQL" in text and "Traceback" not in text
    assert "    FORM users WHERE" in text and "^" in text
    assert len(text.strip().splitlines()) <= 6
    res, _ = run(ip, "%explain_sql SELECT 1 AS one")
    assert res.success and isinstance(res.result, Explanation)


def test_other_errors_are_short_too(ip):
    for cell, expect in [
        ("%explain_sql -b no-such SELECT 1", "UnknownBackendError"),
        ("%explain_sql", "no SQL to explain"),
        ("%explain_sql -m some-model SELECT 1", "Unknown model 'some-model'"),
        ("%explain_sql --bogus SELECT 1", "UsageError"),
    ]:
        res, out = run(ip, cell)
        text = out.stdout + out.stderr
        assert not res.success and expect in text and "Traceback" not in text, cell
    res, _ = run(ip, "%explain_sql -b no-such SELECT 1")
    assert isinstance(res.error_in_exec, UnknownBackendError)


def test_rich_reprs(ip):
    res, _ = run(ip, "%%explain_sql -b test-echo\nSELECT a FROM t WHERE b < 3;\nSELECT c FROM u")
    ex = res.result
    fmt, _ = ip.display_formatter.format(ex)
    page = fmt["text/html"]
    assert page.count("class='sql2nl-statement'") == 2 and page.count("class='sql2nl-facts'") == 2
    assert "WHERE b &lt; 3" in page and "&lt;b&gt;&amp;" in page  # everything escaped
    assert page.count("class='sql2nl-warning'") == 2 and "echo of &lt;en&gt;" in page
    md = fmt["text/markdown"]
    assert md.count("```sql") == 2 and "**Statement 2**" in md and "| fact | value |" in md
    assert "⚠️ **warning:** echo of <en>" in md
    assert fmt["text/plain"] == ex.text


def test_description_renders_richly_too(ip):
    fmt, _ = ip.display_formatter.format(describe("SELECT name FROM users WHERE age > 3"))
    assert "sql2nl-facts" in fmt["text/html"] and "| tables | `users` |" in fmt["text/markdown"]


def test_split_statements_respects_quotes_and_comments():
    sql = "SELECT 'a;b' FROM t; /* ; */ SELECT \"x;y\" FROM u -- ;\n;;"
    assert split_statements(sql) == ["SELECT 'a;b' FROM t", 'SELECT "x;y" FROM u -- ;']
    assert split_statements("SELECT 'unclosed; FROM t") == ["SELECT 'unclosed; FROM t"]
    assert split_statements("SELECT 1") == ["SELECT 1"]


def test_unload_removes_the_magics():
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "sql2nl")
    shell.run_line_magic("unload_ext", "sql2nl")
    assert "explain_sql" not in shell.magics_manager.magics["cell"]
    shell.run_line_magic("load_ext", "sql2nl")
    assert "explain_sql" in shell.magics_manager.magics["cell"]
