"""The openai backend against real OpenAI-compatible peers that need no model: sql2nl's own server
(``sql2nl serve``: rules describer behind the OpenAI API) and a canned server that records what it
is sent (``tests/openai_peer.py``). Both speak HTTP to the official ``openai`` client.

Against a model served by llama-cpp-python's server: ``tests/test_openai_llamacpp.py``.
"""

from __future__ import annotations

import socket
import threading

import pytest
from skips import require

require("openai")
require("starlette")
require("uvicorn")

from openai_peer import CannedOpenAI  # noqa: E402

from sql2nl import describe, describe_many  # noqa: E402
from sql2nl.api import describe_stream  # noqa: E402
from sql2nl.backends import available_backends, get_backend  # noqa: E402
from sql2nl.errors import BackendError, InvalidInputError, ModelError  # noqa: E402
from sql2nl.prompt import build_messages  # noqa: E402
from sql2nl.server.app import create_app  # noqa: E402
from sql2nl.server.config import ServerConfig  # noqa: E402
from sql2nl.server.runner import ServerThread, free_port  # noqa: E402

SQL = "SELECT name FROM singer WHERE age > 30"
KEY = "sk-test-local"


@pytest.fixture(scope="module")
def own():
    """``sql2nl serve`` with a token: the rules describer behind the OpenAI API."""
    with ServerThread(create_app(ServerConfig(token=KEY))) as url:
        yield f"{url}/v1"


@pytest.fixture
def opts(own):
    return dict(backend="openai", base_url=own, api_key=KEY, model="sql2nl")


@pytest.fixture(scope="module")
def canned_server():
    with CannedOpenAI() as peer:
        yield peer


@pytest.fixture
def canned(canned_server):
    canned_server.reset()
    yield canned_server
    canned_server.reset()


def test_registered_through_the_entry_point_hook():
    assert available_backends()["openai"].plugin == "openai"


