"""The errors sql2nl raises. Every one is a :class:`Sql2NLError`; messages say what to do next."""

from __future__ import annotations

import difflib

__all__ = [
    "Sql2NLError",
    "InvalidInputError",
    "SQLParseError",
    "UnknownBackendError",
    "UnknownModelError",
    "BackendUnavailableError",
    "BackendError",
    "ModelError",
    "InternalError",
]


class Sql2NLError(Exception):
    """Root of every error sql2nl raises on purpose."""


def install_extra(extra: str) -> str:
    """The command that installs the core's ``extra``, from PyPI and from a checkout."""
    return f"pip install 'sql2nl[{extra}]' (from a checkout of sql2nl: pip install '.[{extra}]')"


class InvalidInputError(Sql2NLError, ValueError):
    """The input is not something that can be described (empty, binary, too large, wrong type)."""


class SQLParseError(Sql2NLError, ValueError):
    """The SQL could not be parsed. Carries ``line``/``column`` (1-based) and the offending ``snippet``.

    ``reason`` is the bare complaint; ``str(e)`` is a whole sentence with what to do next.
    """

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        snippet: str = "",
        dialect: str | None = None,
        hint: str | None = None,
    ):
        self.line = line
        self.column = column
        self.snippet = snippet
        self.dialect = dialect
        self.reason = message
        where = f" at line {line}, column {column}" if line is not None else ""
        near = f" near {snippet!r}" if snippet else ""
        if hint is None:
            hint = (
                "Check the statement for typos, unbalanced quotes or parentheses"
                + ("" if dialect else ", or pass dialect=... (CLI: -d) if it uses one database's syntax")
                + "."
            )
        super().__init__(f"Could not parse the SQL{where}{near}: {message}." + (f" {hint}" if hint else ""))


class UnknownBackendError(Sql2NLError, LookupError):
    """No installed backend has this name; suggests the closest one.

    ``suggestions`` are further names worth suggesting (backends that exist as separate plugins);
    ``broken`` maps plugins that failed to load to the reason, since one of them may be the answer.
    """

    def __init__(
        self,
        name: str,
        available: list[str],
        *,
        suggestions: list[str] | None = None,
        broken: dict[str, str] | None = None,
    ):
        self.name = name
        self.available = sorted(available)
        pool = self.available + [s for s in suggestions or [] if s not in self.available]
        self.suggestion = closest_name(name, pool)
        hint = f" Did you mean {self.suggestion!r}?" if self.suggestion else ""
        listing = ", ".join(self.available) or "none"
        failed = ""
        if broken:
            failed = " Plugins that failed to load: " + "; ".join(f"{k} ({v})" for k, v in sorted(broken.items())) + "."
        super().__init__(
            f"Unknown backend {name!r}.{hint} Installed backends: {listing}.{failed} "
            "Run `sql2nl backends` to list them."
        )


class UnknownModelError(Sql2NLError, LookupError):
    """``model=`` is neither a registered model name nor something a backend was chosen for; suggests the closest name."""

    def __init__(self, name: str, available: list[str], *, why: str = ""):
        self.name = name
        self.available = sorted(available)
        self.suggestion = closest_name(name, self.available)
        hint = f" Did you mean {self.suggestion!r}?" if self.suggestion else ""
        listing = ", ".join(self.available) or "none (install a model plugin, e.g. pip install sql2nl-smollm2)"
        super().__init__(
            f"Unknown model {name!r}.{hint} Registered models: {listing}. {why}Run `sql2nl models` to list them."
        )


def closest_name(name: str, pool: list[str]) -> str | None:
    """The name in ``pool`` that ``name`` most likely misspells, if any."""
    close = difflib.get_close_matches(name, pool, n=1, cutoff=0.7)
    if not close:  # case or separator slips: "Rules", "llama-cpp"
        key = name.lower().replace("-", "").replace("_", "")
        close = [p for p in pool if p.lower().replace("-", "").replace("_", "") == key][:1]
    return close[0] if close else None


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


class InternalError(Sql2NLError, RuntimeError):
    """A bug in sql2nl itself (not in the SQL or the setup); the message asks for a report."""
