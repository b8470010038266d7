"""The language server in a real LSP session: a pytest-lsp client talks to `sql2nl lsp` over stdio."""

from __future__ import annotations

import sys

import pytest
from skips import require

require("pygls")
pytest_lsp = require("pytest_lsp")
from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402

from sql2nl import describe  # noqa: E402
from sql2nl.lsp.spans import comment_for, document_kind, python_spans, sql_spans  # noqa: E402

SQL_DOC = """-- monthly report
SELECT name FROM users WHERE age > 18;

/* a ; inside a comment */ DELETE FROM orders WHERE note = 'a;b';
  SELEC broken FROM
"""

PY_DOC = '''import sqlite3

def adults(cur):
    cur.execute("""
        SELECT name FROM users
        WHERE age > 18""")
    label = "select the best option"
    return cur.fetchall()
'''


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "sql2nl.cli", "lsp"]))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(types.InitializeParams(capabilities=types.ClientCapabilities()))
    yield
    await lsp_client.shutdown_session()


def _open(client: LanguageClient, uri: str, text: str, language_id: str) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id=language_id, version=1, text=text)
        )
    )


def _hover(client, uri, line, character):
    return client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=character)
        )
    )


@pytest.mark.asyncio
async def test_hover_and_code_action_in_a_sql_file(client: LanguageClient):
    uri = "file:///tmp/report.sql"
    _open(client, uri, SQL_DOC, "sql")
    expected = describe("SELECT name FROM users WHERE age > 18").text

    hover = await _hover(client, uri, 1, 10)  # inside the SELECT
    assert hover is not None and hover.contents.kind == types.MarkupKind.Markdown
    assert expected in hover.contents.value
    assert hover.range.start == types.Position(line=1, character=0)
    assert hover.range.end == types.Position(line=1, character=37)  # the statement, without its ';'

    # The ';' inside the comment and the string do not split the DELETE.
    hover = await _hover(client, uri, 3, 40)
    assert describe("DELETE FROM orders WHERE note = 'a;b'").text in hover.contents.value

    # A statement that does not parse says why, instead of failing the request.
    hover = await _hover(client, uri, 4, 4)
    assert "could not describe" in hover.contents.value and "SELEC" in hover.contents.value

    # Between statements there is nothing to show.
    assert await _hover(client, uri, 2, 0) is None

    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(start=types.Position(line=1, character=3), end=types.Position(line=1, character=3)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert len(actions) == 1
    (edit,) = actions[0].edit.changes[uri]
    assert edit.range.start == edit.range.end == types.Position(line=1, character=0)
    assert edit.new_text == comment_for(expected, "sql")
    assert edit.new_text.startswith("-- ") and edit.new_text.endswith("\n")


@pytest.mark.asyncio
async def test_hover_and_code_action_in_python_strings(client: LanguageClient):
    uri = "file:///tmp/queries.py"
    _open(client, uri, PY_DOC, "python")
    expected = describe("SELECT name FROM users\n        WHERE age > 18").text

    hover = await _hover(client, uri, 4, 15)  # on 'users', inside the triple-quoted string
    assert hover is not None and expected in hover.contents.value
    assert hover.range.start == types.Position(line=3, character=PY_DOC.splitlines()[3].index('"""'))

    assert await _hover(client, uri, 6, 15) is None  # prose that happens to start with "select"
    assert await _hover(client, uri, 0, 3) is None  # plain code

    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(start=types.Position(line=5, character=10), end=types.Position(line=5, character=10)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    (edit,) = actions[0].edit.changes[uri]
    # Inserted above the line the statement starts on, with that line's indentation.
    assert edit.range.start == types.Position(line=3, character=0)
    assert edit.new_text == comment_for(expected, "python", "    ")

    # Edits are seen: after the change the hover describes the new statement.
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangeWholeDocument(text='Q = "DELETE FROM users WHERE id = 7"\n')
            ],
        )
    )
    hover = await _hover(client, uri, 0, 10)
    assert describe("DELETE FROM users WHERE id = 7").text in hover.contents.value


def test_spans_offsets_are_characters_not_bytes():
    src = 'note = "héllo wörld"; q = "SELECT a FROM t"\n'
    (span,) = python_spans(src)
    assert src[span.start : span.end] == '"SELECT a FROM t"'


def test_sql_spans_survive_an_unclosed_quote():
    spans = sql_spans("SELECT a FROM t;\nSELECT 'oops FROM u")
    assert spans[0].sql == "SELECT a FROM t"
    assert len(spans) == 2


def test_document_kind():
    assert document_kind("file:///a/b.SQL") == "sql"
    assert document_kind("file:///a/b.txt", "postgres") == "sql"
    assert document_kind("file:///a/b.py") == "python"
    assert document_kind("file:///a/b.txt") is None


STAGED = (
    "WITH big AS (SELECT customer_id, SUM(total) AS spent FROM orders GROUP BY customer_id) "
    "SELECT c.name FROM big b JOIN customers c ON c.id = b.customer_id WHERE b.spent > 1000"
)


@pytest.mark.asyncio
async def test_hover_shows_the_steps_below_the_summary(client: LanguageClient):
    uri = "file:///tmp/staged.sql"
    _open(client, uri, STAGED + ";\nSELECT name FROM users WHERE age > 18;\n", "sql")
    staged = await _hover(client, uri, 0, 5)
    summary, _, steps = staged.contents.value.partition("\n\n---\n\n**Steps**\n\n")
    assert describe(STAGED).text in summary
    assert steps.startswith(describe(STAGED, detail="steps").text)
    simple = await _hover(client, uri, 1, 5)
    assert "**Steps**" not in simple.contents.value  # one step only: nothing to unfold
