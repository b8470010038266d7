"""Redaction: no literal value, comment or password leaves the process; the text gets them back locally.

What a backend sees with ``redact=True``:

* every literal value (strings in any quoting style — ``'..'``, ``E'..'``, ``N'..'``, ``X'..'``,
  ``B'..'``, ``$$..$$``, ``$tag$..$tag$`` —, numbers, dates, JSON path keys) becomes a
  placeholder **string literal** ``'value1'``, ``'value2'``... (the same value gets the same one).
  A string literal passes through every sqlglot dialect's generator unchanged (a ``:v1``
  parameter does not: PostgreSQL writes ``%(v1)s``, DuckDB ``$v1``...), it is still a value for
  the facts and the checker, and models copy it. LIMIT/OFFSET/FETCH counts and type sizes
  (``VARCHAR(20)``) are kept: they are not data.
* comments are dropped (they can hold anything);
* a statement sqlglot could not parse into literals (a ``Command``: ``CREATE USER .. PASSWORD``,
  ``ALTER ROLE``, ``COPY .. CREDENTIALS``), one that names a password or credentials, and one whose
  generated SQL still holds a word that only occurs inside a string or comment of the input (a
  dialect that misreads a quoting style it does not know) is **redacted wholesale**: the backend
  sees the statement kind and object names only (``CREATE USER bob``). Nothing is passed through.

Spider/SQLite-style ``"strings"`` are values too: :mod:`sql2nl.facts` reads them as string literals in
its own copy of the tree, so the core redacts ``facts.tree`` (after the facts are extracted).

:meth:`Redaction.restore` puts the values back into the description (quotes the model put around a
number are dropped) in one pass, and :meth:`Redaction.hold_back` tells a stream how much of its
tail may be the start of a placeholder that the next piece completes.

>>> import sqlglot
>>> sql = "SELECT name FROM users WHERE city = 'Oslo' LIMIT 5"
>>> r = redact([sqlglot.parse_one(sql)], sql)
>>> r.sql()
"SELECT name FROM users WHERE city = 'value1' LIMIT 5"
>>> r.restore("Names of users in 'value1'.")
"Names of users in 'Oslo'."
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.tokens import Tokenizer, TokenType

from .facts import literal_text

#: Node types that carry a user's value.
VALUE_TYPES = (
    exp.Literal,
    exp.HexString,
    exp.BitString,
    exp.ByteString,
    exp.RawString,
    exp.National,
    exp.UnicodeString,
)
_KEEP_UNDER = (exp.Limit, exp.Offset, exp.Fetch, exp.DataType)
#: Words (outside strings) that mark a statement as carrying credentials, perhaps unquoted (Oracle's
#: ``IDENTIFIED BY hunter2``): such a statement is redacted wholesale whatever its form.
SECRET_WORDS = frozenset({"password", "identified", "credentials", "credential", "encrypted", "unencrypted"})
#: Words that name what a statement creates or changes (kept in a wholesale redaction).
OBJECT_WORDS = frozenset(
    {
        "user",
        "role",
        "login",
        "group",
        "table",
        "view",
        "materialized",
        "index",
        "unique",
        "sequence",
        "schema",
        "database",
        "function",
        "procedure",
        "trigger",
        "extension",
        "server",
        "type",
        "domain",
        "policy",
        "publication",
        "subscription",
        "tablespace",
        "foreign",
        "data",
        "wrapper",
        "mapping",
        "for",
        "if",
        "not",
        "exists",
        "or",
        "replace",
        "temporary",
        "temp",
        "external",
        "stage",
        "warehouse",
        "secret",
        "connection",
        "integration",
        "event",
        "rule",
        "collation",
        "operator",
        "aggregate",
        "cast",
        "column",
        "from",
        "to",
        "on",
        "into",
        "only",
        "concurrently",
        "system",
        "session",
        "global",
        "local",
        "password",
        "identified",
    }
)
_KEYWORDS = frozenset(k.lower() for k in Tokenizer.KEYWORDS if k.replace("_", "").isalpha())
_WORD = re.compile(r"\w+")
_NOT_WORD_BEFORE = r"(?<![A-Za-z0-9_])"  # ASCII: a placeholder right after Chinese text still counts


@dataclass
class Redaction:
    """Redacted copies of the statements and the values they hid (placeholder name -> value)."""

    trees: list[exp.Expression]
    values: dict[str, str] = field(default_factory=dict)
    prefix: str = "value"
    #: Placeholders whose value was a string (kept in quotes) rather than a number or date.
    strings: set[str] = field(default_factory=set)
    #: Indexes of the statements redacted wholesale (kind and object names only).
    wholesale: list[int] = field(default_factory=list)

    def sql(self, dialect: str | None = None) -> str:
        """The redacted statements as SQL (what a backend sees)."""
        return ";\n".join(t.sql(dialect=dialect, comments=False) for t in self.trees)

    @property
    def _pattern(self) -> re.Pattern:
        return re.compile(
            rf"(?P<q>['\"]?){_NOT_WORD_BEFORE}{re.escape(self.prefix)}[ _]?(?P<n>\d+)(?!\d)(?P<q2>['\"]?)",
            re.IGNORECASE,
        )

    def restore(self, text: str) -> str:
        """``text`` with every placeholder this redaction made replaced by its value, in one pass
        (a value that itself looks like a placeholder is left alone). Models echo placeholders in
        their own way: any case, with or without quotes, ``value 1`` or ``value_1`` all count."""
        if not self.values or self.prefix[0].lower() not in text.lower():
            return text

        def put(m: re.Match) -> str:
            name = f"{self.prefix}{m.group('n')}"
            value = self.values.get(name)
            if value is None:
                return m.group(0)
            q, q2 = m.group("q"), m.group("q2")
            if name not in self.strings and q and q == q2:  # a number the model quoted as a string
                return value
            return f"{q}{value}{q2}"

        return self._pattern.sub(put, text)

    def hold_back(self, text: str) -> int:
        """How many characters at the end of ``text`` could be a placeholder still arriving."""
        if not self.values:
            return 0
        p = self.prefix
        partial = "|".join(re.escape(p[:k]) for k in range(len(p), 0, -1))
        m = re.search(
            rf"['\"]?{_NOT_WORD_BEFORE}(?:{re.escape(p)}[ _]?\d*['\"]?|(?:{partial}))$|['\"]$", text, re.IGNORECASE
        )
        return len(text) - m.start() if m else 0


def redact(trees: list[exp.Expression], text: str = "", dialect: str | None = None) -> Redaction:
    """Copies of ``trees`` with literal values replaced by placeholders and comments removed.

    ``text`` is the SQL the trees were parsed from: words that occur in it only inside strings or
    comments must not reach the backend, whatever the parser made of them.
    """
    out = Redaction([], prefix=_prefix(text, trees))
    hidden = sensitive_words(text, dialect)
    by_value: dict[str, str] = {}
    for i, tree in enumerate(trees):
        red = None if _is_command(tree) else _redact_values(tree, out, by_value)
        if red is None or _names_credentials(red, dialect) or _leaks(red, hidden, out.prefix, dialect):
            red = _wholesale(tree, hidden, dialect)
            out.wholesale.append(i)
        out.trees.append(red)
    return out


def _prefix(text: str, trees: list[exp.Expression]) -> str:
    # The placeholder must not occur in the SQL already (as a value, a name, a comment...).
    seen = text or " ".join(t.sql() for t in trees)
    prefix = "value"
    while re.search(rf"{_NOT_WORD_BEFORE}{prefix}[ _]?\d", seen, re.IGNORECASE):
        prefix = "x" + prefix
    return prefix


def _is_command(tree: exp.Expression) -> bool:
    return isinstance(tree, exp.Command) or tree.find(exp.Command) is not None


def _names_credentials(redacted: exp.Expression, dialect: str | None) -> bool:
    # Checked once the values are placeholders: a *value* that says "password" is fine.
    try:
        words = {w.lower() for w in _WORD.findall(redacted.sql(dialect=dialect, comments=False))}
    except Exception:  # a tree its own dialect cannot write: nothing of it is sent
        return True
    return bool(words & SECRET_WORDS)


def _redact_values(tree: exp.Expression, out: Redaction, by_value: dict[str, str]) -> exp.Expression | None:
    tree = tree.copy()
    found: list[exp.Expression] = []
    # Nodes below a LIMIT, a type...: marked on the way down, since asking each value for its ancestors
    # costs the tree's depth per value (minutes for `1 + 1 + ...` with 20,000 terms).
    kept: set[int] = set()
    for node in tree.walk(bfs=False):  # depth-first: placeholders numbered in reading order
        parent = node.parent
        if parent is not None and (id(parent) in kept or isinstance(parent, _KEEP_UNDER)):
            kept.add(id(node))
        if node.comments:
            node.comments = None
        if isinstance(node, VALUE_TYPES) or isinstance(node, exp.JSONPathKey):
            found.append(node)
    for node in found:
        if id(node) in kept:
            continue
        if isinstance(node, exp.JSONPathKey):
            if not isinstance(node.this, str):
                continue
            value, is_string = node.this, True
        elif isinstance(node, exp.Literal):
            value, is_string = literal_text(node), node.is_string
        else:
            value, is_string = str(node.this), False
        name = by_value.get(value)
        if name is None:
            name = by_value[value] = f"{out.prefix}{len(by_value) + 1}"
            out.values[name] = value
        if is_string:
            out.strings.add(name)
        if isinstance(node, exp.JSONPathKey):
            node.set("this", name)
        else:
            _swap(node, exp.Literal.string(name))
    return tree


def _swap(node: exp.Expression, new: exp.Expression) -> None:
    """``node.replace(new)`` in constant time: sqlglot's re-parents every item of a list argument on each
    replacement, which made an IN list of 20,000 values take minutes."""
    parent, key, index = node.parent, node.arg_key, node.index
    items = parent.args.get(key) if parent is not None else None
    if not isinstance(items, list) or index is None or index >= len(items) or items[index] is not node:
        node.replace(new)
        return
    items[index] = new
    new.parent, new.arg_key, new.index = parent, key, index
    node.parent, node.arg_key, node.index = None, None, None


def _leaks(tree: exp.Expression, hidden: set[str], prefix: str, dialect: str | None) -> bool:
    """Whether the redacted tree still carries a word found only inside the input's strings/comments."""
    if not hidden:
        return False
    try:
        parts = [tree.sql(dialect=dialect, comments=False)]
    except Exception:
        return True
    # The facts read the tree's own strings (names, values) too, not only its SQL.
    parts += [v for node in tree.walk() for v in node.args.values() if isinstance(v, str)]
    words = {w.lower() for w in _WORD.findall(" ".join(parts))}
    return bool({w for w in words & hidden if not re.fullmatch(rf"{prefix}\d+", w)})


