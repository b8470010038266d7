"""The pygls language server: hover shows a statement's description, a code action inserts it as a comment."""

from __future__ import annotations

import asyncio
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.workspace import TextDocument

from .. import __version__, api
from ..description import Description
from ..errors import Sql2NLError
from .spans import Span, comment_for, document_kind, spans_for

ACTION_TITLE = "sql2nl: insert description as a comment"


class SqlLanguageServer(LanguageServer):
    """Keeps the backend, and the statement spans of each document version (found once per edit)."""

    def __init__(self, *, backend: str | None, backend_options: dict[str, Any], language: str, redact: bool = False):
        super().__init__("sql2nl", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.backend_name = backend
        self.backend_options = backend_options
        self.language = language
        self.redact = redact
        self._spans: dict[str, tuple[int | None, str, list[Span]]] = {}

    def spans(self, doc: TextDocument) -> tuple[str | None, list[Span]]:
        kind = document_kind(doc.uri, doc.language_id)
        if kind is None:
            return None, []
        cached = self._spans.get(doc.uri)
        source = doc.source
        if cached is None or cached[0] != doc.version or cached[1] != source:
            cached = (doc.version, source, spans_for(source, kind))
            self._spans[doc.uri] = cached
        return kind, cached[2]

    def describe(self, sql: str, detail: str = "summary") -> Description:
        backend = api.resolve_backend(self.backend_name, self.backend_options)
        return api.describe(sql, backend=backend, language=self.language, redact=self.redact, detail=detail)

    def hover_text(self, sql: str) -> str:
        """The summary, with the step-by-step outline in a second section when there is more than one step."""
        d = self.describe(sql)
        steps = self.describe(sql, detail="steps").text if d.text else ""
        return _markdown(d, steps if steps.count("\n") else "")


def _position(doc: TextDocument, offset: int) -> types.Position:
    text = doc.source[:offset]
    line = text.count("\n")
    char = offset - (text.rfind("\n") + 1)
    return doc.position_codec.position_to_client_units(doc.lines, types.Position(line=line, character=char))


def _range(doc: TextDocument, span: Span) -> types.Range:
    return types.Range(start=_position(doc, span.start), end=_position(doc, span.end))


def _at(ls: SqlLanguageServer, uri: str, pos: types.Position) -> tuple[TextDocument, str | None, Span | None]:
    doc = ls.workspace.get_text_document(uri)
    kind, spans = ls.spans(doc)
    offset = doc.offset_at_position(pos)
    return doc, kind, next((s for s in spans if s.contains(offset)), None)


def _markdown(d: Description, steps: str = "") -> str:
    out = f"**{d.text}**" if d.text else "_(no description)_"
    if steps:  # below a rule, so the summary stays what the eye meets first
        out += "\n\n---\n\n**Steps**\n\n" + steps
    for w in d.warnings:
        out += f"\n\n- ⚠ {w}"
    return out + f"\n\n<sub>sql2nl · {d.backend}</sub>"


def build_server(
    *,
    backend: str | None = None,
    backend_options: dict[str, Any] | None = None,
    language: str = "en",
    redact: bool = False,
) -> SqlLanguageServer:
    """The language server, features registered; call ``.start_io()`` to run it."""
    server = SqlLanguageServer(backend=backend, backend_options=backend_options or {}, language=language, redact=redact)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: SqlLanguageServer, params: types.HoverParams) -> types.Hover | None:
        doc, kind, span = _at(ls, params.text_document.uri, params.position)
        if span is None:
            return None
        try:  # backends block (a model generates): keep the server answering other messages
            value = await asyncio.to_thread(ls.hover_text, span.sql)
        except Sql2NLError as e:
            value = f"sql2nl could not describe this statement: {e}"
        return types.Hover(
            contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=value), range=_range(doc, span)
        )

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.RefactorRewrite]),
    )
    async def code_action(ls: SqlLanguageServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        doc, kind, span = _at(ls, params.text_document.uri, params.range.start)
        if span is None or kind is None:
            return []
        try:
            d = await asyncio.to_thread(ls.describe, span.sql)
        except Sql2NLError:
            return []
        line = _position(doc, span.start).line
        text = doc.lines[line] if line < len(doc.lines) else ""
        indent = text[: len(text) - len(text.lstrip())]
        at = types.Position(line=line, character=0)
        edit = types.TextEdit(range=types.Range(start=at, end=at), new_text=comment_for(d.text, kind, indent))
        return [
            types.CodeAction(
                title=ACTION_TITLE,
                kind=types.CodeActionKind.RefactorRewrite,
                edit=types.WorkspaceEdit(changes={doc.uri: [edit]}),
            )
        ]

    return server
