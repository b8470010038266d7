"""The ``sql2nl`` command line. Plugins add commands through the ``register_commands`` hook."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from .errors import Sql2NLError


def parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``-o key=value`` pairs as backend options (values parsed as JSON where they are JSON)."""
    out: dict[str, Any] = {}
    for p in pairs:
        if "=" not in p:
            raise click.BadParameter(f"{p!r} is not key=value", param_hint="-o/--option")
        k, v = p.split("=", 1)
        try:
            out[k.strip()] = json.loads(v)
        except json.JSONDecodeError:
            out[k.strip()] = v
    return out


def backend_options(model: str | None, adapter: str | None, options: tuple[str, ...]) -> dict[str, Any]:
    opts = parse_options(options)
    if model:
        opts["model"] = model
    if adapter:
        opts["adapter"] = adapter
    return opts


class Sql2NLGroup(click.Group):
    """Turns sql2nl errors into one-line messages and adds plugin commands on first use."""

    _plugins_loaded = False

    def _load_plugins(self) -> None:
        if not self._plugins_loaded:
            Sql2NLGroup._plugins_loaded = True
            from .plugins import get_plugin_manager

            get_plugin_manager().hook.register_commands(cli=self)

    def list_commands(self, ctx):
        self._load_plugins()
        return super().list_commands(ctx)

    def get_command(self, ctx, name):
        self._load_plugins()
        return super().get_command(ctx, name)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except Sql2NLError as e:
            raise click.ClickException(str(e)) from None


@click.group(cls=Sql2NLGroup)
@click.version_option(package_name="sql2nl")
def cli():
    """Turn SQL into faithful plain language."""


def backend_params(f):
    """The options every command that describes accepts."""
    for opt in reversed([
        click.option("-b", "--backend", default=None, help="Backend name (default $SQL2NL_BACKEND or rules)."),
        click.option("-m", "--model", default=None, help="Model: hub id, directory, run directory or GGUF file."),
        click.option("--adapter", default=None, help="LoRA adapter directory (transformers backend)."),
        click.option("-l", "--language", default="en", show_default=True, help="Output language: en or zh."),
        click.option("-d", "--dialect", default=None, help="SQL dialect (sqlglot name); default: permissive."),
        click.option("-o", "--option", "options", multiple=True, metavar="KEY=VALUE",
                     help="Extra backend option, e.g. -o n_ctx=4096 (repeatable)."),
    ]):
        f = opt(f)
    return f


@cli.command()
@click.argument("sql", nargs=-1)
@click.option("-f", "--file", "file", type=click.File("r", encoding="utf-8"), help="Read the SQL from a file.")
@backend_params
@click.option("--json", "as_json", is_flag=True, help="Print the description, facts and warnings as JSON.")
@click.option("--redact", is_flag=True, help="Hide literal values from the backend.")
@click.option("--no-cache", is_flag=True, help="Do not use or fill the cache.")
def describe(sql, file, backend, model, adapter, language, dialect, options, as_json, redact, no_cache):
    """Describe SQL given as arguments, with -f FILE, or on standard input."""
    from . import api

    if file is not None:
        text = file.read()
    elif sql:
        text = " ".join(sql)
    elif not sys.stdin.isatty():
        text = sys.stdin.read()
    else:
        raise click.UsageError("Give the SQL as an argument, with -f FILE, or on standard input.")
    opts = backend_options(model, adapter, options)
    be = api.resolve_backend(backend, opts)
    kw = dict(backend=be, language=language, dialect=dialect, redact=redact, cache=not no_cache)
    if as_json:
        click.echo(api.describe(text, **kw).to_json(indent=2))
        return
    if be.streams:
        for piece in api.describe_stream(text, **kw):
            click.echo(piece, nl=False)
        click.echo()
        return
    d = api.describe(text, **kw)
    click.echo(d.text)
    for w in d.warnings:
        click.secho(f"warning: {w}", fg="yellow", err=True)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def backends(as_json):
    """List the installed backends."""
    from .backends import available_backends

    infos = available_backends()
    if as_json:
        click.echo(json.dumps({n: {"description": i.description, "plugin": i.plugin} for n, i in infos.items()}))
        return
    for name, info in sorted(infos.items()):
        click.echo(f"{name:14} {info.description}  [{info.plugin}]")


@cli.command()
def plugins():
    """List the loaded plugins."""
    from .plugins import plugin_names

    for n in plugin_names():
        click.echo(n)


from .server.cli import lsp, serve  # noqa: E402  (imports only click; the extras load when they run)
cli.add_command(serve); cli.add_command(lsp)  # noqa: E702


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="sql2nl")


if __name__ == "__main__":
    main()
