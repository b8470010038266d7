"""The server's chat routes under load: a real uvicorn on loopback, 64 concurrent httpx clients
sending 4 KB messages with and without SQL (valid, with typos, unbalanced quotes and parentheses).

Every answer is checked; latency is measured in benchmarks/bench_server.py (chat-4k), not here.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import Counter

import pytest
from skips import require

require("starlette")
require("uvicorn")
httpx = require("httpx")

import sql2nl  # noqa: E402
from sql2nl import Backend, Draft, hookimpl  # noqa: E402
from sql2nl.plugins import get_plugin_manager, reset_plugin_manager  # noqa: E402
from sql2nl.server.app import create_app  # noqa: E402
from sql2nl.server.config import ServerConfig  # noqa: E402
from sql2nl.server.messages import CANNOT_DESCRIBE, CAPPED, NO_SQL  # noqa: E402
from sql2nl.server.runner import ServerThread  # noqa: E402

SIZE = 4_000
KINDS = ("prose", "valid", "typo", "quote", "paren", "mixed")
COULD_NOT = CANNOT_DESCRIBE["en"].split("{")[0]


def position(text: str, needle: str) -> tuple[int, int]:
    i = text.index(needle)
    return text.count("\n", 0, i) + 1, i - (text.rfind("\n", 0, i) + 1) + 1


def _prose(size: int, seed: int) -> str:
    lines = []
    while sum(len(x) + 1 for x in lines) < size:
        n = seed * 100 + len(lines)
        lines.append(
            f"Can you select the rows from orders where the total is above {n}, and then update the "
            "totals set by the finance team? Also create a table view of it, or alter the index if "
            f"it's slow; I'd drop the table of contents from report {n}."
        )
    return "\n".join(lines)


def _select(size: int, seed: int, where: str) -> str:
    lines = [f"SELECT o.id, o.total_{seed} AS total", "FROM orders o", where]
    i = 0
    while sum(len(x) + 1 for x in lines) < size:
        lines.append(f"  AND (o.region_{i} IN ('north', 'south') OR o.amount_{i} BETWEEN {i} AND {seed + i})")
        i += 1
    return "\n".join(lines + ["ORDER BY o.id;"])


def chat_message(kind: str, seed: int) -> tuple[str, object]:
    """A ~4 KB message and what the answer must be (a string, or a function that checks it)."""
    intro = "Explain the following SQL query:\n"
    if kind == "prose":
        return _prose(SIZE, seed), NO_SQL["en"]
    if kind == "valid":
        sql = _select(SIZE, seed, f"WHERE o.total > {seed}")
        return intro + sql, sql2nl.describe(sql).text
    if kind == "typo":
        text = intro + _select(SIZE, seed, f"WHERE o.total > {seed} AND AND o.open = 1")
        line, col = position(text, "AND o.open")  # the second AND: the operator missing its left side

        def check(answer: str) -> None:
            assert answer.startswith(COULD_NOT) and f"at line {line}, column {col}" in answer, answer[:300]

        return text, check
    if kind == "quote":
        text = intro + _select(SIZE, seed, f"WHERE o.note = 'late AND o.total > {seed}")
        line, col = position(text, "'late")

        def check(answer: str) -> None:
            assert answer.startswith(COULD_NOT) and f"at line {line}, column {col}" in answer, answer[:300]
            assert "never closed" in answer

        return text, check
    if kind == "paren":
        text = intro + _select(SIZE, seed, f"WHERE (o.total > {seed}")
        line, col = position(text, "(o.total")

        def check(answer: str) -> None:
            assert answer.startswith(COULD_NOT), answer[:300]
            assert f"the '(' at line {line}, column {col} is never closed" in answer, answer[:300]

        return text, check
    if kind == "mixed":
        one, two = f"SELECT name FROM users_{seed} WHERE age > 30;", f"DELETE FROM users_{seed} WHERE active = 0;"
        side = _prose(SIZE // 2, seed)
        text = f"{side}\nHere is what I run:\n```sql\n{one}\n{two}\n```\n{side}"
        return text, f"1. {sql2nl.describe(one).text}\n2. {sql2nl.describe(two).text}"
    raise ValueError(kind)


def _check(answer: str, expected: object) -> None:
    if callable(expected):
        expected(answer)
    else:
        assert answer == expected


@pytest.fixture(scope="module")
def url():
    # The default limits (4 backend threads); keep-alive longer than uvicorn's 5 s, so that a pooled
    # connection is not closed by the server just as a client reuses it (httpx does not retry a POST).
    with ServerThread(create_app(ServerConfig()), timeout_keep_alive=120) as u:
        yield u


def _post(url: str, text: str, **extra) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        timeout=60,
        json={"model": "sql2nl", "messages": [{"role": "user", "content": text}], **extra},
    )


def test_a_typo_gets_its_error_and_position_not_no_sql(url):
    text = "Why does this fail?\nSELECT name FROM users WHER age > 18\nThanks!"
    answer = _post(url, text).json()["choices"][0]["message"]["content"]
    line, col = position(text, "age >")
    assert answer.startswith(COULD_NOT) and f"at line {line}, column {col}" in answer and NO_SQL["en"] not in answer


def test_several_statements_some_broken_are_numbered_in_order(url):
    text = "```sql\nSELECT name FROM users;\nSELECT name FRM users;\nDELETE FROM users WHERE age < 18;\n```"
    answer = _post(url, text).json()["choices"][0]["message"]["content"]
    first, second, third = answer.split("\n")
    assert first == f"1. {sql2nl.describe('SELECT name FROM users').text}"
    assert second.startswith(f"2. {COULD_NOT}") and "at line 3," in second
    assert third == f"3. {sql2nl.describe('DELETE FROM users WHERE age < 18').text}"


def test_no_sql_is_answered_with_how_to_send_it(url):
    r = httpx.post(
        f"{url}/api/chat",
        timeout=60,
        json={"model": "m", "stream": False, "messages": [{"role": "user", "content": _prose(SIZE, 1)}]},
    )
    assert r.json()["message"]["content"] == NO_SQL["en"] and "```sql" in NO_SQL["en"]


def test_capped_searches_say_so(url):
    lines = "\n".join(f"SELECT a{i} FROM t WHERE b = {i};" for i in range(30))
    answer = _post(url, lines).json()["choices"][0]["message"]["content"]
    described = [f"{i + 1}. {sql2nl.describe(f'SELECT a{i} FROM t WHERE b = {i}').text}" for i in range(20)]
    assert answer == "\n".join(described) + "\n\n" + CAPPED["en"]["statements"]  # the first 20, then the note


def test_streamed_answers_carry_the_error_too(url):
    text = "SELECT name FROM users WHERE note = 'late"
    r = _post(url, text, stream=True)
    chunks = [json.loads(x[6:]) for x in r.text.split("\n\n") if x.startswith("data: {")]
    answer = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert answer.startswith(COULD_NOT) and "at line 1, column 37" in answer


def test_64_clients_sending_4kb_messages_all_get_right_answers_and_no_503(url):
    per_client = 3
    plans = [
        [chat_message(KINDS[(i + j) % len(KINDS)], seed=i * per_client + j) for j in range(per_client)]
        for i in range(64)
    ]
    assert all(3_800 <= len(text) <= 6_000 for plan in plans for text, _ in plan)

    async def client(http: httpx.AsyncClient, plan: list) -> list[tuple[int, str, object]]:
        out = []
        for text, expected in plan:
            r = await http.post(
                "/v1/chat/completions", json={"model": "sql2nl", "messages": [{"role": "user", "content": text}]}
            )
            answer = r.json()["choices"][0]["message"]["content"] if r.status_code == 200 else r.text
            out.append((r.status_code, answer, expected))
        return out

    async def main() -> list:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
            return await asyncio.gather(*(client(http, plan) for plan in plans))

    results = [r for rs in asyncio.run(main()) for r in rs]
    assert Counter(status for status, _, _ in results) == Counter({200: 64 * per_client})
    for _, answer, expected in results:
        _check(answer, expected)
    assert httpx.get(f"{url}/health").json()["stuck"] == 0


def test_a_client_that_hangs_up_does_not_keep_its_slot():
    """Clients that send a heavy message and disconnect at once leave no thread or slot behind."""
    with ServerThread(create_app(ServerConfig(max_concurrency=1))) as u:
        host, port = u.removeprefix("http://").split(":")
        heavy = json.dumps({"messages": [{"role": "user", "content": chat_message("typo", 7)[0] * 10}]}).encode()
        for _ in range(4):
            with socket.create_connection((host, int(port))) as s:
                s.sendall(
                    b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json"
                    + f"\r\nContent-Length: {len(heavy)}\r\n\r\n".encode()
                    + heavy
                )
        deadline = time.monotonic() + 30
        while httpx.get(f"{u}/health").json()["waiting"] and time.monotonic() < deadline:
            time.sleep(0.05)
        health = httpx.get(f"{u}/health").json()
        assert health["waiting"] == 0 and health["stuck"] == 0
        text, expected = chat_message("valid", 8)
        r = _post(u, text)
        assert r.status_code == 200
        _check(r.json()["choices"][0]["message"]["content"], expected)


class Slow(Backend):
    """Takes a while and counts its calls, like a model generating (registered as a plugin would be)."""

    name = "slow-counting"
    calls = 0
    lock = threading.Lock()

    def describe(self, request):
        with Slow.lock:
            Slow.calls += 1
        time.sleep(0.3)
        return Draft(text=f"Described: {request.sql}")


class SlowPlugin:
    @hookimpl
    def register_backends(self, register):
        register("slow-counting", Slow, description="sleeps 0.3 s and counts calls (test)")


def test_the_same_message_from_many_clients_at_once_is_answered_once():
    pm = get_plugin_manager()
    pm.register(SlowPlugin(), name="test-server-chat-slow")
    Slow.calls = 0
    try:
        with ServerThread(create_app(ServerConfig(backend="slow-counting", max_concurrency=2, max_queue=4))) as u:
            text = "Explain the following SQL query:\nSELECT name FROM users WHERE age > 18"

            async def main() -> list[httpx.Response]:
                async with httpx.AsyncClient(base_url=u, timeout=30) as http:
                    return await asyncio.gather(
                        *(
                            http.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": text}]})
                            for _ in range(20)
                        )
                    )

            responses = asyncio.run(main())
        # 20 requests, a queue of 4: without sharing the computation most would get 503.
        assert [r.status_code for r in responses] == [200] * 20
        assert {r.json()["choices"][0]["message"]["content"] for r in responses} == {
            "Described: SELECT name FROM users WHERE age > 18"
        }
        assert Slow.calls == 1
    finally:
        pm.unregister(name="test-server-chat-slow")
        reset_plugin_manager()
