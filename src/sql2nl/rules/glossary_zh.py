"""Schema words in Chinese: ``users`` -> 用户, ``customer_id`` -> 客户编号, ``is_active`` -> 是否有效.

The Chinese describer names tables and columns through :func:`translate_identifier` when the
schema does not give words for them (a schema's words always win; the describer asks the schema
first). The glossary (``data/glossary_zh.tsv``, about a thousand reviewed entries) is looked up
word by word after splitting the identifier (snake_case, camelCase, digits, the abbreviations of
:data:`sql2nl.words.ABBREVIATIONS`), longest phrase first, in the plural or the singular:

>>> translate_identifier("customer_id")
'客户编号'
>>> translate_identifier("name", table="users"), translate_identifier("name", table="products")
('姓名', '名称')
>>> translate_identifier("num_students"), translate_identifier("date_of_birth")
('学生数量', '出生日期')

An identifier with any word the glossary does not know is kept exactly as written and marked
with corner brackets, the quotation marks of Chinese text, so a reader sees it is a name and not
a word: ``translate_identifier("sku_xyz")`` -> ``「sku_xyz」``. A partial translation would mix a
guess with the original; :func:`translate` says whether the translation was complete.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from ..words import humanize, singular

__all__ = ["Translation", "translate", "translate_identifier", "value_unit", "MARK"]

#: How an identifier the glossary cannot translate is shown: kept as written, in corner brackets.
MARK = "「{}」"

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_DIGITS = re.compile(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])")
_STOP = frozenset({"the", "a", "an"})
#: Leading words that make a yes/no column: is_active -> 是否有效, has_pets -> 是否有宠物.
_FLAGS = {
    "is": "是否",
    "has": "是否有",
    "have": "是否有",
    "was": "是否曾",
    "can": "能否",
    "allow": "是否允许",
    "should": "是否应",
}
#: Trailing words after a verb: created_at -> 创建时间, updated_on -> 更新日期, approved_by -> 批准人.
_TRAILING = {"at": "时间", "on": "日期", "by": "人"}


@dataclass(frozen=True)
class Translation:
    """An identifier in Chinese; ``complete`` is False when it was kept as written (and marked)."""

    text: str
    complete: bool


@dataclass(frozen=True)
class _Entry:
    zh: str
    person: bool = False  # the word names people (their "name" is 姓名)
    person_form: str | None = None  # the word on a table about people (name -> 姓名, height -> 身高)
    alone: str | None = None  # the word when it is the whole identifier (total -> 总计)
    unit: str | None = None  # the unit of its values (age -> 岁)
    measure: bool = False  # a unit of measure: meter_100 -> 100米


@lru_cache(maxsize=1)
def _glossary() -> dict[tuple[str, ...], _Entry]:
    entries: dict[tuple[str, ...], _Entry] = {}
    text = resources.files("sql2nl.rules").joinpath("data/glossary_zh.tsv").read_text(encoding="utf-8")
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) not in (2, 3) or not parts[1]:
            raise ValueError(f"data/glossary_zh.tsv line {n}: expected 'english<TAB>chinese[<TAB>tags]'")
        tags = dict(t.partition("=")[::2] for t in parts[2].split(",")) if len(parts) == 3 else {}
        key = tuple(parts[0].split())
        if key in entries:
            raise ValueError(f"data/glossary_zh.tsv line {n}: {parts[0]!r} is listed twice")
        entries[key] = _Entry(
            parts[1],
            "person" in tags,
            tags.get("person") or None,
            tags.get("alone") or None,
            tags.get("unit") or None,
            "measure" in tags,
        )
    return entries


_LONGEST = 4  # words in the longest glossary phrase that is looked for


def _words(name: str) -> list[str]:
    """``customerID2`` -> ["customer", "id", "2"], with schema abbreviations spelled out."""
    return [w for part in humanize(name).split() for w in _DIGITS.sub(" ", part).split()]


def _lookup(words: tuple[str, ...]) -> _Entry | None:
    g = _glossary()
    return g.get(words) or g.get(tuple(singular(w) for w in words))


@lru_cache(maxsize=65536)
def translate(name: str, *, kind: str = "column", table: str | None = None) -> Translation:
    """``name`` (a table or column identifier) in Chinese, and whether every word was translated.

    ``table`` is the table a column belongs to; it picks the word for people ("name" of ``users``
    is 姓名, of ``products`` 名称). ``kind`` is "column" or "table".
    """
    clean = name.strip('`"[]').split(".")[-1] if name else name
    if not clean or _CJK.search(clean) or not re.search(r"[A-Za-z]", clean):
        return Translation(clean, True)  # already words (Chinese) or not an identifier of words
    person = kind == "column" and table is not None and _is_person(table)
    text = _phrase(tuple(_words(clean)), person)
    return Translation(text, True) if text else Translation(MARK.format(clean), False)


def translate_identifier(name: str, *, kind: str = "column", table: str | None = None) -> str:
    """``name`` in Chinese, or kept as written in corner brackets (「name」) when a word is unknown."""
    return translate(name, kind=kind, table=table).text


def value_unit(name: str, *, table: str | None = None) -> str | None:
    """The unit a number compared with this column is counted in, if the glossary knows one (age -> 岁)."""
    if table is None or not _is_person(table):
        return None
    entry = _lookup(tuple(_words(name)))
    return entry.unit if entry is not None else None


@lru_cache(maxsize=4096)
def _is_person(table: str) -> bool:
    words = _words(table.strip('`"[]').split(".")[-1])
    entry = _lookup(tuple(words[-1:])) if words else None
    return bool(entry and entry.person)


def _phrase(words: tuple[str, ...], person: bool) -> str | None:
    """The Chinese for a sequence of English words, or None if a word is not in the glossary."""
    words = tuple(w for w in words if w not in _STOP)
    if not words:
        return None
    whole = _lookup(words) if len(words) <= _LONGEST else None
    if whole is not None:
        return whole.alone or (whole.person_form if person and whole.person_form else whole.zh)
    first, last = words[0], words[-1]
    if first in _FLAGS and len(words) > 1:
        rest = _phrase(words[1:], person)
        return _FLAGS[first] + rest if rest else None
    if first in ("number", "count") and len(words) > 1:  # num_students, number_of_rooms -> 学生数量
        rest = _phrase(words[2:] if words[1] == "of" else words[1:], person)
        return rest + "数量" if rest else None
    if "of" in words[1:-1]:  # place_of_birth -> 出生地点: Chinese puts the owner first
        i = words.index("of")
        owner, thing = _phrase(words[i + 1 :], person), _phrase(words[:i], person)
        return owner + thing if owner and thing else None
    if last in _TRAILING and len(words) > 1 and _lookup(words[-2:]) is None:
        rest = _greedy(words[:-1], person)  # not a word's "alone" form: opened_at is 开业时间
        return rest + _TRAILING[last] if rest else None
    return _greedy(words, person)


def _greedy(words: tuple[str, ...], person: bool) -> str | None:
    out: list[str] = []
    owner_is_person = person
    i = 0
    while i < len(words):
        if words[i].isdigit():
            out.append(words[i])
            i += 1
            continue
        for size in range(min(_LONGEST, len(words) - i), 0, -1):
            entry = _lookup(words[i : i + size])
            if entry is not None:
                break
        else:
            return None
        # "customer name" -> 客户姓名: a word for people makes the next word take its people form.
        out.append(entry.person_form if owner_is_person and entry.person_form else entry.zh)
        if entry.measure and i + size < len(words) and words[i + size].isdigit():
            out[-1:] = [words[i + size], out[-1]]  # meter_100 -> 100米: Chinese puts the number first
            size += 1
        owner_is_person = entry.person
        i += size
    return "".join(out)
