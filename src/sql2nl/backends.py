"""Backends: the registry that plugins fill, and the small interface every backend implements."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from .errors import BackendError, BackendUnavailableError, InvalidInputError, Sql2NLError, UnknownBackendError
from .options import Options, freeze
from .plugins import get_plugin_manager, on_plugins_changed, plugin_errors

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
    #: What the faithfulness guard did (LLM backends): see :mod:`sql2nl.guard`.
    guard: dict[str, Any] | None = None


class Backend:
    """Base class for backends. Subclasses set ``name`` and implement :meth:`describe`.

    A backend's options are declared once, as its :attr:`Options` dataclass (see
    :mod:`sql2nl.options`); ``Backend.__init__`` checks the keyword arguments against it and
    keeps them in ``self.options``. One instance is built per distinct set of options and reused
    for the whole process, so a backend that loads a model does it once; instances must be safe
    to call from several threads.
    """

    name: ClassVar[str] = "backend"
    #: Whether :meth:`stream` yields text as it is produced (LLM backends) or all at once.
    streams: ClassVar[bool] = False
    #: The declared options (a dataclass subclassing :class:`sql2nl.options.Options`).
    Options: ClassVar[type[Options]] = Options
    #: How :mod:`sql2nl.pool` shares this backend's work among processes (``describe_many(workers=N)``,
    #: ``sql2nl describe --jsonl --workers N``): statements per task sent to a worker, and the fewest
    #: statements worth starting workers for. None: the pool's defaults, made for the rules describer
    #: (well under a millisecond a statement); a model (a tenth of a second or more) wants small tasks,
    #: so that the workers stay evenly busy, and workers from a handful of statements on.
    pool_chunk: ClassVar[int | None] = None
    pool_min: ClassVar[int | None] = None
    #: The pool's :mod:`multiprocessing` start method for this backend (None: the platform's). A
    #: process forked from one whose native thread pools have run (llama.cpp's OpenMP, torch) inherits
    #: them broken: on Linux such workers described 3x slower than spawned ones.
    pool_start: ClassVar[str | None] = None
    #: How many worker processes when the caller does not say (None: one per CPU). A backend that
    #: batches on a GPU wants 1: each worker would load its own copy of the model onto the GPU.
    pool_workers: ClassVar[int | None] = None

    def __init__(self, **options: Any):
        self.options = self.Options.parse(options, backend=self.name)

    @property
    def identity(self) -> str:
        """What distinguishes this backend's outputs in the cache: its name, every declared option
        that can change the text (by construction), and :meth:`fingerprint`."""
        cached = self.__dict__.get("_identity")
        opts = getattr(self, "options", None)
        if cached is None or cached[0] is not opts:  # computed once per options object (hot path)
            # A backend that keeps undeclared options of its own (an older plugin) is keyed by all of them.
            key = opts.key() if isinstance(opts, Options) else freeze(opts) if isinstance(opts, dict) else ()
            static = type(self).fingerprint is Backend.fingerprint
            # A string: it hashes once, and the cache key is hashed on every describe().
            cached = self.__dict__["_identity"] = (opts, repr((self.name, type(self).__qualname__, key)), static)
        return cached[1] if cached[2] else f"{cached[1]}|{self.fingerprint()!r}"

    def fingerprint(self) -> Any:
        """What the options cannot say but the text depends on: the contents of the model file they
        name, the prompt format's version... (default: nothing)."""
        return ""

    def with_options(self, **changes: Any) -> "Backend":
        """A copy that shares everything loaded but has other values for options a request may set
        (``per_request`` ones, such as the guard's); the server uses it for per-request options."""
        if not changes:
            return self
        given = self.Options.convert(changes, backend=self.name, only=lambda s: s.per_request)
        new = copy.copy(self)
        new.options = self.options.replace(**given)
        return new

    def describe(self, request: Request) -> Draft:
        """Describe every statement of ``request`` (``request.facts`` has one entry per statement)."""
        raise NotImplementedError

    def describe_batch(self, requests: Sequence[Request]) -> list[Draft]:
        """Describe several requests; backends that batch override this."""
        return [self.describe(r) for r in requests]

    def stream(self, request: Request) -> Generator[str, None, Draft | None]:
        """Yield the description in pieces; backends that cannot stream yield it once.

        The generator may return the final :class:`Draft` (with warnings, faithfulness...); if it
        returns nothing, the joined pieces are the text.
        """
        draft = self.describe(request)
        yield draft.text
        return draft


@dataclass(frozen=True)
class BackendInfo:
    """A registered backend: its name, how to build it, and which plugin registered it."""

    name: str
    factory: Callable[..., Backend]
    description: str = ""
    plugin: str = ""
    install: str = ""  # the pip install that provides what it needs, if anything
    #: The backend's declared options (checked before the backend is built, so a typo costs no model
    #: load); ``None`` when a plugin's factory did not say (its backend checks them when built).
    options: type[Options] | None = None


_instances: dict[tuple, Backend] = {}
_instances_lock = threading.Lock()


def available_backends() -> dict[str, BackendInfo]:
    """Every backend the installed plugins register, by name."""
    pm = get_plugin_manager()
    found: dict[str, BackendInfo] = {}
    for impl in pm.hook.register_backends.get_hookimpls():

        def register(name, factory, description="", install="", options=None, _plugin=impl.plugin_name):
            if options is None and isinstance(factory, type) and issubclass(factory, Backend):
                # A Backend class registered as its own factory declares them, unless it takes options
                # of its own without declaring them (then it checks them itself when built).
                if factory.Options is not Options or factory.__init__ is Backend.__init__:
                    options = factory.Options
            found[name] = BackendInfo(name, factory, description, _plugin, install, options)

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
                raise UnknownBackendError(name, list(infos), suggestions=list(KNOWN_EXTERNAL), broken=plugin_errors())
            info = infos[name]
            # Checked against the declaration first: a typo fails before any model is loaded, and
            # "4096" from the command line becomes 4096 (one instance for both spellings).
            given = info.options.convert(options, backend=name) if info.options is not None else dict(options)
            inst = _instances.get((name, _freeze(given) if given else ()))
            if inst is None:
                inst = _build(info, given)
                _instances[(name, _freeze(given) if given else ())] = inst
            _instances[key] = inst
    return inst


def _build(info: BackendInfo, options: dict[str, Any]) -> Backend:
    # Whatever a plugin's factory raises reaches the user as a Sql2NLError that names the backend.
    try:
        return info.factory(**options)
    except Sql2NLError:
        raise
    except TypeError as e:
        raise InvalidInputError(
            f"The {info.name!r} backend does not accept these options ({', '.join(sorted(options)) or 'none'}): {e}"
        ) from e
    except ImportError as e:
        raise BackendUnavailableError(
            info.name, info.install or KNOWN_EXTERNAL.get(info.name, "its plugin's extras"), f"{type(e).__name__}: {e}"
        ) from e
    except Exception as e:
        raise BackendError(f"Could not start the {info.name!r} backend: {type(e).__name__}: {e}") from e


@on_plugins_changed
def clear_backend_instances() -> None:
    """Drop every shared backend instance (their models are freed once nothing else holds them)."""
    with _instances_lock:
        _instances.clear()
