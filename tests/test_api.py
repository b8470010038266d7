"""The public API: describe / describe_many / describe_stream, Description, backend selection, errors."""

from __future__ import annotations

import json
import re

import pytest

import sql2nl
from sql2nl import (
    Backend,
    BackendError,
    BackendUnavailableError,
    Description,
    Draft,
    InvalidInputError,
    Sql2NLError,
    SQLParseError,
    UnknownBackendError,
    describe,
    describe_many,
    describe_stream,
    hookimpl,
)
from sql2nl import backends as backends_mod
from sql2nl.facts import StatementFacts
from sql2nl.plugins import register_plugin, unregister_plugin

SQL = "SELECT name, age FROM users WHERE age > 18 ORDER BY age DESC LIMIT 5"


class Recorder(Backend):
    """A backend that records every request and answers with a fixed pattern."""

    name = "recorder"

    def __init__(self, **options):
        self.options = options
        self.requests = []
        self.batches = []

    @property
    def identity(self):
        return f"recorder:{self.options.get('model')}"

    def describe(self, request):
        self.requests.append(request)
        if "boom" in request.sql:
            raise KeyError("boom")
        return Draft(text=f"recorded {request.sql}", warnings=["careful <b>here</b>"])

    def describe_batch(self, requests):
        self.batches.append(len(requests))
        return [self.describe(r) for r in requests]


class Streamer(Backend):
    """A backend that streams its answer word by word (as LLM backends do)."""

    name = "streamer"
    streams = True

    def describe(self, request):
        return Draft(text="".join(self.stream(request)))

    def stream(self, request):
        yield from ["Lists ", "the ", "names."]


class RecordingPlugin:
    def __init__(self):
        self.instances = []

    @hookimpl
    def register_backends(self, register):
        def make_recorder(**options):
            b = Recorder(**options)
            self.instances.append(b)
            return b

        register("recorder", make_recorder, description="records requests")
        register("streamer", Streamer, description="streams words")

        def needs_missing_package(**options):
            import sql2nl_package_that_does_not_exist  # noqa: F401

        register("needy", needs_missing_package, description="needs an extra", install="pip install sql2nl-needy")


@pytest.fixture
def plugin():
    p = RecordingPlugin()
    name = register_plugin(p, name="test-api-plugin")
    yield p
    unregister_plugin(name)


# -- describe and Description -------------------------------------------------------------------


def test_describe_returns_a_description_with_every_field():
    d = describe(SQL)
    assert isinstance(d, Description)
    assert isinstance(d.text, str) and d.text and str(d) == d.text
    assert d.backend == "rules" and d.language == "en" and d.sql == SQL
    assert isinstance(d.warnings, list)
    assert d.faithfulness is None or 0.0 <= d.faithfulness <= 1.0
    assert len(d.facts) == 1 and isinstance(d.facts[0], StatementFacts)
    f = d.facts[0]
    assert f.kind == "select" and f.tables == ["users"] and f.limit == 5
    assert [x.values for x in f.filters] == [["18"]]


def test_chinese_keeps_literal_values_verbatim():
    d = describe("SELECT name FROM users WHERE city = 'São Paulo' AND age > 18", language="zh")
    assert d.language == "zh"
    assert re.search(r"[\u4e00-\u9fff]", d.text)
    assert "São Paulo" in d.text and "18" in d.text


def test_script_is_described_statement_by_statement():
    d = describe("SELECT a FROM t; DELETE FROM t WHERE a = 1;")
    assert [f.kind for f in d.facts] == ["select", "delete"]
    assert d.text.splitlines() == [describe("SELECT a FROM t").text, describe("DELETE FROM t WHERE a = 1").text]


def test_rich_reprs_show_text_facts_and_escaped_warnings(plugin):
    d = describe("SELECT a FROM t WHERE a < 5", backend="recorder")
    md = d._repr_markdown_()
    assert d.text in md and "| fact | value |" in md and "warning" in md
    html = d._repr_html_()
    assert "<table" in html and "&lt;b&gt;here&lt;/b&gt;" in html and "<b>here</b>" not in html
    assert "a &lt; 5" in html  # the SQL in the facts is escaped too


def test_to_json_is_plain_data():
    d = describe(SQL)
    data = json.loads(d.to_json())
    assert data["text"] == d.text and data["backend"] == "rules" and data["facts"][0]["tables"] == ["users"]


def test_unknown_language_is_refused():
    with pytest.raises(InvalidInputError, match="choose one of en, zh"):
        describe(SQL, language="fr")


def test_dialect_argument_and_unknown_dialect():
    assert describe("SELECT `a` FROM `t`", dialect="mysql").facts[0].tables == ["t"]
    with pytest.raises(InvalidInputError, match="postgres"):
        describe("SELECT 1 FROM t", dialect="postgress")


def test_schema_words_are_used():
    d = describe("SELECT em FROM users", schema={"users": {"em": "customer email address"}})
    assert "customer email address" in d.text  # (perhaps pluralized)


# -- backend selection ----------------------------------------------------------------------------


def test_backend_selection_argument_then_env_then_rules(plugin, monkeypatch):
    monkeypatch.delenv("SQL2NL_BACKEND", raising=False)
    assert describe(SQL).backend == "rules"
    monkeypatch.setenv("SQL2NL_BACKEND", "recorder")
    assert describe(SQL).backend == "recorder"
    assert describe(SQL, backend="rules").backend == "rules"
    monkeypatch.setenv("SQL2NL_BACKEND", "rulez")
    with pytest.raises(UnknownBackendError, match="came from .SQL2NL_BACKEND"):
        describe(SQL)


