"""`sql2nl serve`: a real uvicorn on a loopback port, spoken to with raw HTTP (httpx and sockets).

Fault-injecting backends (one that raises, one that hangs, one that streams slowly) are
registered through the plugin hook, as a third-party backend would be.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from skips import require

require("starlette")
require("uvicorn")
httpx = require("httpx")

from click.testing import CliRunner  # noqa: E402

import sql2nl  # noqa: E402
from sql2nl import Backend, Draft, hookimpl  # noqa: E402
from sql2nl.cli import cli  # noqa: E402
from sql2nl.errors import InvalidInputError  # noqa: E402
from sql2nl.plugins import get_plugin_manager, reset_plugin_manager  # noqa: E402
from sql2nl.server.app import create_app  # noqa: E402
from sql2nl.server.config import ServerConfig  # noqa: E402
from sql2nl.server.messages import detect_language, dialect_hint, find_sql, is_statement  # noqa: E402
from sql2nl.server.runner import ServerThread  # noqa: E402

SQL = "SELECT name FROM users WHERE age > 18 ORDER BY name"


# -- fault-injecting backends, registered like any plugin -------------------------------------------
class Exploding(Backend):
    name = "explode"

    def describe(self, request):
        raise RuntimeError("boom (injected)")


class Hanging(Backend):
    name = "hang"
    release = threading.Event()
    started = 0

    def describe(self, request):
        Hanging.started += 1
        Hanging.release.wait(30)
        return Draft(text="late")


class SlowStream(Backend):
    name = "slowstream"
    streams = True
    yielded = 0
    finished = threading.Event()

    def describe(self, request):
        return Draft(text="".join(self.stream(request)))

    def stream(self, request):
        try:
            for i in range(40):
                SlowStream.yielded += 1
                yield f"piece{i} "
                time.sleep(0.05)
        finally:
            SlowStream.finished.set()


class Chunky(Backend):
    """A streaming backend (like an LLM): three pieces, or one piece and then a stall."""

    name = "chunky"
    streams = True
    stall = threading.Event()

    def describe(self, request):
        return Draft(text="".join(self.stream(request)))

    def stream(self, request):
        yield "Lists "
        if "stall" in request.sql:
            Chunky.stall.wait(10)
        yield "the names "
        yield "of users."


class FaultPlugin:
    @hookimpl
    def register_backends(self, register):
        register("chunky", Chunky, description="streams in pieces (test)")
        register("explode", Exploding, description="raises (test)")
        register("hang", Hanging, description="never answers (test)")
        register("slowstream", SlowStream, description="streams slowly (test)")


@pytest.fixture(scope="module", autouse=True)
def fault_plugin():
    pm = get_plugin_manager()
    pm.register(FaultPlugin(), name="test-server-faults")
    yield
    pm.unregister(name="test-server-faults")
    reset_plugin_manager()


def serve(**config):
    return ServerThread(create_app(ServerConfig(**config)))


@pytest.fixture(scope="module")
def url(fault_plugin):
    with serve() as u:
        yield u


@pytest.fixture(scope="module")
def http(url):
    with httpx.Client(base_url=url, timeout=10) as c:
        yield c


# -- the JSON API ---------------------------------------------------------------------------------------
def test_health(http):
    r = http.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["backend"] == "rules"


def test_describe_matches_the_library(http):
    r = http.post("/v1/describe", json={"sql": SQL})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    d = sql2nl.describe(SQL)
    assert body["text"] == d.text
    assert body["facts"] == [f.to_dict() for f in d.facts]
    assert isinstance(body["warnings"], list) and 0.0 <= body["faithfulness"] <= 1.0
    assert http.post("/v1/describe", json={"sql": SQL}).json() == body  # the cached answer is the same


def test_describe_language_and_dialect(http):
    r = http.post("/v1/describe", json={"sql": SQL, "language": "zh", "dialect": "postgres"})
    assert r.status_code == 200
    assert r.json()["text"] == sql2nl.describe(SQL, language="zh", dialect="postgres").text
    assert r.json()["language"] == "zh"


def test_batch_keeps_order_and_isolates_bad_items(http):
    r = http.post(
        "/v1/describe/batch", json={"items": [SQL, {"sql": "SELEC x FROM"}, {"sql": "DELETE FROM t", "language": "zh"}]}
    )
    assert r.status_code == 200
    a, b, c = r.json()["results"]
    assert a["text"] == sql2nl.describe(SQL).text
    assert b["error"]["code"] == "sql_parse_error" and b["error"]["line"] == 1
    assert c["text"] == sql2nl.describe("DELETE FROM t", language="zh").text


def test_batch_limits(http):
    r = http.post("/v1/describe/batch", json={"items": ["SELECT 1"] * 257})
    assert r.status_code == 422 and "at most 256" in r.json()["error"]["message"]
    assert http.post("/v1/describe/batch", json={"items": [5]}).status_code == 422


@pytest.mark.parametrize(
    "body, status, words",
    [
        (b"{bad json", 400, "not valid JSON"),
        (b"", 400, "empty"),
        (b"[1, 2]", 422, "JSON object"),
        (b'{"sql": 5}', 422, "'sql' must be a string"),
        (b'{"sql": true}', 422, "'sql' must be a string"),
        (b"{}", 422, "'sql' is required"),
        (b'{"sql": "SELECT 1", "language": "fr"}', 422, "Unsupported language"),
        (b'{"sql": "SELECT 1", "dialect": "nosuchdb"}', 422, "dialect"),
        (b'{"sql": "   "}', 422, "empty"),
        (b'{"sql": "SELECT \\u0000"}', 422, "NUL"),
        (b"\xff\xfe\x00", 400, "not valid JSON"),
    ],
)
def test_bad_requests_get_clean_errors(http, body, status, words):
    r = http.post("/v1/describe", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert words.lower() in r.json()["error"]["message"].lower()
    assert http.get("/health").status_code == 200


def test_parse_error_says_where(http):
    r = http.post("/v1/describe", json={"sql": "SELECT a FROM t WHERE (b = 1"})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "sql_parse_error" and err["param"] == "sql" and "line" in err


def test_huge_bodies_get_413(url, http):
    big = json.dumps({"sql": "SELECT " + "a, " * 400_000 + "b FROM t"}).encode()
    r = http.post("/v1/describe", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "limit" in r.json()["error"]["message"]

    # Chunked, with no Content-Length: counted as it arrives.
    def chunks():
        for _ in range(300):
            yield b"x" * 10_000

    r = http.post("/v1/describe", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert http.post("/v1/describe", json={"sql": SQL}).status_code == 200


def test_slow_body_gets_408():
    with serve(timeout_s=0.5) as u:
        host, port = u.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as s:
            s.sendall(
                b"POST /v1/describe HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100\r\n\r\n{"sql": '
            )  # and then nothing more
            s.settimeout(5)
            assert s.recv(65536).startswith(b"HTTP/1.1 408")
        assert httpx.get(f"{u}/health").status_code == 200


def test_unknown_routes_and_methods(http):
    r = http.post("/responses", json={})
    assert r.status_code == 404 and "/v1" in r.json()["error"]["message"]
    r = http.get("/v1/describe")
    assert r.status_code == 405 and r.json()["error"]["message"]


def test_no_cors_by_default(http):
    r = http.post("/v1/describe", json={"sql": SQL}, headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    r = http.options(
        "/v1/describe", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in r.headers


def test_cors_when_asked():
    with serve(cors_origins=("http://localhost:3000",)) as u:
        r = httpx.post(f"{u}/v1/describe", json={"sql": SQL}, headers={"Origin": "http://localhost:3000"})
        assert r.headers["access-control-allow-origin"] == "http://localhost:3000"


def test_dns_rebinding_guard(http):
    r = http.get("/health", headers={"Host": "attacker.example"})
    assert r.status_code == 403 and "localhost" in r.json()["error"]["message"]
    assert r.json()["error"]["code"] == "host_not_allowed"
    for foreign in ("localhost.attacker.example", "127.0.0.1.nip.io:8765", "[::2]", "local host", "evil@localhost"):
        assert http.post("/v1/describe", json={"sql": SQL}, headers={"Host": foreign}).status_code == 403, foreign
    for loopback in ("localhost:1234", "LOCALHOST", "127.0.0.1", "127.0.0.1:8765", "[::1]:8765"):
        assert http.get("/health", headers={"Host": loopback}).status_code == 200, loopback


def _raw(url, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as s:
        s.sendall(request)
        return b"".join(iter(lambda: s.recv(65536), b""))


def test_a_request_without_a_host_header_passes_the_rebinding_guard(url):
    # HTTP/1.0 may omit Host; a browser (the rebinding attack's only way in) always sends one.
    assert _raw(url, b"GET /health HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.1 200")
    assert _raw(url, b"GET /health HTTP/1.0\r\nHost: evil.example\r\n\r\n").startswith(b"HTTP/1.1 403")


def test_the_host_check_remembers_a_bounded_set_of_allowed_hosts():
    import asyncio

    from sql2nl.server.config import LOOPBACK_NAMES
    from sql2nl.server.http import HostCheck

    async def ok(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async def status(check, host):
        sent = []

        async def send(message):
            sent.append(message)

        await check({"type": "http", "path": "/", "headers": [(b"host", host)]}, None, send)
        return sent[0]["status"]

    async def flood():
        check = HostCheck(ok, LOOPBACK_NAMES)
        allowed = [await status(check, f"localhost:{port}".encode()) for port in range(1, 201)]
        refused = [await status(check, f"evil{i}.example".encode()) for i in range(50)]
        again = await status(check, b"localhost:200")  # past the bound: asked again, still allowed
        return check, allowed, refused, again

    check, allowed, refused, again = asyncio.run(flood())
    assert set(allowed) == {200} and set(refused) == {403} and again == 200
    assert len(check.passed) == HostCheck.REMEMBERED and not any(h.startswith(b"evil") for h in check.passed)


def test_a_bad_host_pattern_is_refused_at_start():
    with pytest.raises(InvalidInputError, match=r"\*\.example\.com"):
        ServerConfig(allowed_hosts=("ex*ample.com",))
    r = CliRunner().invoke(cli, ["serve", "--allow-host", "*example.com"])
    assert r.exit_code != 0 and "'*.example.com'" in r.output and "Traceback" not in r.output


def test_allowed_hosts_are_configurable():
    with serve(allowed_hosts=("sql2nl.internal", "*.corp.example")) as u:

        def status(host):
            return httpx.get(f"{u}/health", headers={"Host": host}).status_code

        assert status("sql2nl.internal:8765") == 200 and status("box.corp.example") == 200
        assert status("localhost") == 403 and status("corp.example.evil") == 403
    with serve(host="0.0.0.0", token="s3cret") as u:  # off loopback the token guards; any Host is fine
        assert httpx.get(f"{u}/health", headers={"Host": "box.lan"}).status_code == 200


# -- security ------------------------------------------------------------------------------------------
def test_binding_off_loopback_needs_a_token():
    with pytest.raises(InvalidInputError, match="--token"):
        ServerConfig(host="0.0.0.0")
    ServerConfig(host="0.0.0.0", token="s3cret")  # allowed with a token
    r = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--port", "1"])
    assert r.exit_code != 0 and "--token" in r.output


def test_token_is_checked_when_set():
    with serve(token="s3cret") as u:
        assert httpx.get(f"{u}/v1/models").status_code == 401
        assert httpx.get(f"{u}/v1/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
        r = httpx.get(f"{u}/v1/models", headers={"Authorization": "Bearer s3cret"})
        assert r.status_code == 200
        assert httpx.get(f"{u}/health").status_code == 200  # liveness stays open


def test_without_a_token_any_bearer_is_accepted(http):
    assert http.get("/v1/models", headers={"Authorization": "Bearer sk-whatever"}).status_code == 200


def test_missing_extra_names_the_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "uvicorn" else real(name, *a))
    r = CliRunner().invoke(cli, ["serve"])
    assert r.exit_code != 0 and "pip install 'sql2nl[server]'" in r.output
    assert "from a checkout of sql2nl: pip install '.[server]'" in r.output


def test_unix_socket(tmp_path):
    path = str(tmp_path / "sql2nl.sock")
    with ServerThread(create_app(ServerConfig(uds=path)), uds=path) as u:
        with httpx.Client(transport=httpx.HTTPTransport(uds=path), base_url=u) as c:
            assert c.post("/v1/describe", json={"sql": SQL}).json()["text"] == sql2nl.describe(SQL).text


# -- a backend that fails, hangs or is overloaded: clean errors, and the server keeps serving ----------
def test_backend_that_raises_gives_502_and_server_survives():
    with serve(backend="explode") as u:
        r = httpx.post(f"{u}/v1/describe", json={"sql": SQL})
        assert r.status_code == 502 and "boom (injected)" in r.json()["error"]["message"]
        r = httpx.post(f"{u}/v1/chat/completions", json={"messages": [{"role": "user", "content": SQL}]})
        assert r.status_code == 502
        assert httpx.get(f"{u}/health").status_code == 200


def test_backend_that_hangs_gives_504_then_503_when_stuck():
    Hanging.release.clear()
    Hanging.started = 0
    try:
        with serve(backend="hang", timeout_s=0.3, max_concurrency=1) as u:
            t0 = time.monotonic()
            r = httpx.post(f"{u}/v1/describe", json={"sql": SQL}, timeout=10)
            assert r.status_code == 504 and "0.3 s" in r.json()["error"]["message"]
            assert time.monotonic() - t0 < 5
            assert httpx.get(f"{u}/health").json()["stuck"] == 1
            r = httpx.post(f"{u}/v1/describe", json={"sql": SQL + " LIMIT 1"}, timeout=10)
            assert r.status_code == 504
            # Two abandoned threads (2 x concurrency): refuse rather than start more.
            r = httpx.post(f"{u}/v1/describe", json={"sql": SQL + " LIMIT 2"}, timeout=10)
            assert r.status_code == 503 and r.json()["error"]["code"] == "backend_stuck"
            assert Hanging.started == 2
            Hanging.release.set()  # the backend recovers: the stuck count drains
            deadline = time.monotonic() + 5
            while httpx.get(f"{u}/health").json()["stuck"] and time.monotonic() < deadline:
                time.sleep(0.05)
            assert httpx.get(f"{u}/health").json()["stuck"] == 0
    finally:
        Hanging.release.set()


def test_bounded_queue_gives_503():
    Hanging.release.clear()
    try:
        with serve(backend="hang", timeout_s=5, max_concurrency=1, max_queue=1) as u:
            results = []

            def call(i):
                results.append(httpx.post(f"{u}/v1/describe", json={"sql": f"{SQL} LIMIT {i}"}, timeout=10).status_code)

            threads = [threading.Thread(target=call, args=(i,)) for i in range(2)]
            for t in threads:
                t.start()
            deadline = time.monotonic() + 5
            while httpx.get(f"{u}/health").json()["waiting"] < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            r = httpx.post(f"{u}/v1/describe", json={"sql": SQL}, timeout=10)
            assert r.status_code == 503 and r.json()["error"]["code"] == "overloaded"
            assert r.headers["retry-after"]
            Hanging.release.set()
            for t in threads:
                t.join()
            assert results == [200, 200]
    finally:
        Hanging.release.set()


def test_client_disconnecting_mid_stream_stops_the_backend():
    SlowStream.yielded = 0
    SlowStream.finished.clear()
    with serve(backend="slowstream") as u:
        host, port = u.removeprefix("http://").split(":")
        body = json.dumps(
            {"model": "m", "stream": True, "messages": [{"role": "user", "content": "```sql\nSELECT a FROM t\n```"}]}
        ).encode()
        with socket.create_connection((host, int(port))) as s:
            s.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            got = b""
            while b"piece1" not in got:
                got += s.recv(65536)
        assert b"text/event-stream" in got
        # The worker notices at its next piece and stops, well before its 40 pieces.
        assert SlowStream.finished.wait(5)
        assert SlowStream.yielded < 40
        r = httpx.post(f"{u}/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 200


def test_streaming_backend_streams_through_and_times_out_cleanly():
    Chunky.stall.clear()
    try:
        with serve(backend="chunky", timeout_s=0.5) as u:
            msg = {"role": "user", "content": "```sql\nSELECT name FROM users\n```"}
            r = httpx.post(f"{u}/v1/chat/completions", json={"stream": True, "messages": [msg]})
            chunks = [json.loads(x[6:]) for x in r.text.split("\n\n") if x.startswith("data: {")]
            deltas = [c["choices"][0]["delta"].get("content") for c in chunks if c["choices"]]
            assert [d for d in deltas if d] == ["Lists ", "the names ", "of users."]  # the backend's own pieces
            assert r.text.rstrip().endswith("data: [DONE]")

            stalled = {"role": "user", "content": "```sql\nSELECT stall FROM users\n```"}
            t0 = time.monotonic()
            r = httpx.post(f"{u}/v1/chat/completions", json={"stream": True, "messages": [stalled]}, timeout=10)
            assert time.monotonic() - t0 < 5
            events = [json.loads(x[6:]) for x in r.text.split("\n\n") if x.startswith("data: {")]
            assert events[1]["choices"][0]["delta"]["content"] == "Lists "  # what came before the stall
            assert events[-1]["error"]["code"] == "timeout"
            assert httpx.get(f"{u}/health").status_code == 200
    finally:
        Chunky.stall.set()


def test_event_stream_wire_format(http):
    """What OpenAI clients and DBeaver parse: LF-framed events, one JSON data line each, [DONE] last."""
    r = http.post("/v1/chat/completions", json={"stream": True, "messages": [{"role": "user", "content": SQL}]})
    assert r.headers["content-type"].startswith("text/event-stream") and r.headers["cache-control"] == "no-cache"
    assert "\r" not in r.text and r.text.endswith("data: [DONE]\n\n")
    events = r.text.split("\n\n")[:-1]
    assert all(e.startswith("data: ") and "\n" not in e for e in events)
    deltas = [json.loads(e[6:])["choices"][0]["delta"].get("content") for e in events[:-1]]
    assert "".join(d for d in deltas if d) == sql2nl.describe(SQL).text
    r = http.post("/v1/responses", json={"stream": True, "input": SQL})
    events = r.text.split("\n\n")[:-1]
    kinds = [e.split("\n")[0].removeprefix("event: ") for e in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert all(json.loads(e.split("\n")[1].removeprefix("data: "))["type"] == k for e, k in zip(events, kinds))


def test_a_slow_model_keeps_the_stream_alive_with_comments(monkeypatch):
    from sql2nl.server import sse

    monkeypatch.setattr(sse, "PING_S", 0.2)
    Chunky.stall.clear()
    try:
        with serve(backend="chunky") as u:
            stalled = {"role": "user", "content": "```sql\nSELECT stall FROM users\n```"}
            got = b""
            with httpx.stream(
                "POST", f"{u}/v1/chat/completions", json={"stream": True, "messages": [stalled]}, timeout=10
            ) as r:
                for raw in r.iter_raw():
                    got += raw
                    if got.count(b": ping") >= 2:
                        Chunky.stall.set()  # the model "answers" once the client has seen it is alive
            comments = [e for e in got.decode().split("\n\n") if e.startswith(":")]
            assert len(comments) >= 2 and all(c.startswith(": ping") for c in comments)
            data = [json.loads(e[6:]) for e in got.decode().split("\n\n") if e.startswith("data: {")]
            text = "".join(c["choices"][0]["delta"].get("content") or "" for c in data if c["choices"])
            assert text == "Lists the names of users." and got.endswith(b"data: [DONE]\n\n")

            openai = require("openai")  # the official client reads past the comments
            Chunky.stall.clear()
            threading.Timer(1.0, Chunky.stall.set).start()
            client = openai.OpenAI(base_url=f"{u}/v1", api_key="x", max_retries=0)
            pieces = [
                c.choices[0].delta.content
                for c in client.chat.completions.create(model="m", stream=True, messages=[stalled])
                if c.choices
            ]
            assert "".join(p or "" for p in pieces) == "Lists the names of users."
    finally:
        Chunky.stall.set()


# -- Ollama-compatible routes ---------------------------------------------------------------------------
def test_ollama_tags_chat_generate(http):
    assert "sql2nl" in [m["name"] for m in http.get("/api/tags").json()["models"]]
    assert http.get("/api/version").json()["version"]
    expected = sql2nl.describe(SQL).text
    r = http.post(
        "/api/chat", json={"model": "any", "stream": False, "messages": [{"role": "user", "content": f"explain {SQL}"}]}
    )
    assert r.json()["message"] == {"role": "assistant", "content": expected} and r.json()["done"] is True

    r = http.post("/api/generate", json={"model": "any", "prompt": f"```sql\n{SQL}\n```"})  # streams by default
    assert r.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(x) for x in r.text.splitlines()]
    assert lines[-1]["done"] is True and not any(x["done"] for x in lines[:-1])
    assert "".join(x["response"] for x in lines) == expected


# -- finding the SQL in a chat message ----------------------------------------------------------------
DBEAVER_EXPLAIN = (
    "Explain the following SQL query. Describe what it does, step by step.\n\n"
    "SELECT c.name, COUNT(o.id) AS orders\nFROM customers c\nJOIN orders o ON o.customer_id = c.id\n"
    "WHERE o.created_at >= '2024-01-01'\nGROUP BY c.name\nORDER BY orders DESC\nLIMIT 10;\n"
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("```sql\nSELECT a FROM t\n```", ["SELECT a FROM t"]),
        ("look:\n```\nUPDATE t SET a = 1\n```\nthanks", ["UPDATE t SET a = 1"]),
        ("What does select count(*) from t do?", ["select count(*) from t"]),
        ("First SELECT a FROM t; then\nDELETE FROM t WHERE a = 1", ["SELECT a FROM t;", "DELETE FROM t WHERE a = 1"]),
        ("please select the best option from the list", []),
        ("Can you update me on the status? I'd like to create something and drop it.", []),
        ("hello", []),
        ("```python\nprint('SELECT')\n```", []),
    ],
)
def test_find_sql(text, expected):
    assert find_sql(text) == expected


def test_find_sql_in_a_dbeaver_prompt():
    (sql,) = find_sql(DBEAVER_EXPLAIN)
    assert sql.startswith("SELECT c.name") and sql.rstrip(";").endswith("LIMIT 10")


def test_language_detection():
    assert detect_language("解释一下 SELECT a FROM t", sql=["SELECT a FROM t"]) == "zh"
    assert detect_language("explain SELECT a FROM t", sql=["SELECT a FROM t"]) == "en"
    assert detect_language("SELECT '中文' FROM t", sql=["SELECT '中文' FROM t"]) == "en"  # CJK only inside the SQL
    assert detect_language("explain", system="- Use Chinese language in your responses.") == "zh"
    assert detect_language("explain", system="- Use Simplified Chinese language in your responses.") == "zh"
    # DBeaver's language setting wins over the language the user typed in.
    assert detect_language("解释一下", system="- Use English language in your responses.") == "en"
    assert detect_language("解释一下", system="- Use the same language as the user.") == "zh"
    assert is_statement("SELECT a FROM t") and not is_statement("select the best")


def test_facts_can_be_left_out(http):
    r = http.post("/v1/describe", json={"sql": SQL, "facts": False}).json()
    assert r["facts"] == [] and r["text"] == sql2nl.describe(SQL).text
    assert http.post("/v1/describe", json={"sql": SQL, "facts": "no"}).status_code == 422


def test_dialect_hint_from_a_dbeaver_system_prompt():
    assert dialect_hint("Context:\n- SQL dialect: PostgreSQL\n- Server version: 16") == "postgres"
    assert dialect_hint("- SQL dialect: Microsoft SQL Server") == "tsql"
    assert dialect_hint("- SQL dialect: MariaDB 11") == "mysql"
    assert dialect_hint("- SQL dialect: Some Exotic DB") is None
    assert dialect_hint("no context") is None


def test_chat_falls_back_when_the_named_dialect_does_not_parse(http):
    # TOP is T-SQL; a connection DBeaver calls PostgreSQL would fail to parse it, so the server
    # retries with the permissive parser instead of answering "could not describe".
    sql = "SELECT TOP 5 name FROM users ORDER BY age DESC"
    r = http.post(
        "/v1/chat/completions",
        json={
            "messages": [
                {"role": "system", "content": "Context:\n- SQL dialect: PostgreSQL"},
                {"role": "user", "content": f"Explain the following SQL query:\n{sql}"},
            ]
        },
    )
    assert r.json()["choices"][0]["message"]["content"] == sql2nl.describe(sql).text


def test_huge_requests_are_not_cached():
    from sql2nl.server.service import MAX_CACHED_KEY_CHARS, DescribeService

    lru = DescribeService(ServerConfig()).cache
    lru.put(("describe", "x" * (MAX_CACHED_KEY_CHARS + 1), "en"), "big")
    lru.put(("describe", "SELECT 1", "en"), "small")
    assert lru.get(("describe", "x" * (MAX_CACHED_KEY_CHARS + 1), "en")) is None
    assert lru.get(("describe", "SELECT 1", "en")) == "small"


def test_the_serve_command_end_to_end():
    """`sql2nl serve` as users start it: a subprocess on a free port, then a request and a clean stop."""
    import subprocess
    import sys

    from sql2nl.server.runner import free_port

    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sql2nl.cli",
            "serve",
            "--port",
            str(port),
            "-l",
            "zh",
            "--allow-host",
            "sql2nl.internal",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()
            time.sleep(0.1)
        r = httpx.post(f"http://127.0.0.1:{port}/v1/describe", json={"sql": SQL})
        assert r.json()["text"] == sql2nl.describe(SQL, language="zh").text  # -l zh is the default language
        hosts = {
            h: httpx.get(f"http://127.0.0.1:{port}/health", headers={"Host": h}).status_code
            for h in ("sql2nl.internal", "localhost", "evil.example")
        }
        assert hosts == {"sql2nl.internal": 200, "localhost": 200, "evil.example": 403}  # --allow-host adds one
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}/v1/" in err.decode()  # tells the user the base URL to paste
