"""The OpenAI-compatible API as clients see it: the official `openai` client, and DBeaver's exact requests.

A real uvicorn serves on a loopback port; nothing is mocked.
"""

from __future__ import annotations

import json

import pytest
from skips import require

require("starlette")
require("uvicorn")
openai = require("openai")
httpx = require("httpx")

import sql2nl  # noqa: E402
from sql2nl import Backend, hookimpl  # noqa: E402
from sql2nl.guard import correction  # noqa: E402
from sql2nl.plugins import get_plugin_manager, reset_plugin_manager  # noqa: E402
from sql2nl.server.app import create_app  # noqa: E402
from sql2nl.server.config import ServerConfig  # noqa: E402
from sql2nl.server.messages import NO_SQL  # noqa: E402
from sql2nl.server.runner import ServerThread  # noqa: E402

SQL = (
    "SELECT c.name, COUNT(o.id) AS orders FROM customers c JOIN orders o ON o.customer_id = c.id "
    "WHERE o.total > 100 GROUP BY c.name ORDER BY orders DESC LIMIT 10"
)

# What DBeaver (25.x, AI settings -> OpenAI with a custom base URL) sends for "explain this query":
# its system prompt (instructions, connection context, output format) as an input message, the
# user's request with the editor's query, temperature, store=false, streaming, and its tools.
DBEAVER_SYSTEM = """Instructions:
- You are the DBeaver AI assistant.
- Act as a database architect and SQL expert.
- Use tools to ask for database schema information.
- Rely only on the provided schema information, do not make assumptions.
- Use the same language as the user.
- By default generate SQL queries according to user requests. Also answer to general database related questions.
- Stick strictly to SQL dialect syntax.
- Do not invent columns, tables, or data that aren't explicitly defined.
- Use "" to quote identifiers if needed.
- Use '' to quote strings.
- Joins and sub-queries are allowed.

Context:
- SQL dialect: PostgreSQL
- Server version: PostgreSQL 16.4
- DBeaver connection name: shop
- JDBC driver: PostgreSQL JDBC Driver (42.7.4)
- Default schema: public
- Current date and time: 2025-11-25T10:15:30.123+01:00[Europe/Berlin]

Output Format:
- Place any explanation or comments before the SQL code block.
- Provide the SQL query in a fenced Markdown code block.
"""
DBEAVER_USER = (
    f"Explain the following SQL query:\n{SQL.replace(' FROM', chr(10) + 'FROM').replace(' WHERE', chr(10) + 'WHERE')}"
)


