"""The openai backend against a real OpenAI-compatible peer: llama-cpp-python's server on loopback.

The server (``python -m sql2nl_llamacpp.llama_server`` — llama_cpp.server loading models safely on AMX CPUs; extras: fastapi, sse-starlette, starlette-context,
pydantic-settings) serves the same tiny GGUF the llama.cpp backend tests use, so the two backends
can be compared token for token.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("openai")
pytest.importorskip("fastapi")  # llama_cpp.server's extras
pytest.importorskip("sse_starlette")
pytest.importorskip("starlette_context")
pytest.importorskip("pydantic_settings")

import ggufmodels  # noqa: E402
from sql2nl import describe, describe_many  # noqa: E402
from sql2nl.api import describe_stream  # noqa: E402
from sql2nl.backends import available_backends, get_backend  # noqa: E402
from sql2nl.errors import BackendError, InvalidInputError  # noqa: E402

SQL = "SELECT name FROM singer WHERE age > 30"
KEY = "sk-test-local"
# llama-cpp-python's server defaults to repeat_penalty 1.1; 1.0 makes it sample exactly like the llamacpp backend.
SAME_SAMPLING = {"repeat_penalty": 1.0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def gguf(tmp_path_factory):
    return ggufmodels.tiny_gguf(tmp_path_factory.mktemp("tiny-gguf"))


@contextlib.contextmanager
def llama_server(gguf_file, log_dir):
    """``python -m llama_cpp.server`` on a free loopback port, requiring an API key; always stopped."""
    port = free_port()
    log = log_dir / "server.log"
    cmd = [sys.executable, "-m", "sql2nl_llamacpp.llama_server", "--model", str(gguf_file), "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", "1024", "--n_threads", "1", "--api_key", KEY]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                req = urllib.request.Request(f"{url}/models", headers={"Authorization": f"Bearer {KEY}"})
                with urllib.request.urlopen(req, timeout=2) as r:
                    models = [m["id"] for m in json.load(r)["data"]]
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"llama_cpp.server did not come up in 120 s:\n{log.read_text()[-3000:]}")
                time.sleep(0.3)
        yield {"url": url, "models": models}
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def server(gguf, tmp_path_factory):
    with llama_server(gguf.file("q8_0"), tmp_path_factory.mktemp("llama-server")) as srv:
        yield {**srv, "gguf": gguf}


@pytest.fixture
def opts(server):
    return dict(backend="openai", base_url=server["url"], api_key=KEY, max_new_tokens=16)


def test_registered_through_the_entry_point_hook():
    assert available_backends()["openai"].plugin == "openai"


def test_nothing_is_sent_without_a_base_url(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(InvalidInputError, match="no default endpoint"):
        describe(SQL, backend="openai", model="m")


@pytest.mark.parametrize("language", ["en", "zh"])
def test_same_description_as_the_llamacpp_backend(server, opts, language):
    # Same messages, the same chat template (from the GGUF), the same greedy decoding: the same words.
    via_server = describe(SQL, language=language, extra_body=SAME_SAMPLING, **opts)
    local = describe(SQL, language=language, backend="llamacpp", model=str(server["gguf"].file("q8_0")),
                     max_new_tokens=16)
    assert via_server.backend == "openai"
    assert via_server.text and via_server.text == local.text
    assert via_server.faithfulness == local.faithfulness


def test_model_defaults_to_the_servers_only_model(server, opts):
    be = get_backend(**{k: v for k, v in opts.items() if k != "backend"}, name="openai")
    assert be.model == server["models"][0]
    assert be.served_models() == server["models"]


def test_env_configuration(server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", server["url"])
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    assert describe(SQL, backend="openai", max_new_tokens=8).text


def test_wrong_api_key_is_reported(server):
    with pytest.raises(BackendError, match=r"refused the request \(HTTP 401\).*api_key"):
        describe(SQL, backend="openai", base_url=server["url"], api_key="wrong", model="m", max_new_tokens=4)


def test_stream_yields_the_described_text(opts):
    pieces = list(describe_stream(SQL, **opts))
    assert len(pieces) > 1
    streamed, whole = "".join(pieces), describe(SQL, cache=False, **opts).text
    # llama-cpp-python's server drops characters whose UTF-8 bytes span tokens when it streams (random
    # weights produce many); everything else must arrive, in order.
    def ascii_only(t):
        return "".join(c for c in t if c.isascii())

    assert ascii_only(streamed) == ascii_only(whole) and ascii_only(whole)


def test_describe_many_in_parallel_matches_describe(opts):
    sqls = [SQL, "SELECT count(*) FROM concert WHERE year = 2014", "SELECT title FROM song LIMIT 3"]
    many = describe_many(sqls, concurrency=3, cache=False, **opts)
    assert [d.sql for d in many] == sqls
    assert [d.text for d in many] == [describe(s, cache=False, **opts).text for s in sqls]


def test_guard_fallback(opts):
    d = describe(SQL, on_unfaithful="fallback", **opts)
    assert d.backend == "rules" and d.text == describe(SQL).text


def test_wrong_path_is_a_404_with_a_hint(server):
    with pytest.raises(BackendError, match="answered 404.*usually ending in /v1"):
        describe(SQL, backend="openai", base_url=server["url"].replace("/v1", "/nope/v1"), api_key=KEY, model="m")


@pytest.mark.slow
def test_overfitted_model_through_the_server(tmp_path_factory):
    # Messages in, the server's template (from the GGUF), the taught answers out, <think> blocks stripped.
    import tinymodels
    from sql2nl.prompt import strip_thinking

    fit = ggufmodels.overfit_gguf(tmp_path_factory.mktemp("overfit-gguf"))
    with llama_server(fit.file("f16"), tmp_path_factory.mktemp("overfit-server")) as srv:
        for sql, taught in tinymodels.PAIRS + tinymodels.THINK_PAIRS:
            d = describe(sql, backend="openai", base_url=srv["url"], api_key=KEY, extra_body=SAME_SAMPLING)
            assert d.text == strip_thinking(taught)


# -- unreachable and silent servers: retries, timeouts, clear errors --------------------------------------

def test_connection_refused(monkeypatch):
    port = free_port()  # nothing listens there
    with pytest.raises(BackendError, match=r"Could not connect .*127\.0\.0\.1:%d.*\(3 attempts\).*running" % port):
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


@pytest.mark.parametrize("bad, match", [
    (dict(base_url="ftp://example.org"), "must be an http"),
    (dict(base_url="http://127.0.0.1:1/v1", timeout=0), "timeout must be at least 0.001"),
    (dict(base_url="http://127.0.0.1:1/v1", max_retries=-1), "max_retries must be"),
    (dict(base_url="http://127.0.0.1:1/v1", concurrency=0), "concurrency must be"),
    (dict(base_url="http://127.0.0.1:1/v1", temprature=1), "no option 'temprature'"),
])
def test_bad_options(bad, match):
    with pytest.raises(InvalidInputError, match=match):
        get_backend("openai", **bad)


def test_bare_host_gets_v1():
    assert get_backend("openai", base_url="http://127.0.0.1:9").base_url == "http://127.0.0.1:9/v1"


def test_cli(server):
    from click.testing import CliRunner

    from sql2nl.cli import cli

    env = {"OPENAI_API_KEY": KEY}
    ok = CliRunner(env=env).invoke(cli, ["describe", "-b", "openai", "-o", f"base_url={server['url']}",
                                        "-o", "max_new_tokens=8", SQL])
    assert ok.exit_code == 0, ok.output
    assert ok.output.strip()
    bad = CliRunner(env={"OPENAI_BASE_URL": ""}).invoke(cli, ["describe", "-b", "openai", SQL])
    assert bad.exit_code == 1 and "base_url" in bad.output and "Traceback" not in bad.output
