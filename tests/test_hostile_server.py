"""Hostile-input pass (issue 16): the HTTP server, every POST route, with a real uvicorn on loopback.

Each input class of ``hostile.INPUTS`` is sent through the JSON API, the OpenAI-style routes and the
Ollama-style routes; then raw bodies no client library would send (bad JSON, invalid UTF-8, JSON nested
100,000 deep, a 10,000-digit number, wrong types, over the size limit) and half-sent requests. Every
answer must be a 2xx with a description/chat message or a 4xx with a JSON error saying what is wrong:
never a 5xx, a dropped connection or a hang. The server must still answer afterwards.
"""

from __future__ import annotations

import json
import socket

import pytest
from hostile import CHEAP, INPUTS
from skips import require

require("starlette")
require("uvicorn")
httpx = require("httpx")

from sql2nl.server.app import create_app  # noqa: E402
from sql2nl.server.config import ServerConfig  # noqa: E402
from sql2nl.server.runner import ServerThread  # noqa: E402

ROUTES = ["/v1/describe", "/v1/describe/batch", "/v1/chat/completions", "/v1/responses", "/api/chat", "/api/generate"]


def body(route: str, sql: str, dialect: str | None) -> dict:
    if route == "/v1/describe":
        return {"sql": sql, **({"dialect": dialect} if dialect else {})}
    if route == "/v1/describe/batch":
        return {"items": [{"sql": sql, **({"dialect": dialect} if dialect else {})}, "SELECT 1"]}
    if route == "/v1/chat/completions":
        return {"model": "sql2nl", "messages": [{"role": "user", "content": sql}]}
    if route == "/v1/responses":
        return {"model": "sql2nl", "input": sql}
    if route == "/api/chat":
        return {"model": "sql2nl", "messages": [{"role": "user", "content": sql}], "stream": False}
    return {"model": "sql2nl", "prompt": sql, "stream": False}


@pytest.fixture(scope="module")
def http():
    with ServerThread(create_app(ServerConfig(max_body_bytes=1_000_000))) as url:
        # A hang guard for each request, not a speed assertion.
        with httpx.Client(base_url=url, timeout=120) as c:
            yield c


def _clean(r) -> dict:
    """The answer is a 2xx or 4xx JSON document (never a 5xx or a traceback)."""
    assert r.status_code < 500, (r.status_code, r.text[:300])
    assert "Traceback" not in r.text
    return r.json() if r.headers.get("content-type", "").startswith("application/json") else {}


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("kind", [k for k in CHEAP if k != "invalid-utf8-bytes"] + ["10k-columns"])
def test_hostile_sql_on_every_route(http, route, kind):
    sql, dialect, expected = INPUTS[kind]
    r = http.post(
        route, content=json.dumps(body(route, sql, dialect)).encode(), headers={"content-type": "application/json"}
    )
    data = _clean(r)
    if route == "/v1/describe":
        if expected == "described":
            assert r.status_code == 200 and data["text"].strip()
        else:
            assert r.status_code == 422 and data["error"]["message"], data
    elif route == "/v1/describe/batch":
        first, second = data["results"]
        assert second["text"] == "Compute the value 1."
        assert first["text"].strip() if expected == "described" else first["error"]["message"], first
    else:  # chat routes answer in a message, whatever the user wrote
        assert r.status_code in (200, 400, 422), r.text[:300]
        if r.status_code == 200:
            assert json.dumps(data, ensure_ascii=False).encode("utf-8")


def _answer_text(r) -> str:
    """The assistant's words, from a JSON answer or an Ollama NDJSON stream (pieces joined)."""
    if r.headers.get("content-type", "").startswith("application/json"):
        return json.dumps(r.json(), ensure_ascii=False)
    parts = [json.loads(line) for line in r.text.splitlines() if line.strip()]
    return "".join((p.get("message") or {}).get("content", "") or p.get("response", "") for p in parts)


RAW = {
    "bad-json": b"{bad",
    "invalid-utf8": b'{"sql": "SELECT \xff\xfe"}',
    "deep-json-array": b"[" * 100_000 + b"]" * 100_000,
    "deep-json-object": b'{"sql":' + b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"}",
    "lone-surrogate-escapes": (
        b'{"sql": "SELECT \\ud800 FROM t", "messages": [{"role": "user", "content": '
        b'"SELECT \\udc00 FROM t"}], "prompt": "SELECT \\udfff", "input": "SELECT \\ud800"}'
    ),
    "wrong-types": b'{"messages": "SELECT 1", "prompt": 5, "input": [1, 2], "sql": ["x"], "items": 3}',
    "null": b"null",
    "10k-digit-number": b'{"sql": 1' + b"0" * 10_000 + b"}",
    "nan": b'{"sql": NaN, "messages": NaN, "prompt": Infinity}',
    "over-the-limit": json.dumps({"sql": "SELECT " + "a, " * 400_000 + "b"}).encode(),
}


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("kind", sorted(RAW))
def test_raw_bodies_get_client_errors(http, route, kind):
    r = http.post(route, content=RAW[kind], headers={"content-type": "application/json"})
    data = _clean(r)
    if kind == "lone-surrogate-escapes" and route in ROUTES[2:]:
        # Valid JSON, so chat routes answer in a message, which names the character and what to do.
        assert r.status_code == 200, r.text[:300]
        text = _answer_text(r)
        assert "lone surrogate" in text and "U+D" in text, text
        return
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    assert data["error"]["message"], data
    if kind == "over-the-limit":
        assert r.status_code == 413


def test_half_sent_requests_do_not_block_others(http):
    # Slowloris, cheaply: many connections each holding half a request; a normal client is still served.
    host, port = str(http.base_url).split("//")[1].rstrip("/").split(":")
    held = []
    try:
        for _ in range(64):
            s = socket.create_connection((host, int(port)), timeout=10)
            s.sendall(
                b"POST /v1/describe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100\r\n\r\n{"sql"'
            )
            held.append(s)
        r = http.post("/v1/describe", json={"sql": "SELECT name FROM users"})
        assert r.status_code == 200 and r.json()["text"]
        assert http.get("/health").status_code == 200
    finally:
        for s in held:
            s.close()
