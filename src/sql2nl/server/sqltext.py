"""Reading a chat message as a person writes it: statement words, lines of prose, SQL a line at a time.

The pieces :mod:`sql2nl.server.finder` is built from: which words start a statement and what each
needs later on, whether a line (or what follows a statement on its line) reads as English, and
sqlglot's tokenizer run over a stretch of the message one line at a time, so that a quote left
open in a sentence ("it's") spoils one line, not the rest of the message.
"""

from __future__ import annotations

import bisect
import functools
import re

import sqlglot
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

from ..lexical import unclosed_quote

START_WORDS = (
    "SELECT",
    "WITH",
    "INSERT",
    "UPDATE",
    "DELETE",
    "MERGE",
    "CREATE",
    "ALTER",
    "DROP",
    "TRUNCATE",
    "REPLACE",
    "UPSERT",
)
START_SET = frozenset(START_WORDS)
# A statement word in prose: at a line start or after a colon, space, quote, '>' (a quoted reply) or ';'.
# '(' is left out on purpose: prose has parentheses far more often than SQL starts with one.
START = re.compile(r"(?i)(?:^|(?<=[:：\s`\"'>;]))(" + "|".join(START_WORDS) + r")\b", re.M)
_OBJECTS = r"\b(?:TABLE|VIEW|INDEX|DATABASE|SCHEMA|FUNCTION|PROCEDURE|SEQUENCE|TRIGGER|TYPE|USER|ROLE)\b"
# A statement found in running text must also have the clause its first word needs ("select the
# best option" parses as SQL but has no FROM): this keeps ordinary English out.
NEEDS = {
    word: re.compile(pattern, re.I)
    for word, pattern in {
        "SELECT": r"\bFROM\b",
        "WITH": r"\bAS\s*\(",
        "INSERT": r"\bINTO\b",
        "UPDATE": r"\bSET\b",
        "DELETE": r"\bFROM\b",
        "MERGE": r"\bUSING\b",
        "REPLACE": r"\bINTO\b",
        "UPSERT": r"\bINTO\b",
        "CREATE": _OBJECTS,
        "ALTER": _OBJECTS,
        "DROP": _OBJECTS,
        "TRUNCATE": r"\w",
    }.items()
}

# -- lines of prose -----------------------------------------------------------------------------------
# Words of a clause that can begin a line of SQL; a line starting with one is SQL unless it reads as
# a sentence ("And what does it return?").
_CLAUSE_WORDS = (
    frozenset(
        """
    FROM WHERE GROUP ORDER HAVING LIMIT OFFSET FETCH JOIN INNER LEFT RIGHT FULL CROSS OUTER NATURAL LATERAL ON
    AND OR NOT UNION EXCEPT INTERSECT MINUS SET VALUES INTO RETURNING USING WHEN THEN ELSE END CASE AS WINDOW
    QUALIFY FOR PARTITION OVER BY ASC DESC NULLS IS IN BETWEEN LIKE EXISTS ALL ANY DISTINCT TOP
""".split()
    )
    | START_SET
)
# Characters of SQL that sentences seldom have (an apostrophe inside a word is English: "it's").
_SQL_SYMBOLS = re.compile(r"[=<>*()\[\]{}\"`|+/%@$#\\]|--|'(?![A-Za-z])|(?<![A-Za-z])'")
SQL_STRING = re.compile(r"(?<![A-Za-z])'[^'\n]*'(?![A-Za-z])")
_WORDS = re.compile(r"[^\W\d_][\w'’-]*|\d+")
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")
_SENTENCE_END = re.compile(r"[.?!:。？！：]\s*$")
_QUESTION_END = re.compile(r"[?!？！]\s*$")


def is_prose(line: str) -> bool:
    """Whether a line reads as a sentence rather than SQL ("Thanks!", "What does it return?").

    >>> is_prose("Thanks!"), is_prose("ORDER BY name"), is_prose("WHERE a = 1"), is_prose("users u")
    (True, False, False, False)
    """
    if _SQL_SYMBOLS.search(line):
        return False
    if _CJK.search(line):
        return True
    words = _WORDS.findall(line)
    if not words:
        return False
    if words[0].upper() not in _CLAUSE_WORDS and (_SENTENCE_END.search(line) or len(words) >= 4):
        return True
    return bool(_QUESTION_END.search(line)) and len(words) >= 5


def prose_tail(tail: str) -> bool:
    """Whether what follows a statement on its line is words of prose ("do?", "and why is it slow?")."""
    tail = tail.strip()
    if not tail or "\n" in tail or _SQL_SYMBOLS.search(tail):
        return False
    if _CJK.search(tail):
        return True
    words = _WORDS.findall(tail)
    return bool(_SENTENCE_END.search(tail)) or len(words) >= 3


