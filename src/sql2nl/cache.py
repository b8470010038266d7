r"""Caching descriptions: an in-memory LRU always, and an optional persistent SQLite cache.

Entries are keyed by the statement's normalized text (:func:`normalize`: spacing and trailing
``;`` do not matter; text inside strings and quoted names of every quoting style does), the
backend's identity (its name, every declared option that can change the text — see
:mod:`sql2nl.options` — and its fingerprint: model file, prompt version), and describe()'s own
settings (language, dialect, schema hints, redaction; :data:`sql2nl.api.DESCRIBE_SETTINGS`).

The persistent cache is off unless ``SQL2NL_CACHE=persistent`` is set or :func:`configure` turns it
on; it lives in the user cache dir (:func:`default_path`; ``SQL2NL_CACHE_PATH`` overrides it).
A cache that cannot be read or written never breaks describing; it is skipped.

>>> normalize("SELECT  a\n FROM t ;")
'SELECT a FROM t'
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import sqlite3
import threading
import warnings
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import cachetools

from .description import Description
from .errors import InvalidInputError

# A quoted string or name in any dialect's quoting (kept verbatim: 'a  b', "a  b", `a  b`, [a  b],
# $$a  b$$ and $tag$a  b$tag$ differ from their one-space forms) or a run of whitespace (collapsed).
_QUOTED_OR_SPACE = re.compile(
    r"\$(\w*)\$.*?\$\1\$|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`[^`]*`|\[[^\]]*\]|\s+", re.DOTALL
)


def normalize(sql: str) -> str:
    """``sql`` with runs of whitespace outside quotes collapsed and trailing ``;`` removed.

    A cached describe() costs little more than this, so it is fast: a few C-speed scans when
    there is nothing to collapse, and a memo of recent statements when there is.
    """
    if "  " not in sql and "\n" not in sql and "\t" not in sql and "\r" not in sql:
        return sql.strip().rstrip(";").rstrip()
    if len(sql) <= _MEMO_MAX_CHARS:
        return _normalize_memo(sql)
    return _normalize(sql)


_MEMO_MAX_CHARS = 8192


def _normalize(sql: str) -> str:
    if "\\" in sql:  # backslash escapes make quote boundaries uncertain: only trim the ends
        return sql.strip().rstrip(";").rstrip()
    keep_lines = "--" in sql or "#" in sql  # a line comment ends at the newline: keep newlines

    def repl(m: re.Match) -> str:
        s = m.group(0)
        if not s[0].isspace():
            return s
        return "\n" if keep_lines and "\n" in s else " "

    return _QUOTED_OR_SPACE.sub(repl, sql).strip().rstrip(";").rstrip()


_normalize_memo = functools.lru_cache(maxsize=16384)(_normalize)


def fingerprint(sql: str) -> str:
    """A stable fingerprint of a statement's text, insensitive to spacing and a trailing ``;``."""
    return hashlib.sha1(normalize(sql).encode("utf-8", "surrogatepass")).hexdigest()


def default_path() -> Path:
    """Where the persistent cache lives: ``$SQL2NL_CACHE_PATH``, else the platform's user cache dir
    (``platformdirs``: ``$XDG_CACHE_HOME/sql2nl`` or ``~/.cache/sql2nl`` on Linux,
    ``~/Library/Caches/sql2nl`` on macOS, ``%LOCALAPPDATA%\\sql2nl\\Cache`` on Windows)."""
    explicit = os.environ.get("SQL2NL_CACHE_PATH")
    if explicit:
        return Path(explicit)
    import platformdirs  # only when the persistent cache is used

    return platformdirs.user_cache_path("sql2nl", appauthor=False) / "descriptions.sqlite3"


class LRUCache:
    """A thread-safe LRU with hit counts: ``cachetools.LRUCache`` behind a lock.

    ``maxsize`` entries (0 turns it off). With ``max_key_chars``, an entry whose key holds more
    text than that (its ``str``/``bytes`` parts) is not kept: a few huge requests must not pin
    gigabytes in a server's cache.
    """

    def __init__(self, maxsize: int = 4096, *, max_key_chars: int | None = None):
        self._data: cachetools.LRUCache[Hashable, Any] = cachetools.LRUCache(max(maxsize, 1))
        self.maxsize = maxsize
        self.max_key_chars = max_key_chars
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable) -> Any:
        """The value kept under ``key`` (now the most recently used), or ``None``."""
        with self._lock:
            d = self._data.get(key)
            if d is None:
                self.misses += 1
                return None
            self.hits += 1
            return d

    def put(self, key: Hashable, value: Any) -> None:
        """Keep ``value`` under ``key``, evicting the least recently used entry when full."""
        if self.maxsize == 0 or (self.max_key_chars is not None and _key_chars(key) > self.max_key_chars):
            return
        with self._lock:
            self._data[key] = value

    def resize(self, maxsize: int) -> None:
        """Keep at most ``maxsize`` entries from now on (the most recently used stay)."""
        with self._lock:
            entries = [self._data.popitem() for _ in range(len(self._data))]  # least recent first
            self._data = cachetools.LRUCache(max(maxsize, 1))
            self.maxsize = maxsize
            for k, v in entries[max(0, len(entries) - maxsize) :] if maxsize else ():
                self._data[k] = v

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._data)


