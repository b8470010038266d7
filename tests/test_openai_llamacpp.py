"""The openai backend against a model behind a real OpenAI-compatible server: llama-cpp-python's, on loopback.

The server (``python -m sql2nl_llamacpp.llama_server`` — llama_cpp.server loading models safely on
AMX CPUs; extras: fastapi, sse-starlette, starlette-context, pydantic-settings) serves the same
tiny GGUF the llama.cpp backend tests use, so the two backends can be compared token for token.
Everything that needs no model (options, errors, retries, request building, env configuration)
is in ``tests/test_openai_backend.py``, which does not need llama-cpp-python.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import urllib.request

import pytest
from skips import require

require("llama_cpp")
require("openai")
require("fastapi")  # llama_cpp.server's extras
require("sse_starlette")
require("starlette_context")
require("pydantic_settings")

import ggufmodels  # noqa: E402

from sql2nl import describe, describe_many  # noqa: E402
from sql2nl.api import describe_stream  # noqa: E402
from sql2nl.backends import get_backend  # noqa: E402
from sql2nl.server.runner import free_port  # noqa: E402

SQL = "SELECT name FROM singer WHERE age > 30"
KEY = "sk-test-local"
# llama-cpp-python's server defaults to repeat_penalty 1.1; 1.0 makes it sample exactly like the llamacpp backend.
SAME_SAMPLING = {"repeat_penalty": 1.0}


@pytest.fixture(scope="session")
def gguf(tmp_path_factory):
    return ggufmodels.tiny_gguf(tmp_path_factory.mktemp("tiny-gguf"))


@contextlib.contextmanager
def llama_server(gguf_file, log_dir):
    """``python -m llama_cpp.server`` on a free loopback port, requiring an API key; always stopped."""
    port = free_port()
    log = log_dir / "server.log"
    cmd = [
        sys.executable,
        "-m",
        "sql2nl_llamacpp.llama_server",
        "--model",
        str(gguf_file),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "1024",
        "--n_threads",
        "1",
        "--api_key",
        KEY,
    ]
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


@pytest.mark.parametrize("language", ["en", "zh"])
def test_same_description_as_the_llamacpp_backend(server, opts, language):
    # Same messages, the same chat template (from the GGUF), the same greedy decoding: the same words.
    via_server = describe(SQL, language=language, extra_body=SAME_SAMPLING, **opts)
    local = describe(
        SQL, language=language, backend="llamacpp", model=str(server["gguf"].file("q8_0")), max_new_tokens=16
    )
    assert via_server.backend == "openai"
    assert via_server.text and via_server.text == local.text
    assert via_server.faithfulness == local.faithfulness


def test_model_defaults_to_the_servers_only_model(server, opts):
    be = get_backend(**{k: v for k, v in opts.items() if k != "backend"}, name="openai")
    assert be.model == server["models"][0]
    assert be.served_models() == server["models"]


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
