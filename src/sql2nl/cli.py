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
from pathlib import Path
from typing import Any

import click

from .clioptions import backend_options, backend_params, text_shape_params
from .errors import Sql2NLError
from .progress import progress_bar
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
                click.secho(
                    f"warning: plugin {impl.plugin_name!r} could not add its commands: {type(e).__name__}: {e}",
                    fg="yellow",
                    err=True,
                )

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
            raise click.ClickException(
                f"unexpected {type(e).__name__}: {e} (this is a bug in sql2nl or a plugin; "
                "rerun with SQL2NL_DEBUG=1 for the traceback and report it)"
            ) from None


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


def read_schema(value: str | None) -> Any:
    """``--schema``: a JSON file, or JSON text (``{"users": ["id", "name"]}``)."""
    if value is None:
        return None
    text = value
    if not value.lstrip().startswith("{"):
        try:
            text = Path(value).read_text(encoding="utf-8-sig")
        except OSError as e:
            raise click.BadParameter(f"cannot read {value}: {e.strerror or e}", param_hint="--schema") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise click.BadParameter(f"not JSON ({e})", param_hint="--schema") from None


def log_params(f):
    """The options for describing a file of records (a query log) instead of SQL."""
    for opt in reversed(
        [
            click.option(
                "--jsonl",
                "log_jsonl",
                metavar="IN",
                default=None,
                help="Describe the records of a JSON-lines file (a query log); see --out, --field.",
            ),
            click.option("--csv", "log_csv", metavar="IN", default=None, help="... of a CSV file (with a header)."),
            click.option(
                "--parquet", "log_parquet", metavar="IN", default=None, help="... of a Parquet file (pyarrow)."
            ),
            click.option(
                "--out",
                default=None,
                metavar="OUT",
                help="Where the described records go (.jsonl, .csv, .parquet); default: JSON lines on stdout.",
            ),
            click.option("--field", "field_name", default="sql", show_default=True, help="The field holding the SQL."),
            click.option("--dialect-field", default=None, help="A field naming each record's dialect (else -d)."),
            click.option(
                "--workers",
                type=click.IntRange(min=1),
                default=None,
                help="Worker processes (default: the number of CPUs).",
            ),
            click.option("--resume", is_flag=True, help="Continue an interrupted run from its last checkpoint."),
            click.option(
                "--checkpoint-every",
                type=click.IntRange(min=1),
                default=10_000,
                show_default=True,
                metavar="N",
                help="Make the output durable every N records (and every 10 s).",
            ),
        ]
    ):
        f = opt(f)
    return f


