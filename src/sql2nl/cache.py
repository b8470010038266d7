"""Caching descriptions: an in-memory LRU always, and an optional persistent SQLite cache.

The persistent cache is off unless ``SQL2NL_CACHE=persistent`` is set or :func:`configure` turns it
on; it lives in the user cache dir (``$XDG_CACHE_HOME/sql2nl/descriptions.sqlite3``) unless a path
is given.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Hashable

from .description import Description


def fingerprint(sql: str) -> str:
    """A stable fingerprint of a statement's text, insensitive to whitespace and surrounding ``;``."""
    return hashlib.sha1(normalize(sql).encode("utf-8", "surrogatepass")).hexdigest()


def normalize(sql: str) -> str:
    return " ".join(sql.split()).rstrip(";").strip()


def default_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sql2nl" / "descriptions.sqlite3"


class LRUCache:
    """A thread-safe LRU of descriptions."""

    def __init__(self, maxsize: int = 4096):
        self.maxsize = maxsize
        self._data: OrderedDict[Hashable, Description] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable) -> Description | None:
        with self._lock:
            d = self._data.get(key)
            if d is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return d

    def put(self, key: Hashable, value: Description) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._data)


class SQLiteCache:
    """Descriptions kept across processes, keyed by a hash of the cache key."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._conn() as c:
            c.execute("CREATE TABLE IF NOT EXISTS descriptions (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

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
        except sqlite3.Error:
            return None  # a broken cache must never break describing
        return json.loads(row[0]) if row else None

    def put(self, key: Hashable, value: Description) -> None:
        data = {"text": value.text, "backend": value.backend, "warnings": value.warnings,
                "faithfulness": value.faithfulness}
        try:
            with self._conn() as c:
                c.execute("INSERT OR REPLACE INTO descriptions VALUES (?, ?)",
                          (self._hash(key), json.dumps(data, ensure_ascii=False)))
        except sqlite3.Error:
            pass

    def clear(self) -> None:
        with self._conn() as c:
            c.execute("DELETE FROM descriptions")


memory = LRUCache()
persistent: SQLiteCache | None = (SQLiteCache(os.environ.get("SQL2NL_CACHE_PATH"))
                                  if os.environ.get("SQL2NL_CACHE") == "persistent" else None)


def configure(*, maxsize: int | None = None, persistent_cache: bool | None = None,
              path: str | os.PathLike | None = None) -> None:
    """Resize the in-memory cache and/or turn the persistent SQLite cache on or off."""
    global persistent
    if maxsize is not None:
        memory.maxsize = maxsize
    if persistent_cache is True or path is not None:
        persistent = SQLiteCache(path)
    elif persistent_cache is False:
        persistent = None


def clear() -> None:
    """Empty the in-memory cache and the persistent one, if on."""
    memory.clear()
    if persistent is not None:
        persistent.clear()