def test_backend_options_pass_through_and_key_the_cache(plugin):
    d1 = describe(SQL, backend="recorder", model="m1")
    describe(SQL, backend="recorder", model="m1")
    d2 = describe(SQL, backend="recorder", model="m2")
    assert d1.text.startswith("recorded")
    by_model = {b.options["model"]: b for b in plugin.instances}
    assert set(by_model) == {"m1", "m2"}
    assert len(by_model["m1"].requests) == 1  # the second call was a cache hit
    assert len(by_model["m2"].requests) == 1 and d2 is not d1


def test_backend_instance_and_class_are_accepted():
    rec = Recorder()
    assert describe(SQL, backend=rec).text == f"recorded {SQL}"
    assert rec.requests[0].facts[0].tables == ["users"]
    assert describe(SQL, backend=Recorder, cache=False).backend == "recorder"


def test_unknown_backend_suggests_the_closest_name():
    with pytest.raises(UnknownBackendError) as e:
        describe(SQL, backend="rule")
    assert e.value.suggestion == "rules" and "Did you mean 'rules'?" in str(e.value)
    assert isinstance(e.value, Sql2NLError) and isinstance(e.value, LookupError)


def test_known_but_missing_backend_names_the_pip_install(monkeypatch):
    monkeypatch.setitem(backends_mod.KNOWN_EXTERNAL, "fancy", "pip install sql2nl-fancy")
    with pytest.raises(BackendUnavailableError, match="pip install sql2nl-fancy"):
        describe(SQL, backend="fancy")


def test_factory_missing_import_names_the_pip_install(plugin):
    with pytest.raises(BackendUnavailableError, match="pip install sql2nl-needy"):
        describe(SQL, backend="needy")


def test_rules_backend_refuses_model_options():
    with pytest.raises(InvalidInputError, match="model"):
        describe(SQL, backend="rules", model="x")


def test_backend_crash_becomes_backend_error(plugin):
    with pytest.raises(BackendError, match="recorder") as e:
        describe("SELECT boom FROM t", backend="recorder")
    assert isinstance(e.value.__cause__, KeyError)


def test_wrong_types_give_clear_errors():
    with pytest.raises(InvalidInputError, match="backend"):
        describe(SQL, backend=42)
    with pytest.raises(InvalidInputError, match="string"):
        describe(None)
    with pytest.raises(InvalidInputError, match="schema"):
        describe(SQL, schema=["users"])


# -- describe_many --------------------------------------------------------------------------------


def test_describe_many_keeps_order_and_batches(plugin):
    sqls = [f"SELECT c{i} FROM t{i}" for i in range(5)]
    out = describe_many(sqls, backend="recorder", batch_size=2, cache=False)
    assert [d.sql for d in out] == sqls
    assert [d.text for d in out] == [f"recorded {s}" for s in sqls]
    assert plugin.instances[0].batches == [2, 2, 1]


def test_describe_many_uses_the_cache():
    first = describe(SQL)
    out = describe_many([SQL, "SELECT b FROM u"])
    assert out[0] is first and out[1].facts[0].tables == ["u"]


def test_describe_many_on_error_keep_loses_no_other_work(plugin):
    out = describe_many(
        ["SELECT a FROM t", "SELEC oops", "SELECT boom FROM t", "SELECT b FROM u"],
        backend="recorder",
        on_error="keep",
        cache=False,
    )
    assert [bool(d.text) for d in out] == [True, False, False, True]
    assert "SQLParseError" in out[1].warnings[0] and "BackendError" in out[2].warnings[0]


def test_describe_many_raises_first_error_by_default():
    with pytest.raises(SQLParseError):
        describe_many(["SELECT a FROM t", "SELEC oops"])


def test_describe_many_progress_bar(capsys):
    describe_many(["SELECT a FROM t", "SELECT b FROM u"], progress=True)
    assert "2/2" in capsys.readouterr().err


def test_describe_many_refuses_a_single_string():
    with pytest.raises(InvalidInputError, match="describe\\(\\)"):
        describe_many("SELECT a FROM t")
    with pytest.raises(InvalidInputError, match="on_error"):
        describe_many(["SELECT a FROM t"], on_error="ignore")


# -- describe_stream ------------------------------------------------------------------------------


def test_stream_of_a_non_streaming_backend_yields_once():
    pieces = list(describe_stream(SQL))
    assert pieces == [describe(SQL).text]


def test_stream_of_a_streaming_backend_yields_pieces(plugin):
    pieces = list(describe_stream(SQL, backend="streamer"))
    assert pieces == ["Lists ", "the ", "names."]


def test_stream_raises_input_errors_before_the_first_piece(plugin):
    with pytest.raises(SQLParseError):
        describe_stream("SELEC oops", backend="streamer")  # no next() needed


def test_public_names():
    for name in [
        "describe",
        "describe_many",
        "describe_stream",
        "Description",
        "Sql2NLError",
        "SQLParseError",
        "UnknownBackendError",
        "BackendUnavailableError",
    ]:
        assert name in sql2nl.__all__ and hasattr(sql2nl, name)


def test_a_bug_in_the_core_is_an_internal_error_not_a_raw_exception(monkeypatch):
    from sql2nl import InternalError, response

    def broken(tree, dialect=None, **options):
        raise KeyError("oops")

    monkeypatch.setattr(response, "statement_facts", broken)
    with pytest.raises(InternalError, match="bug in sql2nl") as e:
        describe(SQL, cache=False)
    assert isinstance(e.value.__cause__, KeyError)


def test_concurrent_calls_agree():
    from concurrent.futures import ThreadPoolExecutor

    sqls = [f"SELECT c{i % 7} FROM t{i % 5} WHERE x > {i}" for i in range(200)]
    expected = [describe(s, cache=False).text for s in sqls]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda s: describe(s).text, sqls))
    assert got == expected
