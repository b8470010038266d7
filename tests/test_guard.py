"""The faithfulness guard on every path, with a deliberately wrong LLM backend registered through the plugin hook.

The library (describe, describe_many, describe_stream), the CLI, the server (both OpenAI routes,
streamed and not, through the official `openai` client; the Ollama routes over HTTP) and the
language server (a real LSP client) must agree: ``fallback`` never shows the wrong text, ``warn``
shows it with a visible warning, best of n keeps the faithful candidate and says what it cost.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import pytest
import wrongllm
from click.testing import CliRunner
from skips import require
from wrongllm import RIGHT, SQL, WRONG, Wrong

from sql2nl import describe, describe_many, describe_stream
from sql2nl.cli import cli
from sql2nl.plugins import unregister_plugin

RULES = describe(SQL, cache=False).text


@pytest.fixture(autouse=True)
def wrong():
    Wrong.batches = []
    name = wrongllm.register()
    yield Wrong
    unregister_plugin(name)


# -- the library ---------------------------------------------------------------------------------
def test_warn_keeps_the_text_and_says_what_is_missing():
    d = describe(SQL, backend="wrong", cache=False)
    assert d.text == WRONG and d.backend == "wrong"
    assert any("value Oslo" in w for w in d.warnings)
    assert d.guard["faithful"] is False and d.guard["fell_back"] is False and d.guard["candidates"] == 1


def test_fallback_answers_with_the_rules_describer():
    d = describe(SQL, backend="wrong", on_unfaithful="fallback", cache=False)
    assert d.text == RULES and d.backend == "rules" and d.guard["fell_back"] is True


def test_mend_appends_what_is_left_out_and_keeps_the_models_words():
    from sql2nl.llm import LLMOptions

    assert LLMOptions().mend is True  # the library's default (the test backend turns it off)
    for mode in ("fallback", "retry"):
        d = describe(SQL, backend="wrong", on_unfaithful=mode, good_from=0, retries=1, mend=True, cache=False)
        assert d.backend == "wrong" and d.text.startswith(WRONG.rstrip(".") + ",") and "Oslo" in d.text, d.text
        assert d.faithfulness == 1.0 and not d.warnings
        assert d.guard["mended"] and not d.guard["fell_back"] and d.guard["faithful"]
    r = describe_stream(SQL, backend="wrong", on_unfaithful="fallback", mend=True, cache=False)
    assert "".join(r) == d.text and r.description().guard["mended"]


def test_mend_leaves_warn_mode_and_other_languages_alone():
    d = describe(SQL, backend="wrong", mend=True, cache=False)  # warn: the model's text as it is
    assert d.text == WRONG and not d.guard["mended"]
    d = describe(SQL, backend="wrong", on_unfaithful="fallback", mend=True, language="zh", cache=False)
    assert d.backend == "rules" and d.guard["fell_back"] and not d.guard["mended"]


def test_stream_with_fallback_never_shows_the_wrong_text():
    r = describe_stream(SQL, backend="wrong", on_unfaithful="fallback", cache=False)
    pieces = list(r)
    assert "".join(pieces) == RULES and not any("all users" in p for p in pieces)
    assert r.description().backend == "rules" and r.description().guard["fell_back"]


def test_stream_with_warn_streams_live_then_carries_the_warnings():
    r = describe_stream(SQL, backend="wrong", cache=False)
    pieces = list(r)
    assert len(pieces) > 3 and "".join(pieces) == WRONG  # live, in the model's own pieces
    d = r.description()
    assert d.text == WRONG and any("value Oslo" in w for w in d.warnings) and not d.guard["faithful"]


def test_streamed_and_whole_answers_agree_for_every_mode():
    for mode in ("warn", "fallback", "retry"):
        whole = describe(SQL, backend="wrong", on_unfaithful=mode, good_from=0, cache=False)
        r = describe_stream(SQL, backend="wrong", on_unfaithful=mode, good_from=0, cache=False)
        assert "".join(r) == whole.text and r.description().warnings == whole.warnings, mode


def test_best_of_n_keeps_the_faithful_candidate_in_one_batch():
    d = describe(SQL, backend="wrong", candidates=4, good_from=3, cache=False)
    assert d.text == RIGHT and d.guard["faithful"] and d.guard["candidates"] == 4 and d.guard["retries"] == 0
    assert d.guard["first_faithfulness"] < 1.0 == d.faithfulness
    assert Wrong.batches == [(1, None), (3, 0.7)]  # the greedy answer, then n-1 samples in one call


def test_best_of_n_ties_keep_the_greedy_answer():
    d = describe(SQL, backend="wrong", candidates=3, good_from=0, cache=False)
    assert d.text == WRONG and d.guard["candidates"] == 3  # the samples were no better


def test_a_perfect_first_answer_costs_no_samples():
    d = describe("SELECT name FROM users", backend="wrong", candidates=5, cache=False)
    assert d.guard["faithful"] and d.guard["candidates"] == 1 and Wrong.batches == [(1, None)]


def test_retry_counts_its_retries_then_falls_back():
    d = describe(SQL, backend="wrong", on_unfaithful="retry", retries=2, good_from=0, cache=False)
    assert d.backend == "rules" and d.guard["retries"] == 2 and d.guard["fell_back"] and d.guard["candidates"] == 3
    d = describe(SQL, backend="wrong", on_unfaithful="retry", retries=3, good_from=2, cache=False)
    assert d.text == RIGHT and d.guard["retries"] == 2 and not d.guard["fell_back"]


def test_describe_many_samples_every_imperfect_statement_in_one_batch():
    sqls = [SQL, SQL.replace("Oslo", "Bergen"), "SELECT name FROM users"]
    ds = describe_many(sqls, backend="wrong", candidates=3, good_from=0, cache=False)
    assert [d.guard["candidates"] for d in ds] == [3, 3, 1]
    assert Wrong.batches == [(3, None), (4, 0.7)]  # 2 imperfect statements x 2 more candidates


def test_cached_warn_answer_is_not_returned_to_a_fallback_call():
    assert describe(SQL, backend="wrong").backend == "wrong"
    assert describe(SQL, backend="wrong", on_unfaithful="fallback").backend == "rules"
    assert describe(SQL, backend="wrong", candidates=2).guard["candidates"] == 2


# -- the command line ------------------------------------------------------------------------------
def test_cli_streams_the_fallback_and_warns_in_warn_mode():
    r = CliRunner().invoke(cli, ["describe", "-b", "wrong", "-o", "on_unfaithful=fallback", "--no-cache", SQL])
    assert r.exit_code == 0 and r.stdout.strip() == RULES and "answered with the rules describer" in r.stderr
    r = CliRunner().invoke(cli, ["describe", "-b", "wrong", "--no-cache", SQL])
    assert r.exit_code == 0 and r.stdout.strip() == WRONG and "warning: the description may not mention" in r.stderr
    r = CliRunner().invoke(
        cli, ["describe", "-b", "wrong", "-o", "candidates=3", "-o", "good_from=1", "--json", "--no-cache", SQL]
    )
    assert json.loads(r.stdout)["guard"]["candidates"] == 3 and json.loads(r.stdout)["text"] == RIGHT


# -- the server: official openai client, Ollama routes ----------------------------------------------
def _server(**options):
    require("uvicorn")
    from sql2nl.server.app import create_app
    from sql2nl.server.config import ServerConfig
    from sql2nl.server.runner import ServerThread

    return ServerThread(create_app(ServerConfig(backend="wrong", backend_options=options)))


def _all_routes(url: str) -> dict[str, str]:
    openai = require("openai")
    httpx = require("httpx")
    c = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0, timeout=30)
    msgs = [{"role": "user", "content": f"Explain: {SQL}"}]
    out = {
        "chat": c.chat.completions.create(model="m", messages=msgs).choices[0].message.content,
        "chat-stream": "".join(
            ch.choices[0].delta.content or ""
            for ch in c.chat.completions.create(model="m", messages=msgs, stream=True)
            if ch.choices
        ),
        "responses": c.responses.create(model="m", input=f"Explain: {SQL}").output_text,
    }
    events = list(c.responses.create(model="m", input=f"Explain: {SQL}", stream=True))
    out["responses-stream"] = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    for route, body, key in (
        ("/api/chat", {"messages": msgs}, "message"),
        ("/api/generate", {"prompt": SQL}, "response"),
    ):
        whole = httpx.post(url + route, json={**body, "stream": False}, timeout=30).json()
        out[route] = whole[key]["content"] if key == "message" else whole[key]
        lines = [json.loads(x) for x in httpx.post(url + route, json=body, timeout=30).text.splitlines()]
        out[route + "-stream"] = "".join((x[key]["content"] if key == "message" else x[key]) for x in lines)
    return out


def test_server_fallback_on_every_route():
    with _server(on_unfaithful="fallback") as url:
        answers = _all_routes(url)
    assert answers == dict.fromkeys(answers, RULES)


def test_server_warn_appends_the_same_note_streamed_or_not():
    from sql2nl.guard import correction

    note = correction(describe(SQL, backend="wrong", cache=False).guard)
    with _server() as url:
        answers = _all_routes(url)
    assert "value Oslo" in note and answers == dict.fromkeys(answers, WRONG + note)


def test_server_per_request_options_and_their_schema():
    httpx = require("httpx")
    with _server() as url:
        r = httpx.post(f"{url}/v1/describe", json={"sql": SQL, "options": {"on_unfaithful": "fallback"}})
        assert r.status_code == 200 and r.json()["text"] == RULES and r.json()["guard"]["fell_back"]
        assert httpx.post(f"{url}/v1/describe", json={"sql": SQL}).json()["text"] == WRONG
        bad = httpx.post(f"{url}/v1/describe", json={"sql": SQL, "options": {"candidate": 3}})
        assert bad.status_code == 422 and "did you mean 'candidates'" in bad.json()["error"]["message"]
        reload = httpx.post(f"{url}/v1/describe", json={"sql": SQL, "options": {"good_from": 3}})
        assert reload.status_code == 422 and "cannot be set here" in reload.json()["error"]["message"]
        schema = httpx.get(f"{url}/openapi.json").json()["components"]["schemas"]["BackendOptions"]
    assert set(schema["properties"]) == {s.name for s in Wrong.Options.specs() if s.per_request}
    assert schema["properties"]["on_unfaithful"]["enum"] == ["warn", "fallback", "retry"]


# -- the language server ----------------------------------------------------------------------------
pytest_lsp = require("pytest_lsp")
from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402

_LSP = [
    sys.executable,
    "-c",
    f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import wrongllm; wrongllm.main()",
    "lsp",
    "-b",
    "wrong",
]


async def _hover_text(client: LanguageClient) -> str:
    await client.initialize_session(types.InitializeParams(capabilities=types.ClientCapabilities()))
    uri = "file:///tmp/q.sql"
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="sql", version=1, text=SQL + "\n")
        )
    )
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=0, character=3)
        )
    )
    await client.shutdown_session()
    return hover.contents.value


@pytest_lsp.fixture(config=ClientServerConfig(server_command=_LSP + ["-o", "on_unfaithful=fallback"]))
async def lsp_fallback(lsp_client: LanguageClient):
    yield lsp_client


@pytest_lsp.fixture(config=ClientServerConfig(server_command=_LSP))
async def lsp_warn(lsp_client: LanguageClient):
    yield lsp_client


@pytest.mark.asyncio
async def test_lsp_hover_falls_back(lsp_fallback):
    value = await _hover_text(lsp_fallback)
    assert RULES in value and WRONG not in value and "rules" in value


@pytest.mark.asyncio
async def test_lsp_hover_warns(lsp_warn):
    value = await _hover_text(lsp_warn)
    assert WRONG in value and "⚠" in value and "value Oslo" in value


# -- redaction in the language server too --------------------------------------------------------------
_SPY_LOG = Path(tempfile.gettempdir()) / f"sql2nl-test-spy-{os.getpid()}.log"


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=_LSP[:3] + ["lsp", "-b", "spy", "--redact"],
        server_env={**os.environ, "SQL2NL_TEST_SPY_LOG": str(_SPY_LOG)},
    )
)
async def lsp_redacted(lsp_client: LanguageClient):
    yield lsp_client


@pytest.mark.asyncio
async def test_lsp_redacts(lsp_redacted):
    _SPY_LOG.unlink(missing_ok=True)
    value = await _hover_text(lsp_redacted)
    sent = _SPY_LOG.read_text(encoding="utf-8")
    _SPY_LOG.unlink()
    assert "'Oslo'" in value and "Oslo" not in sent and "'value1'" in sent