# -- tokens -------------------------------------------------------------------------------------------
OPEN = frozenset({TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE})
CLOSE = frozenset({TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE})
QUOTED = frozenset(
    {
        TokenType.STRING,
        TokenType.IDENTIFIER,
        TokenType.NATIONAL_STRING,
        TokenType.HEX_STRING,
        TokenType.BIT_STRING,
        TokenType.BYTE_STRING,
        TokenType.RAW_STRING,
        TokenType.HEREDOC_STRING,
    }
)
_APOSTROPHE = re.compile(r"[^\W\d_]['’][^\W\d_]")  # "it's": prose, not a string left open
_CLOSERS = {"'": "'", '"': '"', "`": "`", "/": "*/"}
#: Lines a string or block comment may span in the prose before the line is treated as opaque.
_MAX_JOINED_LINES = 8


@functools.cache
def _tokenizer_class(dialect: str | None) -> type:
    base = sqlglot.Dialect.get_or_raise(dialect).tokenizer_class
    # Without COMMANDS every word stays a token ("explain SELECT ..." would be one EXPLAIN token
    # swallowing the rest of the line).
    return type(f"Finder{base.__name__}", (base,), {"COMMANDS": set()})


class LineTokens:
    """The tokens of a stretch of text, a line at a time, each line tokenized at most once more
    than itself (a string or comment left open is retried together with the lines that close it)."""

    def __init__(self, text: str, end: int, dialect: str | None):
        self.text = text
        self.end = end
        # One tokenizer for the stretch (each call starts afresh: tokenize() resets it).
        self.tokenizer = _tokenizer_class(dialect)(dialect=sqlglot.Dialect.get_or_raise(dialect))
        #: (position, what) of the quote or comment left open on each line that did not tokenize:
        #: SQL's strings seldom span lines, so that line, not where the quotes stop pairing, is the culprit.
        self.unclosed: list[tuple[int, str]] = []

    def unclosed_in(self, start: int, end: int) -> tuple[int, str] | None:
        """The first quote or comment left open between ``start`` and ``end``, if a line there had one."""
        i = bisect.bisect_left(self.unclosed, (start, ""))
        return self.unclosed[i] if i < len(self.unclosed) and self.unclosed[i][0] < end else None

    def tokens(self, pos: int, eol: int) -> tuple[list[Token] | None, int]:
        """Tokens (offsets in the whole text) from ``pos`` to the end of its line, and where they end;
        ``None`` when the line does not tokenize (an unclosed quote), with the line's end."""
        chunk = self.text[pos:eol]
        try:
            return self._shift(self.tokenizer.tokenize(chunk), pos), eol
        except (TokenError, ValueError):
            pass
        where = unclosed_quote(chunk)
        recorded = where is not None and (not self.unclosed or self.unclosed[-1][0] < pos + where[0])
        if where is not None and recorded:
            self.unclosed.append((pos + where[0], where[1]))
        if where is not None and not _APOSTROPHE.match(chunk, max(0, where[0] - 1)):
            closer = _CLOSERS.get(chunk[where[0]])
            if closer is not None:
                stop = eol
                for _ in range(_MAX_JOINED_LINES):
                    stop = self.text.find("\n", stop + 1, self.end)
                    if stop < 0:
                        stop = self.end
                        break
                close = self.text.find(closer, eol, stop)
                if close >= 0:
                    joined_end = self.text.find("\n", close, self.end)
                    joined_end = self.end if joined_end < 0 else joined_end
                    try:
                        toks = self.tokenizer.tokenize(self.text[pos:joined_end])
                        if recorded:
                            self.unclosed.pop()  # a string over several lines, closed after all
                        return self._shift(toks, pos), joined_end
                    except (TokenError, ValueError):
                        pass
        return None, eol

    @staticmethod
    def _shift(tokens: list[Token], pos: int) -> list[Token]:
        for t in tokens:
            t.start += pos
            t.end += pos
        return tokens


LAST_WORD = re.compile(r"[^\W_][\w'’]*$")
SENTENCE_BREAK = re.compile(r"(?<=[\w')\]\"])[.?!](?=\s)|[。？！]")


def line_before(text: str, pos: int, look: int = 80) -> str:
    """What precedes ``pos`` on its line, stripped (only the last ``look`` characters: a long line
    of prose is not SQL's start either way, and looking further would make the search quadratic)."""
    before = text[max(0, pos - look) : pos]
    return before[before.rfind("\n") + 1 :].strip()
