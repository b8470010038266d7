"""The errors sql2nl raises. Every one is a :class:`Sql2NLError`; messages say what to do next."""

from __future__ import annotations

import difflib

__all__ = [
    "Sql2NLError",
    "InvalidInputError",
    "SQLParseError",
    "UnknownBackendError",
    "BackendUnavailableError",
    "BackendError",
    "ModelError",
]


class Sql2NLError(Exception):
    """Root of every error sql2nl raises on purpose."""


class InvalidInputError(Sql2NLError, ValueError):
    """The input is not something that can be described (empty, binary, too large, wrong type)."""


class SQLParseError(Sql2NLError, ValueError):
    """The SQL could not be parsed. Carries ``line``/``column`` (1-based) and the offending ``snippet``."""

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None,
                 snippet: str = "", dialect: str | None = None):
        self.line = line
        self.column = column
        self.snippet = snippet
        self.dialect = dialect
        self.reason = message
        where = f" at line {line}, column {column}" if line is not None else ""
        near = f" near {snippet!r}" if snippet else ""
        hint = (" Check the statement for typos, unbalanced quotes or parentheses"
                + ("" if dialect else ", or pass dialect=... (CLI: -d) if it uses one database's syntax")
                + ".")
        super().__init__(f"Could not parse the SQL{where}{near}: {message}.{hint}")


class UnknownBackendError(Sql2NLError, LookupError):
    """No installed backend has this name; suggests the closest one."""

    def __init__(self, name: str, available: list[str]):
        self.name = name
        self.available = sorted(available)
        close = difflib.get_close_matches(name, self.available, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        listing = ", ".join(self.available) or "none"
        super().__init__(f"Unknown backend {name!r}.{hint} Installed backends: {listing}. "
                         "Run `sql2nl backends` to list them.")


class BackendUnavailableError(Sql2NLError, ImportError):
    """The backend exists but what it needs is not installed; names the ``pip install`` that fixes it."""

    def __init__(self, name: str, install: str, reason: str = ""):
        self.name = name
        self.install = install
        why = f" ({reason})" if reason else ""
        super().__init__(f"The {name!r} backend is not available{why}. Install it with: {install}")


class BackendError(Sql2NLError, RuntimeError):
    """A backend failed while describing (a server unreachable, a generation that failed...)."""


class ModelError(Sql2NLError, RuntimeError):
    """A model, adapter or model file is missing, corrupt, mismatched or too small for the input."""