def _scanner(dialect: str | None) -> re.Pattern:
    try:
        tok = Dialect.get_or_raise(dialect).tokenizer_class
        comments, escapes = tok.COMMENTS, tok.STRING_ESCAPES
    except Exception:
        comments, escapes = ["--", "#"], ["\\"]
    backslash = dialect is None or "\\" in escapes
    string = r"'(?:[^'\\]|\\.|'')*(?:'|\Z)" if backslash else r"'(?:[^']|'')*(?:'|\Z)"
    # A '#' comment where the dialect has one; elsewhere only a '#' that cannot start a name (#temp).
    hash_ = r"\#[^\n]*" if "#" in comments else r"\#(?![\w@#$])[^\n]*"
    return re.compile(
        rf"(?P<hidden>\$(?P<tag>[A-Za-z_]\w*|)\$.*?(?:\$(?P=tag)\$|\Z)|{string}|--[^\n]*|/\*.*?(?:\*/|\Z)|{hash_})"
        r"|(?P<name>\"(?:[^\"]|\"\")*\"?|`[^`]*`?)",
        re.DOTALL,
    )


def sensitive_words(text: str, dialect: str | None = None) -> set[str]:
    """Lower-cased words that occur in ``text`` only inside strings (any quoting style) or comments.

    Conservative by design: any dialect's string or comment syntax counts, so a dialect that
    misreads one (``$tag$..$tag$`` read as names) cannot smuggle its content out.
    """
    inside: set[str] = set()
    outside: list[str] = []
    last = 0
    for m in _scanner(dialect).finditer(text):
        outside.append(text[last : m.start()])
        if m.group("hidden") is not None:
            inside.update(w.lower() for w in _WORD.findall(m.group("hidden")))
        else:
            outside.append(m.group(0))
        last = m.end()
    outside.append(text[last:])
    seen = {w.lower() for w in _WORD.findall(" ".join(outside))}
    return inside - seen - _KEYWORDS