@cli.command()
@click.argument("sql", nargs=-1)
@click.option(
    "-f", "--file", "file", type=click.File("r", encoding="utf-8-sig"), help="Read the SQL from a file ('-': stdin)."
)
@backend_params
@click.option(
    "-l",
    "--language",
    default="en",
    show_default=True,
    type=click.Choice(LANGUAGES, case_sensitive=False),
    help="Output language.",
)
@click.option("-d", "--dialect", default=None, help="SQL dialect (sqlglot name); default: permissive.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON: the description, facts and warnings (a list when there are several statements).",
)
@click.option("--json-lines", is_flag=True, help="Print one JSON object per statement, one per line.")
@click.option(
    "--redact",
    is_flag=True,
    help="Hide literal values, comments and passwords from the backend (see docs/backends.md).",
)
@click.option("--no-cache", is_flag=True, help="Do not use or fill the cache.")
@click.option(
    "--schema",
    "schema_src",
    default=None,
    metavar="FILE|JSON",
    help='Words for tables and columns: a JSON file or text, e.g. \'{"users": {"dob": "birth date"}}\'.',
)
@click.option(
    "--max-chars",
    type=click.IntRange(min=1),
    default=None,
    help="Refuse inputs longer than this (default 2,000,000 characters).",
)
@click.option(
    "--on-error",
    type=click.Choice(["keep", "raise"]),
    default="keep",
    show_default=True,
    help="keep: describe the other statements or records, report the bad ones, exit 1; raise: stop at the first.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar on stderr (default: when stderr is a terminal and there is much to do).",
)
@log_params
@text_shape_params
def describe(
    sql,
    file,
    backend,
    model,
    adapter,
    language,
    dialect,
    options,
    as_json,
    json_lines,
    redact,
    no_cache,
    schema_src,
    max_chars,
    on_error,
    progress,
    log_jsonl,
    log_csv,
    log_parquet,
    out,
    field_name,
    dialect_field,
    workers,
    resume,
    checkpoint_every,
    detail,
    style,
):
    """Describe SQL given as arguments, with -f FILE, or on standard input; or a query log (--jsonl IN).

    A script of several statements is described statement by statement, numbered; a bad one is
    reported with its line and column, the others are still described (exit code 1 if any failed).
    """
    kw: dict[str, Any] = dict(
        language=language.lower(),
        redact=redact,
        cache=not no_cache,
        schema=read_schema(schema_src),
        detail=detail,
        style=style,
    )
    if max_chars is not None:
        kw["max_chars"] = max_chars
    logs = [(fmt, path) for fmt, path in (("jsonl", log_jsonl), ("csv", log_csv), ("parquet", log_parquet)) if path]
    if logs:
        if len(logs) > 1 or sql or file is not None:
            raise click.UsageError("Give one input: SQL, -f FILE, or one of --jsonl/--csv/--parquet.")
        from . import logs as log_files

        summary = log_files.describe_file(
            logs[0][1],
            logs[0][0],
            out,
            field_name=field_name,
            dialect=dialect,
            dialect_field=dialect_field,
            workers=workers,
            resume=resume,
            progress=_progress_on(progress),
            on_error=on_error,
            backend=backend,
            backend_options=backend_options(backend, model, adapter, options),
            options=kw,
            checkpoint_records=checkpoint_every,
        )
        log_files.report(summary, out, lambda line: click.echo(line, err=True))
        sys.exit(1 if summary.errors else 0)
    if out or resume or workers or dialect_field:
        raise click.UsageError(
            "--out, --resume, --workers and --dialect-field are for query logs (--jsonl/--csv/--parquet IN)."
        )
    from . import api

    kw.update(backend=api.resolve_backend(backend, backend_options(backend, model, adapter, options)), dialect=dialect)
    sys.exit(
        print_script(
            read_sql(sql, file), kw, as_json=as_json, json_lines=json_lines, on_error=on_error, progress=progress
        )
    )


def _progress_on(progress: bool | None, much: bool = True) -> bool:
    return (much and sys.stderr.isatty()) if progress is None else progress


