"""The ``sql2nl`` command line: describe from arguments, -f, stdin; options; one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sql2nl import Backend, Draft, hookimpl
from sql2nl.cli import cli
from sql2nl.plugins import register_plugin, unregister_plugin

SQL = "SELECT name FROM users WHERE age > 18"


def run(*args, input=None):
    return CliRunner().invoke(cli, list(args), input=input)


class Slow(Backend):
    """Streams three pieces and records the options it was built with."""

    name = "slowstream"
    streams = True
    built: list = []

    def __init__(self, **options):
        Slow.built.append(options)
        self.options = options

    def describe(self, request):
        return Draft(text="".join(self.stream(request)))

    def stream(self, request):
        yield from ["Names ", "of ", f"users ({self.options.get('model')})."]


class SlowPlugin:
    @hookimpl
    def register_backends(self, register):
        register("slowstream", Slow, description="streams")


@pytest.fixture
def slow():
    Slow.built = []
    name = register_plugin(SlowPlugin(), name="test-cli-plugin")
    yield Slow
    unregister_plugin(name)


def test_describe_from_argument():
    r = run("describe", SQL)
    assert r.exit_code == 0 and "18" in r.output and r.output.strip()


def test_describe_from_several_argument_words():
    assert run("describe", "SELECT", "name", "FROM", "users").output == run("describe", "SELECT name FROM users").output


def test_describe_from_file_and_stdin(tmp_path):
    f = tmp_path / "q.sql"
    f.write_text(SQL + ";\n", encoding="utf-8")
    by_file = run("describe", "-f", str(f))
    by_stdin = run("describe", input=SQL)
    by_dash = run("describe", "-f", "-", input=SQL)
    assert by_file.exit_code == by_stdin.exit_code == by_dash.exit_code == 0
    assert by_file.output == by_stdin.output == by_dash.output == run("describe", SQL).output


def test_language_dialect_and_json():
    zh = run("describe", "-l", "zh", SQL)
    assert zh.exit_code == 0 and any("\u4e00" <= ch <= "\u9fff" for ch in zh.output)
    r = run("describe", "--json", "-d", "mysql", "SELECT `name` FROM `users`")
    data = json.loads(r.output)
    assert data["backend"] == "rules" and data["facts"][0]["tables"] == ["users"] and data["text"]


def test_model_and_options_reach_the_backend_and_llm_backends_stream(slow):
    r = run("describe", "-b", "slowstream", "-m", "tiny", "-o", "temperature=0.5", SQL)
    assert r.exit_code == 0 and r.output == "Names of users (tiny).\n"
    assert slow.built == [{"model": "tiny", "temperature": 0.5}]


@pytest.mark.parametrize(
    "args,needle",
    [
        (["describe", "please list the users"], "does not look like a SQL statement"),
        (["describe", "SELECT 'abc FROM t"], "line 1, column 8"),
        (["describe", "-b", "rule", SQL], "Did you mean 'rules'?"),
        (["describe", "-m", "x", SQL], "Unknown model 'x'"),  # not a registered name, and no backend chosen
        (["describe", "-d", "postgress", SQL], "Did you mean postgres?"),
        (["describe", "-l", "fr", SQL], "'fr' is not one of"),
        (["describe", ""], "empty"),
        (["describe", "-f", "/nonexistent/q.sql"], "No such file"),
    ],
)
def test_user_mistakes_are_one_line_errors(args, needle):
    r = run(*args)
    assert r.exit_code != 0
    assert needle in r.output
    assert "Traceback" not in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)


def test_no_sql_at_all_is_a_usage_error(monkeypatch):
    import click

    from sql2nl.cli import read_sql

    class Terminal:
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stdin", Terminal())
    with pytest.raises(click.UsageError, match="standard input"):
        read_sql((), None)
    assert "empty" in run("describe", input="").output  # piped but empty


def test_argument_and_file_together_is_a_usage_error(tmp_path):
    f = tmp_path / "q.sql"
    f.write_text(SQL)
    r = run("describe", "-f", str(f), SQL)
    assert r.exit_code == 2 and "not both" in r.output


def test_backends_lists_installed_ones():
    r = run("backends")
    assert r.exit_code == 0 and any(line.startswith("rules ") for line in r.output.splitlines())
    data = json.loads(run("backends", "--json").output)
    assert data["installed"]["rules"]["plugin"] == "sql2nl.rules.plugin"


def test_plugins_and_cache_commands(tmp_path):
    assert "sql2nl.rules.plugin" in run("plugins").output
    r = run("cache", "--path", str(tmp_path / "c.sqlite3"))
    assert r.exit_code == 0 and "0 descriptions" in r.output


def test_installed_script_in_a_real_subprocess(tmp_path):
    exe = shutil.which("sql2nl", path=str(Path(sys.executable).parent)) or shutil.which("sql2nl")
    assert exe, "the sql2nl console script is not installed (pip install -e .)"
    ok = subprocess.run([exe, "describe", SQL], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "18" in ok.stdout and "Traceback" not in ok.stderr
    piped = subprocess.run([exe, "describe", "-l", "zh"], input=SQL, capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0 and "18" in piped.stdout
    bad = subprocess.run([exe, "describe", "SELECT (a FROM t"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and bad.stdout == ""
    # (other lines could only be warnings from installed plugins; the error itself is one line)
    errors = [line for line in bad.stderr.splitlines() if line.startswith("Error")]
    assert errors and errors[0].startswith("Error: Could not parse the SQL at line 1") and len(errors) == 1
    assert "Traceback" not in bad.stderr
    listing = subprocess.run([exe, "backends"], capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0 and "rules" in listing.stdout


# -- scripts: each statement on its own, numbered; bad ones reported with their position ---------

SCRIPT = (
    "\ufeff-- the weekly report\n"
    "SELECT name FROM users WHERE age > 18;\n"
    "SELEC oops FROM t;\n"
    "SELECT count(*) FROM orders\n"
    "GO\n"
    "SELECT a FROM t WHERE b = 'x;y'\n"
)
GOOD = ["SELECT name FROM users WHERE age > 18", "SELECT count(*) FROM orders", "SELECT a FROM t WHERE b = 'x;y'"]


@pytest.fixture
def script(tmp_path):
    f = tmp_path / "report.sql"
    f.write_text(SCRIPT, encoding="utf-8")  # a BOM, a comment, a typo, a T-SQL GO line, a ';' in a string
    return f


def test_a_bad_statement_in_a_file_costs_only_itself(script):
    from sql2nl import describe

    r = run("describe", "-f", str(script))
    assert r.exit_code == 1
    assert r.stdout.splitlines() == [f"{n}. {describe(sql).text}" for n, sql in zip((1, 3, 4), GOOD)]
    assert "statement 2 (line 3): Could not parse the SQL at line 3, column 1 near 'SELEC oops FROM t'" in r.stderr
    assert "1 of 4 statements could not be described" in r.stderr and "Traceback" not in r.output


def test_scripts_take_detail_and_style_and_outlines_are_not_numbered_twice(script):
    from sql2nl import describe

    shape = dict(detail="steps", style="question")
    r = run("describe", "--detail", "steps", "--style", "question", "-f", str(script))
    assert r.exit_code == 1
    expected = []
    for n, sql in zip((1, 3, 4), GOOD):
        text = describe(sql, **shape).text
        assert text.startswith("1. ") and text != describe(sql).text  # an outline, and not the default text
        expected += [f"statement {n}:"] + ["   " + line for line in text.splitlines()]
    assert r.stdout.splitlines() == expected
    listing = json.loads(run("describe", "--json", "--detail", "steps", "-f", str(script)).stdout)
    assert [x["text"] for x in listing if "text" in x] == [describe(sql, detail="steps").text for sql in GOOD]


def test_several_statements_as_a_json_list_or_json_lines(script):
    listing = json.loads(run("describe", "--json", "-f", str(script)).stdout)
    assert [x["statement"] for x in listing] == [1, 2, 3, 4]
    assert [x["line"] for x in listing] == [2, 3, 4, 6]  # where each statement's code starts
    assert [x["sql"] for x in listing if "text" in x] == GOOD  # comments before a statement are not its SQL
    assert listing[1]["error"].startswith("SQLParseError: Could not parse the SQL at line 3, column 1")
    lines = run("describe", "--json-lines", "-f", str(script)).stdout.splitlines()
    assert [json.loads(x) for x in lines] == listing
    one = json.loads(run("describe", "--json", SQL).stdout)  # one statement: one object, as before
    assert isinstance(one, dict) and one["sql"] == SQL


def test_positions_are_in_the_script_not_in_the_statement(tmp_path):
    f = tmp_path / "q.sql"
    f.write_text("SELECT a FROM t;\n\nSELECT b\nFROM u WHERE c = 'never closed", encoding="utf-8")
    listing = json.loads(run("describe", "--json", "-f", str(f)).stdout)
    assert "at line 4, column 18" in listing[1]["error"] and listing[1]["line"] == 3


def test_on_error_raise_stops_at_the_first_bad_statement(script):
    r = run("describe", "--on-error", "raise", "-f", str(script))
    assert r.exit_code == 1 and r.stdout.splitlines() == [f"1. {run('describe', GOOD[0]).stdout.strip()}"]
    assert r.stderr.startswith("Error: Could not parse the SQL at line 3, column 1")
    from sql2nl.errors import InvalidInputError
    from sql2nl.script import describe_script

    with pytest.raises(InvalidInputError, match="on_error must be 'raise' or 'keep'"):  # the library's own check
        next(describe_script(SCRIPT, on_error="skip"))


def test_a_file_with_a_byte_order_mark_is_sql(tmp_path):
    f = tmp_path / "q.sql"
    f.write_bytes(b"\xef\xbb\xbf" + SQL.encode())
    r = run("describe", "-f", str(f))
    assert r.exit_code == 0 and r.stdout == run("describe", SQL).stdout


def test_max_chars_schema_and_progress_flags(tmp_path):
    over = run("describe", "SELECT a FROM t -- " + "x" * 2_000_000)
    assert over.exit_code == 1 and "--max-chars" in over.output  # the error names the flag that fixes it
    assert "over the limit of 20" in run("describe", "--max-chars", "20", SQL).output
    assert run("describe", "--max-chars", "100", SQL).exit_code == 0
    schema = {"users": {"description": "customers", "columns": {"dob": "date of birth"}}}
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    inline = run("describe", "--schema", json.dumps(schema), SQL)
    from_file = run("describe", "--schema", str(tmp_path / "schema.json"), SQL)
    assert inline.exit_code == 0 and "customers" in inline.stdout and from_file.stdout == inline.stdout
    assert "not JSON" in run("describe", "--schema", "{nope", SQL).output
    many = ";\n".join(f"SELECT a{i} FROM t" for i in range(5))
    with_bar = run("describe", "--progress", many)
    assert with_bar.exit_code == 0 and "describing" in with_bar.stderr and "5/5" in with_bar.stderr
    assert "describing" not in run("describe", "--no-progress", many).stderr


def test_cache_command_says_when_the_persistent_cache_is_off(tmp_path, monkeypatch):
    from sql2nl import cache

    monkeypatch.setattr(cache, "persistent", None)
    monkeypatch.setenv("SQL2NL_CACHE_PATH", str(tmp_path / "c.sqlite3"))
    r = run("cache")
    assert r.exit_code == 0 and "off" in r.stdout and "SQL2NL_CACHE=persistent" in r.stdout
    assert "0 descriptions" not in r.stdout and not (tmp_path / "c.sqlite3").exists()  # looking creates nothing


def test_every_environment_variable_is_documented():
    import re

    root = Path(__file__).resolve().parents[1]
    names = set()
    for part in ("src", "plugins", "training", "gguf"):
        for f in (root / part).rglob("*.py"):
            names |= set(re.findall(r"\bSQL2NL_[A-Z_]+\b(?!\.json)", f.read_text(encoding="utf-8")))
    assert {"SQL2NL_BACKEND", "SQL2NL_CACHE", "SQL2NL_DEBUG"} <= names
    doc = (root / "docs" / "cli.md").read_text(encoding="utf-8")
    assert sorted(n for n in names if f"`{n}`" not in doc) == []