def _wholesale(tree: exp.Expression, hidden: set[str], dialect: str | None) -> exp.Expression:
    """The statement's kind and object names only, as a ``Command`` (what a backend may see)."""
    if isinstance(tree, exp.Command):
        kind, words = str(tree.this).upper(), _command_words(str(tree.expression or ""), hidden, dialect)
    else:
        kind = type(tree).__name__.upper() if not isinstance(tree, exp.Query) else "SELECT"
        kind = {"TRUNCATETABLE": "TRUNCATE"}.get(kind, kind)
        object_kind = tree.args.get("kind") if isinstance(tree.args.get("kind"), str) else None
        names = list(dict.fromkeys(t.name for t in tree.find_all(exp.Table) if t.name))
        names = [n for n in names if not {w.lower() for w in _WORD.findall(n)} & (hidden | SECRET_WORDS)]
        where = ["FROM"] if isinstance(tree, exp.Query) and names else []
        words = ([object_kind.upper()] if object_kind else []) + where + ([", ".join(names)] if names else [])
    return exp.Command(this=kind, expression=(" " + " ".join(words)) if words else "")


def _command_words(raw: str, hidden: set[str], dialect: str | None) -> list[str]:
    """The object-kind words and the first name of a statement sqlglot kept as raw text."""
    try:
        tokens = Dialect.get_or_raise(dialect).tokenize(raw)
    except Exception:
        return []
    words: list[str] = []
    for tok in tokens:
        low = tok.text.lower()
        if low in OBJECT_WORDS and low not in SECRET_WORDS:
            words.append(tok.text.upper())
            continue
        if (
            tok.token_type in (TokenType.VAR, TokenType.IDENTIFIER)
            and low not in SECRET_WORDS
            and not {w.lower() for w in _WORD.findall(tok.text)} & hidden
        ):
            words.append(tok.text)
        break
    return words
