"""Backend options, declared once per backend; everything else is derived from the declaration.

A backend declares its options as a dataclass (simonw/llm's ``Options`` classes are the model):
each field has a type, a default, help text, and whether it can change the text a backend
writes. From that one declaration come

* validation, with "did you mean" for a mistyped name (:meth:`Options.parse`);
* ``-o key=value`` on the command line (values are strings there; :meth:`Options.parse` reads
  them as the declared type);
* the cache key (:meth:`Options.key`: every option that can change the text, by construction);
* the server's request schema and OpenAPI document (:meth:`Options.json_schema`);
* ``sql2nl backends --options`` and the table in docs/backends.md (:meth:`Options.markdown`).

>>> from dataclasses import dataclass
>>> @dataclass
... class MyOptions(Options):
...     n_ctx: int = option(2048, "Context window in tokens.", changes_text=False, minimum=1)
...     style: str = option("plain", "How to phrase it.", choices=("plain", "formal"))
>>> MyOptions.parse({"n_ctx": "4096"}, backend="mine").n_ctx
4096
>>> MyOptions.parse({"n_tcx": 1}, backend="mine")
Traceback (most recent call last):
...
sql2nl.errors.InvalidInputError: The 'mine' backend has no option 'n_tcx' (did you mean 'n_ctx'?). It takes: n_ctx, style.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from .errors import InvalidInputError


def option(
    default: Any,
    help: str,
    *,
    changes_text: bool = True,
    choices: tuple | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    per_request: bool = False,
    secret: bool = False,
) -> Any:
    """Declare one option (use as a dataclass field's default).

    ``changes_text``: whether two values can give different descriptions (then it is part of the
    cache key); ``per_request``: whether a server request may set it (it needs no reloading);
    ``secret``: never shown, logged or put in a cache key (an API key).
    """
    meta = {
        "help": help,
        "changes_text": changes_text and not secret,
        "choices": choices,
        "minimum": minimum,
        "maximum": maximum,
        "per_request": per_request,
        "secret": secret,
    }
    if isinstance(default, (dict, list)):
        frozen = json.dumps(default)  # a fresh copy per instance, never the shared default
        return field(default_factory=lambda: json.loads(frozen), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class OptionSpec:
    """One declared option, as the CLI, the server, the docs and the cache key see it."""

    name: str
    type: Any
    default: Any
    help: str
    changes_text: bool
    choices: tuple | None
    minimum: float | None
    maximum: float | None
    per_request: bool
    secret: bool

    @property
    def type_name(self) -> str:
        return _type_name(self.type, self.choices)


@dataclass
class Options:
    """Base class of every backend's options (a backend with no options uses it as it is)."""

    _specs: ClassVar[dict[type, tuple[OptionSpec, ...]]] = {}

    @classmethod
    def specs(cls) -> tuple[OptionSpec, ...]:
        """The declared options, in declaration order."""
        got = Options._specs.get(cls)
        if got is None:
            hints = typing.get_type_hints(cls)
            out = []
            for f in dataclasses.fields(cls):
                m = f.metadata
                if "help" not in m:
                    raise TypeError(f"{cls.__name__}.{f.name} must be declared with sql2nl.options.option(...)")
                if f.default is not dataclasses.MISSING:
                    default = f.default
                elif f.default_factory is not dataclasses.MISSING:
                    default = f.default_factory()
                else:
                    raise TypeError(f"{cls.__name__}.{f.name} has no default; declare one with option(...)")
                out.append(
                    OptionSpec(
                        f.name,
                        hints[f.name],
                        default,
                        m["help"],
                        m["changes_text"],
                        m["choices"],
                        m["minimum"],
                        m["maximum"],
                        m["per_request"],
                        m["secret"],
                    )
                )
            got = Options._specs[cls] = tuple(out)
        return got

    @classmethod
    def names(cls) -> list[str]:
        return [s.name for s in cls.specs()]

    @classmethod
    def parse(cls, values: Mapping[str, Any], *, backend: str) -> "Options":
        """Options from ``values`` (keyword arguments, or ``-o`` strings), checked and converted.

        Raises :class:`~sql2nl.errors.InvalidInputError` naming the option and what it takes.
        """
        return cls(**cls.convert(values, backend=backend))

    @classmethod
    def convert(cls, values: Mapping[str, Any], *, backend: str, only: Any = None) -> dict[str, Any]:
        """``values`` checked and converted to the declared types (only the names given)."""
        specs = {s.name: s for s in cls.specs()}
        allowed = specs if only is None else {n: s for n, s in specs.items() if only(s)}
        out: dict[str, Any] = {}
        for name, value in values.items():
            spec = allowed.get(name)
            if spec is None:
                raise InvalidInputError(_unknown(name, backend, list(allowed), name in specs))
            out[name] = _convert(spec, value, backend)
        return out

    def key(self) -> tuple:
        """The values of every option that can change the text: what the cache key holds."""
        return tuple((s.name, freeze(getattr(self, s.name))) for s in self.specs() if s.changes_text)

    def to_dict(self, *, include_secrets: bool = False) -> dict[str, Any]:
        return {s.name: getattr(self, s.name) for s in self.specs() if include_secrets or not s.secret}

    def replace(self, **changes: Any) -> "Options":
        return dataclasses.replace(self, **changes)

    # -- derived descriptions ------------------------------------------------------------------
    @classmethod
    def json_schema(cls, *, per_request_only: bool = False) -> dict[str, Any]:
        """An OpenAPI 3.0 object schema of the options (``per_request_only``: those a request may set)."""
        props = {}
        for s in cls.specs():
            if s.secret or (per_request_only and not s.per_request):
                continue
            props[s.name] = {**_schema(s.type, s.choices), "description": s.help, **_bounds(s)}
            if s.default is not None:
                props[s.name]["default"] = s.default
        return {"type": "object", "additionalProperties": False, "properties": props}

    @classmethod
    def markdown(cls) -> str:
        """The options as a Markdown table (``sql2nl backends --options --markdown``; docs/backends.md)."""
        rows = [
            "| option | type | default | changes the text | per request | what it does |",
            "|---|---|---|---|---|---|",
        ]
        for s in cls.specs():
            default = "" if s.secret else json.dumps(s.default)
            rows.append(
                f"| `{s.name}` | {s.type_name} | `{default}` | {'yes' if s.changes_text else 'no'} | "
                f"{'yes' if s.per_request else 'no'} | {s.help} |"
            )
        return "\n".join(rows)


# -- conversion ---------------------------------------------------------------------------------
def _members(tp: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return typing.get_args(tp)
    return (tp,)


def _convert(spec: OptionSpec, value: Any, backend: str) -> Any:
    members = _members(spec.type)
    structured = any(m in (list, dict) or typing.get_origin(m) in (list, dict) for m in members)
    if structured and isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
        value = _from_text(value, members)  # -o stop='["a", "b"]' is a list, not one odd stop string
    ok, got = _first(members, value)
    if not ok and isinstance(value, str):  # from the command line: "4096", "true", "null", JSON
        ok, got = _first(members, _from_text(value, members))
    if not ok:
        raise InvalidInputError(
            f"The {backend!r} backend's option {spec.name} must be {spec.type_name}, got {value!r}."
        )
    value = got
    if spec.choices is not None and isinstance(value, str) and value not in spec.choices:
        raise InvalidInputError(
            f"The {backend!r} backend's option {spec.name} must be one of "
            f"{', '.join(map(str, spec.choices))}, got {value!r}."
        )
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if spec.minimum is not None and value < spec.minimum:
            raise InvalidInputError(
                f"The {backend!r} backend's option {spec.name} must be at least {spec.minimum:g}, got {value!r}."
            )
        if spec.maximum is not None and value > spec.maximum:
            raise InvalidInputError(
                f"The {backend!r} backend's option {spec.name} must be at most {spec.maximum:g}, got {value!r}."
            )
    return value


def _first(members: tuple[Any, ...], value: Any) -> tuple[bool, Any]:
    for m in members:
        ok, got = _check(m, value)
        if ok:
            return True, got
    return False, value


def _from_text(text: str, members: tuple[Any, ...]) -> Any:
    """A command-line string read as the declared type (``4096`` -> 4096, ``true`` -> True, JSON)."""
    low = text.strip().lower()
    if low in ("null", "none") and type(None) in members:
        return None
    if bool in members and low in ("true", "false", "yes", "no", "on", "off", "1", "0"):
        return low in ("true", "yes", "on", "1")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _check(tp: Any, value: Any) -> tuple[bool, Any]:
    if tp is type(None) or tp is None:
        return value is None, None
    if tp is Any:
        return True, value
    origin = typing.get_origin(tp)
    if origin is Literal:
        return value in typing.get_args(tp) and not (isinstance(value, bool) and True not in typing.get_args(tp)), value
    if tp is bool:
        return isinstance(value, bool), value
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool), float(value) if isinstance(
            value, (int, float)
        ) and not isinstance(value, bool) else value
    if tp is str:
        return isinstance(value, str), value
    if tp is dict or origin is dict:
        return isinstance(value, dict), value
    if tp is list or origin is list:
        ok = isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
        return ok, list(value) if ok else value
    return isinstance(value, tp), value


def _unknown(name: str, backend: str, known: list[str], not_here: bool) -> str:
    if not_here:
        return f"The {backend!r} backend's option {name!r} cannot be set here (only: {', '.join(known) or 'none'})."
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    takes = f"It takes: {', '.join(known)}." if known else "It takes no options."
    return f"The {backend!r} backend has no option {name!r}{hint}. {takes}"


def freeze(value: Any) -> Any:
    """``value`` made hashable (dicts and lists to sorted tuples): for cache keys."""
    if isinstance(value, dict):
        return tuple(sorted((str(k), freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple, set)):
        return tuple(freeze(v) for v in value)
    return value


# -- descriptions of types ------------------------------------------------------------------------
def _type_name(tp: Any, choices: tuple | None) -> str:
    if choices:
        return " / ".join(json.dumps(c) for c in choices)
    names: list[str] = []
    for m in _members(tp):
        if typing.get_origin(m) is Literal:
            names.extend(json.dumps(a) for a in typing.get_args(m))
        elif m is type(None):
            names.append("null")
        elif typing.get_origin(m) is list or m is list:
            names.append("list of strings")
        elif typing.get_origin(m) is dict or m is dict:
            names.append("object")
        else:
            names.append({int: "integer", float: "number", bool: "boolean", str: "string"}.get(m, str(m)))
    return " / ".join(names)


def _schema(tp: Any, choices: tuple | None) -> dict[str, Any]:
    members = _members(tp)
    nullable = type(None) in members
    alts: list[dict[str, Any]] = []
    for m in members:
        if m is type(None):
            continue
        if typing.get_origin(m) is Literal:
            vals = list(typing.get_args(m))
            alts.append({"type": "boolean" if isinstance(vals[0], bool) else "string", "enum": vals})
        elif m is bool:
            alts.append({"type": "boolean"})
        elif m is int:
            alts.append({"type": "integer"})
        elif m is float:
            alts.append({"type": "number"})
        elif m is str:
            alts.append({"type": "string", **({"enum": list(choices)} if choices else {})})
        elif m is dict or typing.get_origin(m) is dict:
            alts.append({"type": "object"})
        elif m is list or typing.get_origin(m) is list:
            alts.append({"type": "array", "items": {"type": "string"}})
    out: dict[str, Any] = alts[0] if len(alts) == 1 else {"oneOf": alts}
    if nullable:
        out = {**out, "nullable": True}
    return out


def _bounds(s: OptionSpec) -> dict[str, Any]:
    out = {}
    if s.minimum is not None:
        out["minimum"] = s.minimum
    if s.maximum is not None:
        out["maximum"] = s.maximum
    return out
