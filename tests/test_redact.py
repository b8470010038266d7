"""Redaction: no backend ever sees a literal value, comment or password; the text gets the values back locally.

The backends here are registered through the plugin hook: ``recording`` (a plain Backend that
records the Request) and ``spy`` (an LLMBackend, tests/wrongllm.py, that records the very prompt
and answers by copying the placeholders, as a model does).
"""

from __future__ import annotations

import re

import pytest
import sqlglot
import wrongllm
from sqlglot.dialects import Dialects

from sql2nl import Backend, Draft, Sql2NLError, describe, describe_many, describe_stream, hookimpl
from sql2nl.plugins import register_plugin, unregister_plugin
from sql2nl.redact import redact, sensitive_words

SQL = (
    "SELECT name, card FROM customers /* owner: hunter2 */ WHERE city = 'Oslo' "
    "AND card = '4111-1111-1111-1111' AND id <> 987654 AND since > DATE '2024-02-29' "
    "ORDER BY name LIMIT 7 -- hunter2"
)


class Recording(Backend):
    """Answers by naming each filter value it was given, as a describer would."""

    name = "recording"
    streams = True
    seen: list = []

    def describe(self, request):
        Recording.seen.append(request)
        values = [v for f in request.facts for flt in f.filters for v in flt.values]
        return Draft(text="Customers where " + " and ".join(values) + ".", warnings=[f"checked {values[0]}"])

    def stream(self, request):
        text = self.describe(request).text
        for i in range(0, len(text), 3):  # small pieces, so placeholders arrive split
            yield text[i : i + 3]


class RecordingPlugin:
    @hookimpl
    def register_backends(self, register):
        register("recording", Recording, description="records what it sees")


@pytest.fixture
def recording():
    Recording.seen = []
    name = register_plugin(RecordingPlugin(), name="test-redact-plugin")
    yield Recording.seen
    unregister_plugin(name)


@pytest.fixture
def spy():
    wrongllm.Spy.prompts = []
    name = wrongllm.register()
    yield wrongllm.Spy.prompts
    unregister_plugin(name)


def _everything_the_backend_saw(request) -> str:
    parts = [request.sql, repr(request.schema)]
    for f in request.facts:
        parts += [f.sql, repr(f.to_dict()), f.tree.sql() if f.tree is not None else ""]
    return "\n".join(parts)


def test_backend_never_sees_the_values(recording):
    d = describe(SQL, backend="recording", redact=True)
    assert len(recording) == 1
    seen = _everything_the_backend_saw(recording[0])
    for secret in ["Oslo", "4111-1111-1111-1111", "hunter2", "987654", "2024-02-29"]:
        assert secret not in seen, secret
    assert "LIMIT 7" in recording[0].sql  # counts are not data
    # ...and the description the user gets has them back.
    assert "Oslo" in d.text and "4111-1111-1111-1111" in d.text and "987654" in d.text
    assert d.warnings == ["checked Oslo"]
    assert d.sql == SQL and "Oslo" in repr(d.facts[0].to_dict())  # local facts keep the real values


def test_without_redact_the_backend_sees_values(recording):
    describe(SQL, backend="recording")
    assert "Oslo" in recording[0].sql  # the control: the recorder would have caught a leak


def test_spider_double_quoted_values_are_redacted(recording):
    d = describe('SELECT name FROM singer WHERE country = "France"', backend="recording", redact=True)
    assert "France" not in _everything_the_backend_saw(recording[0])
    assert "France" in d.text


def test_streaming_restores_placeholders_split_across_pieces(recording):
    sql = "SELECT a FROM t WHERE " + " OR ".join(f"a = 'zebra{i}'" for i in range(12))
    pieces = list(describe_stream(sql, backend="recording", redact=True, cache=False))
    text = "".join(pieces)
    assert len(pieces) > 10 and all(f"zebra{i}" in text for i in range(12)) and "value" not in text
    assert all("zebra" not in _everything_the_backend_saw(r) for r in recording)


def test_describe_many_redacts_too(recording):
    describe_many(
        ["SELECT a FROM t WHERE b = 'secret1'", "SELECT a FROM t WHERE b = 'secret2'"], backend="recording", redact=True
    )
    assert len(recording) == 2 and not any("secret" in _everything_the_backend_saw(r) for r in recording)


def test_rules_backend_with_redaction_gives_the_same_text():
    sql = "SELECT name FROM users WHERE city = 'Oslo' AND age > 30 AND code = '7' LIMIT 5"
    plain, hidden = describe(sql, cache=False), describe(sql, redact=True, cache=False)
    assert hidden.text == plain.text  # numbers come back without the quotes a placeholder string has