def _key_chars(key: Hashable) -> int:
    parts = key if isinstance(key, tuple) else (key,)
    return sum(len(k) for k in parts if isinstance(k, (str, bytes)))


class SQLiteCache:
    """Descriptions kept across processes (stdlib ``sqlite3``), keyed by a hash of the cache key.

    Raises :class:`~sql2nl.errors.InvalidInputError` at creation if the file cannot be used;
    later read or write failures (a full disk, a locked file) are skipped silently.
    """

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path else default_path()
        self._local = threading.local()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._conn() as c:
                c.execute("CREATE TABLE IF NOT EXISTS descriptions (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        except (OSError, sqlite3.Error) as e:
            raise InvalidInputError(
                f"The description cache at {self.path} cannot be used ({e}); delete the file "
                "or choose another path (SQL2NL_CACHE_PATH)."
            ) from None

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=5)
            conn.execute("PRAGMA journal_mode=WAL")
            self._local.conn = conn
        return conn

    @staticmethod
    def _hash(key: Hashable) -> str:
        return hashlib.sha256(repr(key).encode("utf-8", "surrogatepass")).hexdigest()

    def get(self, key: Hashable) -> dict[str, Any] | None:
        try:
            row = self._conn().execute("SELECT value FROM descriptions WHERE key = ?", (self._hash(key),)).fetchone()
            return json.loads(row[0]) if row else None
        except (sqlite3.Error, ValueError):
            return None  # a broken cache must never break describing

    def put(self, key: Hashable, value: Description) -> None:
        data = {
            "text": value.text,
            "backend": value.backend,
            "warnings": value.warnings,
            "faithfulness": value.faithfulness,
            "guard": value.guard,
        }
        try:
            with self._conn() as c:
                c.execute(
                    "INSERT OR REPLACE INTO descriptions VALUES (?, ?)",
                    (self._hash(key), json.dumps(data, ensure_ascii=False)),
                )
        except sqlite3.Error:
            pass

    def clear(self) -> None:
        try:
            with self._conn() as c:
                c.execute("DELETE FROM descriptions")
        except sqlite3.Error:
            pass

    def __len__(self) -> int:
        try:
            return self._conn().execute("SELECT COUNT(*) FROM descriptions").fetchone()[0]
        except sqlite3.Error:
            return 0


memory = LRUCache()
persistent: SQLiteCache | None = None

if os.environ.get("SQL2NL_CACHE") == "persistent":
    try:
        persistent = SQLiteCache()
    except InvalidInputError as e:  # at import time a warning, not a failure
        warnings.warn(f"sql2nl: persistent cache disabled: {e}", RuntimeWarning, stacklevel=2)


def configure(
    *, maxsize: int | None = None, persistent_cache: bool | None = None, path: str | os.PathLike | None = None
) -> None:
    """Resize the in-memory cache and/or turn the persistent SQLite cache on or off.

    >>> configure(persistent_cache=True)  # the user cache dir  # doctest: +SKIP
    >>> configure(path="/tmp/sql2nl-cache.sqlite3")  # doctest: +SKIP
    """
    global persistent
    if maxsize is not None:
        if not isinstance(maxsize, int) or maxsize < 0:
            raise InvalidInputError("maxsize must be a whole number >= 0.")
        memory.resize(maxsize)
    if persistent_cache is True or path is not None:
        persistent = SQLiteCache(path)
    elif persistent_cache is False:
        persistent = None


def clear() -> None:
    """Empty the in-memory cache and the persistent one, if on."""
    memory.clear()
    if persistent is not None:
        persistent.clear()


def info() -> dict[str, Any]:
    """Sizes and hit counts of the caches (for ``sql2nl cache``)."""
    return {
        "memory_entries": len(memory),
        "memory_maxsize": memory.maxsize,
        "memory_hits": memory.hits,
        "memory_misses": memory.misses,
        "persistent_path": str(persistent.path) if persistent else None,
        "persistent_entries": len(persistent) if persistent else None,
    }