def print_script(
    text: str, kw: dict[str, Any], *, as_json: bool, json_lines: bool, on_error: str, progress: bool | None
) -> int:
    """Print the description of one statement, or of each statement of a script (numbered, JSON list
    or JSON lines); report bad statements on stderr with their position. The exit code: 1 if any failed."""
    from . import api
    from .script import describe_script, split_script

    statements = split_script(text, kw["dialect"])
    if len(statements) <= 1 and not json_lines:  # one statement: just its description
        if as_json:
            click.echo(api.describe(text, **kw).to_json(indent=2))
            return 0
        if kw["backend"].streams:  # LLM backends: print the text as it is generated (or once the guard has chosen)
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
        return 0
    outcomes = describe_script(text, statements=statements, on_error=on_error, **kw)
    failed, listing = 0, []
    with progress_bar(len(statements), _progress_on(progress, len(statements) >= 100), "describing") as bar:
        for o in outcomes:
            bar.update(1)
            st = o.statement
            if as_json or json_lines:
                listing.append(o.to_dict())
                if json_lines:
                    click.echo(json.dumps(listing.pop(), ensure_ascii=False))
            if o.error is not None:
                failed += 1
                click.secho(f"statement {st.number} (line {st.line}): {o.error}", fg="red", err=True)
                continue
            assert o.description is not None  # an outcome without an error has its description
            d = o.description
            if not (as_json or json_lines):
                if kw.get("detail") == "steps":  # an outline is numbered itself: "1. 1. ..." would read badly
                    click.echo(f"statement {st.number}:\n   " + d.text.replace("\n", "\n   "))
                else:
                    pad = " " * (len(str(st.number)) + 2)  # a text of several lines stays under its number
                    click.echo(f"{st.number}. " + d.text.replace("\n", "\n" + pad))
                for w in d.warnings:
                    click.secho(f"warning (statement {st.number}): {w}", fg="yellow", err=True)
    if as_json and not json_lines:
        click.echo(json.dumps(listing, ensure_ascii=False, indent=2))
    if failed:
        click.secho(f"{failed} of {len(statements)} statements could not be described.", fg="red", err=True)
    return 1 if failed else 0


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option("--options", "show_options", is_flag=True, help="Also list each backend's options.")
@click.option("--markdown", is_flag=True, help="With --options: Markdown tables (as in docs/backends.md).")
def backends(as_json, show_options, markdown):
    """List the installed backends (and known ones that are not installed)."""
    from .backends import KNOWN_EXTERNAL, available_backends
    from .models import available_models
    from .plugins import plugin_errors

    infos = available_backends()
    missing = {n: how for n, how in KNOWN_EXTERNAL.items() if n not in infos}
    models: dict[str, list[str]] = {}
    for m in available_models().values():
        models.setdefault(m.backend, []).append(m.name)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "installed": {
                        n: {
                            "description": i.description,
                            "plugin": i.plugin,
                            "models": sorted(models.get(n, [])),
                            "options": i.options.json_schema()["properties"] if i.options else None,
                        }
                        for n, i in sorted(infos.items())
                    },
                    "not_installed": missing,
                    "failed_plugins": plugin_errors(),
                },
                indent=2,
            )
        )
        return
    if show_options and markdown:
        click.echo(options_markdown(infos))
        return
    for name, info in sorted(infos.items()):
        named = f"  models: {', '.join(sorted(models[name]))}" if models.get(name) else ""
        click.echo(f"{name:14} {info.description}  [{info.plugin}]{named}")
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
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def models(as_json):
    """List the registered model names (use one with -m NAME; it picks its backend)."""
    from .backends import available_backends
    from .models import available_models

    found = available_models()
    backends = available_backends()
    if as_json:
        click.echo(
            json.dumps(
                {
                    n: {
                        "backend": m.backend,
                        "description": m.description,
                        "plugin": m.plugin,
                        "backend_installed": m.backend in backends,
                    }
                    for n, m in sorted(found.items())
                },
                indent=2,
            )
        )
        return
    if not found:
        click.echo("No models registered. Install a model plugin, e.g. pip install ./plugins/sql2nl-smollm2")
    for name, m in sorted(found.items()):
        missing = "" if m.backend in backends else f"  (its backend {m.backend!r} is not installed)"
        click.echo(f"{name:14} {m.description}  [backend {m.backend}, plugin {m.plugin}]{missing}")


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
    """Show (or --clear) the persistent description cache, and whether it is on."""
    from . import cache

    if cache_path is None and cache.persistent is None:
        path = cache.default_path()
        click.echo(
            "The persistent cache is off: descriptions are cached in memory only, per process. Turn it on "
            "with SQL2NL_CACHE=persistent (in Python: sql2nl.cache.configure(persistent_cache=True)); it "
            f"would live in {path} (SQL2NL_CACHE_PATH sets another file)."
        )
        if not path.exists():
            return
        click.echo("A cache file from an earlier run is there:")
    elif cache_path is None:
        click.echo("The persistent cache is on (SQL2NL_CACHE=persistent or configure()).")
    store = cache.persistent if cache_path is None and cache.persistent is not None else cache.SQLiteCache(cache_path)
    if do_clear:
        store.clear()
    click.echo(f"{store.path}: {len(store)} descriptions")


from .server.cli import lsp, serve  # noqa: E402  (imports only click; the extras load when they run)

cli.add_command(serve)
cli.add_command(lsp)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``sql2nl`` script."""
    # sqlglot logs "contains unsupported syntax" warnings; sql2nl already handles those statements.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    cli.main(args=argv, prog_name="sql2nl")  # click itself handles a closed pipe (`| head`)


if __name__ == "__main__":
    main()
