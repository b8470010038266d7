"""``python -m sql2nl.lsp``: the language server on stdio (same as ``sql2nl lsp``)."""

from ..server.cli import lsp

lsp(prog_name="sql2nl lsp")
