"""Redaction: no backend ever sees the literal values; the text gets them back locally."""

from __future__ import annotations

import sqlglot
import pytest

from sql2nl import Backend, Draft, describe, describe_many, describe_stream, hookimpl
from sql2nl.plugins import register_plugin, unregister_plugin
from sql2nl.redact import redact

SECRETS = ["Oslo", "4111-1111-1111-1111", "hunter2", "987654", "2024-02-29", "x'CAFE'"]
SQL = ("SELECT name, card FROM customers /* owner: hunter2 */ WHERE city = 'Oslo' "
       "AND card = '4111-1111-1111-1111' AND id <> 987654 AND since > DATE '2024-02-29' "
       "ORDER BY name LIMIT 7 -- hunter2")


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
            yield text[i:i + 3]


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
    pieces = list(describe_stream(sql, backend="recording", redact=True))
    text = "".join(pieces)
    assert len(pieces) > 10 and all(f"zebra{i}" in text for i in range(12)) and ":v" not in text
    assert all("zebra" not in _everything_the_backend_saw(r) for r in recording)


def test_describe_many_redacts_too(recording):
    describe_many(["SELECT a FROM t WHERE b = 'secret1'", "SELECT a FROM t WHERE b = 'secret2'"],
                  backend="recording", redact=True)
    assert len(recording) == 2 and not any("secret" in _everything_the_backend_saw(r) for r in recording)


def test_rules_backend_with_redaction_gives_the_same_values():
    sql = "SELECT name FROM users WHERE city = 'Oslo' AND age > 30 LIMIT 5"
    plain, hidden = describe(sql, cache=False), describe(sql, redact=True, cache=False)
    for value in ["Oslo", "30", "5"]:
        assert value in plain.text and value in hidden.text
    assert ":v" not in hidden.text


def test_same_value_same_placeholder_and_no_collision_with_user_parameters():
    r = redact([sqlglot.parse_one("SELECT * FROM t WHERE a = :v1 AND b = 'x' AND c = 'x' AND d = 'y'")])
    sql = r.sql()
    assert ":v1" in sql  # the user's own parameter is untouched...
    assert sorted(r.values.values()) == ["x", "y"] and r.prefix != "v"  # ...and ours use another prefix
    restored = r.restore(f"a is :v1, b and c are :{r.prefix}1, d is :{r.prefix}2")
    assert restored == "a is :v1, b and c are x, d is y"


def test_restore_is_one_pass():
    r = redact([sqlglot.parse_one("SELECT * FROM t WHERE a = ':v2' AND b = 'real'")])
    assert r.restore(":v1 / :v2") == ":v2 / real"