def test_nothing_is_sent_without_a_base_url(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(InvalidInputError, match="no default endpoint"):
        describe(SQL, backend="openai", model="m")


# -- a peer that describes: sql2nl's own server ----------------------------------------------------------
@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_peers_answer_is_the_description(opts, language):
    d = describe(SQL, language=language, **opts)
    assert d.backend == "openai" and d.text == describe(SQL, language=language).text
    assert d.faithfulness == 1.0


def test_stream_yields_the_peers_pieces(opts):
    pieces = list(describe_stream(SQL, cache=False, **opts))
    assert len(pieces) > 1 and "".join(pieces) == describe(SQL).text


def test_describe_many_matches_describe(opts):
    sqls = [SQL, "SELECT count(*) FROM concert WHERE year = 2014", "SELECT title FROM song LIMIT 3"]
    many = describe_many(sqls, concurrency=3, cache=False, **opts)
    assert [d.sql for d in many] == sqls
    assert [d.text for d in many] == [describe(s).text for s in sqls]


def test_a_server_with_several_models_needs_one_named(own):
    be = get_backend("openai", base_url=own, api_key=KEY)
    assert be.served_models() == ["sql2nl", "sql2nl-rules", "gpt-sql2nl"]
    with pytest.raises(InvalidInputError, match="Say which model to use.*serves sql2nl, sql2nl-rules"):
        describe(SQL, backend="openai", base_url=own, api_key=KEY)


def test_env_configuration(own, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", own)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    assert describe(SQL, backend="openai", model="sql2nl").text == describe(SQL).text


def test_wrong_api_key_is_reported(own):
    with pytest.raises(BackendError, match=r"refused the request \(HTTP 401\).*api_key"):
        describe(SQL, backend="openai", base_url=own, api_key="wrong", model="sql2nl")


def test_wrong_path_is_a_404_with_a_hint(own):
    with pytest.raises(BackendError, match="answered 404.*usually ending in /v1"):
        describe(SQL, backend="openai", base_url=own.replace("/v1", "/nope/v1"), api_key=KEY, model="sql2nl")


def test_cli(own):
    from click.testing import CliRunner

    from sql2nl.cli import cli

    ok = CliRunner(env={"OPENAI_API_KEY": KEY}).invoke(
        cli, ["describe", "-b", "openai", "-m", "sql2nl", "-o", f"base_url={own}", SQL]
    )
    assert ok.exit_code == 0, ok.output
    assert ok.output.strip() == describe(SQL).text
    bad = CliRunner(env={"OPENAI_BASE_URL": ""}).invoke(cli, ["describe", "-b", "openai", SQL])
    assert bad.exit_code == 1 and "base_url" in bad.output and "Traceback" not in bad.output


# -- what is sent: the canned peer records it --------------------------------------------------------------
def test_the_request_carries_the_prompt_and_the_options(canned):
    d = describe(
        SQL,
        backend="openai",
        base_url=canned.url,
        language="zh",
        max_new_tokens=7,
        top_p=0.5,
        stop=["\n\n"],
        extra_body={"repeat_penalty": 1.0},
        seed=3,
    )
    assert d.text == canned.answer
    ((headers, body),) = canned.requests
    assert body["model"] == "canned"  # the server's only model, asked for once
    assert body["messages"] == build_messages(SQL, language="zh", tables=["singer"])
    assert (body["max_tokens"], body["temperature"], body["top_p"], body["seed"]) == (7, 0.0, 0.5, 3)
    assert body["stop"] == ["\n\n"] and body["repeat_penalty"] == 1.0 and "stream" not in body
    assert headers["authorization"] == "Bearer sk-no-key-required"  # local servers ignore it; the client needs one


def test_the_api_key_is_sent_as_a_bearer_token(canned):
    describe(SQL, backend="openai", base_url=canned.url, api_key="sk-mine")
    assert canned.requests[0][0]["authorization"] == "Bearer sk-mine"


def test_sampled_retries_draw_new_seeds(canned):
    canned.answer = "Something else entirely."  # never faithful: every retry is asked for
    d = describe(SQL, backend="openai", base_url=canned.url, on_unfaithful="retry", retries=2, seed=5)
    assert d.backend == "rules" and d.guard["retries"] == 2 and d.guard["fell_back"]
    temps = [b["temperature"] for b in canned.bodies()]
    seeds = [b["seed"] for b in canned.bodies()]
    assert temps[0] == 0.0 and seeds[0] == 5 and all(t > 0 for t in temps[1:]) and len(temps) == 3
    assert len(set(seeds[1:])) == 2  # a retry must not draw the very same sample again


def test_a_reasoning_block_is_stripped(canned):
    canned.answer = "<think>singers, age over 30</think>Lists the names of singers older than 30."
    assert describe(SQL, backend="openai", base_url=canned.url).text == "Lists the names of singers older than 30."


def test_the_guard_falls_back_to_the_rules(canned):
    canned.answer = "Counts the concerts."
    d = describe(SQL, backend="openai", base_url=canned.url, on_unfaithful="fallback")
    assert d.backend == "rules" and d.text == describe(SQL).text
    assert "left out or contradicted" in d.warnings[0]


def test_describe_many_runs_requests_in_parallel(canned):
    canned.delay_s = 0.3
    sqls = [f"SELECT a{i} FROM t" for i in range(6)]
    describe_many(sqls, backend="openai", base_url=canned.url, concurrency=3, cache=False)
    assert len(canned.requests) == 6 and canned.most_in_flight == 3


def test_a_prompt_over_the_context_window_is_a_model_error(canned):
    canned.fail = (400, "This model's maximum context length is 512 tokens")
    with pytest.raises(ModelError, match="does not fit the served model's context window.*larger context"):
        describe(SQL, backend="openai", base_url=canned.url)
    assert len(canned.requests) == 1  # a 400 is not retried


def test_server_errors_are_retried_then_reported(canned):
    canned.fail = (500, "out of memory")
    with pytest.raises(BackendError, match="answered HTTP 500 while describing: out of memory"):
        describe(SQL, backend="openai", base_url=canned.url, max_retries=2)
    assert len(canned.requests) == 3
    canned.reset()
    canned.fail, canned.fail_times = (503, "loading"), 1  # a passing hiccup costs nothing visible
    assert describe(SQL, backend="openai", base_url=canned.url, cache=False).text == canned.answer


def test_an_answer_without_choices_is_reported(canned):
    canned.no_choices = True
    with pytest.raises(BackendError, match="answered with no choices for model 'canned'"):
        describe(SQL, backend="openai", base_url=canned.url)


def test_a_stream_arrives_piece_by_piece(canned):
    pieces = list(describe_stream(SQL, backend="openai", base_url=canned.url, cache=False))
    assert pieces == ["Lists ", "the ", "names ", "of ", "singers ", "older ", "than ", "30."]
    assert canned.bodies()[0]["stream"] is True


def test_a_failing_stream_is_reported(canned):
    canned.fail = (401, "bad key")
    with pytest.raises(BackendError, match=r"refused the request \(HTTP 401\): bad key"):
        list(describe_stream(SQL, backend="openai", base_url=canned.url, cache=False))


# -- unreachable and silent servers: retries, timeouts, clear errors --------------------------------------
def test_connection_refused():
    port = free_port()  # nothing listens there
    with pytest.raises(BackendError, match=rf"Could not connect .*127\.0\.0\.1:{port}.*\(3 attempts\).*running"):
        describe(SQL, backend="openai", base_url=f"http://127.0.0.1:{port}/v1", model="m", max_retries=2)


class _Peer:
    """A loopback TCP peer that either hangs up at once or never answers, counting connections."""

    def __init__(self, mode: str):
        self.mode, self.accepted, self.held = mode, 0, []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            if self.mode == "hangup":
                conn.close()
            else:
                self.held.append(conn)

    def close(self):
        self.sock.close()
        for c in self.held:
            c.close()


def test_connection_errors_are_retried():
    peer = _Peer("hangup")
    try:
        with pytest.raises(BackendError, match=r"Could not connect.*\(3 attempts\)"):
            describe(SQL, backend="openai", base_url=peer.url, model="m", max_retries=2)
        assert peer.accepted == 3
    finally:
        peer.close()


def test_timeout():
    peer = _Peer("silent")
    try:
        with pytest.raises(BackendError, match=r"did not answer within 0\.5s.*\(2 attempts\).*timeout="):
            describe(SQL, backend="openai", base_url=peer.url, model="m", timeout=0.5, max_retries=1)
        assert peer.accepted == 2
    finally:
        peer.close()


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(base_url="ftp://example.org"), "must be an http"),
        (dict(base_url="http://127.0.0.1:1/v1", timeout=0), "timeout must be at least 0.001"),
        (dict(base_url="http://127.0.0.1:1/v1", max_retries=-1), "max_retries must be"),
        (dict(base_url="http://127.0.0.1:1/v1", concurrency=0), "concurrency must be"),
        (dict(base_url="http://127.0.0.1:1/v1", temprature=1), "no option 'temprature'"),
    ],
)
def test_bad_options(bad, match):
    with pytest.raises(InvalidInputError, match=match):
        get_backend("openai", **bad)


def test_bare_host_gets_v1():
    assert get_backend("openai", base_url="http://127.0.0.1:9").base_url == "http://127.0.0.1:9/v1"