def dbeaver_request(stream: bool, user: str = DBEAVER_USER) -> dict:
    return {
        "model": "gpt-4o",
        "input": [
            {"type": "message", "role": "system", "content": [{"type": "input_text", "text": DBEAVER_SYSTEM}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": user}]},
        ],
        "temperature": 0.0,
        "store": False,
        "stream": stream,
        "parallel_tool_calls": False,
        "tools": [
            {
                "type": "function",
                "name": "get_table_columns",
                "description": "Get the columns of a table",
                "strict": False,
                "parameters": {
                    "type": "object",
                    "properties": {"table": {"type": "string", "description": "Table name"}},
                    "required": ["table"],
                },
            }
        ],
    }


class Failing(Backend):
    name = "fails-openai"

    def describe(self, request):
        raise RuntimeError("model crashed (injected)")


class FailPlugin:
    @hookimpl
    def register_backends(self, register):
        register("fails-openai", Failing, description="raises (test)")


@pytest.fixture(scope="module")
def url():
    with ServerThread(create_app(ServerConfig())) as u:
        yield u


@pytest.fixture(scope="module")
def client(url):
    return openai.OpenAI(base_url=f"{url}/v1", api_key="sk-local-anything", max_retries=0, timeout=30)


@pytest.fixture(scope="module")
def expected():
    return sql2nl.describe(SQL).text


def test_models_list(client):
    ids = [m.id for m in client.models.list()]
    assert "sql2nl" in ids and "sql2nl-rules" in ids
    # DBeaver lists unknown models as chat models only when they start with "gpt-" or "o".
    assert any(i.startswith(("gpt-", "o")) for i in ids)
    assert client.models.retrieve("gpt-4o").id == "gpt-4o"  # any name is accepted


def test_chat_completion(client, expected):
    r = client.chat.completions.create(
        model="whatever-model",
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": f"What does this do?\n```sql\n{SQL}\n```"},
        ],
    )
    assert r.choices[0].message.content == expected
    assert r.choices[0].finish_reason == "stop" and r.model == "whatever-model"
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens > 0


def test_chat_completion_streamed(client, expected):
    chunks = list(
        client.chat.completions.create(
            model="m",
            stream=True,
            stream_options={"include_usage": True},
            messages=[{"role": "user", "content": f"explain {SQL}"}],
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == expected
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1  # really in pieces
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_chat_stream_helper_accumulates(client, expected):
    with client.chat.completions.stream(model="m", messages=[{"role": "user", "content": SQL}]) as s:
        final = s.get_final_completion()
    assert final.choices[0].message.content == expected


def test_responses(client, expected):
    r = client.responses.create(model="gpt-4o", input=f"Explain: {SQL}")
    assert r.output_text == expected and r.status == "completed"
    assert r.usage.total_tokens > 0


def test_responses_streamed_events(client, expected):
    events = list(client.responses.create(model="gpt-4o", input=[{"role": "user", "content": SQL}], stream=True))
    types = [e.type for e in events]
    assert types[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert types[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert set(types[4:-4]) == {"response.output_text.delta"} and len(types) > 9
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == expected
    done = events[-1].response
    assert done.output_text == expected and done.usage.output_tokens > 0


def test_responses_stream_helper_validates_the_sequence(client, expected):
    # The client's own accumulator checks that item ids, indexes and parts line up.
    with client.responses.stream(model="gpt-4o", input=SQL) as s:
        final = s.get_final_response()
    assert final.output_text == expected


def test_answers_in_the_users_language(client):
    r = client.chat.completions.create(model="m", messages=[{"role": "user", "content": f"请解释这个查询：{SQL}"}])
    assert r.choices[0].message.content == sql2nl.describe(SQL, language="zh").text


def test_no_sql_gets_a_polite_answer(client):
    r = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "How are you today?"}])
    assert r.choices[0].message.content == NO_SQL["en"]
    r = client.responses.create(model="m", input="你好")
    assert r.output_text == NO_SQL["zh"]


def test_tools_are_ignored(client, expected):
    r = client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": SQL}],
        tools=[
            {"type": "function", "function": {"name": "run_sql", "parameters": {"type": "object", "properties": {}}}}
        ],
    )
    assert r.choices[0].message.content == expected and not r.choices[0].message.tool_calls


def test_backend_failure_is_an_api_error():
    pm = get_plugin_manager()
    pm.register(FailPlugin(), name="test-openai-fail")
    try:
        with ServerThread(create_app(ServerConfig(backend="fails-openai"))) as u:
            c = openai.OpenAI(base_url=f"{u}/v1", api_key="x", max_retries=0)
            with pytest.raises(openai.InternalServerError, match="model crashed"):
                c.chat.completions.create(model="m", messages=[{"role": "user", "content": SQL}])
            with pytest.raises(openai.APIError, match="model crashed"):  # mid-stream: an error event
                list(c.chat.completions.create(model="m", stream=True, messages=[{"role": "user", "content": SQL}]))
            with pytest.raises(openai.APIError, match="model crashed"):
                list(c.responses.create(model="m", input=SQL, stream=True))
            assert c.models.list().data  # still serving
    finally:
        pm.unregister(name="test-openai-fail")
        reset_plugin_manager()


# -- DBeaver's exact requests, over raw HTTP ------------------------------------------------------------
def _sse(text: str) -> list[tuple[str | None, dict]]:
    out = []
    for block in text.strip().split("\n\n"):
        event = None
        for line in block.splitlines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                out.append((event, json.loads(line[6:])))
    return out


def test_dbeaver_responses_stream(url, expected):
    with httpx.Client(timeout=30) as h:
        r = h.post(
            f"{url}/v1/responses",
            json=dbeaver_request(stream=True),
            headers={"Authorization": "Bearer dbeaver-sends-a-key", "Accept": "text/event-stream"},
        )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = _sse(r.text)
    assert all(ev == data["type"] for ev, data in events)  # DBeaver reads both the event: and data: lines
    assert "".join(d["delta"] for _, d in events if d["type"] == "response.output_text.delta") == expected
    completed = events[-1][1]
    assert completed["type"] == "response.completed"
    usage = completed["response"]["usage"]  # DBeaver reads usage from response.completed
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert "input_tokens_details" in usage and "output_tokens_details" in usage


def test_dbeaver_responses_plain(url, expected):
    r = httpx.post(f"{url}/v1/responses", json=dbeaver_request(stream=False), timeout=30)
    body = r.json()
    assert body["output"][0]["content"][0] == {
        "type": "output_text",
        "text": expected,
        "annotations": [],
        "logprobs": [],
    }


def test_dbeaver_chat_fallback_shape(url, expected):
    # DBeaver falls back to chat completions for models the Responses API refuses.
    r = httpx.post(
        f"{url}/v1/chat/completions",
        timeout=30,
        json={
            "model": "gpt-4o",
            "temperature": 0.0,
            "stream": True,
            "messages": [{"role": "system", "content": DBEAVER_SYSTEM}, {"role": "user", "content": DBEAVER_USER}],
        },
    )
    lines = [x for x in r.text.split("\n\n") if x]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(x[6:]) for x in lines[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == expected


def test_dbeaver_language_setting_is_followed(url):
    body = dbeaver_request(stream=False)
    body["input"][0]["content"][0]["text"] = DBEAVER_SYSTEM.replace(
        "Use the same language as the user.", "Use Chinese language in your responses."
    )
    r = httpx.post(f"{url}/v1/responses", json=body, timeout=30)
    assert r.json()["output_text"] == sql2nl.describe(SQL, language="zh").text


@pytest.mark.slow
def test_a_real_llm_backend_is_served_and_streams_token_pieces(tmp_path):
    """The transformers backend on a tiny scratch model: the client gets the model's own stream pieces."""
    for mod in ("torch", "transformers", "sql2nl_transformers", "sql2nl_training"):
        require(mod)
    import sys
    from pathlib import Path

    import torch

    sys.path.insert(0, str(Path(__file__).parent))
    import tinymodels as tm

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        opts = {"model": str(tm.build_tiny(tmp_path / "tiny")), "max_new_tokens": 12}
        sql = "SELECT name FROM singer WHERE age > 30"
        with ServerThread(create_app(ServerConfig(backend="transformers", backend_options=opts))) as u:
            c = openai.OpenAI(base_url=f"{u}/v1", api_key="x", max_retries=0, timeout=120)
            streamed = [
                ch.choices[0].delta.content
                for ch in c.chat.completions.create(model="m", stream=True, messages=[{"role": "user", "content": sql}])
                if ch.choices and ch.choices[0].delta.content
            ]
            plain = c.chat.completions.create(model="m", messages=[{"role": "user", "content": sql}])
            events = list(c.responses.create(model="m", input=sql, stream=True))
        local = sql2nl.describe_stream(sql, backend="transformers", cache=False, **opts)
        pieces = list(local)
        # The random model's answer is unfaithful; with the default on_unfaithful="warn" every chat
        # reply, streamed or not, ends with the guard's note after the model's own pieces.
        note = correction(local.description().guard)
        assert note and streamed == pieces + [note]
        assert plain.choices[0].message.content == sql2nl.describe(sql, backend="transformers", **opts).text + note
        assert events[-1].response.output_text == "".join(streamed)
    finally:
        torch.set_num_threads(threads)
