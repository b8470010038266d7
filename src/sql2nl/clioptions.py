"""The command-line options every describing command shares (``-b``, ``-m``, ``--adapter``, ``-o``), defined once.

``sql2nl describe``, ``sql2nl serve`` and ``sql2nl lsp`` all take them; ``-o key=value`` values are
read as the type the backend declares for that option (:mod:`sql2nl.options`), so
``-o n_ctx=4096`` is a number and ``-o n_tcx=4096`` fails at once with "did you mean 'n_ctx'?",
before any model is loaded.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import click

from .errors import Sql2NLError


def parse_pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    """``-o key=value`` pairs as a dict of strings."""
    out: dict[str, str] = {}
    for p in pairs:
        if "=" not in p:
            raise click.BadParameter(f"{p!r} is not key=value", param_hint="-o/--option")
        k, v = p.split("=", 1)
        out[k.strip()] = v
    return out


def backend_options(
    backend: str | None, model: str | None, adapter: str | None, options: tuple[str, ...]
) -> dict[str, Any]:
    """The backend's keyword arguments from ``-m``, ``--adapter`` and ``-o``, checked against its declaration."""
    from .backends import available_backends
    from .models import named_model

    opts: dict[str, Any] = parse_pairs(options)
    if model:
        opts["model"] = model
    if adapter:
        opts["adapter"] = adapter
    named = named_model(model, backend) if model else None  # a registered name picks its backend
    name = named.backend if named else backend or os.environ.get("SQL2NL_BACKEND") or "rules"
    info = available_backends().get(name)
    if info is None or info.options is None:
        # Not installed (the error comes when it is built) or declares nothing: JSON where it is JSON.
        return {k: _json_or_text(v) if k in parse_pairs(options) else v for k, v in opts.items()}
    try:
        return info.options.convert(opts, backend=name)
    except Sql2NLError as e:
        raise click.BadParameter(str(e), param_hint="-o/--option") from None


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def backend_params(f: Callable) -> Callable:
    """Decorator: the ``-b``, ``-m``, ``--adapter`` and ``-o`` options."""
    for opt in reversed(
        [
            click.option("-b", "--backend", default=None, help="Backend name (default $SQL2NL_BACKEND or rules)."),
            click.option(
                "-m",
                "--model",
                default=None,
                help="Model: a registered name (`sql2nl models`; picks its backend), or for the chosen "
                "backend a hub id, directory, run directory or GGUF file.",
            ),
            click.option("--adapter", default=None, help="LoRA adapter directory (transformers backend)."),
            click.option(
                "-o",
                "--option",
                "options",
                multiple=True,
                metavar="KEY=VALUE",
                help="Backend option, e.g. -o n_ctx=4096 (repeatable; `sql2nl backends --options` lists them).",
            ),
        ]
    ):
        f = opt(f)
    return f


def text_shape_params(f: Callable) -> Callable:
    """Decorator: ``--detail`` and ``--style``, how the description reads (the API's ``detail=``/``style=``)."""
    from .prompt import DETAILS, STYLES

    f = click.option(
        "--style",
        default="statement",
        show_default=True,
        type=click.Choice(STYLES),
        help="'statement' (List the names of ...) or 'question' (What are the names of ...?).",
    )(f)
    return click.option(
        "--detail",
        default="summary",
        show_default=True,
        type=click.Choice(DETAILS),
        help="'summary' (one short paragraph) or 'steps' (a numbered outline, one step per "
        "CTE / derived table, then the result).",
    )(f)
