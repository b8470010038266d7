"""Tokens as the checker compares them: one home for the text's tokenizer, stems and word roots.

The lexicon (phrases -> meanings), the scanner (a text read once) and the mention checks (names
found in a text) all compare stems made here, so none of them imports another to get them.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..words import singular

_TOKEN = re.compile(
    r"\d{1,3}(?:,\d{3})+(?!\d)"  # 1,000,000
    r"|\d+(?:[.:/\-]\d+)*"  # 18, 8.5, 2020-01-01, 4:30, 8/1/2010
    r"|[a-z]+"  # words
    r"|[\u4e00-\u9fff]"  # one Chinese character
    r"|[,;.?!()\u3001\uff0c\u3002\uff1b\uff1f\uff01\uff08\uff09]",  # clause boundaries
)
_PUNCT = frozenset(",;.?!()\u3001\uff0c\u3002\uff1b\uff1f\uff01\uff08\uff09")
_QUOTED = re.compile(
    r"\"[^\"]*\"|\u201c[^\u201d]*\u201d|\u2018[^\u2019]*\u2019|(?<![a-z0-9])'[^']*'(?![a-z0-9])"
    r"|`[^`]*`|\u300c[^\u300d]*\u300d|\u300a[^\u300b]*\u300b"
)
_NUMBER_WORDS = {
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "thirteen": "13",
    "fourteen": "14",
    "fifteen": "15",
    "sixteen": "16",
    "seventeen": "17",
    "eighteen": "18",
    "nineteen": "19",
    "twenty": "20",
    "thirty": "30",
    "forty": "40",
    "fifty": "50",
    "sixty": "60",
    "seventy": "70",
    "eighty": "80",
    "ninety": "90",
    "once": "1",
    "twice": "2",
    "thrice": "3",
    "single": "1",
}
_ZH_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ZH_NUMERAL = re.compile(r"[零一二两三四五六七八九十百千]+(?=[个位名次门本家人岁年条种项部首辆所间场只件项天周月倍])")
_CJK = re.compile(r"[\u4e00-\u9fff]")


@lru_cache(maxsize=65536)
def stem(token: str) -> str:
    """One token as the checker compares it: numbers plain, number words as digits, nouns singular."""
    if token[0].isdigit():
        return token.replace(",", "") if re.fullmatch(r"\d{1,3}(?:,\d{3})+", token) else token
    n = _NUMBER_WORDS.get(token)
    if n is not None:
        return n
    return singular(token) if len(token) > 2 else token


def _zh_number(s: str) -> str:
    # 十二 -> 12, 二十 -> 20, 两百 -> 200; good enough for counts and ages in descriptions
    total, cur = 0, 0
    for ch in s:
        if ch in _ZH_DIGITS:
            cur = _ZH_DIGITS[ch]
        else:
            unit = {"十": 10, "百": 100, "千": 1000}[ch]
            total += (cur or 1) * unit
            cur = 0
    return str(total + cur)


def _normalize(text: str) -> str:
    text = text.lower().replace("\u2019", "'").replace("_", " ")
    text = re.sub(r"n't\b", " not", text)
    text = re.sub(r"'s\b", "", text)
    if _CJK.search(text):
        text = _ZH_NUMERAL.sub(lambda m: f" {_zh_number(m.group())} ", text)
    return text


@lru_cache(maxsize=65536)
def phrase_tokens(phrase: str, language: str = "en") -> tuple[str, ...]:
    """A phrase (a name, a value, a lexicon entry) as the tuple of stems the text is searched for."""
    return tuple(stem(m.group()) for m in _TOKEN.finditer(_normalize(phrase)) if m.group() not in _PUNCT)


_SUFFIX = re.compile(r"(ations|ation|ings|ing|ments|ment|ers|er|ions|ion|ed|es|s|ly|al)$")


@lru_cache(maxsize=65536)
def root(word: str) -> str:
    """A rough word root, to match "organizer" with ``organized_by`` and "starting" with ``start``."""
    if len(word) <= 4 or word[0].isdigit():
        return word
    r = _SUFFIX.sub("", word)
    r = r if len(r) >= 4 else word
    return r[:-1] if r.endswith("e") and len(r) > 4 else r  # "settle(ment)" and "settl(ed)"