# -- every dialect sqlglot supports ----------------------------------------------------------------
# Each statement hides distinctive secrets; "values" are literals the text must get back, "hidden"
# are things (comments, passwords) that must never be sent and need not come back.
CASES = [
    (
        "SELECT name FROM users WHERE city = 'Zq7oslo' AND id <> 987654321 -- token: Tk8abc\n",
        ["Zq7oslo", "987654321"],
        ["Tk8abc"],
    ),
    ("SELECT /* Bl3ock secret */ name FROM users WHERE born > DATE '1987-06-05'", ["1987-06-05"], ["Bl3ock"]),
    ("SELECT name FROM users WHERE note = $$Dq4 dollar secret$$", ["Dq4 dollar secret"], []),
    ("SELECT name FROM users WHERE note = $tg$Tg5 tagged secret$tg$", ["Tg5 tagged secret"], []),
    ("SELECT name FROM users WHERE note = E'Es6 escaped secret'", ["Es6 escaped secret"], []),
    ("SELECT name FROM users WHERE note = N'Nt7 national secret'", ["Nt7 national secret"], []),
    ("SELECT name FROM users WHERE blob = X'CAFEBABE'", ["CAFEBABE"], []),
    ("SELECT name FROM users WHERE flags = B'1011001110'", ["1011001110"], []),
    ("SELECT name FROM users WHERE city = 'Hs8oslo' # mysql comment Mc9\n", ["Hs8oslo"], ["Mc9"]),
    ("CREATE USER bob WITH PASSWORD 'Pw1hunter'", [], ["Pw1hunter"]),
    ("ALTER ROLE bob WITH PASSWORD 'Pw2hunter' VALID UNTIL '2031-01-01'", [], ["Pw2hunter", "2031-01-01"]),
    ("CREATE USER 'bob'@'localhost' IDENTIFIED BY 'Pw3hunter'", [], ["Pw3hunter"]),
    ("ALTER USER bob IDENTIFIED BY Pw4hunter", [], ["Pw4hunter"]),
    ("SELECT data->>'Jk5key' FROM users WHERE id = 424242", ["424242"], []),
    # Dialects that do not know $tag$ quoting read this as a column and an alias: redacted wholesale.
    ("SELECT $tg$Mp6 misread words$tg$ FROM users", ["Mp6 misread words"], []),
    ("SELECT E'Eb7 two words' AS x FROM users", ["Eb7 two words"], []),
]
DIALECTS = [d.value for d in Dialects]


def _leaks(secrets: list[str], seen: str) -> list[str]:
    low = seen.lower()
    return [s for s in secrets if s.lower() in low]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("how", ["describe", "stream"])
def test_no_secret_reaches_a_model_in_any_dialect(spy, dialect, how):
    described = restored = 0
    for sql, values, hidden in CASES:
        before = len(spy)
        try:
            if how == "describe":
                text = describe(sql, backend="spy", dialect=dialect or None, redact=True, cache=False).text
            else:
                text = "".join(describe_stream(sql, backend="spy", dialect=dialect or None, redact=True, cache=False))
        except Sql2NLError:  # refused: it does not parse in this dialect, and nothing was sent
            assert len(spy) == before, (dialect, sql)
            continue
        described += 1
        sent = "\n".join(spy[before:])
        assert len(spy) > before
        assert not _leaks(values + hidden, sent), (dialect, sql, sent)
        placeholders = re.findall(r"'((?:x)*value\d+)'", sent)
        if placeholders:  # not redacted wholesale: the values come back in the text
            restored += 1
            assert all(v in text for v in values), (dialect, sql, text)
            assert not re.search(r"value\d", text), (dialect, sql, text)
    assert described >= 1 or dialect in ("dax", "prql"), dialect  # those read no SQL at all
    if described:
        assert restored >= 1, dialect


def test_the_spy_would_catch_a_leak(spy):
    # The control for the test above: without redact=True the secrets are in the prompt.
    describe(CASES[0][0], backend="spy", cache=False)
    assert _leaks(["Zq7oslo", "987654321"], spy[-1]) == ["Zq7oslo", "987654321"]


def test_placeholders_survive_every_dialects_generator():
    # `:v1` became %(v1)s, $v1, @v1, {v1: } in some dialects; a string literal passes through all.
    for d in DIALECTS:
        try:
            trees = sqlglot.parse("SELECT a FROM t WHERE b = 'Oslo' AND c = 42", read=d or None)
        except Exception:
            continue
        r = redact(trees, "SELECT a FROM t WHERE b = 'Oslo' AND c = 42", d or None)
        sql = r.sql(d or None)
        assert "'value1'" in sql and "'value2'" in sql, (d, sql)


def test_commands_are_redacted_wholesale_to_kind_and_object():
    sql = "CREATE USER bob WITH PASSWORD 'hunter2'"
    r = redact(sqlglot.parse(sql, read="postgres"), sql, "postgres")
    assert r.sql("postgres") == "CREATE USER bob" and r.wholesale == [0] and not r.values


def test_words_only_inside_strings_or_comments_are_sensitive():
    words = sensitive_words("SELECT a FROM t WHERE b = 'x y' AND c = $q$z$q$ -- note\n/* w */", "postgres")
    assert words == {"x", "y", "z", "q", "note", "w"}
    # In T-SQL '#temp' is a table, not a comment.
    assert sensitive_words("SELECT a FROM #temp", "tsql") == set()


def test_restore_is_robust_to_how_a_model_echoes_placeholders():
    sql = "SELECT * FROM t WHERE a = 'Oslo' AND b = 42"
    r = redact([sqlglot.parse_one(sql)], sql)
    assert r.restore("Rows where a is 'value1' and b is 'value2'.") == "Rows where a is 'Oslo' and b is 42."
    assert r.restore("VALUE1, Value 2, value_1") == "Oslo, 42, Oslo"
    assert r.restore("城市为value1的行") == "城市为Oslo的行"  # right after CJK text
    assert r.restore("value12 and xvalue1") == "value12 and xvalue1"  # not ours: left alone


def test_prefix_avoids_what_the_sql_already_says():
    sql = "SELECT * FROM t WHERE a = :v1 AND b = 'value1' AND c = 'x'"
    r = redact([sqlglot.parse_one(sql)], sql)
    assert r.prefix != "value" and ":v1" in r.sql()
    assert sorted(r.values.values()) == ["value1", "x"]
    assert r.restore(f"b is {r.prefix}1 and c is {r.prefix}2") == "b is value1 and c is x"  # one pass


def test_stream_restores_with_another_prefix_and_a_user_parameter(spy):
    sql = "SELECT a FROM t WHERE k = :v1 AND b = 'value1 is taken' AND c = 'Secret9'"
    text = "".join(describe_stream(sql, backend="spy", redact=True, cache=False))
    assert "Secret9" in text and "value1 is taken" in text and "Secret9" not in spy[-1]
