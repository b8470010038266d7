"""Named models: a plugin registers a name (``smollm2``) that stands for a backend and its options.

>>> from sql2nl import describe
>>> describe("SELECT name FROM singer", model="smollm2")  # doctest: +SKIP

``model=`` (CLI ``-m``) is looked up here first, in every place that describes (library, CLI,
server, LSP, ``%%explain_sql``): a registered name picks its backend, so ``backend=`` may be left
out, and one that disagrees is an error. Any other value goes to the chosen backend unchanged, as
a file, directory or hub id. A plugin registers with the ``register_models`` hook::

    @hookimpl
    def register_models(register):
        register("smollm2", backend="llamacpp", options=model_options, description="...")

``options`` is a dict or a function returning one; a function is called once per process, when
the name is first used, so finding and checking model files costs nothing until then.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InvalidInputError, ModelError, Sql2NLError, UnknownModelError, closest_name
from .plugins import get_plugin_manager, on_plugins_changed

if TYPE_CHECKING:
    from .backends import Backend

Options = Mapping[str, Any] | Callable[[], Mapping[str, Any]]


@dataclass(frozen=True)
class ModelInfo:
    """A registered model: its name, the backend that runs it, and that backend's options."""

    name: str
    backend: str
    options: Options
    description: str = ""
    plugin: str = ""
    install: str = ""  # the pip install that provides it


_resolved: dict[str, dict[str, Any]] = {}
_lock = threading.Lock()


def available_models() -> dict[str, ModelInfo]:
    """Every model the installed plugins register, by name."""
    found: dict[str, ModelInfo] = {}
    for impl in get_plugin_manager().hook.register_models.get_hookimpls():

        def register(name, backend, options=None, description="", install="", _plugin=impl.plugin_name):
            found[name] = ModelInfo(
                name, backend, options if options is not None else {}, description, _plugin, install
            )

        impl.function(register=register)
    return found


def model_options(info: ModelInfo) -> dict[str, Any]:
    """The backend options ``info`` stands for (computed once per process)."""
    hit = _resolved.get(info.name)
    if hit is not None:
        return hit
    with _lock:
        hit = _resolved.get(info.name)
        if hit is None:
            try:
                opts = info.options() if callable(info.options) else info.options
            except Sql2NLError:
                raise
            except Exception as e:  # a plugin bug must reach the user as a sql2nl error that names the model
                raise ModelError(
                    f"The model {info.name!r} (plugin {info.plugin}) could not be prepared: {type(e).__name__}: {e}"
                ) from e
            hit = _resolved[info.name] = dict(opts)
    return hit


def _is_path_like(value: str) -> bool:
    return "/" in value or "\\" in value or Path(value).expanduser().exists()


def named_model(model: str, backend: str | None = None) -> ModelInfo | None:
    """The registered model ``model`` names, or ``None`` when it is something for ``backend`` (a path, a hub id).

    Raises :class:`UnknownModelError` when ``model`` can only be a mistyped name (no backend is
    chosen, or it is close to a registered name and is no path), and :class:`InvalidInputError`
    when ``backend`` is not the one the name runs on.
    """
    models = available_models()
    info = models.get(model)
    if info is None:
        if backend is None and not os.environ.get("SQL2NL_BACKEND"):
            raise UnknownModelError(
                model,
                list(models),
                why=(
                    "A model file, directory or hub id needs its backend too: -b llamacpp (GGUF) or -b transformers "
                    "(backend= in Python). "
                ),
            )
        if not _is_path_like(model) and closest_name(model, list(models)):
            raise UnknownModelError(model, list(models), why=f"(There is no file or directory {model!r} either.) ")
        return None
    if backend is not None and backend != info.backend:
        raise InvalidInputError(
            f"The model {model!r} runs on the {info.backend!r} backend, not {backend!r}: leave "
            f"out -b/backend= (the name picks its backend) or pass {info.backend!r}."
        )
    return info


def resolve_model(
    backend: "str | Backend | type | None", options: Mapping[str, Any]
) -> tuple["str | Backend | type | None", Mapping[str, Any]]:
    """``(backend, options)`` with a registered ``model=`` name replaced by its backend and options.

    The user's other options override the model's defaults (``-o on_unfaithful=warn``).
    """
    model = options.get("model")
    if not isinstance(model, str) or not model or (backend is not None and not isinstance(backend, str)):
        return backend, options
    info = named_model(model, backend)
    if info is None:
        return backend, options
    merged = dict(model_options(info))
    merged.update((k, v) for k, v in options.items() if k != "model")
    return info.backend, merged


@on_plugins_changed  # a new plugin set may register the name differently
def clear_resolved() -> None:
    """Forget resolved model options (the next use finds and checks the files again)."""
    with _lock:
        _resolved.clear()
