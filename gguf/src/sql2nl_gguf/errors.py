"""Errors of the GGUF export; all are :class:`sql2nl.errors.ModelError` (so ``Sql2NLError``)."""

from __future__ import annotations

from sql2nl.errors import ModelError

from .tools import ToolsError

__all__ = ["ExportError", "ToolsError", "TokenizerError", "VerificationError"]


class ExportError(ModelError):
    """The export could not be done (bad model directory, converter or quantizer failure)."""


class TokenizerError(ExportError):
    """The tokenizer cannot be represented faithfully in GGUF (not plain byte-level BPE, or parity failed)."""


class VerificationError(ExportError):
    """The exported GGUF does not behave like the Hugging Face model (tokenizer parity or f16 agreement)."""
