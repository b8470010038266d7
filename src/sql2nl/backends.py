"""Backends: the registry that plugins fill, and the small interface every backend implements."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterator, Sequence

from .errors import BackendError, BackendUnavailableError, InvalidInputError, Sql2NLError, UnknownBackendError

if TYPE_CHECKING:
    from .facts import StatementFacts
    from .schema import Schema

# Backends that ship as separate distributions: choosing one that is not installed says what to install.
KNOWN_EXTERNAL = {
    "transformers": "pip install sql2nl-transformers  (from plugins/sql2nl-transformers)",
    "llamacpp": "pip install sql2nl-llamacpp  (from plugins/sql2nl-llamacpp)",
    "openai": "pip install sql2nl-openai  (from plugins/sql2nl-openai)",
}


@dataclass(frozen=True)
class Request:
    """What a backend is asked to describe: the SQL as it may see it (redacted if asked) and its facts."""

    sql: str
    facts: tuple["StatementFacts", ...]
    language: str = "en"
    dialect: str | None = None
    schema: "Schema | None" = None
    #: "summary" (one short paragraph) or "steps" (a numbered outline, one step per CTE/derived table).
    detail: str = "summary"
    #: "statement" ("List the names of ...") or "question" ("What are the names of ...?").
    style: str = "statement"


@dataclass
class Draft:
    """A backend's answer before the core wraps it into a :class:`~sql2nl.Description`."""

    text: str
    warnings: list[str] = field(default_factory=list)
    faithfulness: float | None = None
    backend: str | None = None  # set when a guard answered with another backend


class Backend:
    """Base class for backends. Subclasses set ``name`` and implement :meth:`describe`.

    One instance is built per distinct set of options and reused for the whole process, so a
    backend that loads a model does it once; instances must be safe to call from several threads.
    """

    name: ClassVar[str] = "backend"
    #: Whether :meth:`stream` yields text as it is produced (LLM backends) or all at once.
    streams: ClassVar[bool] = False

    def __init__(self, **options: Any):
        if options:
            raise InvalidInputError(f"The {self.name!r} backend takes no options; got {', '.join(sorted(options))}. "
                                    "Options such as model= are for model backends (see `sql2nl backends`).")

    @property
    def identity(self) -> str:
        """What distinguishes this backend's outputs in the cache (its name plus model, adapter...)."""
        return self.name

    def describe(self, request: Request) -> Draft:
        """Describe every statement of ``request`` (``request.facts`` has one entry per statement)."""
        raise NotImplementedError

    def describe_batch(self, requests: Sequence[Request]) -> list[Draft]:
        """Describe several requests; backends that batch override this."""
        return [self.describe(r) for r in requests]

    def stream(self, request: Request) -> Iterator[str]:
        """Yield the description in pieces; backends that cannot stream yield it once."""
        yield self.describe(request).text


@dataclass(frozen=True)
class BackendInfo:
    """A registered backend: its name, how to build it, and which plugin registered it."""

    name: str
    factory: Callable[..., Backend]
    description: str = ""
    plugin: str = ""
    install: str = ""  # the pip install that provides what it needs, if anything


_instances: dict[tuple, Backend] = {}
_instances_lock = threading.Lock()


def available_backends() -> dict[str, BackendInfo]:
    """Every backend the installed plugins register, by name."""
    from .plugins import get_plugin_manager

    pm = get_plugin_manager()
    found: dict[str, BackendInfo] = {}
    for impl in pm.hook.register_backends.get_hookimpls():
        def register(name, factory, description="", install="", _plugin=impl.plugin_name):
            found[name] = BackendInfo(name, factory, description, _plugin, install)

        impl.function(register=register)
    return found


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple, set)):
        return tuple(_freeze(v) for v in value)
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def get_backend(name: str, **options: Any) -> Backend:
    """The shared instance of backend ``name`` for these options (built on first use).

    Raises :class:`UnknownBackendError` (with the closest name) or :class:`BackendUnavailableError`
    (with the ``pip install`` that fixes it).
    """
    if not isinstance(name, str):
        raise InvalidInputError(f"backend= must be a backend name or a Backend, got {type(name).__name__}.")
    key = (name, _freeze(options) if options else ())
    inst = _instances.get(key)
    if inst is not None:
        return inst
    with _instances_lock:
        inst = _instances.get(key)
        if inst is None:
            infos = available_backends()
            if name not in infos:
                if name in KNOWN_EXTERNAL:
                    raise BackendUnavailableError(name, KNOWN_EXTERNAL[name], "its plugin is not installed")
                from .plugins import plugin_errors

                raise UnknownBackendError(name, list(infos), suggestions=list(KNOWN_EXTERNAL),
                                          broken=plugin_errors())
            inst = _build(infos[name], options)
            _instances[key] = inst
    return inst


def _build(info: BackendInfo, options: dict[str, Any]) -> Backend:
    # Whatever a plugin's factory raises reaches the user as a Sql2NLError that names the backend.
    try:
        return info.factory(**options)
    except Sql2NLError:
        raise
    except TypeError as e:
        raise InvalidInputError(f"The {info.name!r} backend does not accept these options "
                                f"({', '.join(sorted(options)) or 'none'}): {e}") from e
    except ImportError as e:
        raise BackendUnavailableError(info.name, info.install or KNOWN_EXTERNAL.get(info.name, "its plugin's extras"),
                                      f"{type(e).__name__}: {e}") from e
    except Exception as e:
        raise BackendError(f"Could not start the {info.name!r} backend: {type(e).__name__}: {e}") from e


def clear_backend_instances() -> None:
    """Drop every shared backend instance (their models are freed once nothing else holds them)."""
    with _instances_lock:
        _instances.clear()
