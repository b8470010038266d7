"""The text side of the checker: tokens, where names and values stand, and the meaning words.

A text is read once into singular-stemmed tokens (English words, numbers with their thousands
separators removed and number words turned into digits, each Chinese character alone, and
punctuation as clause boundaries). Names of the query's tables and columns found in it are
*masked*, as are quoted stretches, so that "max speed", "first name" or "'Last Resort'" are not
read as superlatives; then one left-to-right pass finds the lexicon's phrases, longest first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .lexicon import index
from .tokens import _PUNCT, _QUOTED, _TOKEN, _normalize, root, stem


@dataclass
class Hit:
    """One lexicon phrase in the text: tokens ``start:end`` and its ``{category: value}`` tags."""

    start: int
    end: int
    tags: dict[str, Any]


class Scan:
    """A text read for checking: ``stems`` (one per token), masks, name spans and lexicon hits."""

    def __init__(self, text: str, language: str = "en"):
        self.language = "zh" if language == "zh" else "en"
        self.raw = (text or "").lower()
        norm = _normalize(text or "")
        toks = list(_TOKEN.finditer(norm))
        self.stems = [stem(m.group()) for m in toks]
        n = len(self.stems)
        self.masked = bytearray(n)
        self.quoted = bytearray(n)
        spans = [m.span() for m in _QUOTED.finditer(norm)]
        if spans:
            for i, m in enumerate(toks):
                s = m.start()
                if any(a < s < b for a, b in spans):
                    self.quoted[i] = self.masked[i] = 1
        self._pos: dict[str, list[int]] | None = None
        self.names: list[tuple[int, int, str]] = []  # (start, end, key) of names found
        self.hits: list[Hit] = []
        self.stemset = frozenset(self.stems)

    # -- finding things -----------------------------------------------------------------------
    def positions(self, token: str) -> list[int]:
        if self._pos is None:
            pos: dict[str, list[int]] = {}
            for i, s in enumerate(self.stems):
                pos.setdefault(s, []).append(i)
            self._pos = pos
        return self._pos.get(token, [])

    def find(self, seq: tuple[str, ...]) -> list[int]:
        """Start positions of the token sequence ``seq``."""
        if not seq:
            return []
        st, k = self.stems, len(seq)
        return [i for i in self.positions(seq[0]) if tuple(st[i : i + k]) == seq]

    def has(self, seq: tuple[str, ...]) -> bool:
        return bool(self.find(seq))

    def is_punct(self, i: int) -> bool:
        return self.stems[i] in _PUNCT

    # -- names and meaning words ----------------------------------------------------------------
    def mark_names(self, names: Iterable[tuple[tuple[str, ...], str, bool]]) -> None:
        """Record where each name form stands; ``mask`` forms hide their tokens from the lexicon.

        A one-word name also stands where a word of the same root does ("priced" for ``price``)."""
        roots: dict[str, list[int]] | None = None
        for form, key, mask in names:
            found = self.find(form)
            if len(form) == 1 and len(form[0]) > 3 and not form[0][0].isdigit():
                if roots is None:
                    roots = {}
                    for i, st in enumerate(self.stems):
                        roots.setdefault(root(st), []).append(i)
                found = sorted(set(found) | set(roots.get(root(form[0]), ())))
            for i in found:
                self.names.append((i, i + len(form), key))
                if mask:
                    for j in range(i, i + len(form)):
                        self.masked[j] = 1
        self.names.sort()

    def segment(self) -> None:
        """Find the lexicon's phrases left to right, longest first, skipping masked tokens."""
        idx = index(self.language)
        st, masked, n = self.stems, self.masked, len(self.stems)
        hits = []
        i = 0
        while i < n:
            cands = idx.get(st[i]) if not masked[i] else None
            if cands:
                for k, table in cands:
                    tags = table.get(tuple(st[i : i + k]))
                    if tags is not None and not any(masked[i : i + k]):
                        hits.append(Hit(i, i + k, tags))
                        i += k
                        break
                else:
                    i += 1
                continue
            i += 1
        self.hits = hits

    def hits_of(self, category: str) -> list[Hit]:
        return [h for h in self.hits if category in h.tags]

    def name_near(self, i: int, keys: set[str], after: int = 4, before: int = 0) -> str | None:
        """The key of the nearest name among ``keys`` starting within ``after`` tokens after ``i``
        (or ending within ``before`` tokens before it), not across a clause boundary."""
        best: tuple[int, str] | None = None
        for s, e, key in self.names:
            if key not in keys:
                continue
            if i < s <= i + after and not any(self.is_punct(j) for j in range(i, s)):
                d = s - i
            elif before and i - before <= e <= i and not any(self.is_punct(j) for j in range(e, i)):
                d = i - e + 1
            else:
                continue
            if best is None or d < best[0]:
                best = (d, key)
        return best[1] if best else None
