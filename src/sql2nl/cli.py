"""The ``sql2nl`` command line. Plugins add commands through the ``register_commands`` hook.

::

    sql2nl describe "SELECT name FROM users WHERE age > 18"
    sql2nl describe -f query.sql -l zh
    cat query.sql | sql2nl describe --json
    sql2nl backends

Mistakes in the input or the setup are reported as one line on stderr with a non-zero exit code,
never as a traceback (set ``SQL2NL_DEBUG=1`` to see one anyway).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

import click

from .clioptions import backend_options, backend_params, text_shape_params
from .errors import Sql2NLError
from .prompt import LANGUAGES


def _debug() -> bool:
    return os.environ.get("SQL2NL_DEBUG", "") not in ("", "0")


class Sql2NLGroup(click.Group):
    """Turns sql2nl errors into one-line messages and adds plugin commands on first use."""

    _plugins_loaded = False

    def _load_plugins(self) -> None:
        if Sql2NLGroup._plugins_loaded:
            return
        Sql2NLGroup._plugins_loaded = True
        from .plugins import get_plugin_manager

        pm = get_plugin_manager()
        # One plugin's broken command must not take the whole CLI down with it.
        for impl in pm.hook.register_commands.get_hookimpls():
            try:
                impl.function(cli=self)
            except Exception as e:
                click.secho(f"warning: plugin {impl.plugin_name!r} could not add its commands: "
                            f"{type(e).__name__}: {e}", fg="yellow", err=True)

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
            if _debug():
                raise
            raise click.ClickException(str(e)) from None
        except (click.exceptions.Exit, click.ClickException, click.Abort, KeyboardInterrupt, BrokenPipeError):
            raise
        except Exception as e:  # a bug: say so in one line, keep the traceback for SQL2NL_DEBUG=1
            if _debug():
                raise
            raise click.ClickException(f"unexpected {type(e).__name__}: {e} (this is a bug in sql2nl or a plugin; "
                                       "rerun with SQL2NL_DEBUG=1 for the traceback and report it)") from None


@click.group(cls=Sql2NLGroup)
@click.version_option(package_name="sql2nl")
def cli():
    """Turn SQL into faithful plain language."""


def read_sql(sql: tuple[str, ...], file: Any) -> str:
    """The SQL from the arguments, ``-f FILE`` (``-`` for stdin) or standard input."""
    if file is not None and sql:
        raise click.UsageError("Give the SQL either as an argument or with -f FILE, not both.")
    if file is not None:
        try:
            return file.read()
        except UnicodeDecodeError:
            raise click.UsageError(f"{file.name} is not UTF-8 text.") from None
    if sql:
        return " ".join(sql)
    if not sys.stdin.isatty():
        return sys.stdin.read()
    raise click.UsageError("Give the SQL as an argument, with -f FILE, or on standard input.")


@cli.command()
@click.argument("sql", nargs=-1)
@click.option("-f", "--file", "file", type=click.File("r", encoding="utf-8"), help="Read the SQL from a file ('-': stdin).")
@backend_params
@click.option("-l", "--language", default="en", show_default=True, type=click.Choice(LANGUAGES, case_sensitive=False),
              help="Output language.")
@click.option("-d", "--dialect", default=None, help="SQL dialect (sqlglot name); default: permissive.")
@click.option("--json", "as_json", is_flag=True, help="Print the description, facts and warnings as JSON.")
@click.option("--redact", is_flag=True,
              help="Hide literal values, comments and passwords from the backend (see docs/backends.md).")
@click.option("--no-cache", is_flag=True, help="Do not use or fill the cache.")
@text_shape_params
def describe(sql, file, backend, model, adapter, language, dialect, options, as_json, redact, no_cache, detail,
             style):
    """Describe SQL given as arguments, with -f FILE, or on standard input.

    A script of several statements is described statement by statement.
    """
    from . import api

    text = read_sql(sql, file)
    be = api.resolve_backend(backend, backend_options(backend, model, adapter, options))
    kw = dict(backend=be, language=language.lower(), dialect=dialect, redact=redact, cache=not no_cache,
              detail=detail, style=style)
    if as_json:
        click.echo(api.describe(text, **kw).to_json(indent=2))
        return
    if be.streams:  # LLM backends: print the text as it is generated (or once the guard has chosen)
        response = api.describe_stream(text, **kw)
        for piece in response:
            click.echo(piece, nl=False)
        click.echo()
        d = response.description()
    else:
        d = api.describe(text, **kw)
        click.echo(d.text)
    for w in d.warnings:  # the same warnings whether the text was streamed or not
        click.secho(f"warning: {w}", fg="yellow", err=True)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option("--options", "show_options", is_flag=True, help="Also list each backend's options.")
@click.option("--markdown", is_flag=True, help="With --options: Markdown tables (as in docs/backends.md).")
def backends(as_json, show_options, markdown):
    """List the installed backends (and known ones that are not installed)."""
    from .backends import KNOWN_EXTERNAL, available_backends
    from .plugins import plugin_errors

    infos = available_backends()
    missing = {n: how for n, how in KNOWN_EXTERNAL.items() if n not in infos}
    if as_json:
        click.echo(json.dumps({
            "installed": {n: {"description": i.description, "plugin": i.plugin,
                              "options": i.options.json_schema()["properties"] if i.options else None}
                          for n, i in sorted(infos.items())},
            "not_installed": missing, "failed_plugins": plugin_errors()}, indent=2))
        return
    if show_options and markdown:
        click.echo(options_markdown(infos))
        return
    for name, info in sorted(infos.items()):
        click.echo(f"{name:14} {info.description}  [{info.plugin}]")
        if show_options:
            for spec in info.options.specs() if info.options else ():
                default = "" if spec.secret else f" = {json.dumps(spec.default)}"
                text = "" if spec.changes_text else " (does not change the text)"
                click.echo(f"    -o {spec.name}: {spec.type_name}{default}  {spec.help}{text}")
            if info.options is None:
                click.echo("    (options not declared by its plugin)")
    for name, how in sorted(missing.items()):
        click.echo(f"{name:14} not installed: {how}")
    for name, why in sorted(plugin_errors().items()):
        click.secho(f"plugin {name!r} failed to load: {why}", fg="yellow", err=True)


def options_markdown(infos: dict) -> str:
    """Every backend's options as Markdown tables: docs/backends.md holds exactly this."""
    parts = []
    for name, info in sorted(infos.items()):
        if info.options is not None:
            parts.append(f"### `{name}`\n\n{info.description}\n\n{info.options.markdown()}\n")
    return "\n".join(parts)


@cli.command()
def plugins():
    """List the loaded plugins (and any that failed to load)."""
    from .plugins import plugin_errors, plugin_names

    for n in plugin_names():
        click.echo(n)
    for name, why in sorted(plugin_errors().items()):
        click.echo(f"{name} (failed to load: {why})")


@cli.command("cache")
@click.option("--clear", "do_clear", is_flag=True, help="Empty the persistent cache.")
@click.option("--path", "cache_path", default=None, help="The persistent cache file (default: user cache dir).")
def cache_command(do_clear, cache_path):
    """Show (or --clear) the persistent description cache."""
    from .cache import SQLiteCache

    store = SQLiteCache(cache_path)
    if do_clear:
        store.clear()
    click.echo(f"{store.path}: {len(store)} descriptions")


from .server.cli import lsp, serve  # noqa: E402  (imports only click; the extras load when they run)

cli.add_command(serve); cli.add_command(lsp)  # noqa: E702


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``sql2nl`` script."""
    # sqlglot logs "contains unsupported syntax" warnings; sql2nl already handles those statements.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    cli.main(args=argv, prog_name="sql2nl")  # click itself handles a closed pipe (`| head`)


if __name__ == "__main__":
    main()
