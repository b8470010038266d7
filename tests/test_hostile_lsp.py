"""Hostile-input pass (issue 16): the language server in a real session (pytest-lsp client, `sql2nl lsp`).

Each input class of ``hostile.INPUTS`` is opened as a document and hovered; then positions no editor
should send (past the end, huge numbers, inside a surrogate pair) and a 5 MB document. Every request gets
an answer (a hover that describes or says why it could not, or none), within the harness's timeout, and
the server still answers a normal hover afterwards.
"""

from __future__ import annotations

import asyncio
import sys

import pytest
from hostile import CHEAP, INPUTS, TIMEOUT_S
from skips import require

require("pygls")
pytest_lsp = require("pytest_lsp")
from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402

from sql2nl import describe  # noqa: E402

GOOD = "SELECT name FROM users WHERE age > 18"


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "sql2nl.cli", "lsp"]))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(types.InitializeParams(capabilities=types.ClientCapabilities()))
    yield
    await lsp_client.shutdown_session()


def _open(client: LanguageClient, uri: str, text: str) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="sql", version=1, text=text)
        )
    )


async def _hover(client, uri, line, character):
    return await asyncio.wait_for(
        client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=line, character=character),
            )
        ),
        TIMEOUT_S,
    )


async def _still_serves(client) -> None:
    _open(client, "file:///tmp/good.sql", GOOD)
    hover = await _hover(client, "file:///tmp/good.sql", 0, 10)
    assert hover is not None and describe(GOOD).text in hover.contents.value


@pytest.mark.asyncio
async def test_every_input_class_is_hovered(client: LanguageClient):
    for i, kind in enumerate(CHEAP + ["10k-columns", "huge-in-list"]):
        sql, _, expected = INPUTS[kind]
        if isinstance(sql, bytes):  # an editor sends text; undecodable bytes arrive as U+FFFD, describable
            sql, expected = sql.decode("utf-8", "replace"), "described"
        uri = f"file:///tmp/hostile-{i}.sql"
        _open(client, uri, sql)
        hover = await _hover(client, uri, 0, min(8, max(len(sql) - 1, 0)))
        if hover is not None:
            text = hover.contents.value
            assert text.strip(), kind
            if expected != "described":
                assert "could not describe" in text, (kind, text[:200])
            else:
                assert "could not describe" not in text, (kind, text[:200])
    await _still_serves(client)


@pytest.mark.asyncio
async def test_positions_no_editor_should_send(client: LanguageClient):
    uri = "file:///tmp/positions.sql"
    _open(client, uri, "-- 🦙 emoji before\nSELECT '🦙🦙' FROM t;\n" + GOOD)
    for line, character in [(0, 4), (1, 9), (1, 10), (1, 10_000), (2, 10**9), (10**6, 0), (2**31 - 1, 2**31 - 1)]:
        hover = await _hover(client, uri, line, character)
        assert hover is None or hover.contents.value.strip()
    await _still_serves(client)


@pytest.mark.asyncio
async def test_five_megabyte_document(client: LanguageClient):
    uri = "file:///tmp/big.sql"
    _open(client, uri, (GOOD + ";\n") * 130_000)  # ~5 MB of statements
    hover = await _hover(client, uri, 65_000, 10)
    assert hover is not None and describe(GOOD).text in hover.contents.value
    _open(client, "file:///tmp/one-line.sql", INPUTS["5MB"][0])  # one 5 MB statement
    hover = await _hover(client, "file:///tmp/one-line.sql", 0, 10)
    assert hover is None or "limit" in hover.contents.value
    await _still_serves(client)
